/**
 * The small WebRTC surface shoal's core needs, as plain data and typed listeners, so that
 * an adapter (werift in Deno, `RTCPeerConnection` in a browser, an in-memory fake in tests)
 * is a thin wrapper. Nothing here touches a runtime: no DOM RTC types, no `Deno`, no `node:`.
 *
 * Rules every adapter follows (the contract suite in `tests/rtc_contract.ts` checks them):
 * - Listeners are added with `on(type, fn)`, which returns the function that removes it.
 *   A listener that throws does not stop the others.
 * - After `close()` has been called no listener is called again, every pending operation
 *   of that connection rejects, and once `close()` resolves nothing of it is left running.
 * - Candidates given to `addIceCandidate` before the remote description are kept and
 *   applied after it.
 * - Data channels are ordered and reliable; messages are `string` or `Uint8Array`, never
 *   empty (werift would stall the stream on an empty one, so every adapter refuses it).
 *
 * @example
 * ```ts
 * import type { RtcAdapter } from "./rtc.ts";
 *
 * async function offer(rtc: RtcAdapter): Promise<string> {
 *   await using pc = rtc.createPeerConnection({ iceServers: [] });
 *   pc.createDataChannel("shoal");
 *   const offer = await pc.createOffer();
 *   await pc.setLocalDescription(offer);
 *   return offer.sdp;
 * }
 * ```
 *
 * @module
 */

/**
 * One ICE (STUN/TURN) server, the plain shape of the DOM's `RTCIceServer`.
 *
 * @example
 * ```ts
 * import type { RTCIceServerLike } from "@shoal/shoal";
 *
 * const turn: RTCIceServerLike = { urls: "turn:turn.example.org", username: "u", credential: "p" };
 * console.assert(turn.username === "u");
 * ```
 */
export interface RTCIceServerLike {
  /** One URL or several, e.g. `"stun:stun.example.org:3478"`. */
  urls: string | string[];
  /** TURN user name. */
  username?: string;
  /** TURN password. */
  credential?: string;
}

/**
 * A session description (offer or answer) as plain data, as it travels in signaling.
 *
 * @example
 * ```ts
 * import type { RTCSessionDescriptionLike } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * await using pc = werift().createPeerConnection({ iceServers: [] });
 * pc.createDataChannel("shoal");
 * const offer: RTCSessionDescriptionLike = await pc.createOffer();
 * console.assert(offer.type === "offer" && offer.sdp.startsWith("v=0"));
 * ```
 */
export interface RTCSessionDescriptionLike {
  /** Which side of the offer/answer exchange this is. */
  type: "offer" | "answer";
  /** The SDP text. */
  sdp: string;
}

/**
 * One trickled ICE candidate as plain data (`null` stands for end-of-candidates).
 *
 * @example
 * ```ts
 * import type { RTCIceCandidateLike } from "@shoal/shoal";
 *
 * const candidate: RTCIceCandidateLike = {
 *   candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
 *   sdpMid: "0",
 *   sdpMLineIndex: 0,
 * };
 * console.assert(candidate.candidate.includes("typ host"));
 * ```
 */
export interface RTCIceCandidateLike {
  /** The `candidate:` line without `a=`, never empty. */
  candidate: string;
  /** The media stream id the candidate belongs to, or `null`. */
  sdpMid: string | null;
  /** The index of the m-line the candidate belongs to, or `null`. */
  sdpMLineIndex: number | null;
}

/**
 * Which candidates ICE may use, as in the DOM's `RTCIceTransportPolicy`: `all`, or `relay`
 * (only a TURN server's relayed addresses: the other side never learns this one's address,
 * and no direct path is tried).
 *
 * @example
 * ```ts
 * import type { RtcIceTransportPolicy } from "@shoal/shoal";
 *
 * const policyOf = (hidden: boolean): RtcIceTransportPolicy => hidden ? "relay" : "all";
 * console.assert(policyOf(true) === "relay");
 * ```
 */
export type RtcIceTransportPolicy = "all" | "relay";

