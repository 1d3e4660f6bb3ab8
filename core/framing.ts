/**
 * Binary application-data framing for the `shoal` data channel (PROTOCOL.md §2).
 *
 * Every binary data-channel message is one *frame* of at most {@linkcode MAX_FRAME_BYTES}
 * (16384) bytes. Its first byte is the frame type:
 *
 * - `0x00` + payload: one whole message (payload ≤ 16383 bytes).
 * - `0x01` + `u32 messageId` + `u32 totalLength` + bytes: one chunk of a larger message.
 *   Chunks of one message are consecutive and in order; the message is complete when
 *   `totalLength` bytes have arrived.
 * - `0x02` + one or more (`u32 length` + payload): several whole messages, in order.
 *
 * Integers are big-endian. Any other first byte is a framing violation.
 *
 * Decisions this module makes where the protocol text is silent (the decoder accepts
 * everything the encoder can produce, and a little more):
 *
 * - Zero-length payloads are legal messages, in every frame type: `[0x00]`, a `0x02` entry
 *   with length 0, and a `0x01` chunk with `totalLength` 0 (which completes at once).
 * - A `0x01` chunk may carry zero data bytes; a message may be chunked even when it would
 *   have fit one `0x00` frame; a new chunked message may reuse the id of the previous one.
 * - A frame is all or nothing: if any part of it is invalid, none of its messages are
 *   delivered.
 * - The receiver's size cap (`maxMessageBytes`) applies to every message, whatever frame
 *   carried it.
 *
 * Frames produced by the encoder are standalone: each is a `Uint8Array` at offset 0 of its
 * own `ArrayBuffer` of exactly its length, never retained or written again by this module,
 * so one frame can be handed to many viewers. Messages produced by the decoder are likewise
 * fresh copies that never alias the frames pushed in.
 *
 * This module is runtime-agnostic: it uses neither `Deno.*` nor `node:*`.
 *
 * @example Round trip
 * ```ts
 * import { encodeMessage, MessageIdAllocator } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * const ids = new MessageIdAllocator();
 * const decoder = new FrameDecoder();
 * const big = new Uint8Array(100_000).fill(7);
 * const received: Uint8Array[] = [];
 * for (const frame of encodeMessage(big, ids.next())) received.push(...decoder.push(frame));
 * if (received.length !== 1 || received[0].byteLength !== 100_000) throw new Error("lost");
 * ```
 *
 * @module
 */

import {
  checkPayload as _checkPayload,
  checkU32 as _checkU32,
  U32_MAX as _U32_MAX,
  writeU32 as _writeU32,
} from "./frame_checks.ts";

/**
 * The largest frame, in bytes, that may be sent or received on the data channel.
 *
 * @example
 * ```ts
 * import { encodeMessage, MAX_FRAME_BYTES } from "./framing.ts";
 *
 * const frames = encodeMessage(new Uint8Array(1_000_000), 1);
 * if (!frames.every((f) => f.byteLength <= MAX_FRAME_BYTES)) throw new Error("too big");
 * ```
 */
export const MAX_FRAME_BYTES = 16384;

/**
 * The default cap on one reassembled message (16 MiB), used by {@linkcode FrameDecoder}.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGE_BYTES } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * const decoder = new FrameDecoder();
 * if (decoder.maxMessageBytes !== DEFAULT_MAX_MESSAGE_BYTES) throw new Error("unexpected");
 * ```
 */
export const DEFAULT_MAX_MESSAGE_BYTES: number = 16 * 1024 * 1024;

/**
 * Frame type `0x00`: one whole message follows the type byte.
 *
 * @example
 * ```ts
 * import { encodeMessage, FRAME_WHOLE } from "./framing.ts";
 *
 * const [frame] = encodeMessage(new Uint8Array([1, 2, 3]), 0);
 * if (frame[0] !== FRAME_WHOLE) throw new Error("expected a whole-message frame");
 * ```
 */
export const FRAME_WHOLE = 0x00;

/**
 * Frame type `0x01`: one chunk of a larger message
 * (`u32 messageId` + `u32 totalLength` + bytes follow the type byte).
 *
 * @example
 * ```ts
 * import { encodeMessage, FRAME_CHUNK } from "./framing.ts";
 *
 * const frames = encodeMessage(new Uint8Array(20_000), 5);
 * if (!frames.every((f) => f[0] === FRAME_CHUNK)) throw new Error("expected chunks");
 * ```
 */
export const FRAME_CHUNK = 0x01;

