/**
 * Flood benchmark: a source writing stamped messages into `host.writable` as fast as it
 * takes them, for 10 s, to 100 viewers in separate processes (the signaling server in a
 * process of its own, so that host CPU and RSS are the host's alone). Prints delivered
 * messages/s and bytes/s (all viewers together), latency p50/p99, host CPU, peak host RSS,
 * and viewers dropped (goal 0), for each RTC stack asked for, alternating run by run.
 *
 *   deno task bench:flood [--rtc werift] [--viewers 100] [--seconds 10] [--size 1024]
 *     [--runs 1] [--max-queued-bytes N] [--json FILE]
 *
 * @module
 */
import { werift } from "../adapters/werift.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { type FlagSpec, helpText, intFlag, parseFlags, UsageError } from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import { type FloodResult, LoadRun } from "../cli/loadrun.ts";

/** The host's RTC stacks, by `--rtc` name. */
const STACKS: Record<string, () => RtcAdapter> = {
  werift: () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
};

const FLAGS: FlagSpec[] = [
  {
    name: "rtc",
    type: "string",
    description: "host RTC stacks, comma-separated",
    default: "werift",
  },
  { name: "viewers", type: "string", description: "viewers", default: "100" },
  { name: "processes", type: "string", description: "swarm processes", default: "4" },
  { name: "seconds", type: "string", description: "seconds of flood", default: "10" },
  { name: "size", type: "string", description: "bytes per message", default: "1024" },
  { name: "runs", type: "string", description: "runs of each stack, alternating", default: "1" },
  { name: "max-queued-bytes", type: "string", description: "the host's maxQueuedBytes" },
  { name: "json", type: "string", description: "write every run's results here" },
  { name: "help", type: "boolean", description: "show this help" },
];

const { flags } = parseFlags(Deno.args, FLAGS);
if (flags.help) {
  console.log(helpText("Usage: deno task bench:flood [flags]", FLAGS));
  Deno.exit(0);
}
const stacks = String(flags.rtc ?? "werift").split(",");
for (const s of stacks) {
  if (!STACKS[s]) throw new UsageError(`--rtc must be among ${Object.keys(STACKS).join(", ")}`);
}
const viewers = intFlag(flags.viewers, "viewers", 100, 1, 10_000);
const seconds = intFlag(flags.seconds, "seconds", 10, 1, 3600);
const size = intFlag(flags.size, "size", 1024, 48, 1 << 20);
const runs = intFlag(flags.runs, "runs", 1, 1, 100);
const maxQueuedBytes = flags["max-queued-bytes"] === undefined
  ? undefined
  : intFlag(flags["max-queued-bytes"], "max-queued-bytes", 0, 1 << 16);
await setupLogging("json", "error");

const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const rows: Array<Record<string, unknown>> = [];
const results: Array<{ rtc: string; result: FloodResult; drops: Record<string, number> }> = [];
for (let run = 0; run < runs; run++) {
  for (const rtc of stacks) {
    await using load = new LoadRun({
      viewers,
      processes: intFlag(flags.processes, "processes", 4, 1, 64),
      serverProcess: true,
      host: { rtc: STACKS[rtc](), maxQueuedBytes },
    });
    await load.start();
    load.join();
    if (!(await load.waitReady(120_000))) throw new Error("not every viewer got ready");
    await new Promise((r) => setTimeout(r, 1_000)); // let the handshakes' tail settle
    const result = await load.flood(seconds, size);
    const m = load.host.metrics();
    const drops = Object.fromEntries(
      Object.entries(m.drops).filter(([reason]) => reason !== "shutdown"),
    );
    const dropped = Object.values(drops).reduce((a, b) => a + b, 0);
    results.push({ rtc, result, drops });
    rows.push({
      rtc,
      run: run + 1,
      "msgs/s": result.deliveredPerSecond,
      "MiB/s": mib(result.deliveredBytesPerSecond),
      "sent/s": result.rate,
      "p50/p99 ms": `${result.latencyMs.p50}/${result.latencyMs.p99}`,
      "host cpu": `${result.hostCpuPercent}%`,
      "peak rss MiB": mib(result.peakHostRss),
      dropped: dropped ? `${dropped} ${JSON.stringify(drops)}` : 0,
      complete: `${result.complete}/${viewers}`,
      congested: `${Math.round(m.broadcast.congestedMs / 100) / 10} s`,
      rejected: m.broadcast.rejected,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
}
console.table(rows);
if (typeof flags.json === "string") {
  await Deno.writeTextFile(flags.json, JSON.stringify(results, null, 2) + "\n");
}
