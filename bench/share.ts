/**
 * Terminal sharing benchmark (`deno task bench:share`): `shoal share` of a small shell
 * loop to 100 werift viewers in separate processes, in two phases:
 *
 * - interactive: the sharer types a line `@@TS@@` (`TS` the time it was typed) at `--rate`
 *   per second for `--seconds`; the program (`cat`-like) prints it back, and every viewer
 *   times the echo from keystroke to its screen (p50/p99 over all viewers);
 * - flood: the program runs `yes` for `--seconds`; bytes/s the program produced and the
 *   viewers received (screens after a resynchronisation included), resynchronisations,
 *   dropped viewers.
 *
 * Each phase reports the host process's CPU (% of one core) and its peak RSS.
 *
 *   deno task bench:share [--viewers 100] [--processes 4] [--seconds 10] [--rate 20]
 *
 * @module
 */
import process from "node:process";
import { werift } from "../adapters/werift.ts";
import { flagTable, parseFlags } from "../cli/flags.ts";
import { LOAD_FLAGS } from "../cli/loadrun.ts";
import { setupLogging } from "../cli/logging.ts";
import { Share } from "../cli/share.ts";
import { spawnSwarms, swarmReports } from "../cli/swarm_proc.ts";
import { startSignalingServer } from "../server/server.ts";

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    viewers: LOAD_FLAGS.viewers,
    processes: LOAD_FLAGS.processes,
    seconds: { type: "int", help: "seconds per phase", default: 10, min: 1, max: 3600 },
    rate: { type: "int", help: "typed lines per second", default: 20, min: 1, max: 1000 },
    json: { type: "string", help: "write results here" },
  }),
);
const { viewers, processes, seconds, rate } = flags;
await setupLogging("json", "error");

const PROGRAM = [
  "bash",
  "-c",
  `stty -echo; while IFS= read -r line; do case "$line" in ` +
  `flood) timeout ${seconds} yes;; quit) exit 0;; *) printf '%s\\n' "$line";; esac; done`,
];

await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
await using share = await Share.start({
  rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
  server: server.url,
  command: PROGRAM,
  cols: 80,
  rows: 24,
});
const swarms = spawnSwarms({
  server: server.url,
  sessionId: share.host.session.sessionId,
  joinCode: share.host.joinCode!,
  processes,
  countOf: (p) => Math.floor(viewers / processes) + (p < viewers % processes ? 1 : 0),
});
const reports = () => swarmReports(swarms, true);

/** Samples the host's RSS every 100 ms while `run` runs; returns CPU %, peak RSS (MiB). */
async function measure<T>(run: () => Promise<T>): Promise<T & { cpu: number; rssMiB: number }> {
  let peak = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await run();
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  clearInterval(sampler);
  return {
    ...result,
    cpu: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 100),
    rssMiB: Math.round(peak / 1024 / 1024),
  };
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  const deadline = Date.now() + 120_000;
  while (share.host.readyCount < viewers || share.stream.viewers().length < viewers) {
    if (Date.now() > deadline) throw new Error(`only ${share.host.readyCount} viewers ready`);
    await sleep(200);
  }
  await sleep(1_000);
  const load = () => Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`${viewers} viewers ready; load ${load()}`);

  // Interactive: type stamped lines, every viewer times their echo.
  await Promise.all(swarms.map((s) => s.command("reset")));
  const interactive = await measure(async () => {
    const until = performance.now() + seconds * 1000;
    let typed = 0;
    while (performance.now() < until) {
      await share.type(`@@${performance.timeOrigin + performance.now()}@@\r`);
      typed++;
      await sleep(1000 / rate);
    }
    await sleep(1_000);
    return { typed };
  });
  const r1 = await reports();
  const lat = r1.flatMap((v) => (v as { lat?: number[] }).lat ?? []).sort((a, b) => a - b);
  const row1 = {
    phase: "interactive",
    typed: interactive.typed,
    echoes: lat.length,
    expected: interactive.typed * viewers,
    p50Ms: pct(lat, 0.5),
    p99Ms: pct(lat, 0.99),
    maxMs: lat.at(-1),
    hostCpuPct: interactive.cpu,
    hostRssMiB: interactive.rssMiB,
    load: load(),
  };
  console.log(JSON.stringify(row1));

  // Flood: `yes` for `seconds`.
  await Promise.all(swarms.map((s) => s.command("reset")));
  const before = { ...share.stream.stats };
  const flood = await measure(async () => {
    // The largest backlog (queued + buffered) any viewer had on the host, sampled.
    let peakBacklog = 0;
    const sampler = setInterval(() => {
      for (const p of share.host.metrics().peers) {
        peakBacklog = Math.max(peakBacklog, p.queuedBytes + p.bufferedAmount);
      }
    }, 100);
    await share.type("flood\r");
    await sleep(seconds * 1000 + 2_000);
    clearInterval(sampler);
    return { peakBacklogKiB: Math.round(peakBacklog / 1024) };
  });
  const r2 = await reports();
  const received = r2.reduce((n, v) => n + (v.terminal?.bytes ?? 0), 0);
  const after = share.stream.stats;
  const row2 = {
    phase: "flood",
    producedMiBps: +((after.bytesIn - before.bytesIn) / seconds / 1048576).toFixed(2),
    deliveredMiBpsAllViewers: +(received / seconds / 1048576).toFixed(2),
    deliveredMiBpsPerViewer: +(received / seconds / viewers / 1048576).toFixed(3),
    peakBacklogKiB: flood.peakBacklogKiB,
    resyncs: after.resyncs - before.resyncs,
    ticks: after.ticks - before.ticks,
    modelMs: Math.round(after.modelMs - before.modelMs),
    sendMs: Math.round(after.sendMs - before.sendMs),
    screensPerViewerMedian: pct(r2.map((v) => v.terminal?.screens ?? 0).sort((a, b) => a - b), 0.5),
    ready: share.host.readyCount,
    drops: share.host.metrics().drops,
    hostCpuPct: flood.cpu,
    hostRssMiB: flood.rssMiB,
    load: load(),
  };
  console.log(JSON.stringify(row2));
  if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify([row1, row2]));
} finally {
  await Promise.all(swarms.map((s) => s.quit()));
}
