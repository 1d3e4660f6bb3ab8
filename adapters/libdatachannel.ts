/**
 * libdatachannel (a WebRTC stack in C++: libjuice for ICE, OpenSSL for DTLS, usrsctp for
 * SCTP) behind shoal's {@linkcode RtcAdapter}, through the low-level API of
 * `npm:node-datachannel`, for hosts and viewers running in Deno. Its work runs on native
 * threads, so a packet or a handshake costs a fraction of werift's CPU.
 *
 * It needs `--allow-ffi` (Deno loads the native addon shipped in the registry package
 * `@node-datachannel/linux-x64-gnu` and its siblings) and is not embedded by `deno compile`;
 * `werift()` from `@shoal/shoal/werift` is the pure-TypeScript choice.
 *
 * How it meets the contract where libdatachannel differs (each is explained where handled):
 * an offer is made and applied in one native call (its candidates are held until
 * `setLocalDescription`), end-of-candidates comes from the gathering state, a channel whose
 * JavaScript object is collected is closed under its owner (every channel is kept here),
 * and `bufferedAmount` counts what usrsctp has not taken (its send buffer is made small,
 * and sends are handed over in a microtask, so a burst is seen whole). The native threads
 * are stopped (`cleanup()`) when the last connection is closed, so a process exits by itself.
 *
 * One isolate per process: node-datachannel 0.33.4 keeps its N-API constructors in
 * process-wide statics, so loading it from a second isolate (a Worker; `deno test` runs each
 * file in its own) makes Deno panic ("attempt to access Handle hosted by disposed Isolate").
 * Hence the examples here are not run by `deno test --doc`; tests/libdatachannel_test.ts runs
 * them. (Upstream fix: per-environment constructors, `Napi::Env::SetInstanceData`.)
 *
 * @example
 * ```ts ignore
 * import { libdatachannel } from "./libdatachannel.ts";
 *
 * const rtc = libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using pc = rtc.createPeerConnection({ iceServers: [] });
 * const channel = pc.createDataChannel("shoal");
 * channel.on("open", () => channel.send("hello"));
 * const offer = await pc.createOffer();
 * await pc.setLocalDescription(offer);
 * ```
 *
 * @module
 */
import nodeDataChannel from "node-datachannel";
import type {
  DataChannel as NativeDataChannel,
  IceServer as NativeIceServer,
  PeerConnection as NativePeerConnection,
  RtcConfig as NativeConfig,
} from "node-datachannel";
import type {
  RtcAdapter,
  RtcCandidate,
  RtcCandidatePair,
  RtcDataChannel,
  RtcDataChannelState,
  RTCIceCandidateLike,
  RtcIceConnectionState,
  RTCIceServerLike,
  RtcIceSocketOptions,
  RtcMessage,
  RtcOperationOptions,
  RtcPeerConnectionConfig,
  RtcPeerConnectionState,
  RTCSessionDescriptionLike,
} from "../core/rtc.ts";
import {
  BaseDataChannel,
  BasePeerConnection,
  closedError,
  isMdnsCandidate,
  type NativeChannel,
} from "./_base.ts";

export type * from "../core/rtc.ts";

/**
 * Options of {@linkcode libdatachannel}.
 *
 * @example One UDP port for every viewer, on loopback
 * ```ts ignore
 * import { libdatachannel, type LibdatachannelOptions } from "@shoal/shoal/libdatachannel";
 *
 * const options: LibdatachannelOptions = {
 *   interfaceAddresses: { udp4: "127.0.0.1" },
 *   iceUdpMuxPort: 40000,
 * };
 * console.assert(libdatachannel(options).name === "libdatachannel");
 * ```
 */
