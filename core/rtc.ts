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

/** One ICE (STUN/TURN) server, the plain shape of the DOM's `RTCIceServer`. */
export interface RTCIceServerLike {
  /** One URL or several, e.g. `"stun:stun.example.org:3478"`. */
  urls: string | string[];
  /** TURN user name. */
  username?: string;
  /** TURN password. */
  credential?: string;
}

/** A session description as plain data. */
export interface RTCSessionDescriptionLike {
  /** Which side of the offer/answer exchange this is. */
  type: "offer" | "answer";
  /** The SDP text. */
  sdp: string;
}

/** One trickled ICE candidate as plain data (`null` stands for end-of-candidates). */
export interface RTCIceCandidateLike {
  /** The `candidate:` line without `a=`, never empty. */
  candidate: string;
  /** The media stream id the candidate belongs to, or `null`. */
  sdpMid: string | null;
  /** The index of the m-line the candidate belongs to, or `null`. */
  sdpMLineIndex: number | null;
}

/** What `createPeerConnection` needs. */
export interface RtcPeerConnectionConfig {
  /** STUN/TURN servers; `[]` means host candidates only (and no public STUN server). */
  iceServers: RTCIceServerLike[];
}

/** The aggregate connection state, as in the DOM's `RTCPeerConnection.connectionState`. */
export type RtcPeerConnectionState =
  | "new"
  | "connecting"
  | "connected"
  | "disconnected"
  | "failed"
  | "closed";

/** The ICE connection state, as in the DOM's `RTCPeerConnection.iceConnectionState`. */
export type RtcIceConnectionState =
  | "new"
  | "checking"
  | "connected"
  | "completed"
  | "disconnected"
  | "failed"
  | "closed";

/** The state of a data channel, as in the DOM's `RTCDataChannel.readyState`. */
export type RtcDataChannelState = "connecting" | "open" | "closing" | "closed";

/** One data-channel message: text, or bytes. */
export type RtcMessage = string | Uint8Array;

/** Options of every operation that waits. */
export interface RtcOperationOptions {
  /** Rejects the operation with `signal.reason` when it aborts first. */
  signal?: AbortSignal;
}

/** Makes peer connections: the one object the core is given (`new Host({ rtc })`). */
export interface RtcAdapter {
  /** A short name for logs, e.g. `"werift"`, `"browser"`, `"fake"`. */
  readonly name: string;
  /** Creates a peer connection; it allocates nothing on the network until negotiation. */
  createPeerConnection(config: RtcPeerConnectionConfig): RtcPeerConnection;
}

/** The events of a peer connection and the value each listener gets. */
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

/** One peer connection: offer/answer, trickle ICE, data channels. */
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
  /** Applies a local description; gathering starts and `icecandidate` events follow. */
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
  /** Closes the connection and its channels and frees everything; idempotent. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The events of a data channel and the value each listener gets. */
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

/** One ordered, reliable data channel. */
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
