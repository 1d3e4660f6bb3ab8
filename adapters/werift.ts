/**
 * `npm:werift` (a WebRTC stack in TypeScript) behind shoal's {@linkcode RtcAdapter}, for
 * hosts and viewers running in Deno. It smooths over werift 0.25.2's differences (each is
 * explained where it is handled): its fallback to a public STUN server, a DTLS ClientHello
 * dropped when it comes early, `undefined` for end-of-candidates, its own `Event` objects,
 * a bogus "completed" ICE state, `.local` candidates from browsers, empty messages that
 * stall a channel, and timers still running after its `close()`.
 *
 * @example
 * ```ts
 * import { werift } from "./werift.ts";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using pc = rtc.createPeerConnection({ iceServers: [] });
 * const channel = pc.createDataChannel("shoal");
 * channel.on("open", () => channel.send("hello"));
 * const offer = await pc.createOffer();
 * await pc.setLocalDescription(offer);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type PeerConfig,
  type RTCDataChannel,
  type RTCDtlsTransport,
  RTCPeerConnection,
} from "werift";
import { abortable } from "../core/async.ts";
import { Emitter } from "../core/emitter.ts";
import type {
  RtcAdapter,
  RtcDataChannel,
  RtcDataChannelEvents,
  RtcDataChannelState,
  RTCIceCandidateLike,
  RtcIceConnectionState,
  RtcMessage,
  RtcOperationOptions,
  RtcPeerConnection,
  RtcPeerConnectionConfig,
  RtcPeerConnectionEvents,
  RtcPeerConnectionState,
  RTCSessionDescriptionLike,
} from "../core/rtc.ts";
import { assertSendable } from "../core/rtc.ts";

export type * from "../core/rtc.ts";

/**
 * Options of {@linkcode werift}: which local addresses ICE binds to and offers, and which
 * UDP ports it may use.
 *
 * @example ICE on loopback only, within a port range
 * ```ts
 * import { werift, type WeriftOptions } from "@shoal/shoal/werift";
 *
 * const options: WeriftOptions = {
 *   interfaceAddresses: { udp4: "127.0.0.1" },
 *   portRange: [40000, 40100],
 * };
 * console.assert(werift(options).name === "werift");
 * ```
 */
export interface WeriftOptions {
  /**
   * Bind ICE sockets to these local addresses and offer host candidates on them only, at
   * most one per family, e.g. `{ udp4: "127.0.0.1" }` (loopback is never offered
   * otherwise). Default: every non-loopback interface, sockets on the wildcard address.
   */
  interfaceAddresses?: { udp4?: string; udp6?: string };
  /** Inclusive UDP port range `[min, max]` for ICE sockets. Default: any free port. */
  portRange?: [number, number];
}

/**
 * An {@linkcode RtcAdapter} backed by npm:werift.
 *
 * @example
 * ```ts
 * import { werift } from "./werift.ts";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" }, portRange: [40000, 40100] });
 * const pc = rtc.createPeerConnection({ iceServers: [] });
 * await pc.close();
 * ```
 */
export function werift(options: WeriftOptions = {}): RtcAdapter {
  return {
    name: "werift",
    createPeerConnection: (config) => new _WeriftPeerConnection(config, options),
  };
}

type _Unsubscribe = () => void;
type _Subscribable<T extends unknown[]> = {
  subscribe(fn: (...args: T) => void): { unSubscribe: () => void };
};

function _on<T extends unknown[]>(event: _Subscribable<T>, fn: (...args: T) => void): _Unsubscribe {
  return event.subscribe(fn).unSubscribe;
}

function _closedError(): DOMException {
  return new DOMException("The peer connection is closed", "InvalidStateError");
}

function _peerConfig(config: RtcPeerConnectionConfig, options: WeriftOptions): Partial<PeerConfig> {
  const addresses = Object.values(options.interfaceAddresses ?? {}).filter((a): a is string => !!a);
  return {
    // Always an explicit list: werift's default config (peerConnection.ts,
    // generateDefaultPeerConfig) names stun:stun.l.google.com:19302.
    iceServers: config.iceServers.map((s) => ({ ...s })),
    icePortRange: options.portRange,
    // werift gathers on every non-internal interface and binds all sockets of a family to
    // iceInterfaceAddresses, so with an address given it would offer eth0's address on a
    // socket bound to 127.0.0.1 (ice.ts gatherCandidates). Gather on the given ones only.
    ...(addresses.length > 0
      ? {
        iceInterfaceAddresses: options.interfaceAddresses,
        iceAdditionalHostAddresses: addresses,
        iceUseIpv4: false,
        iceUseIpv6: false,
      }
      : {}),
  };
}

