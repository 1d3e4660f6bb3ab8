/**
 * An in-memory {@linkcode RtcAdapter} for unit tests. Peer connections created from one
 * {@linkcode FakeRtcNetwork} negotiate through their SDP text (it carries the peer's id,
 * registered in the network), trickle fake candidates, open channels and deliver messages
 * on timers (`setTimeout`, so `@sinonjs/fake-timers` controls all of it), drain
 * `bufferedAmount` a tick at a time, and can misbehave on request.
 *
 * @example
 * ```ts
 * import { FakeRtcNetwork } from "./fake_rtc.ts";
 *
 * const network = new FakeRtcNetwork({ latencyMs: 1 });
 * const host = network.adapter().createPeerConnection({ iceServers: [] });
 * const viewer = network.adapter({ neverAnswer: true }).createPeerConnection({ iceServers: [] });
 * viewer.misbehave({ neverAnswer: false, stallBuffer: true });
 * await host.close();
 * await viewer.close();
 * console.assert(network.pendingTimers === 0);
 * ```
 *
 * @module
 */
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

/** Options of a {@linkcode FakeRtcNetwork}. */
export interface FakeRtcNetworkOptions {
  /** Delay of every delivery (candidate, state change, message batch) in ms; default 0. */
  latencyMs?: number;
  /** Bytes a channel hands over per delivery tick; default 64 KiB. */
  bytesPerTick?: number;
  /** Candidates each peer trickles before end-of-candidates; default 2. */
  candidates?: number;
}

/** Ways a fake peer connection misbehaves; change them any time with `misbehave()`. */
export interface FakeRtcBehavior {
  /** `createAnswer()` never settles (until aborted or closed). */
  neverAnswer?: boolean;
  /**
   * Local candidates and end-of-candidates are never emitted. As in real ICE one side's
   * candidates are enough to connect, so set it on both peers to make ICE hang.
   */
  dropCandidates?: boolean;
  /** Channels stop draining: `bufferedAmount` only grows and nothing is delivered. */
  stallBuffer?: boolean;
}

/** A fake adapter: its peer connections are {@linkcode FakePeerConnection}s. */
export interface FakeRtcAdapter extends RtcAdapter {
  /** The network its peer connections live in. */
  readonly network: FakeRtcNetwork;
  /** Creates a fake peer connection with the adapter's behaviour. */
  createPeerConnection(config: RtcPeerConnectionConfig): FakePeerConnection;
}

/** The shared in-memory "internet" of fake peer connections. */
export class FakeRtcNetwork {
  /** The options in force. */
  readonly options: Readonly<Required<FakeRtcNetworkOptions>>;
  #peers = new Map<string, FakePeerConnection>();
  #nextId = 1;

  /** Creates an empty network. */
  constructor(options: FakeRtcNetworkOptions = {}) {
    this.options = { latencyMs: 0, bytesPerTick: 65_536, candidates: 2, ...options };
  }

  /** An adapter whose peer connections join this network with `behavior`. */
  adapter(behavior: FakeRtcBehavior = {}): FakeRtcAdapter {
    return {
      name: "fake",
      network: this,
      // "relay" without a TURN server: nothing to offer, as in a real stack.
      createPeerConnection: (config) =>
        new FakePeerConnection(
          this,
          `p${this.#nextId++}`,
          config.iceTransportPolicy === "relay" &&
            !config.iceServers.some((s) => [s.urls].flat().some((u) => /^turns?:/.test(u)))
            ? { ...behavior, dropCandidates: true }
            : behavior,
        ),
    };
  }

