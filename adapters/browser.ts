/**
 * The browser's own `RTCPeerConnection` behind shoal's {@linkcode RtcAdapter}, for a host
 * or a viewer running in a page. Binary messages arrive as `Uint8Array` (the channels use
 * `binaryType = "arraybuffer"`), candidates that arrive before the remote description are
 * kept until it is set, and listeners are plain `on()` functions.
 *
 * The few DOM shapes it needs are declared here, so the module type-checks without the
 * DOM library.
 *
 * @example
 * ```ts ignore
 * import { browser } from "./browser.ts";
 *
 * const rtc = browser();
 * await using pc = rtc.createPeerConnection({ iceServers: [] });
 * pc.on("datachannel", (channel) => channel.on("message", (m) => console.log(m)));
 * ```
 *
 * @module
 */
import { abortable } from "../core/async.ts";
import { Emitter } from "../core/emitter.ts";
import type {
  RtcAdapter,
  RtcCandidate,
  RtcCandidatePair,
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
 * An {@linkcode RtcAdapter} backed by `globalThis.RTCPeerConnection`.
 *
 * @example In a page (elsewhere, such as in Deno, only the adapter is made)
 * ```ts
 * import { browser } from "@shoal/shoal/browser";
 *
 * const rtc = browser();
 * if ("RTCPeerConnection" in globalThis) {
 *   await using pc = rtc.createPeerConnection({ iceServers: [] });
 *   const channel = pc.createDataChannel("shoal");
 *   channel.on("open", () => channel.send(new Uint8Array([0, 1, 2])));
 * }
 * console.assert(rtc.name === "browser");
 * ```
 */
export function browser(): RtcAdapter {
  return {
    name: "browser",
    createPeerConnection: (config) => new _BrowserPeerConnection(config),
  };
}

type _Listen = { signal: AbortSignal };
// deno-lint-ignore no-explicit-any
type _Target = { addEventListener(type: string, fn: (event: any) => void, o: _Listen): void };
type _Dc = _Target & {
  label: string;
  readyState: RtcDataChannelState;
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(): void;
};
type _Pc = _Target & {
  connectionState: RtcPeerConnectionState;
  iceConnectionState: RtcIceConnectionState;
  remoteDescription: unknown;
  createDataChannel(label: string, init: { ordered: boolean }): _Dc;
  createOffer(): Promise<RTCSessionDescriptionLike>;
  createAnswer(): Promise<RTCSessionDescriptionLike>;
  setLocalDescription(d: RTCSessionDescriptionLike): Promise<void>;
  setRemoteDescription(d: RTCSessionDescriptionLike): Promise<void>;
  addIceCandidate(c?: RTCIceCandidateLike): Promise<void>;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
  close(): void;
};

function _candidate(s: Record<string, unknown>): RtcCandidate {
  return {
    type: String(s.candidateType ?? ""),
    address: String(s.address ?? s.ip ?? ""),
    port: Number(s.port),
    protocol: String(s.protocol ?? ""),
  };
}

function _closedError(): DOMException {
  return new DOMException("The peer connection is closed", "InvalidStateError");
}

class _BrowserPeerConnection implements RtcPeerConnection {
  #pc: _Pc;
  #events = new Emitter<RtcPeerConnectionEvents>();
  #closed = new AbortController();
  #channels = new Set<_BrowserDataChannel>();
  #early: RTCIceCandidateLike[] = [];

  constructor(config: RtcPeerConnectionConfig) {
    const Ctor = (globalThis as unknown as { RTCPeerConnection?: new (c: unknown) => _Pc })
      .RTCPeerConnection;
    if (!Ctor) throw new TypeError("globalThis.RTCPeerConnection is not available here");
    const pc = this.#pc = new Ctor({
      iceServers: config.iceServers,
      iceTransportPolicy: config.iceTransportPolicy ?? "all",
    });
    const listen = { signal: this.#closed.signal };
    pc.addEventListener("icecandidate", (e: { candidate: RTCIceCandidateLike | null }) => {
      const c = e.candidate;
      if (!c) this.#events.emit("icecandidate", null);
      // Firefox marks the end of each m-section with an empty candidate: not a candidate.
      else if (c.candidate) {
        this.#events.emit("icecandidate", {
          candidate: c.candidate,
          sdpMid: c.sdpMid ?? null,
          sdpMLineIndex: c.sdpMLineIndex ?? null,
        });
      }
    }, listen);
    pc.addEventListener("connectionstatechange", () => {
      this.#events.emit("connectionstatechange", pc.connectionState);
    }, listen);
    pc.addEventListener("iceconnectionstatechange", () => {
      this.#events.emit("iceconnectionstatechange", pc.iceConnectionState);
    }, listen);
    pc.addEventListener("datachannel", (e: { channel: _Dc }) => {
      this.#events.emit("datachannel", this.#wrap(e.channel));
    }, listen);
  }

  get connectionState(): RtcPeerConnectionState {
    return this.#closed.signal.aborted ? "closed" : this.#pc.connectionState;
  }

  get iceConnectionState(): RtcIceConnectionState {
    return this.#closed.signal.aborted ? "closed" : this.#pc.iceConnectionState;
  }

  async selectedCandidatePair(): Promise<RtcCandidatePair | undefined> {
    if (this.#closed.signal.aborted) return undefined;
    const stats = await this.#pc.getStats();
    // The transport names the selected pair; the pair names its two candidates.
    let pairId: unknown;
    for (const s of stats.values()) if (s.type === "transport") pairId = s.selectedCandidatePairId;
    const pair = typeof pairId === "string" ? stats.get(pairId) : undefined;
    const local = stats.get(String(pair?.localCandidateId));
    const remote = stats.get(String(pair?.remoteCandidateId));
    if (!local || !remote) return undefined;
    return { local: _candidate(local), remote: _candidate(remote) };
  }

  createDataChannel(label: string): RtcDataChannel {
    if (this.#closed.signal.aborted) throw _closedError();
    return this.#wrap(this.#pc.createDataChannel(label, { ordered: true }));
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(async () => _plain(await this.#pc.createOffer()), options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.#op(async () => _plain(await this.#pc.createAnswer()), options);
  }

  setLocalDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.#op(() => this.#pc.setLocalDescription(_plain(d)), options);
  }

  setRemoteDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.#op(async () => {
      await this.#pc.setRemoteDescription(_plain(d));
      // Kept candidates: one the browser refuses is skipped, not a failed description.
      for (const c of this.#early.splice(0)) await this.#pc.addIceCandidate(c).catch(() => {});
    }, options);
  }

  addIceCandidate(c: RTCIceCandidateLike | null, options?: RtcOperationOptions): Promise<void> {
    return this.#op(async () => {
      if (c === null) {
        // End-of-candidates is a hint; older browsers reject it, which changes nothing.
        await this.#pc.addIceCandidate().catch(() => {});
      } else if (this.#pc.remoteDescription) {
        await this.#pc.addIceCandidate({ ...c });
      } else this.#early.push({ ...c }); // a browser would throw InvalidStateError
    }, options);
  }

  on<K extends keyof RtcPeerConnectionEvents>(
    type: K,
    listener: (value: RtcPeerConnectionEvents[K]) => void,
  ): () => void {
    return this.#closed.signal.aborted ? () => {} : this.#events.on(type, listener);
  }

  close(): Promise<void> {
    if (this.#closed.signal.aborted) return Promise.resolve();
    this.#closed.abort(_closedError()); // removes every listener of the connection
    this.#events.clear();
    for (const channel of this.#channels) channel._detach();
    this.#channels.clear();
    this.#early.length = 0;
    this.#pc.close();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #op<T>(fn: () => Promise<T>, options?: RtcOperationOptions): Promise<T> {
    if (this.#closed.signal.aborted) return Promise.reject(_closedError());
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    return abortable(abortable(fn(), this.#closed.signal), options?.signal);
  }

  #wrap(dc: _Dc): _BrowserDataChannel {
    const channel = new _BrowserDataChannel(dc, () => this.#channels.delete(channel));
    this.#channels.add(channel);
    return channel;
  }
}

function _plain(d: RTCSessionDescriptionLike): RTCSessionDescriptionLike {
  return { type: d.type, sdp: d.sdp };
}

class _BrowserDataChannel implements RtcDataChannel {
  #dc: _Dc;
  #events = new Emitter<RtcDataChannelEvents>();
  #listening = new AbortController();

  constructor(dc: _Dc, onClosed: () => void) {
    this.#dc = dc;
    dc.binaryType = "arraybuffer";
    const listen = { signal: this.#listening.signal };
    dc.addEventListener("open", () => this.#events.emit("open", undefined), listen);
    dc.addEventListener("close", () => {
      this.#events.emit("close", undefined);
      this._detach();
      onClosed();
    }, listen);
    dc.addEventListener("message", (e: { data: string | ArrayBuffer }) => {
      this.#events.emit("message", typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    }, listen);
    dc.addEventListener("bufferedamountlow", () => {
      this.#events.emit("bufferedamountlow", undefined);
    }, listen);
  }

  get label(): string {
    return this.#dc.label;
  }

  get readyState(): RtcDataChannelState {
    return this.#listening.signal.aborted ? "closed" : this.#dc.readyState;
  }

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
    assertSendable(this.readyState, data);
    this.#dc.send(data);
  }

  on<K extends keyof RtcDataChannelEvents>(
    type: K,
    listener: (value: RtcDataChannelEvents[K]) => void,
  ): () => void {
    return this.#listening.signal.aborted ? () => {} : this.#events.on(type, listener);
  }

  close(): void {
    if (!this.#listening.signal.aborted) this.#dc.close();
  }

  /** Stops listening: no more events, `readyState` is `"closed"`. */
  _detach(): void {
    this.#listening.abort();
    this.#events.clear();
  }
}
