/**
 * The receiving side of the data channel's binary framing (PROTOCOL.md §2): a stateful
 * decoder per peer that reassembles chunked messages within a memory cap and turns every
 * violation into a {@linkcode FramingError}. The encoder and the format are in `framing.ts`.
 *
 * @module
 */
import {
  checkPayload as _checkPayload,
  checkU32 as _checkU32,
  readU32 as _readU32,
} from "./frame_checks.ts";
import {
  CHUNK_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  FRAME_BATCH,
  FRAME_CHUNK,
  FRAME_WHOLE,
  FramingError,
  MAX_FRAME_BYTES,
} from "./framing.ts";

/** First capacity of a reassembly buffer, grown by doubling as chunks arrive. */
const _INITIAL_REASSEMBLY_BYTES = 64 * 1024;

/**
 * Options of a {@linkcode FrameDecoder}.
 *
 * @example
 * ```ts
 * import { FrameDecoder, type FrameDecoderOptions } from "./frame_decoder.ts";
 *
 * const options: FrameDecoderOptions = { maxMessageBytes: 1024 * 1024 };
 * if (new FrameDecoder(options).maxMessageBytes !== 1024 * 1024) throw new Error("unexpected");
 * ```
 */
export interface FrameDecoderOptions {
  /**
   * The largest message accepted, in bytes, whatever frame carries it; a chunk header
   * announcing a larger `totalLength` is a violation at once. Default
   * {@linkcode DEFAULT_MAX_MESSAGE_BYTES} (16 MiB).
   */
  maxMessageBytes?: number;
}

/**
 * Decodes the binary frames of one peer's data channel into messages (PROTOCOL.md §2).
 * Stateful: use one per peer, and push that peer's binary messages in arrival order.
 *
 * Reassembly memory is bounded by `maxMessageBytes`: a chunked message's buffer is only
 * allocated once its `totalLength` passed the cap, and it starts small (64 KiB) and grows by
 * doubling as bytes arrive, so a 9-byte header claiming 16 MiB costs no 16 MiB allocation.
 *
 * On any violation {@linkcode FrameDecoder.push} throws a {@linkcode FramingError}, the
 * decoder frees its buffer and every later push throws a `decoder-failed` error: the peer
 * is to be dropped.
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./framing.ts";
 * import { FrameDecoder } from "./frame_decoder.ts";
 *
 * const decoder = new FrameDecoder({ maxMessageBytes: 1024 * 1024 });
 * const [first, second] = encodeMessage(new Uint8Array(20_000).fill(3), 1);
 * if (decoder.push(first).length !== 0) throw new Error("not complete yet");
 * const pending: number = decoder.bytesPending; // 16375 bytes of 20000
 * const [message] = decoder.push(second);
 * if (pending !== 16375 || message.byteLength !== 20_000) throw new Error("unexpected");
 * ```
 */
export class FrameDecoder {
  readonly #maxMessageBytes: number;
  #failure: FramingError | undefined = undefined;
  /** Reassembly buffer of the chunked message in progress, or undefined between messages. */
  #buffer: Uint8Array | undefined = undefined;
  #messageId = 0;
  #totalLength = 0;
  #received = 0;

