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
import { RTC_FLAG, rtcStack } from "../cli/common.ts";
import { parseFlags } from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import { LoadRun } from "../cli/loadrun.ts";

const { flags } = parseFlags(Deno.args, [
  { name: "viewers", type: "string", description: "viewers", default: "100" },
  { name: "processes", type: "string", description: "swarm processes", default: "4" },
  {
    name: "rates",
    type: "string",
    description: "messages per second, comma-separated",
    default: "10,50,200",
  },
  { name: "seconds", type: "string", description: "seconds per rate", default: "10" },
  { name: "size", type: "string", description: "bytes per message", default: "1024" },
  { name: "coalesce-ms", type: "string", description: "host coalescing window, ms", default: "2" },
  {
    name: "high-water",
    type: "string",
    description: "bufferedAmount high-water mark, bytes",
    default: "65536",
  },
  { name: "json", type: "string", description: "write results here" },
  { name: "server-process", type: "boolean", description: "signaling server in its own process" },
  RTC_FLAG,
]);
const viewers = Number(flags.viewers ?? 100);
const rates = String(flags.rates ?? "10,50,200").split(",").map(Number);
const seconds = Number(flags.seconds ?? 10);
const size = Number(flags.size ?? 1024);
await setupLogging("json", "error");
await using run = new LoadRun({
  viewers,
  processes: Number(flags.processes ?? 4),
  serverProcess: !!flags["server-process"],
  rtc: rtcStack(flags.rtc),
  host: {
    coalesceMs: Number(flags["coalesce-ms"] ?? 2),
    limits: {
      highWaterMark: Number(flags["high-water"] ?? 65536),
      lowWaterMark: Number(flags["high-water"] ?? 65536) / 4,
    },
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
if (typeof flags.json === "string") {
  await Deno.writeTextFile(flags.json, JSON.stringify(rows, null, 2));
}