export interface LibdatachannelOptions extends RtcIceSocketOptions {
  // interfaceAddresses: libjuice binds one address, `udp4`, else `udp6`; without it, the
  // wildcard address, candidates on every interface.
  /**
   * ICE UDP multiplexing: every connection of the process shares this one UDP port (as
   * LiveKit's single-port mode) instead of a socket each. Default: a socket per connection.
   */
  iceUdpMuxPort?: number;
  /**
   * usrsctp's send buffer per connection, in bytes. `bufferedAmount` counts only what
   * usrsctp has not taken, so a large buffer (libdatachannel's default is 1 MiB) hides a
   * slow viewer from the fan-out's backpressure. Process-wide: it applies to connections
   * created after the call. Default: 64 KiB.
   */
  sctpSendBufferSize?: number;
  /**
   * How long usrsctp may wait before it acknowledges a lone packet, in ms; a second packet
   * is acknowledged at once. libdatachannel's 20 ms acknowledges nearly every packet of a
   * stream at 50 messages a second, and each acknowledgement costs its sender a datagram to
   * decrypt and process; 50 ms halves them there and stays under usrsctp's 200 ms minimum
   * retransmission timeout (Chromium's dcSCTP waits up to 200 ms). Process-wide, like
   * {@linkcode LibdatachannelOptions.sctpSendBufferSize}. Default: 50.
   */
  delayedSackTimeMs?: number;
  /** The `bufferedAmountLowThreshold` every new channel starts with. Default: 0. */
  bufferedAmountLowThreshold?: number;
  /** The largest message this side accepts, announced in SDP. Default: 256 KiB. */
  maxMessageSize?: number;
}

/** usrsctp's send buffer unless {@linkcode LibdatachannelOptions.sctpSendBufferSize} says. */
const DEFAULT_SCTP_SEND_BUFFER = 64 * 1024;
/** usrsctp's delayed acknowledgement unless {@linkcode LibdatachannelOptions.delayedSackTimeMs} says. */
const DEFAULT_DELAYED_SACK_MS = 50;
/** How long a DTLS-server answerer whose ICE has not connected keeps its candidates (see
 * _DTLS_ROLES): under 100 joins at once its ICE connects 50–200 ms after the answer. */
const SERVER_CANDIDATES_FALLBACK_MS = 300;
/** How long `close()` waits for libdatachannel to report the connection closed. */
const CLOSE_WAIT_MS = 2_000;

/**
 * An {@linkcode RtcAdapter} backed by libdatachannel through npm:node-datachannel.
 *
 * @example
 * ```ts ignore
 * import { libdatachannel } from "./libdatachannel.ts";
 *
 * const rtc = libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" }, portRange: [40000, 40100] });
 * const pc = rtc.createPeerConnection({ iceServers: [] });
 * await pc.close();
 * ```
 */
export function libdatachannel(options: LibdatachannelOptions = {}): RtcAdapter {
  const { portRange, iceUdpMuxPort } = options;
  if (portRange && !(portRange[0] >= 1 && portRange[0] <= portRange[1] && portRange[1] < 65536)) {
    throw new RangeError(`portRange must be [min, max] within 1..65535, not [${portRange}]`);
  }
  if (iceUdpMuxPort !== undefined && !(iceUdpMuxPort >= 1 && iceUdpMuxPort < 65536)) {
    throw new RangeError(`iceUdpMuxPort must be within 1..65535, not ${iceUdpMuxPort}`);
  }
  const sack = options.delayedSackTimeMs;
  if (sack !== undefined && !(Number.isInteger(sack) && sack >= 0 && sack < 200)) {
    // At or above usrsctp's minimum retransmission timeout a sender would resend packets
    // that arrived.
    throw new RangeError(`delayedSackTimeMs must be an integer within 0..199, not ${sack}`);
  }
  nodeDataChannel.setSctpSettings({
    sendBufferSize: options.sctpSendBufferSize ?? DEFAULT_SCTP_SEND_BUFFER,
    delayedSackTime: options.delayedSackTimeMs ?? DEFAULT_DELAYED_SACK_MS,
  });
  return {
    name: "libdatachannel",
    createPeerConnection: (config) => new _LdcPeerConnection(config, options),
  };
}

// --- the native module's users ---------------------------------------------------------

let _users = 0;

/** One more connection uses the native module. */
function _acquire(): void {
  _users++;
}

/** One connection less; the last one stops libdatachannel's threads (its thread pool, the
 * juice poll threads), which otherwise keep a process from exiting. */
function _release(): void {
  if (--_users === 0) nodeDataChannel.cleanup();
}

// --- configuration -----------------------------------------------------------------------

/** One `stun:`/`turn:`/`turns:` URL as libdatachannel's object form (the string form would
 * read `user:pass@` from the URL, and TURN REST user names hold a colon). */
