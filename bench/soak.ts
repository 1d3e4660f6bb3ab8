/**
 * Soak: does anything grow? Viewers (werift, in a swarm process of their own) join one per
 * second and each leaves `--stay` seconds later, while the host broadcasts `--rate` messages
 * per second. This process holds the signaling server and the host (werift); every
 * `--sample` seconds, after a forced GC, it records its RSS, V8 heap, open file descriptors
 * (/proc/self/fd), and what the host and the server hold per peer (`retained()`). At the end
 * it prints each series' first and last value and its growth per hour (least-squares slope
 * over the samples after the first `--warmup` seconds).
 *
 *   deno task bench:soak --minutes 60 [--stay 5] [--rate 10] [--sample 10] [--warmup 60]
 *
 * Figures and their load go in bench/RESULTS.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { werift } from "../adapters/werift.ts";
import { setupLogging } from "../cli/logging.ts";
import { SwarmProc } from "../cli/swarm_proc.ts";
import { swarmCommandLine } from "../cli/swarm_spawn.ts";
import { Host } from "../core/host.ts";
import { startSignalingServer } from "../server/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "5" },
    stay: { type: "string", default: "5" },
    rate: { type: "string", default: "10" },
    sample: { type: "string", default: "10" },
    warmup: { type: "string", default: "60" },
  },
});
const minutes = Number(values.minutes);
const stay = Number(values.stay);
const rate = Number(values.rate);
const sampleEvery = Number(values.sample);
const warmup = Number(values.warmup);
for (const [name, v] of Object.entries({ minutes, stay, rate, sampleEvery, warmup })) {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`--${name} must be a number ≥ 0`);
}

await setupLogging("json", "error");
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.error("no --expose-gc: heap figures include garbage");
const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
await using host = await Host.start({
  rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
  server: server.url,
});
const swarm = new SwarmProc(
  swarmCommandLine([
    "--server",
    server.url,
    "--session",
    host.session.sessionId,
    "--code",
    host.joinCode!,
    "--count",
    "0",
    "--prefix",
    "soak",
    "--ice-address",
    "127.0.0.1",
  ]),
  0,
);

interface Sample {
  t: number;
  rss: number;
  heapUsed: number;
  fds: number;
  host: Record<string, number>;
  server: Record<string, number>;
}
const samples: Sample[] = [];
const t0 = performance.now();
const take = (): Sample => {
  gc?.();
  const m = Deno.memoryUsage();
  const s: Sample = {
    t: (performance.now() - t0) / 1000,
    rss: m.rss,
    heapUsed: m.heapUsed,
    fds: [...Deno.readDirSync("/proc/self/fd")].length,
    host: host.retained(),
    server: server.retained(),
  };
  samples.push(s);
  console.log(JSON.stringify({ ...s, ready: host.readyCount, load: loadavg() }));
  return s;
};

const loadBefore = loadavg();
console.error(`soak: ${minutes} min, a join per second, each stays ${stay} s, ${rate} msg/s`);
let seq = 0;
const broadcast = setInterval(() => host.broadcast(`${seq++} ${Date.now()} soak`), 1000 / rate);
let joined = 0;
const churn = setInterval(() => {
  void swarm.command("join 1").catch(() => {});
  joined++;
  if (joined > stay) void swarm.command(`leave ${joined - 1 - stay}`).catch(() => {});
}, 1_000);
take();
const sampler = setInterval(take, sampleEvery * 1_000);
await new Promise((r) => setTimeout(r, minutes * 60_000));
clearInterval(churn);
clearInterval(sampler);
clearInterval(broadcast);
take();
const loadAfter = loadavg();
const drops = host.metrics().drops;
const outcomes = host.metrics().outcomes;
await swarm.quit();
// Once every viewer is gone, what is still held must be the host's own entries alone.
await new Promise((r) => setTimeout(r, 3_000));
const after = take();

/** Least-squares slope of `y` over `t` (per second), and the series' first and last values. */
function growth(pick: (s: Sample) => number): { first: number; last: number; perHour: number } {
  const xs = samples.filter((s) => s.t >= warmup && s !== after);
  const use = xs.length >= 2 ? xs : samples;
  const n = use.length;
  const mt = use.reduce((a, s) => a + s.t, 0) / n;
  const my = use.reduce((a, s) => a + pick(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of use) {
    num += (s.t - mt) * (pick(s) - my);
    den += (s.t - mt) ** 2;
  }
  return { first: pick(use[0]), last: pick(use[n - 1]), perHour: den ? (num / den) * 3600 : 0 };
}
const mib = (x: number) => (x / 1048576).toFixed(1);
const rows: Array<[string, ReturnType<typeof growth>, (x: number) => string]> = [
  ["host RSS (MiB)", growth((s) => s.rss), mib],
  ["V8 heap used (MiB)", growth((s) => s.heapUsed), mib],
  ["open fds", growth((s) => s.fds), (x) => x.toFixed(1)],
];
for (const key of Object.keys(samples[0].host)) {
  rows.push([`host.${key}`, growth((s) => s.host[key] ?? 0), (x) => x.toFixed(1)]);
}
for (const key of Object.keys(samples[0].server)) {
  rows.push([`server.${key}`, growth((s) => s.server[key] ?? 0), (x) => x.toFixed(1)]);
}
console.log(
  `\n${minutes} min, ${joined} joins (${stay} s each), ${seq} broadcasts at ${rate}/s, ` +
    `${samples.length} samples every ${sampleEvery} s, slope after ${warmup} s; ` +
    `load before ${loadBefore}, after ${loadAfter}`,
);
console.log(
  `joins that failed: ${swarm.failed}; drops ${JSON.stringify(drops)}; ` +
    `handshakes ${JSON.stringify(outcomes)}`,
);
console.log("| series | first | last | growth per hour |\n|---|---|---|---|");
for (const [name, g, f] of rows) {
  console.log(`| ${name} | ${f(g.first)} | ${f(g.last)} | ${f(g.perHour)} |`);
}
console.log(
  `after every viewer left: host ${JSON.stringify(after.host)}, server ${
    JSON.stringify(after.server)
  }, fds ${after.fds}`,
);