/**
 * Frame type `0x02`: a batch of one or more whole messages, each `u32 length` + payload.
 *
 * @example
 * ```ts
 * import { encodeBatch, FRAME_BATCH } from "./framing.ts";
 *
 * const frame = encodeBatch([new Uint8Array([1]), new Uint8Array([2])]);
 * if (frame[0] !== FRAME_BATCH) throw new Error("expected a batch frame");
 * ```
 */
export const FRAME_BATCH = 0x02;

/**
 * The largest payload a `0x00` frame can carry: {@linkcode MAX_FRAME_BYTES} − 1 = 16383.
 *
 * @example
 * ```ts
 * import { encodeMessage, MAX_WHOLE_PAYLOAD_BYTES } from "./framing.ts";
 *
 * if (encodeMessage(new Uint8Array(MAX_WHOLE_PAYLOAD_BYTES), 0).length !== 1) {
 *   throw new Error("expected one frame");
 * }
 * ```
 */
export const MAX_WHOLE_PAYLOAD_BYTES = 16383;

/**
 * The size of a `0x01` chunk header: type byte + `u32 messageId` + `u32 totalLength` = 9.
 *
 * @example
 * ```ts
 * import { CHUNK_HEADER_BYTES, encodeMessage } from "./framing.ts";
 *
 * const frames = encodeMessage(new Uint8Array(16384), 0);
 * const data = frames.reduce((n, f) => n + f.byteLength - CHUNK_HEADER_BYTES, 0);
 * if (data !== 16384) throw new Error("unexpected");
 * ```
 */
export const CHUNK_HEADER_BYTES = 9;

/**
 * The most message bytes one `0x01` chunk frame can carry:
 * {@linkcode MAX_FRAME_BYTES} − {@linkcode CHUNK_HEADER_BYTES} = 16375.
 *
 * @example
 * ```ts
 * import { encodeMessage, MAX_CHUNK_DATA_BYTES } from "./framing.ts";
 *
 * // 2 full chunks + 1 byte = 3 frames
 * const frames = encodeMessage(new Uint8Array(2 * MAX_CHUNK_DATA_BYTES + 1), 0);
 * if (frames.length !== 3) throw new Error("unexpected");
 * ```
 */
export const MAX_CHUNK_DATA_BYTES = 16375;

/**
 * The largest payload one `0x02` batch entry can carry, the only entry of a batch:
 * {@linkcode MAX_FRAME_BYTES} − 1 − 4 = 16379.
 *
 * @example
 * ```ts
 * import { encodeBatch, MAX_BATCH_ENTRY_BYTES, MAX_FRAME_BYTES } from "./framing.ts";
 *
 * const frame = encodeBatch([new Uint8Array(MAX_BATCH_ENTRY_BYTES)]);
 * if (frame.byteLength !== MAX_FRAME_BYTES) throw new Error("unexpected");
 * ```
 */
export const MAX_BATCH_ENTRY_BYTES = 16379;

/**
 * Why a {@linkcode FramingError} was thrown.
 *
 * - `empty-frame`: a frame of 0 bytes.
 * - `frame-too-large`: a frame over {@linkcode MAX_FRAME_BYTES}.
 * - `unknown-type`: a first byte other than `0x00`, `0x01`, `0x02`.
 * - `truncated`: a `0x01` frame shorter than its 9-byte header, or a `0x02` entry whose
 *   4-byte length or payload runs past the end of the frame.
 * - `empty-batch`: a `0x02` frame with no entries.
 * - `message-too-large`: a message (or a chunk header's `totalLength`) over the decoder's
 *   `maxMessageBytes`.
 * - `interleaved-chunk`: a `0x01` chunk whose `messageId` is not that of the chunked message
 *   in progress.
 * - `length-mismatch`: a `0x01` chunk whose `totalLength` differs from that of the message in
 *   progress (same `messageId`).
 * - `interrupted-message`: a `0x00` or `0x02` frame while a chunked message is incomplete.
 * - `overflow`: a chunk whose bytes go past the message's `totalLength`.
 * - `decoder-failed`: a frame pushed into a decoder that already reported a violation.
 *
 * @example
 * ```ts
 * import { FramingError, type FramingErrorCode } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * let code: FramingErrorCode | undefined;
 * try {
 *   new FrameDecoder().push(new Uint8Array([0x7f]));
 * } catch (e) {
 *   if (e instanceof FramingError) code = e.code;
 * }
 * if (code !== "unknown-type") throw new Error("unexpected");
 * ```
 */
export type FramingErrorCode =
  | "empty-frame"
  | "frame-too-large"
  | "unknown-type"
  | "truncated"
  | "empty-batch"
  | "message-too-large"
  | "interleaved-chunk"
  | "length-mismatch"
  | "interrupted-message"
  | "overflow"
  | "decoder-failed";