function _iceServer(url: string, server: RTCIceServerLike): NativeIceServer {
  const match = /^(stuns?|turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/i
    .exec(url.trim());
  if (!match) throw new TypeError(`not a STUN or TURN URL: ${url}`);
  const [, scheme, host, port, transport] = match;
  const secure = /s$/i.test(scheme);
  const hostname = host.replace(/^\[|\]$/g, "");
  const out: NativeIceServer = { hostname, port: port ? Number(port) : secure ? 5349 : 3478 };
  if (/^turn/i.test(scheme)) {
    out.username = server.username ?? "";
    out.password = server.credential ?? "";
    out.relayType = secure ? "TurnTls" : transport?.toLowerCase() === "tcp" ? "TurnTcp" : "TurnUdp";
  }
  return out;
}

function _nativeConfig(
  config: RtcPeerConnectionConfig,
  options: LibdatachannelOptions,
): NativeConfig {
  const bindAddress = options.interfaceAddresses?.udp4 ?? options.interfaceAddresses?.udp6;
  const ports = options.iceUdpMuxPort !== undefined
    ? [options.iceUdpMuxPort, options.iceUdpMuxPort]
    : options.portRange;
  return {
    iceServers: config.iceServers.flatMap((s) => [s.urls].flat().map((u) => _iceServer(u, s))),
    // Offers and answers are made when asked for (createOffer, createAnswer), as in the
    // DOM; by default libdatachannel makes them itself as soon as a channel is created.
    disableAutoNegotiation: true,
    ...(bindAddress ? { bindAddress } : {}),
    ...(ports ? { portRangeBegin: ports[0], portRangeEnd: ports[1] } : {}),
    ...(options.iceUdpMuxPort !== undefined ? { enableIceUdpMux: true } : {}),
    ...(options.maxMessageSize ? { maxMessageSize: options.maxMessageSize } : {}),
    ...(config.iceTransportPolicy ? { iceTransportPolicy: config.iceTransportPolicy } : {}),
  };
}

/**
 * _DTLS_ROLES: libdatachannel 0.24.5 (OpenSSL build) can stall a DTLS server for the
 * client's first retransmission, one second: a ClientHello that arrives before the server's
 * ICE is connected is held and replayed when its DTLS transport registers
 * (`Transport::registerIncoming`), which runs the read on a pool thread that returns at
 * once unless `changeState(Connecting)`, called just after, has already run
 * (`DtlsTransport::start`, `doRecv`); the packet then waits in the queue until another
 * arrives. So the DTLS server's ICE must connect first. libjuice's agents connect when one
 * of their own checks is answered, so the side that checks first connects first; the
 * other's triggered check waits 50 ms (`STUN_PACING_TIME`).
 *
 * So an offer made here says `active` (the offerer is the client: werift and browsers
 * answering it as servers keep an early ClientHello anyway), and an answerer made here
 * that is the server gives out its candidates only once its ICE is connected (see
 * #release): the offerer cannot check before it has them, so the server checks first.
 * With the offerer holding its own until the answer is applied, pairs connect in this
 * order: answer applied, offerer's candidates out, answerer's checks answered, answerer
 * connected, its candidates out, offerer connected, ClientHello. 100 libdatachannel pairs
 * at once, alternating: 0 took the extra second in 300 in one process and 600 over four
 * viewer processes, against 16–17 of 100 and 18–48 of 400 with the offerer's checks first.
 * (Upstream fix: `changeState(Connecting)` before `registerIncoming()` in
 * `DtlsTransport::start`, or an `enqueueRecv()` after it.)
 */
function _setup(sdp: string, role: "active"): string {
  return sdp.replace(/^a=setup:actpass(?=\r?$)/gm, `a=setup:${role}`);
}

/** The `a=mid:` values of an SDP, in m-line order. */
function _mids(sdp: string): string[] {
  return [...sdp.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1]);
}

// --- peer connection ---------------------------------------------------------------------

class _LdcPeerConnection extends BasePeerConnection {
  #pc: NativePeerConnection;
  #options: LibdatachannelOptions;
  #nativeClosed: Promise<void>;
  /** Local candidates held until both descriptions are applied (see #release); null once
   * released. */
  #heldCandidates: (RTCIceCandidateLike | null)[] | null = [];
  #localSet = false;
  /** Releases a DTLS-server answerer's candidates should its ICE not connect first. */
  #fallback?: ReturnType<typeof setTimeout>;
  /** Remote candidates that came before the remote description. */
  #early: RTCIceCandidateLike[] = [];
  #remoteMids: string[] = [];
  #state: RtcPeerConnectionState = "new";
  #ice: RtcIceConnectionState = "new";

