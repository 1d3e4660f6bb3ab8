/**
 * Fan-out benchmark: 100 viewers (`--rtc`) in separate processes, the host broadcasting 1 KiB
 * messages at 10, 50 and 200 per second for 10 s each. Prints delivered/sent, one-way
 * latency p50/p99, host CPU and RSS, RSS per viewer.
 *
 *   deno task bench:fanout [--viewers 100] [--rates 10,50,200] [--seconds 10] [--size 1024]
 *     [--server-process]
 *
 * @module
 */
import { flagTable, intValue, parseFlags } from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import type { RtcStack } from "../cli/common.ts";
import { LOAD_FLAGS, LoadRun } from "../cli/loadrun.ts";

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    viewers: LOAD_FLAGS.viewers,
    processes: LOAD_FLAGS.processes,
    rates: { type: "string", help: "messages per second, comma-separated", default: "10,50,200" },
    seconds: { type: "int", help: "seconds per rate", default: 10, min: 1, max: 3600 },
    size: LOAD_FLAGS.size,
    "coalesce-ms": { type: "int", help: "host coalescing window, ms", default: 2 },
    "high-water": {
      type: "int",
      help: "bufferedAmount high-water mark, bytes",
      default: 65536,
      min: 1,
    },
    json: LOAD_FLAGS.json,
    "server-process": LOAD_FLAGS["server-process"],
    rtc: LOAD_FLAGS.rtc,
  }),
);
const rates = flags.rates.split(",").map((r) => intValue(r, "rates", 1, 100_000));
const { viewers, seconds, size } = flags;
await setupLogging("json", "error");
await using run = new LoadRun({
  viewers,
  processes: flags.processes,
  serverProcess: flags["server-process"],
  rtc: flags.rtc as RtcStack,
  host: {
    coalesceMs: flags["coalesce-ms"],
    limits: { highWaterMark: flags["high-water"], lowWaterMark: flags["high-water"] / 4 },
  },
});
await run.start();
run.join();
if (!(await run.waitReady(120_000))) throw new Error("not every viewer got ready");
await new Promise((r) => setTimeout(r, 1_000)); // let the handshakes' tail settle
const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const rows = [];
for (const rate of rates) {
  const r = await run.broadcast(rate, seconds, size);
  rows.push({
    rate,
    sent: r.sent,
    delivered: `${(r.deliveryRatio * 100).toFixed(2)}%`,
    complete: `${r.complete}/${viewers}`,
    p50ms: r.latencyMs.p50,
    p99ms: r.latencyMs.p99,
    hostCpu: `${r.hostCpuPercent}%`,
    // host CPU per message per viewer; a 1 KiB message is one packet (see bench/floors.ts)
    hostUsPerSend: Math.round((r.hostCpuPercent * 1e4) / (rate * viewers)),
    viewersCpu: `${r.viewersCpuPercent}%`,
    rssMiB: mib(r.hostRss),
    perViewerKiB: Math.round((r.hostRss - run.idleRss) / viewers / 1024),
    drops: JSON.stringify(run.host.metrics().drops),
  });
  console.log(JSON.stringify(rows.at(-1)));
}
console.table(rows);
console.log(`idle RSS ${mib(run.idleRss)} MiB`);
if (flags.json !== undefined) {
  await Deno.writeTextFile(flags.json, JSON.stringify(rows, null, 2));
}
