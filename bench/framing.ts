/**
 * Micro-benchmark of core/framing.ts: encode and decode throughput (payload MB/s, 1 MB =
 * 10^6 bytes) for 1 KiB and 1 MiB messages, one frame set per message, plus 1 KiB messages
 * packed into 0x02 batches.
 *
 * Run: `npx -y deno@2.9.6 run bench/framing.ts`
 *
 * @module
 */
import { FrameDecoder } from "../core/frame_decoder.ts";
import { encodeMessage, MessageIdAllocator, packMessages } from "../core/framing.ts";

const TARGET_MS = 1000;
let sink = 0;

function _payload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131) & 0xff;
  return bytes;
}

/** Runs `round` (which handles `bytesPerRound` payload bytes) for ~TARGET_MS; returns MB/s. */
function _measure(round: () => void, bytesPerRound: number): number {
  for (let i = 0; i < 5; i++) round(); // warm-up
  let rounds = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < TARGET_MS) {
    round();
    rounds++;
    elapsed = performance.now() - start;
  }
  return (rounds * bytesPerRound) / 1e6 / (elapsed / 1000);
}

function _row(label: string, encode: number, decode: number): void {
  console.log(
    `${label.padEnd(28)} encode ${encode.toFixed(0).padStart(6)} MB/s   decode ${
      decode.toFixed(0).padStart(6)
    } MB/s`,
  );
}

function _single(size: number, perRound: number, label: string): void {
  const payload = _payload(size);
  const ids = new MessageIdAllocator();
  const encode = _measure(() => {
    for (let i = 0; i < perRound; i++) sink += encodeMessage(payload, ids.next()).length;
  }, size * perRound);
  const frames = encodeMessage(payload, 1);
  const decoder = new FrameDecoder();
  const decode = _measure(() => {
    for (let i = 0; i < perRound; i++) {
      for (const frame of frames) sink += decoder.push(frame).length;
    }
  }, size * perRound);
  _row(label, encode, decode);
}

function _batched(size: number, count: number, label: string): void {
  const payloads = Array.from({ length: count }, () => _payload(size));
  const ids = new MessageIdAllocator();
  const encode = _measure(() => {
    sink += packMessages(payloads, ids).length;
  }, size * count);
  const frames = packMessages(payloads, ids);
  const decoder = new FrameDecoder();
  const decode = _measure(() => {
    for (const frame of frames) sink += decoder.push(frame).length;
  }, size * count);
  _row(label, encode, decode);
}

console.log(
  `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, ${navigator.hardwareConcurrency} cpus`,
);
_single(1024, 1024, "1 KiB messages (0x00)");
_single(1024 * 1024, 4, "1 MiB messages (0x01 chunks)");
_batched(1024, 1024, "1 KiB messages, batched 0x02");
if (sink === -1) console.log(sink);