  constructor(config: RtcPeerConnectionConfig, options: LibdatachannelOptions) {
    super();
    this.#options = options;
    const pc = this.#pc = new nodeDataChannel.PeerConnection(
      "shoal",
      _nativeConfig(config, options),
    );
    _acquire();
    let onNativeClosed!: () => void;
    this.#nativeClosed = new Promise((resolve) => onNativeClosed = resolve);
    pc.onStateChange((state) => {
      if (state === "closed") onNativeClosed();
      if (this.isClosed || state === this.#state) return;
      this.#state = state as RtcPeerConnectionState;
      this.events.emit("connectionstatechange", this.#state);
    });
    pc.onIceStateChange((state) => {
      if (this.isClosed || state === this.#ice) return;
      this.#ice = state as RtcIceConnectionState;
      this.events.emit("iceconnectionstatechange", this.#ice);
      if (this.#iceUp) this.#release();
    });
    pc.onLocalCandidate((candidate, mid) => {
      const mids = _mids(pc.localDescription()?.sdp ?? "");
      this.#local({
        candidate: candidate.replace(/^a=/, ""),
        sdpMid: mid,
        sdpMLineIndex: Math.max(0, mids.indexOf(mid)),
      });
    });
    // libdatachannel has no end-of-candidates candidate; its gathering state says it.
    pc.onGatheringStateChange((state) => {
      if (state === "complete") this.#local(null);
    });
    pc.onDataChannel((dc) => {
      if (this.isClosed) return dc.close();
      this.events.emit("datachannel", this.#wrap(dc));
    });
  }

  protected nativeConnectionState(): RtcPeerConnectionState {
    return this.#state;
  }

  protected nativeIceConnectionState(): RtcIceConnectionState {
    return this.#ice;
  }

  createDataChannel(label: string): RtcDataChannel {
    this.assertOpen();
    return this.#wrap(this.#pc.createDataChannel(label));
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(() => this.#describe("offer"), options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(() => this.#describe("answer"), options);
  }

  setLocalDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(() => {
      // createOffer/createAnswer already applied it (libdatachannel cannot make one
      // without applying it); a description made elsewhere is made here.
      const current = this.#pc.localDescription();
      if (current?.type !== description.type) this.#pc.setLocalDescription(description.type);
      this.#localSet = true;
      this.#release();
    }, options);
  }

  setRemoteDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(() => {
      this.#pc.setRemoteDescription(description.sdp, description.type);
      this.#remoteMids = _mids(description.sdp);
      this.#release();
      // A kept candidate the stack refuses is skipped, not a failed description.
      for (const c of this.#early.splice(0)) {
        try {
          this.#addRemote(c);
        } catch { /* as above */ }
      }
    }, options);
  }

  addIceCandidate(
    candidate: RTCIceCandidateLike | null,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.#op(() => {
      // End-of-candidates has no native call; libjuice stops checking on its own timers.
      // An mDNS name (a browser hiding its address) cannot be resolved here: the browser's
      // address is learnt from its checks instead (a peer-reflexive candidate).
      if (candidate === null || isMdnsCandidate(candidate.candidate)) return;
      if (this.#pc.remoteDescription()) this.#addRemote(candidate);
      else this.#early.push({ ...candidate });
    }, options);
  }

  selectedCandidatePair(): Promise<RtcCandidatePair | undefined> {
    if (this.isClosed) return Promise.resolve(undefined);
    const pair = this.#pc.getSelectedCandidatePair();
    if (!pair) return Promise.resolve(undefined);
    const end = (c: typeof pair.local): RtcCandidate => ({
      type: c.type.toLowerCase(),
      address: c.address,
      port: c.port,
      protocol: c.transportType.toLowerCase().startsWith("tcp") ? "tcp" : "udp",
    });
    return Promise.resolve({ local: end(pair.local), remote: end(pair.remote) });
  }

  protected async closeNative(): Promise<void> {
    clearTimeout(this.#fallback);
    this.#early.length = 0;
    this.#heldCandidates = null;
    const wasClosed = this.#pc.state() === "closed";
    this.#pc.close();
    // node-datachannel releases its last callback (which keeps the event loop alive) when
    // the closed state has been delivered; wait for it, bounded.
    if (!wasClosed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#nativeClosed,
        new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
      ]);
      clearTimeout(timer);
    }
    _release();
  }