  /**
   * Makes a decoder.
   *
   * @param options `maxMessageBytes` (default 16 MiB)
   * @throws {RangeError} if `maxMessageBytes` is not an integer in `[0, 0xFFFFFFFF]`
   *
   * @example
   * ```ts
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * const decoder = new FrameDecoder({ maxMessageBytes: 64 * 1024 });
   * if (decoder.bytesPending !== 0) throw new Error("unexpected");
   * ```
   */
  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    _checkU32(max, "maxMessageBytes");
    this.#maxMessageBytes = max;
  }

  /**
   * The cap on one message, in bytes.
   *
   * @example
   * ```ts
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * if (new FrameDecoder({ maxMessageBytes: 10 }).maxMessageBytes !== 10) {
   *   throw new Error("unexpected");
   * }
   * ```
   */
  get maxMessageBytes(): number {
    return this.#maxMessageBytes;
  }

  /**
   * Bytes received of a chunked message not yet complete (0 between messages), for metrics.
   *
   * @example
   * ```ts
   * import { encodeMessage } from "./framing.ts";
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * const decoder = new FrameDecoder();
   * decoder.push(encodeMessage(new Uint8Array(100_000), 0)[0]);
   * if (decoder.bytesPending !== 16375) throw new Error("unexpected");
   * ```
   */
  get bytesPending(): number {
    return this.#received;
  }

  /**
   * Bytes currently allocated for reassembly (≥ {@linkcode FrameDecoder.bytesPending},
   * ≤ the message's `totalLength`), for metrics.
   *
   * @example
   * ```ts
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * const decoder = new FrameDecoder();
   * // a bare header announcing a 16 MiB message: 0x01, id 0, totalLength 0x01000000
   * decoder.push(new Uint8Array([1, 0, 0, 0, 0, 1, 0, 0, 0]));
   * if (decoder.bytesReserved > 64 * 1024) throw new Error("allocated too much up front");
   * ```
   */
  get bytesReserved(): number {
    return this.#buffer?.byteLength ?? 0;
  }

  /**
   * The violation that made this decoder unusable, if any.
   *
   * @example
   * ```ts
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * const decoder = new FrameDecoder();
   * try {
   *   decoder.push(new Uint8Array([9]));
   * } catch {
   *   // the peer would be dropped here
   * }
   * if (decoder.failure?.code !== "unknown-type") throw new Error("unexpected");
   * ```
   */
  get failure(): FramingError | undefined {
    return this.#failure;
  }

  /**
   * Decodes one frame.
   *
   * @param frame one binary data-channel message
   * @returns the messages the frame completes, in order (0 or more); each is a fresh copy
   * @throws {FramingError} on a framing violation (and on every push after one)
   * @throws {TypeError} if `frame` is not a `Uint8Array` (not a violation: the decoder stays
   *   usable)
   *
   * @example
   * ```ts
   * import { encodeBatch } from "./framing.ts";
   * import { FrameDecoder } from "./frame_decoder.ts";
   *
   * const decoder = new FrameDecoder();
   * const messages = decoder.push(encodeBatch([new Uint8Array([1]), new Uint8Array([2, 3])]));
   * if (messages.length !== 2 || messages[1].join() !== "2,3") throw new Error("unexpected");
   * ```
   */
  push(frame: Uint8Array): Uint8Array[] {
    _checkPayload(frame, "frame");
    if (this.#failure !== undefined) {
      throw new FramingError(
        "decoder-failed",
        `decoder already failed (${this.#failure.code}); the peer must be dropped`,
        { cause: this.#failure },
      );
    }
    try {
      return this.#decode(frame);
    } catch (error) {
      if (error instanceof FramingError) {
        this.#failure = error;
        this.#reset();
      }
      throw error;
    }
  }

  #decode(frame: Uint8Array): Uint8Array[] {
    const length = frame.byteLength;
    if (length === 0) throw new FramingError("empty-frame", "empty frame");
    if (length > MAX_FRAME_BYTES) {
      throw new FramingError(
        "frame-too-large",
        `frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`,
      );
    }
    const type = frame[0];
    switch (type) {
      case FRAME_WHOLE:
        this.#checkNotInterrupted(type);
        this.#checkCap(length - 1);
        return [_copy(frame, 1, length)];
      case FRAME_CHUNK:
        return this.#decodeChunk(frame);
      case FRAME_BATCH:
        this.#checkNotInterrupted(type);
        return this.#decodeBatch(frame);
      default:
        throw new FramingError("unknown-type", `unknown frame type 0x${_hex(type)}`);
    }
  }

  #decodeChunk(frame: Uint8Array): Uint8Array[] {
    const length = frame.byteLength;
    if (length < CHUNK_HEADER_BYTES) {
      throw new FramingError(
        "truncated",
        `chunk frame of ${length} bytes is shorter than its ${CHUNK_HEADER_BYTES}-byte header`,
      );
    }
    const messageId = _readU32(frame, 1);
    const totalLength = _readU32(frame, 5);
    const dataLength = length - CHUNK_HEADER_BYTES;
    let buffer = this.#buffer;
    if (buffer === undefined) {
      this.#checkCap(totalLength);
      if (dataLength > totalLength) {
        throw new FramingError(
          "overflow",
          `chunk of ${dataLength} bytes exceeds totalLength ${totalLength} of message ${messageId}`,
        );
      }
      if (dataLength === totalLength) return [_copy(frame, CHUNK_HEADER_BYTES, length)];
      buffer = new Uint8Array(
        Math.min(totalLength, Math.max(dataLength, _INITIAL_REASSEMBLY_BYTES)),
      );
      buffer.set(frame.subarray(CHUNK_HEADER_BYTES));
      this.#buffer = buffer;
      this.#messageId = messageId;
      this.#totalLength = totalLength;
      this.#received = dataLength;
      return [];
    }
    if (messageId !== this.#messageId) {
      throw new FramingError(
        "interleaved-chunk",
        `chunk of message ${messageId} while message ${this.#messageId} is incomplete`,
      );
    }
    if (totalLength !== this.#totalLength) {
      throw new FramingError(
        "length-mismatch",
        `chunk of message ${messageId} says totalLength ${totalLength}, earlier chunks said ${this.#totalLength}`,
      );
    }
    const received = this.#received + dataLength;
    if (received > totalLength) {
      throw new FramingError(
        "overflow",
        `chunks of message ${messageId} carry ${received} bytes, more than totalLength ${totalLength}`,
      );
    }
    if (received > buffer.byteLength) {
      // Grow by doubling, never past totalLength; the last growth lands exactly on it.
      const grown = new Uint8Array(
        Math.min(totalLength, Math.max(received, buffer.byteLength * 2)),
      );
      grown.set(buffer.subarray(0, this.#received));
      buffer = grown;
      this.#buffer = grown;
    }
    buffer.set(frame.subarray(CHUNK_HEADER_BYTES), this.#received);
    if (received < totalLength) {
      this.#received = received;
      return [];
    }
    this.#reset();
    return [buffer];
  }

  #decodeBatch(frame: Uint8Array): Uint8Array[] {
    const length = frame.byteLength;
    if (length === 1) throw new FramingError("empty-batch", "batch frame with no entries");
    const messages: Uint8Array[] = [];
    let offset = 1;
    while (offset < length) {
      if (length - offset < 4) {
        throw new FramingError(
          "truncated",
          `batch entry ${messages.length} has ${length - offset} bytes, too few for its length`,
        );
      }
      const entryLength = _readU32(frame, offset);
      offset += 4;
      if (entryLength > length - offset) {
        throw new FramingError(
          "truncated",
          `batch entry ${messages.length} of ${entryLength} bytes runs past the end of the frame`,
        );
      }
      this.#checkCap(entryLength);
      messages.push(_copy(frame, offset, offset + entryLength));
      offset += entryLength;
    }
    return messages;
  }

  #checkNotInterrupted(type: number): void {
    if (this.#buffer !== undefined) {
      throw new FramingError(
        "interrupted-message",
        `frame type 0x${
          _hex(type)
        } while message ${this.#messageId} has ${this.#received} of ${this.#totalLength} bytes`,
      );
    }
  }

  #checkCap(messageLength: number): void {
    if (messageLength > this.#maxMessageBytes) {
      throw new FramingError(
        "message-too-large",
        `message of ${messageLength} bytes exceeds the cap of ${this.#maxMessageBytes}`,
      );
    }
  }

  #reset(): void {
    this.#buffer = undefined;
    this.#messageId = 0;
    this.#totalLength = 0;
    this.#received = 0;
  }
}

/** A fresh `Uint8Array` (never a view, even of a Node `Buffer`) of `bytes[start, end)`. */
function _copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

function _hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
