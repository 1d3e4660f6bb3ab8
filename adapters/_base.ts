/**
 * What every adapter's peer connection and data channel do the same way, whatever the stack
 * underneath: listeners that stop at close, operations that reject once the connection is
 * closed or their signal aborts, channels detached when their connection closes, a memoized
 * `close()`. An adapter subclasses these and supplies only what talks to its stack.
 *
 * @module
 */
import { abortable } from "../core/async.ts";
import { Emitter } from "../core/emitter.ts";
import {
  assertSendable,
  type RtcDataChannel,
  type RtcDataChannelEvents,
  type RtcDataChannelState,
  type RTCIceCandidateLike,
  type RtcIceConnectionState,
  type RtcMessage,
  type RtcOperationOptions,
  type RtcPeerConnection,
  type RtcPeerConnectionEvents,
  type RtcPeerConnectionState,
  type RTCSessionDescriptionLike,
} from "../core/rtc.ts";

/**
 * Whether a candidate's address is an mDNS name (`….local`, a browser hiding its address),
 * which neither Deno stack can resolve: the peer's address is learnt from its checks instead.
 */
export function isMdnsCandidate(candidate: string): boolean {
  return /\.local$/i.test(candidate.split(" ")[4] ?? "");
}

/** The error of any operation on a closed peer connection. */
export function closedError(): DOMException {
  return new DOMException("The peer connection is closed", "InvalidStateError");
}

/** A session description reduced to its two fields; anything but an offer or answer throws. */
export function plainDescription(d: { type: string; sdp: string }): RTCSessionDescriptionLike {
  if (d.type !== "offer" && d.type !== "answer") throw new TypeError(`unexpected SDP ${d.type}`);
  return { type: d.type, sdp: d.sdp };
}

/** A peer connection's shared half; the subclass talks to its stack. */
export abstract class BasePeerConnection implements RtcPeerConnection {
  /** Where the subclass emits the connection's events. */
  protected readonly events: Emitter<RtcPeerConnectionEvents> = new Emitter();
  #closed = new AbortController();
  #closing?: Promise<void>;
  #channels = new Set<BaseDataChannel>();

  /** The stack's connection state (read only while open). */
  protected abstract nativeConnectionState(): RtcPeerConnectionState;
  /** The stack's ICE connection state (read only while open). */
  protected abstract nativeIceConnectionState(): RtcIceConnectionState;
  /** Closes the stack's connection and waits until nothing of it runs. */
  protected abstract closeNative(): Promise<void>;

  abstract createDataChannel(label: string): RtcDataChannel;
  abstract createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike>;
  abstract createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike>;
  abstract setLocalDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void>;
  abstract setRemoteDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void>;
  abstract addIceCandidate(
    candidate: RTCIceCandidateLike | null,
    options?: RtcOperationOptions,
  ): Promise<void>;

  /** Whether `close()` has been called. */
  protected get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  get connectionState(): RtcPeerConnectionState {
    return this.isClosed ? "closed" : this.nativeConnectionState();
  }

  get iceConnectionState(): RtcIceConnectionState {
    return this.isClosed ? "closed" : this.nativeIceConnectionState();
  }

  on<K extends keyof RtcPeerConnectionEvents>(
    type: K,
    listener: (value: RtcPeerConnectionEvents[K]) => void,
  ): () => void {
    return this.isClosed ? () => {} : this.events.on(type, listener);
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Runs `fn` unless closed or aborted; rejects with the closed error or `signal.reason`
   * when either comes first (a stack may never settle an operation pending at close).
   */
  protected op<T>(fn: () => Promise<T>, options?: RtcOperationOptions): Promise<T> {
    if (this.isClosed) return Promise.reject(closedError());
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    return abortable(abortable(fn(), this.#closed.signal), options?.signal);
  }

  /** Throws the closed error when closed (for the synchronous `createDataChannel`). */
  protected assertOpen(): void {
    if (this.isClosed) throw closedError();
  }

  /** Keeps `channel` until it closes, so that closing the connection detaches it. */
  protected track<C extends BaseDataChannel>(channel: C): C {
    this.#channels.add(channel);
    channel.onDetach(() => this.#channels.delete(channel));
    return channel;
  }

  async #close(): Promise<void> {
    this.#closed.abort(closedError());
    this.events.clear();
    for (const channel of [...this.#channels]) channel.detach();
    this.#channels.clear();
    await this.closeNative();
  }
}

/** The fields of a stack's data channel that a {@linkcode BaseDataChannel} reads through. */
export interface NativeChannel {
  /** Its label. */
  readonly label: string;
  /** Its state. */
  readonly readyState: RtcDataChannelState;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** The low-water mark of `bufferedAmount`. */
  bufferedAmountLowThreshold: number;
  /** Starts closing it. */
  close(): void;
}

/** A data channel's shared half; the subclass sends and listens through its stack. */
export abstract class BaseDataChannel<N extends NativeChannel = NativeChannel>
  implements RtcDataChannel {
  /** Where the subclass emits the channel's events. */
  protected readonly events: Emitter<RtcDataChannelEvents> = new Emitter();
  /** The stack's channel. */
  protected readonly native: N;
  #detached = false;
  #onDetach: (() => void)[] = [];

  /** Wraps the stack's channel `native`. */
  constructor(native: N) {
    this.native = native;
  }

  /** Hands a checked, non-empty message to the stack. */
  protected abstract sendNative(data: RtcMessage): void;
  /** Stops listening to the stack. */
  protected abstract stopListening(): void;

  get label(): string {
    return this.native.label;
  }

  get readyState(): RtcDataChannelState {
    return this.#detached ? "closed" : this.native.readyState;
  }

  get bufferedAmount(): number {
    return this.native.bufferedAmount;
  }

  get bufferedAmountLowThreshold(): number {
    return this.native.bufferedAmountLowThreshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.native.bufferedAmountLowThreshold = value;
  }

  send(data: RtcMessage): void {
    assertSendable(this.readyState, data);
    this.sendNative(data);
  }

  on<K extends keyof RtcDataChannelEvents>(
    type: K,
    listener: (value: RtcDataChannelEvents[K]) => void,
  ): () => void {
    return this.#detached ? () => {} : this.events.on(type, listener);
  }

  close(): void {
    if (!this.#detached) this.native.close();
  }

  /** The stack closed the channel: `close` fires, then the channel detaches. */
  protected closed(): void {
    if (this.#detached) return;
    this.events.emit("close", undefined);
    this.detach();
  }

  /** Calls `fn` once the channel detaches. */
  onDetach(fn: () => void): void {
    this.#onDetach.push(fn);
  }

  /** Detaches from the stack: no more events, `readyState` is `"closed"`. Idempotent. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.stopListening();
    this.events.clear();
    for (const fn of this.#onDetach.splice(0)) fn();
  }
}