  /** Runs `fn` (libdatachannel's calls are synchronous) in a microtask, as the DOM settles
   * after the caller's synchronous code, rejecting on close or abort first. */
  #op<T>(fn: () => T, options?: RtcOperationOptions): Promise<T> {
    return this.op(() =>
      Promise.resolve().then(() => {
        if (this.isClosed) throw closedError();
        return fn();
      }), options);
  }

  #describe(type: "offer" | "answer"): RTCSessionDescriptionLike {
    const current = this.#pc.localDescription();
    if (current?.type !== type) this.#pc.setLocalDescription(type);
    const description = this.#pc.localDescription();
    if (!description || description.type !== type) {
      throw new DOMException(`libdatachannel made no ${type}`, "OperationError");
    }
    // Candidates are trickled, never in the description (see #release); the offerer is
    // the DTLS client (see _DTLS_ROLES).
    const sdp = description.sdp.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, "");
    return { type, sdp: type === "offer" ? _setup(sdp, "active") : sdp };
  }

  /**
   * Hands out the held local candidates once both descriptions are applied. An offerer's
   * candidates wait for the answer: libjuice answers a peer's checks before it has the
   * remote credentials, so a peer that checks early (any answerer that has the offer and
   * the candidates) can connect ICE, and then DTLS, before the answer is applied; the DTLS
   * handshake then fails, as there is no remote fingerprint to verify yet ("certificate
   * verify failed", then "Got a remote candidate without ICE transport" when the answer
   * comes). Seen on 1 to 7 of 20 simultaneous joins here. (Upstream fix: start DTLS, or
   * verify the fingerprint, only once the remote description is set.)
   *
   * An answerer that is the DTLS server keeps its candidates until its ICE is connected, so
   * that it checks first (see _DTLS_ROLES); or, when its checks cannot reach the offerer
   * first (both behind NATs), until {@linkcode SERVER_CANDIDATES_FALLBACK_MS} has passed.
   */
  #release(force = false): void {
    if (!this.#heldCandidates || !this.#localSet || !this.#pc.remoteDescription()) return;
    if (!force && !this.#iceUp && this.#serverAnswerer()) {
      this.#fallback ??= setTimeout(() => this.#release(true), SERVER_CANDIDATES_FALLBACK_MS);
      return;
    }
    clearTimeout(this.#fallback);
    const held = this.#heldCandidates;
    this.#heldCandidates = null;
    for (const candidate of held) this.events.emit("icecandidate", candidate);
  }

  /** Whether ICE has connected (a pair works). */
  get #iceUp(): boolean {
    return this.#ice === "connected" || this.#ice === "completed";
  }

  /** Whether this side answered as the DTLS server (`a=setup:passive`). */
  #serverAnswerer(): boolean {
    const local = this.#pc.localDescription();
    return local?.type === "answer" && /^a=setup:passive\r?$/m.test(local.sdp);
  }

  #local(candidate: RTCIceCandidateLike | null): void {
    if (this.isClosed) return;
    if (this.#heldCandidates) this.#heldCandidates.push(candidate);
    else this.events.emit("icecandidate", candidate);
  }

  #addRemote(c: RTCIceCandidateLike): void {
    const mid = c.sdpMid ?? this.#remoteMids[c.sdpMLineIndex ?? 0] ?? this.#remoteMids[0] ?? "0";
    this.#pc.addRemoteCandidate(c.candidate, mid);
  }

  #wrap(dc: NativeDataChannel): _LdcDataChannel {
    // Tracked (held) until closed: node-datachannel closes a channel whose object is collected.
    return this.track(new _LdcDataChannel(new _LdcChannel(dc, this.#options)));
  }
}

// --- data channel ------------------------------------------------------------------------

const _encoder = new TextEncoder();

function _byteLength(data: RtcMessage): number {
  return typeof data === "string" ? _encoder.encode(data).byteLength : data.byteLength;
}

/**
 * libdatachannel's channel with the DOM's fields: its label, state and buffer read as
 * properties. `send` hands a message to libdatachannel at once (it copies it), and
 * `bufferedAmount` counts as the DOM does (below).
 */
class _LdcChannel implements NativeChannel {
  readonly dc: NativeDataChannel;
  readonly label: string;
  open: boolean;
  detached = false;
  #threshold: number;
  #maxMessageSize: number | undefined;
  /** libdatachannel's `bufferedAmount` as this task first read it; null between tasks. */
  #taskBase: number | null = null;
  /** Bytes this task sent. */
  #taskBytes = 0;
  /** Called when this task's sends crossed the low-water mark that libdatachannel did not see. */
  onLow: () => void = () => {};

  constructor(dc: NativeDataChannel, options: LibdatachannelOptions) {
    this.dc = dc;
    this.label = dc.getLabel();
    this.open = dc.isOpen();
    this.#threshold = options.bufferedAmountLowThreshold ?? 0;
    dc.setBufferedAmountLowThreshold(this.#threshold);
  }

  get readyState(): RtcDataChannelState {
    return this.open ? "open" : "connecting";
  }

  // As in the DOM, what send took this task counts until the task ends, though usrsctp
  // may have taken it already (a burst is seen whole); then what libdatachannel still
  // holds. Read from libdatachannel once a task: the fan-out asks before every send.
  get bufferedAmount(): number {
    return this.detached ? 0 : this.#begin() + this.#taskBytes;
  }

  get bufferedAmountLowThreshold(): number {
    return this.#threshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.#threshold = value;
    if (!this.detached) this.dc.setBufferedAmountLowThreshold(value);
  }

  send(data: RtcMessage): void {
    const size = _byteLength(data);
    const max = this.#maxMessageSize ??= this.dc.maxMessageSize();
    if (size > max) throw new TypeError(`The message (${size} bytes) exceeds ${max} bytes`);
    this.#begin();
    try {
      if (typeof data === "string") this.dc.sendMessage(data);
      else this.dc.sendMessageBinary(data);
    } catch {
      return; // closed meanwhile: its close event follows
    }
    this.#taskBytes += size;
  }

  close(): void {
    this.dc.close();
  }

  detach(): void {
    this.detached = true;
  }

  /** This task's reading of libdatachannel's buffer, taken once. */
  #begin(): number {
    if (this.#taskBase === null) {
      this.#taskBase = this.dc.bufferedAmount();
      queueMicrotask(this.#end);
    }
    return this.#taskBase;
  }

  #end = (): void => {
    const before = this.#taskBase! + this.#taskBytes;
    const sent = this.#taskBytes > 0;
    this.#taskBase = null;
    this.#taskBytes = 0;
    if (!sent || this.detached) return;
    // libdatachannel fires its own low event only when its queue crosses the threshold;
    // when usrsctp took this task's sends at once, the crossing happened here.
    const threshold = this.#threshold;
    let now: number;
    try {
      now = this.dc.bufferedAmount();
    } catch {
      return; // closed meanwhile
    }
    if (before > threshold && now <= threshold) this.onLow();
  };
}

class _LdcDataChannel extends BaseDataChannel<_LdcChannel> {
  constructor(channel: _LdcChannel) {
    super(channel);
    const dc = channel.dc;
    dc.onOpen(() => {
      if (channel.detached) return;
      channel.open = true;
      this.events.emit("open", undefined);
    });
    dc.onClosed(() => this.closed());
    dc.onError(() => {}); // a closed event follows
    dc.onMessage((data) => {
      if (channel.detached) return;
      this.events.emit(
        "message",
        typeof data === "string"
          ? data
          : data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
    });
    const low = () => {
      if (!channel.detached) this.events.emit("bufferedamountlow", undefined);
    };
    // libdatachannel's event comes a turn after its queue crossed the threshold, while the
    // worker threads drained it; a burst sent meanwhile may have filled it again. As in the
    // DOM, the event means bufferedAmount is at or under the threshold now: a stale one is
    // dropped (libdatachannel fires again when its queue next falls that far).
    dc.onBufferedAmountLow(() => {
      if (channel.bufferedAmount <= channel.bufferedAmountLowThreshold) low();
    });
    channel.onLow = low;
  }

  protected sendNative(data: RtcMessage): void {
    this.native.send(data);
  }

  protected stopListening(): void {
    this.native.detach();
  }
}
