/**
 * Property-based tests of the data-channel frame decoder (PROTOCOL.md §2) with fast-check:
 * 100,000 generated frame sequences each, mixing valid frames, frames that lie about their
 * lengths, and random bytes. Seeds are fixed so that a failure reproduces; fast-check prints
 * the seed and the shrunk counterexample.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CHUNK_HEADER_BYTES,
  encodeBatch,
  encodeMessage,
  FRAME_BATCH,
  FRAME_CHUNK,
  FRAME_WHOLE,
  FramingError,
  MAX_FRAME_BYTES,
  MessageIdAllocator,
  packMessages,
} from "../core/framing.ts";
import { FrameDecoder } from "../core/frame_decoder.ts";

const RUNS = 100_000;

function _u32(value: number): number[] {
  return [value >>> 24 & 0xff, value >>> 16 & 0xff, value >>> 8 & 0xff, value & 0xff];
}

/** A length that is usually small, sometimes near a cap, sometimes any u32. */
const _length = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 40_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(16_375, 16_376, 16_383, 16_384, 0xffff_ffff) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
);

const _bytes = (max: number) => fc.uint8Array({ maxLength: max });

/** A `0x01` chunk whose id, `totalLength` and data are independent: it may lie about all. */
const _lyingChunk = fc.tuple(fc.nat({ max: 3 }), _length, _bytes(48)).map(([id, total, data]) =>
  Uint8Array.from([FRAME_CHUNK, ..._u32(id), ..._u32(total), ...data])
);

/** A `0x02` batch whose entry lengths may run past the frame or stop short of it. */
const _lyingBatch = fc.array(fc.tuple(_length, _bytes(24)), { maxLength: 4 }).map((entries) =>
  Uint8Array.from([FRAME_BATCH, ...entries.flatMap(([length, data]) => [..._u32(length), ...data])])
);

/** Any frame the encoder could send, from a small or a chunk-sized payload. */
const _validFrames = fc.oneof(
  fc.tuple(_bytes(64), fc.nat({ max: 3 })).map(([payload, id]) => encodeMessage(payload, id)),
  fc.integer({ min: 16_380, max: 40_000 }).map((n) => encodeMessage(new Uint8Array(n).fill(7), 1)),
  fc.array(_bytes(16), { minLength: 1, maxLength: 5 }).map((ps) => [encodeBatch(ps)]),
);

/** One frame of any kind; sequences of these exercise the decoder's state machine. */
const _frame = fc.oneof(
  { weight: 3, arbitrary: _validFrames.chain((frames) => fc.constantFrom(...frames)) },
  { weight: 3, arbitrary: _lyingChunk },
  { weight: 2, arbitrary: _lyingBatch },
  { weight: 2, arbitrary: _bytes(32) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 3, max: 255 }), _bytes(8)).map(([type, rest]) =>
      Uint8Array.from([type, ...rest])
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Uint8Array(0),
      Uint8Array.of(FRAME_WHOLE),
      Uint8Array.of(FRAME_BATCH),
      new Uint8Array(MAX_FRAME_BYTES + 1),
      new Uint8Array(CHUNK_HEADER_BYTES - 1).fill(FRAME_CHUNK),
    ),
  },
);

const _maxMessageBytes = fc.oneof(
  fc.constant(16 * 1024 * 1024),
  fc.integer({ min: 0, max: 50_000 }),
);

Deno.test("FrameDecoder: 100,000 generated frame sequences raise only FramingError and hold no more than the cap", () => {
  fc.assert(
    fc.property(_maxMessageBytes, fc.array(_frame, { maxLength: 8 }), (max, frames) => {
      const decoder = new FrameDecoder({ maxMessageBytes: max });
      let failed: FramingError | undefined;
      for (const frame of frames) {
        try {
          const messages = decoder.push(frame);
          assert.equal(failed, undefined, "a failed decoder never decodes again");
          for (const m of messages) {
            assert.ok(m instanceof Uint8Array && m.byteLength <= max, "message within the cap");
            assert.notEqual(m.buffer, frame.buffer, "messages never alias the frame");
          }
        } catch (error) {
          if (!(error instanceof FramingError)) throw error;
          if (failed !== undefined) assert.equal(error.code, "decoder-failed");
          else assert.notEqual(error.code, "decoder-failed");
          failed ??= error;
        }
        assert.ok(decoder.bytesPending <= decoder.bytesReserved, "pending within reserved");
        assert.ok(decoder.bytesReserved <= max, "reassembly memory within the cap");
        if (failed !== undefined) {
          assert.equal(decoder.failure, failed);
          assert.equal(decoder.bytesPending, 0, "a failed decoder frees its buffer");
          assert.equal(decoder.bytesReserved, 0, "a failed decoder frees its buffer");
        }
      }
    }),
    { numRuns: RUNS, seed: 19 },
  );
});

Deno.test("FrameDecoder: after 100,000 generated prefixes that end between messages, a valid stream decodes exactly", () => {
  const ids = new MessageIdAllocator();
  fc.assert(
    fc.property(
      fc.array(_frame, { maxLength: 6 }),
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: _bytes(64) },
          {
            weight: 1,
            arbitrary: fc.tuple(fc.integer({ min: 0, max: 40_000 }), fc.nat({ max: 255 }))
              .map(([n, b]) => new Uint8Array(n).fill(b)),
          },
        ),
        { minLength: 1, maxLength: 4 },
      ),
      (prefix, payloads) => {
        const decoder = new FrameDecoder();
        for (const frame of prefix) {
          try {
            decoder.push(frame);
          } catch (error) {
            if (!(error instanceof FramingError)) throw error;
            return; // a failed decoder is dropped with its peer: nothing to carry over
          }
        }
        // Only a prefix that left no partial message is a fair start for a new stream.
        fc.pre(decoder.bytesPending === 0 && decoder.bytesReserved === 0);
        const received = packMessages(payloads, ids).flatMap((f) => decoder.push(f));
        assert.equal(received.length, payloads.length);
        received.forEach((m, i) => assert.deepEqual(m, payloads[i]));
        assert.equal(decoder.bytesPending, 0);
        assert.equal(decoder.bytesReserved, 0);
      },
    ),
    { numRuns: RUNS, seed: 1919 },
  );
});