/**
 * What `createPeerConnection` needs: the ICE servers (the signaling server's `welcome`
 * hands them out) and which candidates ICE may use.
 *
 * @example
 * ```ts
 * import type { RtcPeerConnectionConfig } from "@shoal/shoal";
 *
 * const config: RtcPeerConnectionConfig = {
 *   iceServers: [{ urls: "turn:10.0.0.1:3478", username: "u", credential: "c" }],
 *   iceTransportPolicy: "relay",
 * };
 * console.assert(config.iceServers.length === 1);
 * ```
 */
export interface RtcPeerConnectionConfig {
  /** STUN/TURN servers; `[]` means host candidates only (and no public STUN server). */
  iceServers: RTCIceServerLike[];
  /** `relay` uses TURN-relayed candidates only (default `all`). */
  iceTransportPolicy?: RtcIceTransportPolicy;
}

/**
 * One end of the candidate pair ICE selected: its type (`host`, `srflx` behind a NAT,
 * `prflx`, or `relay` through TURN), address, port and transport.
 *
 * @example
 * ```ts
 * import type { RtcCandidate } from "@shoal/shoal";
 *
 * const c: RtcCandidate = { type: "relay", address: "10.0.0.1", port: 49160, protocol: "udp" };
 * console.assert(`${c.type} ${c.address}:${c.port}` === "relay 10.0.0.1:49160");
 * ```
 */
export interface RtcCandidate {
  /** `host`, `srflx`, `prflx` or `relay`. */
  type: string;
  /** The IP address. */
  address: string;
  /** The port. */
  port: number;
  /** `udp` or `tcp`. */
  protocol: string;
}

/**
 * The candidate pair ICE selected: which path the connection's packets take.
 *
 * @example
 * ```ts
 * import type { RtcCandidatePair } from "@shoal/shoal";
 *
 * const direct = (p: RtcCandidatePair) => p.local.type !== "relay" && p.remote.type !== "relay";
 * const host = { type: "host", address: "10.0.0.2", port: 5000, protocol: "udp" };
 * console.assert(direct({ local: host, remote: { ...host, type: "srflx" } }));
 * ```
 */
export interface RtcCandidatePair {
  /** This side's candidate. */
  local: RtcCandidate;
  /** The other side's candidate. */
  remote: RtcCandidate;
}

/**
 * The aggregate connection state, as in the DOM's `RTCPeerConnection.connectionState`.
 *
 * @example
 * ```ts
 * import type { RtcPeerConnectionState } from "@shoal/shoal";
 *
 * const over = (s: RtcPeerConnectionState) => s === "failed" || s === "closed";
 * console.assert(over("failed") && !over("connected"));
 * ```
 */
export type RtcPeerConnectionState =
  | "new"
  | "connecting"
  | "connected"
  | "disconnected"
  | "failed"
  | "closed";

/**
 * The ICE connection state, as in the DOM's `RTCPeerConnection.iceConnectionState`.
 *
 * @example
 * ```ts
 * import type { RtcIceConnectionState } from "@shoal/shoal";
 *
 * const up = (s: RtcIceConnectionState) => s === "connected" || s === "completed";
 * console.assert(up("completed") && !up("checking"));
 * ```
 */
export type RtcIceConnectionState =
  | "new"
  | "checking"
  | "connected"
  | "completed"
  | "disconnected"
  | "failed"
  | "closed";

/**
 * The state of a data channel, as in the DOM's `RTCDataChannel.readyState`.
 *
 * @example
 * ```ts
 * import type { RtcDataChannelState } from "@shoal/shoal";
 *
 * const canSend = (s: RtcDataChannelState) => s === "open";
 * console.assert(!canSend("connecting"));
 * ```
 */
export type RtcDataChannelState = "connecting" | "open" | "closing" | "closed";

/**
 * One data-channel message: text (control frames), or bytes (application data).
 *
 * @example
 * ```ts
 * import type { RtcMessage } from "@shoal/shoal";
 *
 * const size = (m: RtcMessage) => typeof m === "string" ? m.length : m.byteLength;
 * console.assert(size(new Uint8Array(3)) === 3 && size("ab") === 2);
 * ```
 */
export type RtcMessage = string | Uint8Array;