function _hasStun(config: RtcPeerConnectionConfig): boolean {
  return config.iceServers.some((s) => [s.urls].flat().some((u) => /^stuns?:/i.test(u)));
}

function _isMdns(candidate: string): boolean {
  return /\.local$/i.test(candidate.split(" ")[4] ?? "");
}

function _isDtls(data: Uint8Array): boolean {
  return data.length > 0 && data[0] >= 20 && data[0] <= 63; // RFC 7983 demultiplexing
}

/** Whether a datagram begins a (re)transmission of a ClientHello: its first record is a
 * handshake fragment (type 22) of a client_hello (1) at offset 0 (RFC 6347 4.1, 4.2.2). */
function _startsClientHello(data: Uint8Array): boolean {
  return data.length > 24 && data[0] === 22 && data[13] === 1 && !data[19] && !data[20] &&
    !data[21];
}

/**
 * werift drops a DTLS datagram that arrives before it has created its DTLS socket: that
 * socket (and its listener on the ICE connection) only exists once werift's ICE connect()
 * loop, which polls every 20 ms (ice.ts connect), reports "connected" (transport/dtls.ts
 * start). A browser starts DTLS as soon as its own checks succeed, often before werift has
 * even seen the answer, so its ClientHello was lost and it waited for its retransmit timer,
 * which backs off. Measured with Chromium as the viewer, its answer 50 ms behind its checks
 * (21 handshakes): DTLS took a median 106 ms, 9 ms with this shim. Only the client's first
 * flight can come that early, so the datagrams of its latest transmission (Chromium's
 * ClientHello spans two) are kept and handed to werift as soon as the socket exists.
 */
function _keepEarlyClientHello(transport: RTCDtlsTransport): void {
  const connection = transport.iceTransport.connection;
  let early: Buffer[] = [];
  const offData = _on(connection.onData, (data) => {
    if (transport.dtls || transport.state !== "new" || !_isDtls(data)) return;
    if (_startsClientHello(data)) early = [];
    if (early.length < 8) early.push(data);
  });
  const offState = _on(transport.onStateChange, (state) => {
    if (state !== "connecting") return;
    offData();
    offState();
    const datagrams = early;
    early = [];
    // The socket is created synchronously right after this state change.
    queueMicrotask(() => {
      for (const data of datagrams) if (transport.dtls) connection.onData.execute(data);
    });
  });
}

type _DtlsSocketInternals = { dtls: object; connect?: () => Promise<void> };

/**
 * What werift leaves running after its close() resolves (found with Deno's op sanitizer):
 * - dtls/src/flight/flight.ts Flight.transmit: after each send of a handshake flight it
 *   sleeps 500·n ms (n = sends so far) on an uncancellable timers/promises setTimeout, and
 *   retransmits until `dtls.flight` moves on: up to 10 times (~27 s) when closed mid-handshake;
 * - webrtc/src/transport/dtls.ts start: a DTLS client sleeps 100 ms, then sends ClientHello;
 * - ice/src/ice.ts connect: while checking, it sleeps 20 ms between polls.
 * This notes every handshake datagram sent; on close it pins each DTLS context's flight
 * counter past the last flight (so every loop ends at its next wake-up), turns a client's
 * pending connect() into a no-op, and waits until the last of those sleeps has ended.
 */
class _Quiescence {
  #until = 0;
  #sends = new WeakMap<object, number>();

