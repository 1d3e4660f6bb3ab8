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
import type {
  RtcAdapter,
  RtcCandidate,
  RtcCandidatePair,
  RtcDataChannel,
  RtcDataChannelState,
  RTCIceCandidateLike,
  RtcIceConnectionState,
  RtcMessage,
  RtcOperationOptions,
  RtcPeerConnectionConfig,
  RtcPeerConnectionState,
  RTCSessionDescriptionLike,
} from "../core/rtc.ts";
import { BaseDataChannel, BasePeerConnection, plainDescription } from "./_base.ts";

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

class _BrowserPeerConnection extends BasePeerConnection {
  #pc: _Pc;
  #listening = new AbortController();
  #early: RTCIceCandidateLike[] = [];

  constructor(config: RtcPeerConnectionConfig) {
    super();
    const Ctor = (globalThis as unknown as { RTCPeerConnection?: new (c: unknown) => _Pc })
      .RTCPeerConnection;
    if (!Ctor) throw new TypeError("globalThis.RTCPeerConnection is not available here");
    const pc = this.#pc = new Ctor({
      iceServers: config.iceServers,
      iceTransportPolicy: config.iceTransportPolicy ?? "all",
    });
    const listen = { signal: this.#listening.signal };
    pc.addEventListener("icecandidate", (e: { candidate: RTCIceCandidateLike | null }) => {
      const c = e.candidate;
      if (!c) this.events.emit("icecandidate", null);
      // Firefox marks the end of each m-section with an empty candidate: not a candidate.
      else if (c.candidate) {
        this.events.emit("icecandidate", {
          candidate: c.candidate,
          sdpMid: c.sdpMid ?? null,
          sdpMLineIndex: c.sdpMLineIndex ?? null,
        });
      }
    }, listen);
    pc.addEventListener("connectionstatechange", () => {
      this.events.emit("connectionstatechange", pc.connectionState);
    }, listen);
    pc.addEventListener("iceconnectionstatechange", () => {
      this.events.emit("iceconnectionstatechange", pc.iceConnectionState);
    }, listen);
    pc.addEventListener("datachannel", (e: { channel: _Dc }) => {
      this.events.emit("datachannel", this.track(new _BrowserDataChannel(e.channel)));
    }, listen);
  }

  protected nativeConnectionState(): RtcPeerConnectionState {
    return this.#pc.connectionState;
  }

  protected nativeIceConnectionState(): RtcIceConnectionState {
    return this.#pc.iceConnectionState;
  }

  async selectedCandidatePair(): Promise<RtcCandidatePair | undefined> {
    if (this.isClosed) return undefined;
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
    this.assertOpen();
    return this.track(
      new _BrowserDataChannel(this.#pc.createDataChannel(label, { ordered: true })),
    );
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.op(async () => plainDescription(await this.#pc.createOffer()), options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.op(async () => plainDescription(await this.#pc.createAnswer()), options);
  }

  setLocalDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.op(() => this.#pc.setLocalDescription(plainDescription(d)), options);
  }

  setRemoteDescription(d: RTCSessionDescriptionLike, options?: RtcOperationOptions): Promise<void> {
    return this.op(async () => {
      await this.#pc.setRemoteDescription(plainDescription(d));
      // Kept candidates: one the browser refuses is skipped, not a failed description.
      for (const c of this.#early.splice(0)) await this.#pc.addIceCandidate(c).catch(() => {});
    }, options);
  }

  addIceCandidate(c: RTCIceCandidateLike | null, options?: RtcOperationOptions): Promise<void> {
    return this.op(async () => {
      if (c === null) {
        // End-of-candidates is a hint; older browsers reject it, which changes nothing.
        await this.#pc.addIceCandidate().catch(() => {});
      } else if (this.#pc.remoteDescription) {
        await this.#pc.addIceCandidate({ ...c });
      } else this.#early.push({ ...c }); // a browser would throw InvalidStateError
    }, options);
  }

  protected closeNative(): Promise<void> {
    this.#listening.abort(); // removes every listener of the connection
    this.#early.length = 0;
    this.#pc.close();
    return Promise.resolve();
  }
}

class _BrowserDataChannel extends BaseDataChannel<_Dc> {
  #listening = new AbortController();

  constructor(dc: _Dc) {
    super(dc);
    dc.binaryType = "arraybuffer";
    const listen = { signal: this.#listening.signal };
    dc.addEventListener("open", () => this.events.emit("open", undefined), listen);
    dc.addEventListener("close", () => this.closed(), listen);
    dc.addEventListener("message", (e: { data: string | ArrayBuffer }) => {
      this.events.emit("message", typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    }, listen);
    dc.addEventListener("bufferedamountlow", () => {
      this.events.emit("bufferedamountlow", undefined);
    }, listen);
  }

  protected sendNative(data: RtcMessage): void {
    this.native.send(data);
  }

  protected stopListening(): void {
    this.#listening.abort();
  }
}