/**
 * Options of every operation that waits: an `AbortSignal` that rejects it with
 * `signal.reason`.
 *
 * @example
 * ```ts
 * import type { RtcOperationOptions } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * await using pc = werift().createPeerConnection({ iceServers: [] });
 * const options: RtcOperationOptions = { signal: AbortSignal.abort(new Error("too late")) };
 * const error = await pc.createOffer(options).catch((e) => e);
 * console.assert(error.message === "too late");
 * ```
 */
export interface RtcOperationOptions {
  /** Rejects the operation with `signal.reason` when it aborts first. */
  signal?: AbortSignal;
}

/**
 * Makes peer connections: the one object the core is given (`Host.start({ rtc, … })`).
 * `werift()` from `@shoal/shoal/werift` and `browser()` from `@shoal/shoal/browser` are
 * the two shipped; another WebRTC stack needs only this interface and the rules above.
 *
 * @example
 * ```ts
 * import type { RtcAdapter } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * const rtc: RtcAdapter = werift();
 * await using pc = rtc.createPeerConnection({ iceServers: [] });
 * console.assert(rtc.name === "werift" && pc.connectionState === "new");
 * ```
 */
export interface RtcAdapter {
  /** A short name for logs, e.g. `"werift"`, `"browser"`, `"fake"`. */
  readonly name: string;
  /** Creates a peer connection; it allocates nothing on the network until negotiation. */
  createPeerConnection(config: RtcPeerConnectionConfig): RtcPeerConnection;
}

/**
 * The events of a peer connection and the value each listener gets.
 *
 * @example
 * ```ts
 * import type { RtcPeerConnectionEvents } from "@shoal/shoal";
 *
 * const log = (state: RtcPeerConnectionEvents["connectionstatechange"]) => console.log(state);
 * log("connected");
 * ```
 */
export type RtcPeerConnectionEvents = {
  /** A local candidate to send to the other side; `null` when gathering is complete. */
  icecandidate: RTCIceCandidateLike | null;
  /** `connectionState` changed to this value. */
  connectionstatechange: RtcPeerConnectionState;
  /** `iceConnectionState` changed to this value. */
  iceconnectionstatechange: RtcIceConnectionState;
  /** The other side opened a data channel (viewer side); it may already be open. */
  datachannel: RtcDataChannel;
};

/**
 * One peer connection: offer/answer, trickle ICE, data channels.
 *
 * @example Two peer connections in one process, connected over loopback
 * ```ts
 * import type { RtcDataChannel } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using a = rtc.createPeerConnection({ iceServers: [] });
 * await using b = rtc.createPeerConnection({ iceServers: [] });
 * a.on("icecandidate", (candidate) => void b.addIceCandidate(candidate));
 * b.on("icecandidate", (candidate) => void a.addIceCandidate(candidate));
 * const arrived = new Promise<RtcDataChannel>((resolve) => b.on("datachannel", resolve));
 * const channel = a.createDataChannel("shoal");
 * channel.on("open", () => channel.send("hello"));
 * const offer = await a.createOffer();
 * await a.setLocalDescription(offer);
 * await b.setRemoteDescription(offer);
 * const answer = await b.createAnswer();
 * await b.setLocalDescription(answer);
 * await a.setRemoteDescription(answer);
 * const remote = await arrived;
 * const message = await new Promise((resolve) => remote.on("message", resolve));
 * console.assert(message === "hello" && remote.label === "shoal");
 * ```
 */