  watch(transport: RTCDtlsTransport): void {
    const connection = transport.iceTransport.connection;
    const send = connection.send.bind(connection);
    connection.send = (data: Buffer) => {
      if (data[0] === 20 || data[0] === 22) { // change_cipher_spec, handshake
        const n = (this.#sends.get(data) ?? 0) + 1;
        this.#sends.set(data, n);
        this.#extend(500 * n);
      }
      return send(data);
    };
    const off = _on(transport.onStateChange, (state) => {
      if (state !== "connecting") return;
      off();
      this.#extend(100);
    });
  }

  freeze(pc: RTCPeerConnection): void {
    for (const transport of pc.dtlsTransports) {
      const socket = transport.dtls as unknown as _DtlsSocketInternals | undefined;
      if (!socket) continue;
      Object.defineProperty(socket.dtls, "flight", { get: () => 1e9, set: () => {} });
      if (socket.connect) socket.connect = () => Promise.resolve();
    }
    if (pc.iceConnectionState === "checking") this.#extend(20);
  }

  async settle(): Promise<void> {
    const wait = this.#until - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait) + 5));
  }

  #extend(ms: number): void {
    this.#until = Math.max(this.#until, performance.now() + ms);
  }
}

class _WeriftPeerConnection implements RtcPeerConnection {
  #pc: RTCPeerConnection;
  #events = new Emitter<RtcPeerConnectionEvents>();
  #closed = new AbortController();
  #closing?: Promise<void>;
  #offs: _Unsubscribe[] = [];
  #channels = new Set<_WeriftDataChannel>();
  #prepared = new WeakSet<RTCDtlsTransport>();
  #quiet = new _Quiescence();
  #noStun: boolean;
  #ice: RtcIceConnectionState = "new";
  #droppedMdns = false;