/**
 * A violation of the data-channel framing (PROTOCOL.md §2). The receiver drops the peer.
 *
 * @example
 * ```ts
 * import { FramingError } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * const decoder = new FrameDecoder();
 * try {
 *   decoder.push(new Uint8Array(0));
 *   throw new Error("not reached");
 * } catch (e) {
 *   if (!(e instanceof FramingError) || e.code !== "empty-frame") throw e;
 *   if (e.name !== "FramingError") throw new Error("unexpected name");
 * }
 * ```
 */
export class FramingError extends Error {
  /** Always `"FramingError"`. */
  override readonly name: string = "FramingError";
  /** What was wrong with the frame. */
  readonly code: FramingErrorCode;

  /**
   * Makes a framing error.
   *
   * @param code what was wrong
   * @param message a human-readable description
   * @param options `cause`, when the error wraps another
   *
   * @example
   * ```ts
   * import { FramingError } from "./framing.ts";
   *
   * const e = new FramingError("overflow", "chunk runs past totalLength");
   * if (e.code !== "overflow" || !(e instanceof Error)) throw new Error("unexpected");
   * ```
   */
  constructor(code: FramingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Hands out `u32` message ids for chunked messages, in sequence, wrapping from
 * `0xFFFFFFFF` back to `0`.
 *
 * @example
 * ```ts
 * import { MessageIdAllocator } from "./framing.ts";
 *
 * const ids = new MessageIdAllocator(0xffff_ffff);
 * const a = ids.next();
 * const b = ids.next();
 * if (a !== 0xffff_ffff || b !== 0) throw new Error("expected wrap-around");
 * ```
 */
export class MessageIdAllocator {
  #next: number;

  /**
   * Makes an allocator whose first id is `start`.
   *
   * @param start the first id handed out, an integer in `[0, 0xFFFFFFFF]` (default 0)
   * @throws {RangeError} if `start` is not a `u32`
   *
   * @example
   * ```ts
   * import { MessageIdAllocator } from "./framing.ts";
   *
   * if (new MessageIdAllocator(42).next() !== 42) throw new Error("unexpected");
   * ```
   */
  constructor(start = 0) {
    _checkU32(start, "start");
    this.#next = start;
  }

  /**
   * Returns the next id and advances, wrapping after `0xFFFFFFFF`.
   *
   * @returns a `u32`
   *
   * @example
   * ```ts
   * import { MessageIdAllocator } from "./framing.ts";
   *
   * const ids = new MessageIdAllocator();
   * if (ids.next() !== 0 || ids.next() !== 1) throw new Error("unexpected");
   * ```
   */
  next(): number {
    const id = this.#next;
    this.#next = id === _U32_MAX ? 0 : id + 1;
    return id;
  }
}

/**
 * Encodes one message into frames: one `0x00` frame when the payload fits (≤ 16383 bytes),
 * else `0x01` chunks of at most {@linkcode MAX_FRAME_BYTES} each, header included.
 *
 * The payload is copied; the frames are standalone and must not be mutated (they may be
 * sent to many viewers).
 *
 * @param payload the message; any length up to `0xFFFFFFFF`
 * @param messageId the `u32` id carried by chunks (unused, but still checked, for `0x00`);
 *   take it from a {@linkcode MessageIdAllocator}
 * @returns the frames, in sending order
 * @throws {RangeError} if `messageId` is not a `u32` or the payload is longer than a `u32`
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./framing.ts";
 *
 * const small = encodeMessage(new Uint8Array([1, 2]), 0);
 * if (small.length !== 1 || small[0].join() !== "0,1,2") throw new Error("unexpected");
 *
 * const big = encodeMessage(new Uint8Array(40_000), 9);
 * // 0x01, messageId 9, totalLength 40000 (0x00009c40)
 * if (big.length !== 3 || big[0].subarray(0, 9).join() !== "1,0,0,0,9,0,0,156,64") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function encodeMessage(payload: Uint8Array, messageId: number): Uint8Array[] {
  _checkPayload(payload);
  _checkU32(messageId, "messageId");
  const total = payload.byteLength;
  if (total > _U32_MAX) {
    throw new RangeError(`payload of ${total} bytes is longer than a u32 totalLength allows`);
  }
  if (total <= MAX_WHOLE_PAYLOAD_BYTES) return [_encodeWhole(payload)];
  const frames: Uint8Array[] = new Array(Math.ceil(total / MAX_CHUNK_DATA_BYTES));
  let offset = 0;
  for (let i = 0; i < frames.length; i++) {
    const end = Math.min(offset + MAX_CHUNK_DATA_BYTES, total);
    const frame = new Uint8Array(CHUNK_HEADER_BYTES + end - offset);
    frame[0] = FRAME_CHUNK;
    _writeU32(frame, 1, messageId);
    _writeU32(frame, 5, total);
    frame.set(payload.subarray(offset, end), CHUNK_HEADER_BYTES);
    frames[i] = frame;
    offset = end;
  }
  return frames;
}

/**
 * Encodes several whole messages into one `0x02` batch frame, in order.
 *
 * @param payloads one or more messages whose framed size, `1 + Σ(4 + length)`, is at most
 *   {@linkcode MAX_FRAME_BYTES}; empty payloads are allowed
 * @returns the frame (standalone; must not be mutated)
 * @throws {RangeError} if `payloads` is empty or the batch would exceed
 *   {@linkcode MAX_FRAME_BYTES}
 *
 * @example
 * ```ts
 * import { encodeBatch } from "./framing.ts";
 *
 * const frame = encodeBatch([new Uint8Array([0xaa]), new Uint8Array(0)]);
 * if (frame.join() !== "2,0,0,0,1,170,0,0,0,0") throw new Error("unexpected");
 * ```
 */
export function encodeBatch(payloads: readonly Uint8Array[]): Uint8Array {
  if (payloads.length === 0) throw new RangeError("a batch needs at least one message");
  let size = 1;
  for (const payload of payloads) {
    _checkPayload(payload);
    size += 4 + payload.byteLength;
  }
  if (size > MAX_FRAME_BYTES) {
    throw new RangeError(`batch of ${size} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  return _encodeBatchUnchecked(payloads, size);
}

/**
 * Packs outgoing messages into as few frames as it can, without reordering them: runs of
 * small messages become `0x02` batches of at most {@linkcode MAX_FRAME_BYTES}; a message too
 * large for a batch goes out alone as `0x00` or `0x01` chunks; a batch that would hold a
 * single message is sent as a `0x00` frame instead.
 *
 * Ids are taken from the allocator only for messages that are chunked. It holds no timer: the caller decides when to {@linkcode Coalescer.flush} (for example a
 * few milliseconds after the first pending message, to bound the added latency). Pending
 * payloads are held by reference until flushed, so they must not be mutated meanwhile.
 *
 * @example
 * ```ts
 * import { Coalescer, MessageIdAllocator } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * const coalescer = new Coalescer(new MessageIdAllocator());
 * const frames: Uint8Array[] = [];
 * for (let i = 0; i < 100; i++) frames.push(...coalescer.push(new Uint8Array(500).fill(i)));
 * frames.push(...coalescer.flush());
 * if (frames.length !== 4) throw new Error(`expected 4 batches, got ${frames.length}`);
 *
 * const decoder = new FrameDecoder();
 * const messages = frames.flatMap((f) => decoder.push(f));
 * if (messages.length !== 100 || messages[99][0] !== 99) throw new Error("unexpected");
 * ```
 */
export class Coalescer {
  readonly #ids: MessageIdAllocator;
  #pending: Uint8Array[] = [];
  /** Size of the batch frame the pending messages would make (type byte included). */
  #batchBytes = 1;

  /**
   * Makes a coalescer.
   *
   * @param ids where ids for chunked messages come from
   *
   * @example
   * ```ts
   * import { Coalescer, MessageIdAllocator } from "./framing.ts";
   *
   * const coalescer = new Coalescer(new MessageIdAllocator());
   * if (coalescer.pendingMessages !== 0) throw new Error("unexpected");
   * ```
   */
  constructor(ids: MessageIdAllocator) {
    this.#ids = ids;
  }

  /**
   * How many messages wait for the next {@linkcode Coalescer.flush}.
   *
   * @example
   * ```ts
   * import { Coalescer, MessageIdAllocator } from "./framing.ts";
   *
   * const coalescer = new Coalescer(new MessageIdAllocator());
   * coalescer.push(new Uint8Array(10));
   * if (coalescer.pendingMessages !== 1) throw new Error("unexpected");
   * ```
   */
  get pendingMessages(): number {
    return this.#pending.length;
  }

  /**
   * Payload bytes waiting for the next {@linkcode Coalescer.flush}.
   *
   * @example
   * ```ts
   * import { Coalescer, MessageIdAllocator } from "./framing.ts";
   *
   * const coalescer = new Coalescer(new MessageIdAllocator());
   * coalescer.push(new Uint8Array(10));
   * coalescer.push(new Uint8Array(5));
   * if (coalescer.pendingBytes !== 15) throw new Error("unexpected");
   * ```
   */
  get pendingBytes(): number {
    return this.#batchBytes - 1 - 4 * this.#pending.length;
  }

  /**
   * Queues one message and returns the frames that are complete because of it (0 or more):
   * a full batch that the message did not fit in, and the message itself when it is too
   * large to batch. Messages that may still share a batch stay pending.
   *
   * @param payload the message
   * @returns frames to send now, in order
   *
   * @example
   * ```ts
   * import { Coalescer, MessageIdAllocator } from "./framing.ts";
   *
   * const coalescer = new Coalescer(new MessageIdAllocator());
   * if (coalescer.push(new Uint8Array(100)).length !== 0) throw new Error("should wait");
   * // a large message flushes the pending one first, then goes out as 0x01 chunks
   * const frames = coalescer.push(new Uint8Array(50_000));
   * if (frames.length !== 5 || frames[0][0] !== 0x00) throw new Error("unexpected");
   * ```
   */
  push(payload: Uint8Array): Uint8Array[] {
    _checkPayload(payload);
    const entry = 4 + payload.byteLength;
    if (1 + entry > MAX_FRAME_BYTES) {
      const frames = this.flush();
      const id = payload.byteLength > MAX_WHOLE_PAYLOAD_BYTES ? this.#ids.next() : 0;
      for (const frame of encodeMessage(payload, id)) frames.push(frame);
      return frames;
    }
    const frames = this.#batchBytes + entry > MAX_FRAME_BYTES ? this.flush() : [];
    this.#pending.push(payload);
    this.#batchBytes += entry;
    return frames;
  }

  /**
   * Returns every pending message as frames (a `0x02` batch, or a `0x00` frame for a lone
   * message) and empties the queue.
   *
   * @returns 0 or 1 frame
   *
   * @example
   * ```ts
   * import { Coalescer, MessageIdAllocator } from "./framing.ts";
   *
   * const coalescer = new Coalescer(new MessageIdAllocator());
   * coalescer.push(new Uint8Array([1]));
   * coalescer.push(new Uint8Array([2]));
   * const [frame] = coalescer.flush();
   * if (frame.join() !== "2,0,0,0,1,1,0,0,0,1,2") throw new Error("unexpected");
   * if (coalescer.flush().length !== 0) throw new Error("should be empty");
   * ```
   */
  flush(): Uint8Array[] {
    const pending = this.#pending;
    if (pending.length === 0) return [];
    const size = this.#batchBytes;
    this.#pending = [];
    this.#batchBytes = 1;
    if (pending.length === 1) return [_encodeWhole(pending[0])];
    return [_encodeBatchUnchecked(pending, size)];
  }
}

/**
 * Packs a list of outgoing messages into frames, in order, with a {@linkcode Coalescer}:
 * small messages share `0x02` batches, large ones go out alone as `0x00` or `0x01`.
 *
 * @param payloads the messages, in sending order
 * @param ids where ids for chunked messages come from
 * @returns the frames, in sending order (standalone; must not be mutated)
 *
 * @example
 * ```ts
 * import { MessageIdAllocator, packMessages } from "./framing.ts";
 *
 * const messages = Array.from({ length: 1000 }, () => new Uint8Array(12));
 * const frames = packMessages(messages, new MessageIdAllocator());
 * // 1 + 1000 × (4 + 12) = 16001 bytes: one batch frame instead of 1000 frames
 * if (frames.length !== 1 || frames[0].byteLength !== 16001) throw new Error("unexpected");
 * ```
 */
export function packMessages(
  payloads: readonly Uint8Array[],
  ids: MessageIdAllocator,
): Uint8Array[] {
  const coalescer = new Coalescer(ids);
  const frames: Uint8Array[] = [];
  for (const payload of payloads) {
    for (const frame of coalescer.push(payload)) frames.push(frame);
  }
  for (const frame of coalescer.flush()) frames.push(frame);
  return frames;
}

function _encodeWhole(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + payload.byteLength);
  frame[0] = FRAME_WHOLE;
  frame.set(payload, 1);
  return frame;
}

function _encodeBatchUnchecked(payloads: readonly Uint8Array[], size: number): Uint8Array {
  const frame = new Uint8Array(size);
  frame[0] = FRAME_BATCH;
  let offset = 1;
  for (const payload of payloads) {
    _writeU32(frame, offset, payload.byteLength);
    frame.set(payload, offset + 4);
    offset += 4 + payload.byteLength;
  }
  return frame;
}
