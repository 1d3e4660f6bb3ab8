/**
 * The raw-werift baseline's host for `shoal bench --compare-raw`: werift's
 * `RTCPeerConnection` used directly, the way a careful hand-written host would (no shoal
 * core, no adapter shims). Each viewer's handshake starts as it joins (optionally at most
 * `cap` at once); a viewer is ready when its data channel opens; a broadcast is one
 * `channel.send` per open channel, with no backpressure. Signaling goes through shoal's
 * server and {@link SignalingClient}, which are not what is compared.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type PeerConfig, type RTCDataChannel, RTCPeerConnection } from "werift";
import { createSession } from "../core/session.ts";
import { type IncomingSignal, SignalingClient } from "../core/signaling.ts";
import type { SignalData } from "../core/protocol.ts";

/**
 * werift's own options for a closed loopback network: no STUN or TURN server, ICE sockets
 * bound to 127.0.0.1 and host candidates on 127.0.0.1 only (no other interface gathered).
 */
export const RAW_PEER_CONFIG: Partial<PeerConfig> = {
  iceServers: [],
  iceInterfaceAddresses: { udp4: "127.0.0.1" },
  iceAdditionalHostAddresses: ["127.0.0.1"],
  iceUseIpv4: false,
  iceUseIpv6: false,
};

/**
 * What a careful hand-written werift peer does on a closed network: werift's ICE agent falls
 * back to stun.l.google.com whenever no STUN server is configured, and waits for it before it
 * gathers (ice.ts applyStunTurnServersFromOptions); clearing the agent's `stunServer` after
 * the transports exist and before gathering turns that off. Without it (the `naive` baseline)
 * 100 joins take ~10.7 s here.
 */
export function withoutStunFallback(pc: RTCPeerConnection): void {
  for (const transport of pc.dtlsTransports) {
    transport.iceTransport.connection.stunServer = undefined;
  }
}

/**
 * Trickles `pc`'s candidates to `send`, holding them until `release()` (after the SDP they
 * belong to went out). Returns `release`.
 */
export function trickle(pc: RTCPeerConnection, send: (data: SignalData) => void): () => void {
  let held: SignalData[] | undefined = [];
  pc.onIceCandidate.subscribe((c) => {
    const data: SignalData = c?.candidate
      ? {
        kind: "candidate",
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
      }
      : { kind: "end-of-candidates" };
    if (held) held.push(data);
    else send(data);
  });
  return () => {
    for (const data of held ?? []) send(data);
    held = undefined;
  };
}

/** Applies a remote candidate signal to `pc` once `remoteSet` has resolved. */
export async function addRemoteCandidate(
  pc: RTCPeerConnection,
  remoteSet: Promise<void>,
  data: SignalData,
): Promise<void> {
  await remoteSet;
  if (data.kind === "candidate") {
    const { candidate, sdpMid, sdpMLineIndex } = data;
    await pc.addIceCandidate({ candidate, sdpMid: sdpMid ?? undefined, sdpMLineIndex });
  } else if (data.kind === "end-of-candidates") {
    await pc.addIceCandidate(undefined);
  }
}

interface _Peer {
  pc: RTCPeerConnection;
  dc: RTCDataChannel;
  done: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Options of {@link RawHost}. */
export interface RawHostOptions {
  /** The signaling server's URL. */
  server: string;
  /** Most viewers on the session. */
  maxViewers: number;
  /** Handshakes in flight at once (default: no cap). */
  cap?: number;
  /** A viewer whose channel is not open this long after its join has failed, ms (30 000). */
  timeoutMs?: number;
  /** Leave werift's STUN fallback on (see {@link withoutStunFallback}). Default: off. */
  naive?: boolean;
}

/** A host on werift's `RTCPeerConnection` alone; see the module's description. */
export class RawHost implements AsyncDisposable {
  /** The session's id. */
  readonly sessionId: string;
  /** The session's join code. */
  readonly joinCode: string;
  /** Viewers whose channel opened. */
  ready = 0;
  /** Peer connections that failed or did not open in time. */
  failed = 0;
  /** When the first viewer joined (performance.now()). */
  firstJoinAt?: number;
  /** When the latest channel opened (performance.now()). */
  lastReadyAt?: number;
  #signaling: SignalingClient;
  #o: RawHostOptions;
  #peers = new Map<string, _Peer>();
  #queue: string[] = [];
  #inFlight = 0;