  constructor(config: RtcPeerConnectionConfig, options: WeriftOptions) {
    this.#noStun = !_hasStun(config);
    const pc = this.#pc = new RTCPeerConnection(_peerConfig(config, options));
    this.#offs.push(
      _on(pc.onIceCandidate, (c) => {
        const candidate: RTCIceCandidateLike | null = c?.candidate
          ? {
            candidate: c.candidate,
            sdpMid: c.sdpMid ?? null,
            sdpMLineIndex: c.sdpMLineIndex ?? null,
          }
          : null;
        this.#events.emit("icecandidate", candidate);
      }),
      _on(pc.iceConnectionStateChange, (state) => {
        // werift's ICE agent reports "completed" when gathering ends (ice.ts gatherCandidates),
        // before any check: it never means a completed connection, so it is not passed on.
        if (state === "completed" || state === this.#ice) return;
        this.#ice = state;
        this.#events.emit("iceconnectionstatechange", state);
      }),
      _on(pc.connectionStateChange, (state) => this.#events.emit("connectionstatechange", state)),
      _on(pc.onDataChannel, (dc) => this.#events.emit("datachannel", this.#wrap(dc))),
    );
  }

  get connectionState(): RtcPeerConnectionState {
    return this.#closing ? "closed" : this.#pc.connectionState;
  }

  get iceConnectionState(): RtcIceConnectionState {
    return this.#closing ? "closed" : this.#ice;
  }

  createDataChannel(label: string): RtcDataChannel {
    if (this.#closing) throw _closedError();
    const channel = this.#wrap(this.#pc.createDataChannel(label, { ordered: true }));
    this.#prepare();
    return channel;
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(async () => _description(await this.#pc.createOffer()), options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(async () => _description(await this.#pc.createAnswer()), options);
  }

  setLocalDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(async () => {
      this.#prepare(); // before werift gathers, inside setLocalDescription
      await this.#pc.setLocalDescription({ type: description.type, sdp: description.sdp });
    }, options);
  }

  setRemoteDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(async () => {
      await this.#pc.setRemoteDescription({ type: description.type, sdp: description.sdp });
      this.#prepare();
    }, options);
  }

  addIceCandidate(
    candidate: RTCIceCandidateLike | null,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(async () => {
      if (candidate === null) {
        // With mDNS candidates dropped, the peer's address comes from its checks; telling
        // werift the list is complete would make it give up with no pair to check.
        if (!this.#droppedMdns) await this.#pc.addIceCandidate(null);
      } else if (_isMdns(candidate.candidate)) {
        this.#droppedMdns = true;
      } else {
        await this.#pc.addIceCandidate({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid,
          sdpMLineIndex: candidate.sdpMLineIndex,
        });
      }
    }, options);
  }

  on<K extends keyof RtcPeerConnectionEvents>(
    type: K,
    listener: (value: RtcPeerConnectionEvents[K]) => void,
  ): () => void {
    return this.#closing ? () => {} : this.#events.on(type, listener);
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed.abort(_closedError());
    for (const off of this.#offs.splice(0)) off();
    this.#events.clear();
    for (const channel of this.#channels) channel._detach();
    this.#channels.clear();
    this.#quiet.freeze(this.#pc);
    // werift's close() returns at once when already closing; ours is memoized instead.
    await this.#pc.close().catch(() => {});
    await this.#quiet.settle();
  }

  #op<T>(fn: () => Promise<T>, options?: RtcOperationOptions): Promise<T> {
    if (this.#closing) return Promise.reject(_closedError());
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    // werift never settles an operation pending at close (peerConnection.ts
    // waitForPendingDescriptionTask), so closing rejects it here.
    return abortable(abortable(fn(), this.#closed.signal), options?.signal);
  }

  #prepare(): void {
    for (const transport of this.#pc.dtlsTransports) {
      if (this.#prepared.has(transport)) continue;
      this.#prepared.add(transport);
      // ice.ts falls back to stun.l.google.com:19302 whenever no STUN server is configured
      // (applyStunTurnServersFromOptions) and setLocalDescription waits for that query
      // (5 s timeout, plus DNS) before it resolves; an agent without one skips it.
      if (this.#noStun) transport.iceTransport.connection.stunServer = undefined;
      _keepEarlyClientHello(transport);
      this.#quiet.watch(transport);
    }
  }

  #wrap(dc: RTCDataChannel): _WeriftDataChannel {
    const channel = new _WeriftDataChannel(dc, () => this.#channels.delete(channel));
    this.#channels.add(channel);
    return channel;
  }
}

function _description(d: { type: string; sdp: string }): RTCSessionDescriptionLike {
  if (d.type !== "offer" && d.type !== "answer") throw new TypeError(`unexpected SDP ${d.type}`);
  return { type: d.type, sdp: d.sdp };
}

class _WeriftDataChannel implements RtcDataChannel {
  #dc: RTCDataChannel;
  #events = new Emitter<RtcDataChannelEvents>();
  #offs: _Unsubscribe[];
  #detached = false;

  constructor(dc: RTCDataChannel, onClosed: () => void) {
    this.#dc = dc;
    this.#offs = [
      _on(dc.stateChanged, (state) => {
        if (state === "open") this.#events.emit("open", undefined);
        if (state !== "closed") return;
        this.#events.emit("close", undefined);
        this._detach();
        onClosed();
      }),
      _on(dc.onMessage, (data) => {
        this.#events.emit(
          "message",
          typeof data === "string"
            ? data
            : new Uint8Array(data.buffer, data.byteOffset, data.length),
        );
      }),
      // werift's RTCDataChannel has no onbufferedamountlow, only this Event; it fires when
      // bufferedAmount crosses the threshold downwards (dataChannel.ts addBufferedAmount).
      _on(dc.bufferedAmountLow, () => this.#events.emit("bufferedamountlow", undefined)),
    ];
  }

  get label(): string {
    return this.#dc.label;
  }

  get readyState(): RtcDataChannelState {
    return this.#detached ? "closed" : this.#dc.readyState;
  }

  // werift lowers it when SCTP's whole outbound queue is on the wire (sctp.ts send resolves
  // once outboundQueue is empty), so it falls in steps, and the low event does fire. Queue
  // without backpressure and werift crawls: 32 MiB sent at once went at 0.4 MiB/s, every
  // queued send waiting on the same flush event.
  get bufferedAmount(): number {
    return this.#dc.bufferedAmount;
  }

  get bufferedAmountLowThreshold(): number {
    return this.#dc.bufferedAmountLowThreshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.#dc.bufferedAmountLowThreshold = value;
  }

  send(data: RtcMessage): void {
    // An empty message takes a stream sequence number but sends no chunk (sctp.ts send), so
    // the receiver waits for it forever and every later message on the channel is stuck.
    assertSendable(this.readyState, data);
    this.#dc.send(typeof data === "string" ? data : Buffer.from(data)); // copies, like the DOM
  }

  on<K extends keyof RtcDataChannelEvents>(
    type: K,
    listener: (value: RtcDataChannelEvents[K]) => void,
  ): () => void {
    return this.#detached ? () => {} : this.#events.on(type, listener);
  }

  close(): void {
    if (!this.#detached) this.#dc.close();
  }

  /** Detaches from werift: no more events, `readyState` is `"closed"`. */
  _detach(): void {
    this.#detached = true;
    for (const off of this.#offs.splice(0)) off();
    this.#events.clear();
  }
}
