import assert from "node:assert/strict";
import {
  CHUNK_HEADER_BYTES,
  Coalescer,
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeBatch,
  encodeMessage,
  FRAME_BATCH,
  FRAME_CHUNK,
  FRAME_WHOLE,
  FramingError,
  type FramingErrorCode,
  MAX_BATCH_ENTRY_BYTES,
  MAX_CHUNK_DATA_BYTES,
  MAX_FRAME_BYTES,
  MAX_WHOLE_PAYLOAD_BYTES,
  MessageIdAllocator,
  packMessages,
} from "../core/framing.ts";
import { FrameDecoder } from "../core/frame_decoder.ts";

const KiB = 1024;
const MiB = 1024 * 1024;

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function _prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function _randomBytes(length: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

function _pattern(length: number, salt = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + salt + (i >>> 8)) & 0xff;
  return bytes;
}

function _assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: differ at byte ${i}: ${actual[i]} !== ${expected[i]}`);
    }
  }
}

function _assertMessages(actual: Uint8Array[], expected: Uint8Array[]): void {
  assert.equal(actual.length, expected.length, "message count");
  for (let i = 0; i < expected.length; i++) _assertBytes(actual[i], expected[i], `message ${i}`);
}

function _decodeAll(decoder: FrameDecoder, frames: Uint8Array[]): Uint8Array[] {
  const messages: Uint8Array[] = [];
  for (const frame of frames) {
    for (const message of decoder.push(frame)) messages.push(message);
  }
  return messages;
}

function _u32(value: number): number[] {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function _chunk(messageId: number, totalLength: number, data: number[] | Uint8Array): Uint8Array {
  return new Uint8Array([FRAME_CHUNK, ..._u32(messageId), ..._u32(totalLength), ...data]);
}

/** Pushes `frames`; every frame but the last must be accepted, the last must fail with `code`. */
function _assertViolation(
  frames: Uint8Array[],
  code: FramingErrorCode,
  decoder: FrameDecoder = new FrameDecoder(),
): FramingError {
  for (const frame of frames.slice(0, -1)) decoder.push(frame);
  let caught: unknown;
  try {
    decoder.push(frames[frames.length - 1]);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FramingError, `expected a FramingError, got ${caught}`);
  assert.equal(caught.code, code);
  assert.equal(caught.name, "FramingError");
  assert.ok(caught.message.length > 0);
  assert.equal(decoder.failure, caught);
  assert.equal(decoder.bytesPending, 0, "buffer released after a violation");
  assert.equal(decoder.bytesReserved, 0, "buffer released after a violation");
  return caught;
}

// ---------------------------------------------------------------------------------------
// constants

Deno.test("framing constants match PROTOCOL.md §2", () => {
  assert.equal(MAX_FRAME_BYTES, 16384);
  assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 16 * MiB);
  assert.equal(FRAME_WHOLE, 0x00);
  assert.equal(FRAME_CHUNK, 0x01);
  assert.equal(FRAME_BATCH, 0x02);
  assert.equal(MAX_WHOLE_PAYLOAD_BYTES, 16383);
  assert.equal(CHUNK_HEADER_BYTES, 9);
  assert.equal(MAX_CHUNK_DATA_BYTES, MAX_FRAME_BYTES - CHUNK_HEADER_BYTES);
  assert.equal(MAX_BATCH_ENTRY_BYTES, MAX_FRAME_BYTES - 5);
});

// ---------------------------------------------------------------------------------------
// round trips

for (
  const [size, label] of [
    [0, "0 bytes"],
    [1, "1 byte"],
    [16383, "16383 bytes"],
    [16384, "16384 bytes"],
    [16385, "16385 bytes"],
    [MiB, "1 MiB"],
    [5 * MiB, "5 MiB"],
  ] as const
) {
  Deno.test(`encodeMessage and FrameDecoder round-trip a message of ${label}`, () => {
    const payload = _pattern(size, size);
    const frames = encodeMessage(payload, 77);
    if (size <= MAX_WHOLE_PAYLOAD_BYTES) {
      assert.equal(frames.length, 1);
      assert.equal(frames[0][0], FRAME_WHOLE);
      assert.equal(frames[0].byteLength, size + 1);
    } else {
      assert.equal(frames.length, Math.ceil(size / MAX_CHUNK_DATA_BYTES));
      for (const frame of frames) assert.equal(frame[0], FRAME_CHUNK);
    }
    for (const frame of frames) assert.ok(frame.byteLength <= MAX_FRAME_BYTES);
    const decoder = new FrameDecoder();
    const messages = _decodeAll(decoder, frames);
    _assertMessages(messages, [payload]);
    assert.equal(decoder.bytesPending, 0);
    assert.equal(decoder.bytesReserved, 0);
  });
}

Deno.test("FrameDecoder reassembles a 5 MiB message from 16 KiB chunks", () => {
  const payload = _randomBytes(5 * MiB, _prng(5));
  const frames = encodeMessage(payload, 123456);
  assert.equal(frames.length, 321); // ceil(5 MiB / 16375)
  const decoder = new FrameDecoder();
  let received = 0;
  for (let i = 0; i < frames.length - 1; i++) {
    assert.deepEqual(decoder.push(frames[i]), []);
    received += frames[i].byteLength - CHUNK_HEADER_BYTES;
    assert.equal(decoder.bytesPending, received);
    assert.ok(decoder.bytesReserved >= received);
    assert.ok(decoder.bytesReserved <= 5 * MiB);
  }
  const [message] = decoder.push(frames[frames.length - 1]);
  _assertBytes(message, payload);
  assert.equal(decoder.bytesPending, 0);
});

Deno.test("encodeMessage puts the 9-byte header on every chunk and fills all but the last", () => {
  const payload = _pattern(3 * MAX_CHUNK_DATA_BYTES + 10);
  const frames = encodeMessage(payload, 0x01020304);
  assert.equal(frames.length, 4);
  for (const [i, frame] of frames.entries()) {
    assert.deepEqual(
      [...frame.subarray(0, CHUNK_HEADER_BYTES)],
      [FRAME_CHUNK, 1, 2, 3, 4, ..._u32(payload.byteLength)],
    );
    assert.equal(frame.byteLength, i < 3 ? MAX_FRAME_BYTES : CHUNK_HEADER_BYTES + 10);
  }
});

Deno.test("encodeMessage splits 16384 bytes into a full chunk and a 9-byte remainder", () => {
  const frames = encodeMessage(_pattern(16384), 1);
  assert.deepEqual(frames.map((f) => f.byteLength), [16384, 18]);
});

Deno.test("encodeMessage writes a 0x00 frame as the type byte followed by the payload", () => {
  assert.deepEqual(encodeMessage(new Uint8Array([5, 6, 7]), 0).map((f) => [...f]), [[0, 5, 6, 7]]);
  assert.deepEqual(encodeMessage(new Uint8Array(0), 0).map((f) => [...f]), [[0]]);
});

Deno.test("encodeMessage produces standalone frames that do not alias the payload", () => {
  const backing = new Uint8Array(50_000).fill(1);
  const payload = backing.subarray(100, 40_100); // a view at a non-zero offset
  const frames = [...encodeMessage(payload, 3), ...encodeMessage(payload.subarray(0, 10), 4)];
  for (const frame of frames) {
    assert.equal(frame.byteOffset, 0);
    assert.equal(frame.buffer.byteLength, frame.byteLength);
  }
  const snapshot = frames.map((f) => f.slice());
  backing.fill(9);
  for (const [i, frame] of frames.entries()) _assertBytes(frame, snapshot[i]);
});

Deno.test("one encoding can be decoded by many viewers without being changed", () => {
  const payload = _pattern(100_000);
  const frames = [...encodeMessage(payload, 1), encodeBatch([_pattern(10), _pattern(20)])];
  const snapshot = frames.map((f) => f.slice());
  for (let viewer = 0; viewer < 3; viewer++) {
    const messages = _decodeAll(new FrameDecoder(), frames);
    _assertMessages(messages, [payload, _pattern(10), _pattern(20)]);
    messages[0].fill(0); // a viewer scribbling on its message must not affect the others
  }
  for (const [i, frame] of frames.entries()) _assertBytes(frame, snapshot[i]);
});

Deno.test("FrameDecoder returns copies that do not alias the pushed frames", () => {
  const decoder = new FrameDecoder();
  const whole = encodeMessage(new Uint8Array([1, 2, 3]), 0)[0];
  const batch = encodeBatch([new Uint8Array([4]), new Uint8Array([5])]);
  const single = _chunk(9, 2, [6, 7]);
  const messages = _decodeAll(decoder, [whole, batch, single]);
  whole.fill(0xee);
  batch.fill(0xee);
  single.fill(0xee);
  _assertMessages(messages, [
    new Uint8Array([1, 2, 3]),
    new Uint8Array([4]),
    new Uint8Array([5]),
    new Uint8Array([6, 7]),
  ]);
  for (const message of messages) assert.equal(message.buffer.byteLength, message.byteLength);
});

Deno.test("FrameDecoder accepts frames that are views into a larger buffer", () => {
  const payload = _pattern(40_000);
  const frames = encodeMessage(payload, 8).map((frame) => {
    const backing = new Uint8Array(frame.byteLength + 7).fill(0xff);
    backing.set(frame, 3);
    return backing.subarray(3, 3 + frame.byteLength);
  });
  _assertMessages(_decodeAll(new FrameDecoder(), frames), [payload]);
});

Deno.test("FrameDecoder decodes consecutive chunked messages with the same or different ids", () => {
  const a = _pattern(20_000, 1);
  const b = _pattern(30_000, 2);
  const c = _pattern(17_000, 3);
  const frames = [...encodeMessage(a, 5), ...encodeMessage(b, 5), ...encodeMessage(c, 6)];
  _assertMessages(_decodeAll(new FrameDecoder(), frames), [a, b, c]);
});

Deno.test("FrameDecoder accepts a zero-length chunked message, empty chunks and small chunked messages", () => {
  const decoder = new FrameDecoder();
  _assertMessages(decoder.push(_chunk(1, 0, [])), [new Uint8Array(0)]);
  assert.deepEqual(decoder.push(_chunk(2, 3, [])), []);
  assert.deepEqual(decoder.push(_chunk(2, 3, [7])), []);
  assert.deepEqual(decoder.push(_chunk(2, 3, [])), []);
  assert.equal(decoder.bytesPending, 1);
  _assertMessages(decoder.push(_chunk(2, 3, [8, 9])), [new Uint8Array([7, 8, 9])]);
  _assertMessages(decoder.push(_chunk(3, 2, [1, 2])), [new Uint8Array([1, 2])]);
});

// ---------------------------------------------------------------------------------------
// message ids

Deno.test("MessageIdAllocator counts up from 0 and wraps from 0xFFFFFFFF to 0", () => {
  const ids = new MessageIdAllocator();
  assert.deepEqual([ids.next(), ids.next(), ids.next()], [0, 1, 2]);
  const high = new MessageIdAllocator(0xffff_fffe);
  assert.deepEqual([high.next(), high.next(), high.next(), high.next()], [
    0xffff_fffe,
    0xffff_ffff,
    0,
    1,
  ]);
});

Deno.test("MessageIdAllocator rejects a start that is not a u32", () => {
  for (const bad of [-1, 0x1_0000_0000, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => new MessageIdAllocator(bad), RangeError);
  }
});

Deno.test("chunked messages round-trip across the message id wrap-around", () => {
  const ids = new MessageIdAllocator(0xffff_ffff);
  const a = _pattern(20_000, 1);
  const b = _pattern(20_000, 2);
  const first = encodeMessage(a, ids.next());
  const second = encodeMessage(b, ids.next());
  assert.deepEqual([...first[0].subarray(1, 5)], [0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...second[0].subarray(1, 5)], [0, 0, 0, 0]);
  _assertMessages(_decodeAll(new FrameDecoder(), [...first, ...second]), [a, b]);
});

Deno.test("encodeMessage rejects a message id that is not a u32", () => {
  for (const bad of [-1, 0x1_0000_0000, 2.5, Number.NaN]) {
    assert.throws(() => encodeMessage(new Uint8Array(1), bad), RangeError);
    assert.throws(() => encodeMessage(new Uint8Array(20_000), bad), RangeError);
  }
});

Deno.test("encoders reject payloads that are not Uint8Arrays", () => {
  const notBytes = [1, 2, 3] as unknown as Uint8Array;
  assert.throws(() => encodeMessage(notBytes, 0), TypeError);
  assert.throws(() => encodeBatch([notBytes]), TypeError);
  assert.throws(() => new Coalescer(new MessageIdAllocator()).push(notBytes), TypeError);
});

// ---------------------------------------------------------------------------------------
// batches

Deno.test("encodeBatch writes u32 big-endian lengths before each payload", () => {
  const frame = encodeBatch([new Uint8Array([1, 2]), new Uint8Array(0), _pattern(300)]);
  assert.deepEqual([...frame.subarray(0, 12)], [2, 0, 0, 0, 2, 1, 2, 0, 0, 0, 0, 0]);
  assert.deepEqual([...frame.subarray(11, 15)], [0, 0, 1, 44]);
  assert.equal(frame.byteLength, 1 + 6 + 4 + 304);
});

Deno.test("FrameDecoder decodes a batch into its messages in order, empty ones included", () => {
  const payloads = [_pattern(0), _pattern(1, 1), _pattern(0), _pattern(1000, 2), _pattern(0)];
  _assertMessages(new FrameDecoder().push(encodeBatch(payloads)), payloads);
});

Deno.test("encodeBatch accepts exactly 16384 bytes and rejects more or nothing", () => {
  const full = encodeBatch([new Uint8Array(MAX_BATCH_ENTRY_BYTES)]);
  assert.equal(full.byteLength, MAX_FRAME_BYTES);
  _assertMessages(new FrameDecoder().push(full), [new Uint8Array(MAX_BATCH_ENTRY_BYTES)]);
  const twoFull = encodeBatch([new Uint8Array(8000), new Uint8Array(16383 - 8 - 8000)]);
  assert.equal(twoFull.byteLength, MAX_FRAME_BYTES);
  assert.throws(() => encodeBatch([new Uint8Array(MAX_BATCH_ENTRY_BYTES + 1)]), RangeError);
  assert.throws(() => encodeBatch([]), RangeError);
  const many = Array.from({ length: 4096 }, () => new Uint8Array(0)); // 1 + 4096 × 4 > 16384
  assert.throws(() => encodeBatch(many), RangeError);
});

Deno.test("packMessages batches small messages into frames of at most 16384 bytes, in order", () => {
  const payloads = Array.from({ length: 1000 }, (_, i) => _pattern(100 + (i % 50), i));
  const frames = packMessages(payloads, new MessageIdAllocator());
  for (const frame of frames) {
    assert.equal(frame[0], FRAME_BATCH);
    assert.ok(frame.byteLength <= MAX_FRAME_BYTES);
  }
  // greedy: each batch but the last was closed because the next message did not fit
  for (const frame of frames.slice(0, -1)) assert.ok(frame.byteLength > MAX_FRAME_BYTES - 4 - 150);
  _assertMessages(_decodeAll(new FrameDecoder(), frames), payloads);
});

Deno.test("packMessages sends a lone message as 0x00 and large messages on their own", () => {
  const ids = new MessageIdAllocator(40);
  const small = _pattern(10, 1);
  const unbatchable = _pattern(MAX_BATCH_ENTRY_BYTES + 1, 2); // fits 0x00, not a batch
  const big = _pattern(50_000, 3);
  const payloads = [small, small, unbatchable, small, big, small, small, small];
  const frames = packMessages(payloads, ids);
  assert.deepEqual(frames.map((f) => f[0]), [
    FRAME_BATCH, // small, small
    FRAME_WHOLE, // unbatchable
    FRAME_WHOLE, // lone small
    FRAME_CHUNK, // big ×4
    FRAME_CHUNK,
    FRAME_CHUNK,
    FRAME_CHUNK,
    FRAME_BATCH, // small ×3
  ]);
  assert.deepEqual([...frames[3].subarray(1, 5)], _u32(40), "big takes the first id");
  assert.equal(ids.next(), 41, "ids are spent on chunked messages only");
  _assertMessages(_decodeAll(new FrameDecoder(), frames), payloads);
});

Deno.test("Coalescer emits a batch when the next message does not fit and keeps the rest pending", () => {
  const coalescer = new Coalescer(new MessageIdAllocator());
  const half = new Uint8Array(8000);
  assert.deepEqual(coalescer.push(half), []);
  assert.deepEqual(coalescer.push(half), []); // 1 + 2 × 8004 = 16009 ≤ 16384
  assert.equal(coalescer.pendingMessages, 2);
  assert.equal(coalescer.pendingBytes, 16000);
  const out = coalescer.push(half);
  assert.equal(out.length, 1);
  assert.equal(out[0].byteLength, 16009);
  assert.equal(coalescer.pendingMessages, 1);
  assert.equal(coalescer.pendingBytes, 8000);
  const [last] = coalescer.flush();
  assert.equal(last[0], FRAME_WHOLE);
  assert.deepEqual(coalescer.flush(), []);
  assert.equal(coalescer.pendingMessages, 0);
  assert.equal(coalescer.pendingBytes, 0);
});

Deno.test("Coalescer fills a batch to exactly 16384 bytes before starting another", () => {
  const coalescer = new Coalescer(new MessageIdAllocator());
  // 1 + 3 × (4 + 5457) = 16384
  for (let i = 0; i < 3; i++) assert.deepEqual(coalescer.push(_pattern(5457, i)), []);
  const [full] = coalescer.push(new Uint8Array(0)); // 4 more bytes do not fit
  assert.equal(full.byteLength, MAX_FRAME_BYTES);
  assert.equal(coalescer.pendingMessages, 1);
  _assertMessages(new FrameDecoder().push(full), [0, 1, 2].map((i) => _pattern(5457, i)));
});

// ---------------------------------------------------------------------------------------
// violations

Deno.test("FrameDecoder rejects an empty frame", () => {
  _assertViolation([new Uint8Array(0)], "empty-frame");
});

Deno.test("FrameDecoder rejects a frame over 16384 bytes", () => {
  _assertViolation([new Uint8Array(MAX_FRAME_BYTES + 1)], "frame-too-large");
  const chunk = new Uint8Array(MAX_FRAME_BYTES + 1);
  chunk.set([FRAME_CHUNK, 0, 0, 0, 1, ..._u32(100_000)]);
  _assertViolation([chunk], "frame-too-large");
});

Deno.test("FrameDecoder accepts a frame of exactly 16384 bytes", () => {
  const frame = new Uint8Array(MAX_FRAME_BYTES);
  assert.equal(new FrameDecoder().push(frame)[0].byteLength, MAX_WHOLE_PAYLOAD_BYTES);
});

Deno.test("FrameDecoder rejects an unknown frame type", () => {
  for (const type of [0x03, 0x7b, 0x80, 0xff]) {
    _assertViolation([new Uint8Array([type, 0])], "unknown-type");
  }
});

Deno.test("FrameDecoder rejects a chunk frame shorter than its 9-byte header", () => {
  for (let length = 1; length < CHUNK_HEADER_BYTES; length++) {
    const frame = new Uint8Array(length);
    frame[0] = FRAME_CHUNK;
    _assertViolation([frame], "truncated");
  }
});

Deno.test("FrameDecoder rejects a batch whose length prefix is cut short", () => {
  for (const tail of [[0], [0, 0], [0, 0, 0]]) {
    _assertViolation([new Uint8Array([FRAME_BATCH, ...tail])], "truncated");
    _assertViolation([new Uint8Array([FRAME_BATCH, 0, 0, 0, 1, 9, ...tail])], "truncated");
  }
});

Deno.test("FrameDecoder rejects a batch entry that runs past the end of the frame", () => {
  _assertViolation([new Uint8Array([FRAME_BATCH, 0, 0, 0, 3, 1, 2])], "truncated");
  _assertViolation([new Uint8Array([FRAME_BATCH, 0xff, 0xff, 0xff, 0xff, 1])], "truncated");
});

Deno.test("FrameDecoder rejects a batch with no entries", () => {
  _assertViolation([new Uint8Array([FRAME_BATCH])], "empty-batch");
});

Deno.test("FrameDecoder rejects a chunk header announcing more than 16 MiB by default", () => {
  _assertViolation([_chunk(1, DEFAULT_MAX_MESSAGE_BYTES + 1, [1, 2, 3])], "message-too-large");
  _assertViolation([_chunk(1, 0xffff_ffff, [])], "message-too-large");
});

Deno.test("FrameDecoder accepts a chunked message of exactly maxMessageBytes", () => {
  const payload = _pattern(50_000);
  const decoder = new FrameDecoder({ maxMessageBytes: 50_000 });
  _assertMessages(_decodeAll(decoder, encodeMessage(payload, 1)), [payload]);
});

Deno.test("FrameDecoder applies maxMessageBytes to whole, chunked and batched messages", () => {
  const options = { maxMessageBytes: 100 };
  _assertViolation(
    encodeMessage(new Uint8Array(101), 0),
    "message-too-large",
    new FrameDecoder(options),
  );
  _assertViolation(
    [encodeBatch([new Uint8Array(100), new Uint8Array(101)])],
    "message-too-large",
    new FrameDecoder(options),
  );
  _assertViolation([_chunk(1, 101, [1])], "message-too-large", new FrameDecoder(options));
  const ok = new FrameDecoder(options);
  assert.equal(ok.push(encodeMessage(new Uint8Array(100), 0)[0])[0].byteLength, 100);
  const zero = new FrameDecoder({ maxMessageBytes: 0 });
  assert.equal(zero.push(new Uint8Array([FRAME_WHOLE]))[0].byteLength, 0);
  _assertViolation([new Uint8Array([FRAME_WHOLE, 1])], "message-too-large", zero);
});

Deno.test("FrameDecoder rejects a chunk of another message mid-stream", () => {
  const [a0] = encodeMessage(_pattern(40_000), 1);
  const [b0] = encodeMessage(_pattern(40_000), 2);
  _assertViolation([a0, b0], "interleaved-chunk");
});

Deno.test("FrameDecoder rejects a chunk whose totalLength differs from the message in progress", () => {
  _assertViolation([_chunk(7, 10, [1, 2]), _chunk(7, 11, [3])], "length-mismatch");
});

Deno.test("FrameDecoder rejects a whole or batch frame in the middle of a chunked message", () => {
  const [first] = encodeMessage(_pattern(40_000), 1);
  _assertViolation([first, encodeMessage(new Uint8Array(3), 0)[0]], "interrupted-message");
  _assertViolation([first, encodeBatch([new Uint8Array(3)])], "interrupted-message");
});

Deno.test("FrameDecoder rejects chunks that overflow totalLength", () => {
  _assertViolation([_chunk(1, 2, [1, 2, 3])], "overflow");
  _assertViolation([_chunk(1, 0, [1])], "overflow");
  _assertViolation([_chunk(1, 5, [1, 2, 3]), _chunk(1, 5, [4, 5, 6])], "overflow");
});

Deno.test("FrameDecoder is unusable after a violation", () => {
  const decoder = new FrameDecoder();
  const original = _assertViolation([new Uint8Array([0x09])], "unknown-type", decoder);
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => decoder.push(encodeMessage(new Uint8Array(1), 0)[0]),
      (error: unknown) =>
        error instanceof FramingError && error.code === "decoder-failed" &&
        error.cause === original,
    );
  }
  assert.equal(decoder.failure, original);
});

Deno.test("FrameDecoder rejects a non-Uint8Array with a TypeError and stays usable", () => {
  const decoder = new FrameDecoder();
  assert.throws(() => decoder.push("hello" as unknown as Uint8Array), TypeError);
  assert.throws(() => decoder.push(new ArrayBuffer(2) as unknown as Uint8Array), TypeError);
  assert.equal(decoder.failure, undefined);
  assert.equal(decoder.push(new Uint8Array([0, 1]))[0][0], 1);
});

Deno.test("FrameDecoder rejects a maxMessageBytes that is not a u32", () => {
  for (const bad of [-1, 1.5, 0x1_0000_0000, Number.NaN]) {
    assert.throws(() => new FrameDecoder({ maxMessageBytes: bad }), RangeError);
  }
  assert.equal(new FrameDecoder({}).maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES);
});

// ---------------------------------------------------------------------------------------
// memory

Deno.test("FrameDecoder does not allocate totalLength from a 9-byte header", () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(_chunk(1, DEFAULT_MAX_MESSAGE_BYTES, [])), []);
  assert.equal(decoder.bytesPending, 0);
  assert.ok(decoder.bytesReserved <= 64 * KiB, `reserved ${decoder.bytesReserved}`);
});

Deno.test("FrameDecoder grows its reassembly buffer with the data, within 2× and totalLength", () => {
  const total = 3 * MiB + 5;
  const decoder = new FrameDecoder();
  const frames = encodeMessage(_pattern(total), 1);
  for (const frame of frames.slice(0, -1)) {
    decoder.push(frame);
    const { bytesPending, bytesReserved } = decoder;
    assert.ok(bytesReserved >= bytesPending);
    assert.ok(bytesReserved <= Math.max(64 * KiB, 2 * bytesPending), `${bytesReserved}`);
    assert.ok(bytesReserved <= total);
  }
  const [message] = decoder.push(frames[frames.length - 1]);
  assert.equal(message.byteLength, total);
  assert.equal(message.buffer.byteLength, total, "the final buffer is exactly totalLength");
  assert.equal(decoder.bytesReserved, 0);
});

Deno.test("FrameDecoder frees a half-received message's buffer when it fails", () => {
  const decoder = new FrameDecoder();
  const frames = encodeMessage(_pattern(MiB), 1);
  for (const frame of frames.slice(0, 20)) decoder.push(frame);
  assert.equal(decoder.bytesPending, 20 * MAX_CHUNK_DATA_BYTES);
  _assertViolation([new Uint8Array([0x05])], "unknown-type", decoder);
});

// ---------------------------------------------------------------------------------------
// properties

function _randomSize(random: () => number): number {
  const r = random();
  if (r < 0.15) return 0;
  if (r < 0.55) return (random() * 200) | 0;
  if (r < 0.75) return (random() * 4000) | 0;
  if (r < 0.9) {
    // around the boundaries
    const edges = [
      MAX_BATCH_ENTRY_BYTES,
      MAX_WHOLE_PAYLOAD_BYTES,
      MAX_CHUNK_DATA_BYTES,
      2 * MAX_CHUNK_DATA_BYTES,
    ];
    return edges[(random() * edges.length) | 0] + ((random() * 5) | 0) - 2;
  }
  return (random() * 200_000) | 0;
}

Deno.test("randomized mixed message sequences survive encode then decode (seed 0x5f0a1)", () => {
  const random = _prng(0x5f0a1);
  const ids = new MessageIdAllocator(0xffff_fff0); // cross the wrap-around too
  for (let round = 0; round < 150; round++) {
    const decoder = new FrameDecoder();
    const sent: Uint8Array[] = [];
    const frames: Uint8Array[] = [];
    const count = 1 + ((random() * 40) | 0);
    let pending: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const payload = _randomBytes(_randomSize(random), random);
      sent.push(payload);
      const how = random();
      if (how < 0.4) {
        frames.push(...packMessages(pending, ids), ...encodeMessage(payload, ids.next()));
        pending = [];
      } else {
        pending.push(payload);
      }
    }
    frames.push(...packMessages(pending, ids));
    for (const frame of frames) assert.ok(frame.byteLength <= MAX_FRAME_BYTES);
    _assertMessages(_decodeAll(decoder, frames), sent);
    assert.equal(decoder.bytesPending, 0);
  }
});

Deno.test("FrameDecoder throws only FramingErrors on random and corrupted input (seed 42)", () => {
  const random = _prng(42);
  let violations = 0;
  for (let round = 0; round < 2000; round++) {
    const decoder = new FrameDecoder({ maxMessageBytes: 1 * MiB });
    const frames = round % 2 === 0
      // pure noise frames with a plausible type byte
      ? Array.from({ length: 1 + ((random() * 4) | 0) }, () => {
        const frame = _randomBytes((random() * 40) | 0, random);
        if (frame.byteLength > 0) frame[0] = (random() * 4) | 0;
        return frame;
      })
      // a valid stream with one byte flipped or one frame cut short
      : (() => {
        const valid = packMessages(
          Array.from({ length: 5 }, () => _randomBytes(_randomSize(random) % 40_000, random)),
          new MessageIdAllocator(),
        ).map((f) => f.slice());
        const victim = valid[(random() * valid.length) | 0];
        if (random() < 0.5 && victim.byteLength > 0) {
          victim[(random() * Math.min(victim.byteLength, 16)) | 0] ^= 1 << ((random() * 8) | 0);
          return valid;
        }
        const i = valid.indexOf(victim);
        valid[i] = victim.subarray(0, (random() * victim.byteLength) | 0);
        return valid;
      })();
    try {
      _decodeAll(decoder, frames);
    } catch (error) {
      assert.ok(error instanceof FramingError, `round ${round}: ${error}`);
      assert.equal(decoder.failure, error);
      violations++;
    }
  }
  assert.ok(violations > 500, `only ${violations} violations: the fuzzer is too gentle`);
});
