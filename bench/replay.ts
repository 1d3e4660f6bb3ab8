/**
 * What resume costs the host: a broadcast with the replay buffer on (the default, 4 MiB) and
 * off (`replay: { maxBytes: 0 }`), side by side in alternating rounds (medians), for a few
 * payload sizes; and the time to start a viewer that needs the whole buffer again.
 *
 *   deno run -A bench/replay.ts [rounds=7] [messages=20000]
 *
 * The fan-out has no viewers here: a broadcast is its encoding plus the numbering and copy
 * into the buffer, which is what resume adds. Figures and their load go in bench/RESULTS.md.
 *
 * @module
 */
import { Fanout } from "../core/fanout.ts";
import { MessageIdAllocator } from "../core/framing.ts";
import { ReplayBuffer } from "../core/replay.ts";

const rounds = Number(Deno.args[0] ?? 7);
const messages = Number(Deno.args[1] ?? 20_000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

async function perBroadcastUs(size: number, maxBytes: number): Promise<number> {
  await using fanout = new Fanout({ coalesceMs: 0, heartbeatIntervalMs: 0, replay: { maxBytes } });
  const payload = new Uint8Array(size).fill(7);
  const t = performance.now();
  for (let i = 0; i < messages; i++) fanout.broadcast(payload);
  return ((performance.now() - t) * 1000) / messages;
}

console.log(`load before: ${loadavg()}`);
console.log("| payload | broadcast, replay off (µs) | replay on, 4 MiB (µs) | added |");
console.log("|---|---|---|---|");
for (const size of [100, 1024, 16_000]) {
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < rounds; r++) {
    off.push(await perBroadcastUs(size, 0));
    on.push(await perBroadcastUs(size, 4 * 1024 * 1024));
  }
  const [a, b] = [median(off), median(on)];
  console.log(`| ${size} B | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b - a).toFixed(2)} |`);
}

// A viewer that comes back needing all of a full buffer: 4 MiB of 1 KiB messages.
const starts: number[] = [];
for (let r = 0; r < rounds; r++) {
  const buffer = new ReplayBuffer();
  const payload = new Uint8Array(1024);
  for (let i = 0; i < 4096; i++) buffer.push(payload);
  const t = performance.now();
  const frames = buffer.start({ stream: buffer.stream, last: 0 }, new MessageIdAllocator());
  starts.push(performance.now() - t);
  if (frames.length < 2) throw new Error("nothing replayed");
}
console.log(
  `\nreplaying a full 4 MiB buffer (4,096 × 1 KiB) to one viewer: ${
    median(starts).toFixed(1)
  } ms (median of ${rounds})`,
);
console.log(`load after: ${loadavg()}`);