  private constructor(
    o: RawHostOptions,
    signaling: SignalingClient,
    session: { sessionId: string; joinCode: string },
  ) {
    this.#o = o;
    this.#signaling = signaling;
    this.sessionId = session.sessionId;
    this.joinCode = session.joinCode;
    signaling.on("peer-joined", ({ peerId }) => this.#joined(peerId));
    signaling.on("peer-left", ({ peerId }) => this.#left(peerId));
  }

  /** Creates a session on `options.server` and connects to it as its host. */
  static async start(options: RawHostOptions): Promise<RawHost> {
    const session = await createSession(options.server, { maxViewers: options.maxViewers });
    const signaling = new SignalingClient({
      url: session.wsUrl,
      role: "host",
      token: session.hostToken,
      reconnect: false,
    });
    const host = new RawHost(options, signaling, session);
    await signaling.connect();
    return host;
  }

  /** Sends `payload` on every open channel, as is: no queue, no backpressure. */
  broadcast(payload: string): number {
    const bytes = Buffer.from(payload);
    let n = 0;
    for (const { dc } of this.#peers.values()) {
      if (dc.readyState !== "open") continue;
      dc.send(bytes);
      n++;
    }
    return n;
  }

  #joined(peerId: string): void {
    this.firstJoinAt ??= performance.now();
    if (this.#o.cap !== undefined && this.#inFlight >= this.#o.cap) this.#queue.push(peerId);
    else this.#handshake(peerId);
  }

  #left(peerId: string): void {
    const peer = this.#peers.get(peerId);
    this.#queue = this.#queue.filter((p) => p !== peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    this.#settle(peer, false);
    void peer.pc.close().catch(() => {});
  }

  #settle(peer: _Peer, ok: boolean): void {
    if (peer.done) return;
    peer.done = true;
    clearTimeout(peer.timer);
    this.#inFlight--;
    if (ok) {
      this.ready++;
      this.lastReadyAt = performance.now();
    } else this.failed++;
    const next = this.#queue.shift();
    if (next !== undefined) this.#handshake(next);
  }

  #handshake(peerId: string): void {
    this.#inFlight++;
    const handshakeId = crypto.randomUUID();
    const pc = new RTCPeerConnection(RAW_PEER_CONFIG);
    const peer: _Peer = { pc, dc: pc.createDataChannel("shoal"), done: false };
    if (!this.#o.naive) withoutStunFallback(pc);
    this.#peers.set(peerId, peer);
    peer.timer = setTimeout(() => this.#settle(peer, false), this.#o.timeoutMs ?? 30_000);
    peer.dc.stateChanged.subscribe((s) => s === "open" && this.#settle(peer, true));
    pc.connectionStateChange.subscribe((s) => s === "failed" && this.#settle(peer, false));
    const send = (data: SignalData) => this.#signaling.send(peerId, handshakeId, data);
    const release = trickle(pc, send);
    let remoteSet: Promise<void> | undefined;
    const answered = Promise.withResolvers<void>();
    this.#signaling.route(peerId, (s: IncomingSignal) => {
      if (s.handshakeId !== handshakeId) return;
      if (s.data.kind === "answer") {
        remoteSet ??= pc.setRemoteDescription({ type: "answer", sdp: s.data.sdp });
        remoteSet.then(answered.resolve, answered.reject);
      } else addRemoteCandidate(pc, answered.promise, s.data).catch(() => {});
    });
    (async () => {
      await pc.setLocalDescription(await pc.createOffer());
      send({ kind: "offer", sdp: pc.localDescription!.sdp });
      release();
    })().catch(() => this.#settle(peer, false));
  }

  /** Closes every peer connection (bounded) and the signaling client. */
  async close(): Promise<void> {
    this.#queue = [];
    for (const peer of this.#peers.values()) clearTimeout(peer.timer);
    const closing = Promise.allSettled([...this.#peers.values()].map((p) => p.pc.close()));
    this.#peers.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closing, new Promise((r) => timer = setTimeout(r, 5_000))]);
    clearTimeout(timer);
    await this.#signaling.close();
  }

  /** Closes the host, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