  /** The peer connections not closed yet. */
  get peers(): FakePeerConnection[] {
    return [...this.#peers.values()];
  }

  /** Timers scheduled by peers of this network and not yet run; 0 once all are closed. */
  get pendingTimers(): number {
    return this.peers.reduce((n, p) => n + p._timerCount, 0);
  }

  /** The open peer connection with this id. */
  get(id: string): FakePeerConnection | undefined {
    return this.#peers.get(id);
  }

  /** @internal */
  _register(pc: FakePeerConnection, on: boolean): void {
    if (on) this.#peers.set(pc.id, pc);
    else this.#peers.delete(pc.id);
  }
}

const _utf8 = new TextEncoder();

function _closedError(): DOMException {
  return new DOMException("The peer connection is closed", "InvalidStateError");
}

function _sdp(type: "offer" | "answer", id: string): RTCSessionDescriptionLike {
  const setup = type === "offer" ? "actpass" : "active";
  const sdp = `v=0\r\no=- ${id.slice(1)} 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` +
    `m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n` +
    `a=ice-ufrag:${id}\r\na=setup:${setup}\r\na=x-fake-peer:${id}\r\n`;
  return { type, sdp };
}

function _candidate(id: string, i: number): RTCIceCandidateLike {
  const candidate = `candidate:${i + 1} 1 udp ${2122260223 - i} ${id}.fake.invalid ${50000 + i}` +
    ` typ host generation 0 ufrag ${id}`;
  return { candidate, sdpMid: "0", sdpMLineIndex: 0 };
}

/** A fake peer connection; see {@linkcode FakeRtcBehavior} for how it misbehaves. */
export class FakePeerConnection implements RtcPeerConnection {
  /** Its id in the network (also its ICE ufrag and the id its SDP carries). */
  readonly id: string;
  /** The remote peer's id, once a remote description is set. */
  remoteId?: string;
  #network: FakeRtcNetwork;
  #behavior: FakeRtcBehavior;
  #events = new Emitter<RtcPeerConnectionEvents>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = new AbortController();
  #signaling: "stable" | "have-local-offer" | "have-remote-offer" = "stable";
  #local?: RTCSessionDescriptionLike;
  #remote?: RTCSessionDescriptionLike;
  #early: (RTCIceCandidateLike | null)[] = [];
  #heard = false;
  #linked = false;
  #state: RtcPeerConnectionState = "new";
  #ice: RtcIceConnectionState = "new";
  /** @internal Its channels, open or not. */
  readonly _channels = new Set<FakeDataChannel>();

  /** @internal Use `FakeRtcNetwork.adapter().createPeerConnection()`. */
  constructor(network: FakeRtcNetwork, id: string, behavior: FakeRtcBehavior) {
    this.#network = network;
    this.id = id;
    this.#behavior = { ...behavior };
    network._register(this, true);
  }

  /** The current misbehaviour. */
  get behavior(): Readonly<FakeRtcBehavior> {
    return this.#behavior;
  }

  /** Changes the misbehaviour; un-stalling resumes draining at once. */
  misbehave(patch: FakeRtcBehavior): void {
    Object.assign(this.#behavior, patch);
    for (const channel of this._channels) channel._kick();
  }

  /** The path breaks: both sides' channels close and both go `"failed"`. */
  fail(): void {
    this._lose("failed");
    this.#peer()?._lose("failed");
  }

  /** This side vanishes (a crashed tab): closed silently here, `"failed"` on the other. */
  crash(): Promise<void> {
    return this.#shutdown("failed");
  }

  get connectionState(): RtcPeerConnectionState {
    return this.#closed.signal.aborted ? "closed" : this.#state;
  }

  get iceConnectionState(): RtcIceConnectionState {
    return this.#closed.signal.aborted ? "closed" : this.#ice;
  }

  createDataChannel(label: string): FakeDataChannel {
    if (this.#closed.signal.aborted) throw _closedError();
    const channel = new FakeDataChannel(this, label);
    if (this.#state === "connected") this.#pairChannels();
    return channel;
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(() => {
      if (this.#remote) throw new DOMException("renegotiation is not faked", "InvalidStateError");
      return _sdp("offer", this.id);
    }, options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(() => {
      if (this.#signaling !== "have-remote-offer") {
        throw new DOMException(`createAnswer in ${this.#signaling}`, "InvalidStateError");
      }
      return this.#behavior.neverAnswer ? new Promise<never>(() => {}) : _sdp("answer", this.id);
    }, options);
  }

  setLocalDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.#op(() => {
      const expected = d.type === "offer" ? "stable" : "have-remote-offer";
      if (
        this.#signaling !== expected || this.#local || !d.sdp.includes(`x-fake-peer:${this.id}`)
      ) {
        throw new DOMException(`setLocalDescription(${d.type}) not valid now`, "InvalidStateError");
      }
      this.#local = d;
      this.#signaling = d.type === "offer" ? "have-local-offer" : "stable";
      this.#gather();
      this.#described();
    }, options);
  }

  setRemoteDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.#op(() => {
      const expected = d.type === "offer" ? "stable" : "have-local-offer";
      const id = /a=x-fake-peer:(\S+)/.exec(d.sdp)?.[1];
      if (!id) throw new DOMException("not a fake SDP", "OperationError");
      if (this.#signaling !== expected || this.#remote) {
        throw new DOMException(
          `setRemoteDescription(${d.type}) not valid now`,
          "InvalidStateError",
        );
      }
      this.#remote = d;
      this.remoteId = id;
      this.#signaling = d.type === "offer" ? "have-remote-offer" : "stable";
      this.#described();
      for (const c of this.#early.splice(0)) this.#addCandidate(c);
    }, options);
  }