export interface RtcPeerConnection {
  /** The aggregate connection state; `"closed"` from the moment `close()` is called. */
  readonly connectionState: RtcPeerConnectionState;
  /** The ICE connection state; `"closed"` from the moment `close()` is called. */
  readonly iceConnectionState: RtcIceConnectionState;
  /** Creates an ordered, reliable data channel with this label (offerer side). */
  createDataChannel(label: string): RtcDataChannel;
  /** Creates an offer; pass it to `setLocalDescription`. */
  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike>;
  /** Creates an answer to the remote offer; pass it to `setLocalDescription`. */
  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike>;
  /** Applies a local description and gathers; `icecandidate` may fire before it resolves. */
  setLocalDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void>;
  /** Applies the remote description, then any candidates that arrived before it. */
  setRemoteDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void>;
  /** Adds a remote candidate, or end-of-candidates when given `null`. */
  addIceCandidate(
    candidate: RTCIceCandidateLike | null,
    options?: RtcOperationOptions,
  ): Promise<void>;
  /** Calls `listener` on every `type` event; returns the function that removes it. */
  on<K extends keyof RtcPeerConnectionEvents>(
    type: K,
    listener: (value: RtcPeerConnectionEvents[K]) => void,
  ): () => void;
  /**
   * The candidate pair ICE selected, once connected (`undefined` before, after close, or
   * where the stack cannot tell). Optional: an adapter without it just reports no path.
   */
  selectedCandidatePair?(): Promise<RtcCandidatePair | undefined>;
  /** Closes the connection and its channels and frees everything; idempotent. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The events of a data channel and the value each listener gets.
 *
 * @example
 * ```ts
 * import type { RtcDataChannelEvents } from "@shoal/shoal";
 *
 * const onMessage = (m: RtcDataChannelEvents["message"]) =>
 *   console.log(typeof m === "string" ? m : `${m.byteLength} bytes`);
 * onMessage(new Uint8Array(4));
 * ```
 */
export type RtcDataChannelEvents = {
  /** The channel opened: `send` may be called. */
  open: void;
  /** The channel closed (either side closed it, or the connection went away). */
  close: void;
  /** A message arrived, whole: text as `string`, binary as `Uint8Array`. */
  message: RtcMessage;
  /** `bufferedAmount` fell to `bufferedAmountLowThreshold` or below. */
  bufferedamountlow: void;
};

/**
 * One ordered, reliable data channel: `send` queues, `bufferedAmount` says how much is
 * still queued, and `bufferedamountlow` says when to send more.
 *
 * @example
 * ```ts
 * import type { RtcDataChannel } from "@shoal/shoal";
 *
 * // Sends `chunks` without queueing more than 64 KiB at a time.
 * async function sendAll(channel: RtcDataChannel, chunks: Uint8Array[]): Promise<void> {
 *   channel.bufferedAmountLowThreshold = 16 * 1024;
 *   for (const chunk of chunks) {
 *     if (channel.bufferedAmount > 64 * 1024) {
 *       await new Promise<void>((resolve) => {
 *         const off = channel.on("bufferedamountlow", () => (off(), resolve()));
 *       });
 *     }
 *     channel.send(chunk);
 *   }
 * }
 * console.assert(typeof sendAll === "function");
 * ```
 */
export interface RtcDataChannel {
  /** The label given to `createDataChannel`. */
  readonly label: string;
  /** The channel state; `"closed"` once its peer connection is closed. */
  readonly readyState: RtcDataChannelState;
  /** Bytes queued by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** `bufferedamountlow` fires when `bufferedAmount` falls from above this to at most this. */
  bufferedAmountLowThreshold: number;
  /** Queues a non-empty message; throws `InvalidStateError` unless the channel is open. */
  send(data: RtcMessage): void;
  /** Calls `listener` on every `type` event; returns the function that removes it. */
  on<K extends keyof RtcDataChannelEvents>(
    type: K,
    listener: (value: RtcDataChannelEvents[K]) => void,
  ): () => void;
  /** Starts closing the channel on both sides; `close` fires when done. */
  close(): void;
}

/**
 * Checks what every adapter's `send` must refuse: a channel that is not open
 * (`InvalidStateError`) and an empty message (`TypeError`: werift would take a stream
 * sequence number for it and send nothing, stalling the channel for good).
 *
 * @example
 * ```ts
 * import { assertSendable } from "./rtc.ts";
 * assertSendable("open", "hello");
 * try {
 *   assertSendable("open", "");
 * } catch (e) {
 *   console.assert(e instanceof TypeError);
 * }
 * ```
 */
export function assertSendable(state: RtcDataChannelState, data: RtcMessage): void {
  if (state !== "open") {
    throw new DOMException(`The data channel is ${state}`, "InvalidStateError");
  }
  if (data.length === 0) throw new TypeError("Empty messages are not supported");
}