  addIceCandidate(c: RTCIceCandidateLike | null, options?: RtcOperationOptions): Promise<void> {
    return this.#op(() => {
      if (this.#remote) this.#addCandidate(c);
      else this.#early.push(c);
    }, options);
  }

  on<K extends keyof RtcPeerConnectionEvents>(
    type: K,
    listener: (value: RtcPeerConnectionEvents[K]) => void,
  ): () => void {
    return this.#closed.signal.aborted ? () => {} : this.#events.on(type, listener);
  }

  close(): Promise<void> {
    return this.#shutdown("disconnected");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #shutdown(peerSees: "disconnected" | "failed"): Promise<void> {
    if (this.#closed.signal.aborted) return Promise.resolve();
    this.#closed.abort(_closedError());
    this.#events.clear();
    const peer = this.#peer();
    for (const channel of this._channels) channel._end(false);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#network._register(this, false);
    peer?._lose(peerSees);
    return Promise.resolve();
  }

  /** @internal Runs `fn` after the network latency, unless this peer is closed first. */
  _schedule(fn: () => void): void {
    if (this.#closed.signal.aborted) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, this.#network.options.latencyMs);
    this.#timers.add(timer);
  }

  /** @internal */
  get _timerCount(): number {
    return this.#timers.size;
  }

  /** @internal */
  get _network(): FakeRtcNetwork {
    return this.#network;
  }

  /** @internal The other side went away (`"disconnected"`) or the path broke (`"failed"`). */
  _lose(state: "disconnected" | "failed"): void {
    if (state === "disconnected" && this.#state !== "connected") return; // ICE never got there
    this._schedule(() => {
      for (const channel of this._channels) channel._end(true);
      this.#setIce(state);
      this.#setState(state);
    });
  }

  #op<T>(fn: () => T | Promise<T>, options?: RtcOperationOptions): Promise<T> {
    if (this.#closed.signal.aborted) return Promise.reject(_closedError());
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const run = new Promise<T>((resolve) => resolve(fn())); // a throw becomes a rejection
    return abortable(abortable(run, this.#closed.signal), options?.signal);
  }

  #peer(): FakePeerConnection | undefined {
    const peer = this.remoteId ? this.#network.get(this.remoteId) : undefined;
    return peer?.remoteId === this.id ? peer : undefined;
  }

  #gather(): void {
    const { candidates } = this.#network.options;
    for (let i = 0; i <= candidates; i++) {
      this._schedule(() => {
        if (this.#behavior.dropCandidates) return;
        this.#events.emit("icecandidate", i === candidates ? null : _candidate(this.id, i));
      });
    }
  }

  #addCandidate(c: RTCIceCandidateLike | null): void {
    if (c === null) return;
    if (!c.candidate.endsWith(`ufrag ${this.remoteId}`)) {
      throw new DOMException("unknown ufrag in candidate", "OperationError");
    }
    this.#heard = true;
    this.#tryConnect();
  }

  #described(): void {
    if (!this.#local || !this.#remote) return;
    this._schedule(() => {
      this.#setIce("checking");
      this.#setState("connecting");
    });
    this.#tryConnect();
  }

  #tryConnect(): void {
    const peer = this.#peer();
    const ready = (p: FakePeerConnection) => !!(p.#local && p.#remote && !p.#linked);
    if (!peer || !ready(this) || !ready(peer) || !(this.#heard || peer.#heard)) return;
    for (const p of [this, peer]) {
      p.#linked = true;
      p._schedule(() => {
        p.#setIce("connected");
        p.#setState("connected");
        p.#pairChannels();
      });
    }
  }

  #pairChannels(): void {
    const peer = this.#peer();
    if (!peer) return;
    for (const channel of this._channels) {
      if (channel._peer || channel.readyState !== "connecting") continue;
      const remote = new FakeDataChannel(peer, channel.label);
      channel._peer = remote;
      remote._peer = channel;
      peer._schedule(() => {
        peer.#events.emit("datachannel", remote);
        remote._open();
      });
      this._schedule(() => channel._open());
    }
  }

  #setIce(state: RtcIceConnectionState): void {
    if (this.#ice === state) return;
    this.#ice = state;
    this.#events.emit("iceconnectionstatechange", state);
  }

  #setState(state: RtcPeerConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#events.emit("connectionstatechange", state);
  }
}

/** A fake data channel: ordered, reliable, drained `bytesPerTick` at a time. */
export class FakeDataChannel implements RtcDataChannel {
  readonly label: string;
  bufferedAmountLowThreshold = 0;
  #pc: FakePeerConnection;
  #events = new Emitter<RtcDataChannelEvents>();
  #state: RtcDataChannelState = "connecting";
  #queue: { data: RtcMessage; size: number }[] = [];
  #buffered = 0;
  #draining = false;
  /** @internal The other end, once paired. */
  _peer?: FakeDataChannel;

  /** @internal Use `createDataChannel()`. */
  constructor(pc: FakePeerConnection, label: string) {
    this.#pc = pc;
    this.label = label;
    pc._channels.add(this);
  }

  get readyState(): RtcDataChannelState {
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  send(data: RtcMessage): void {
    assertSendable(this.#state, data);
    const size = typeof data === "string" ? _utf8.encode(data).byteLength : data.byteLength;
    this.#queue.push({ data: typeof data === "string" ? data : data.slice(), size });
    this.#buffered += size;
    this._kick();
  }

  on<K extends keyof RtcDataChannelEvents>(
    type: K,
    listener: (value: RtcDataChannelEvents[K]) => void,
  ): () => void {
    return this.#state === "closed" ? () => {} : this.#events.on(type, listener);
  }

  close(): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.#state = "closing";
    this.#queue.length = 0;
    const peer = this._peer;
    this.#pc._schedule(() => this._end(true));
    if (peer) peer.#pc._schedule(() => peer._end(true));
  }

  /** @internal */
  _open(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.#events.emit("open", undefined);
  }

  /** @internal Closes this end; with `announce` the `close` event fires. */
  _end(announce: boolean): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#queue.length = 0;
    this.#pc._channels.delete(this);
    if (announce) this.#events.emit("close", undefined);
    this.#events.clear();
  }

  /** @internal Schedules a drain tick if there is something to send and it may drain. */
  _kick(): void {
    if (this.#draining || this.#queue.length === 0 || this.#pc.behavior.stallBuffer) return;
    this.#draining = true;
    this.#pc._schedule(() => {
      this.#draining = false;
      this.#drain();
      this._kick();
    });
  }

  #drain(): void {
    if (this.#pc.behavior.stallBuffer) return;
    let budget = this.#pc._network.options.bytesPerTick;
    const before = this.#buffered;
    while (this.#queue.length > 0 && (budget > 0 || before === this.#buffered)) {
      const { data, size } = this.#queue.shift()!;
      budget -= size;
      this.#buffered -= size;
      const peer = this._peer;
      if (peer && peer.#state === "open") peer.#events.emit("message", data);
    }
    const low = this.bufferedAmountLowThreshold;
    if (before > low && this.#buffered <= low) this.#events.emit("bufferedamountlow", undefined);
  }
}
