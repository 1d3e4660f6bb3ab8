/**
 * Flood benchmark: a source writing stamped messages into `host.writable` as fast as it
 * takes them, for 10 s, to 100 viewers in separate processes (the signaling server in a
 * process of its own, so that host CPU and RSS are the host's alone). Prints delivered
 * messages/s and bytes/s (all viewers together), latency p50/p99, host CPU, peak host RSS,
 * and viewers dropped (goal 0), for each RTC stack asked for, alternating run by run.
 *
 *   deno task bench:flood [--rtc libdatachannel,werift] [--viewers 100] [--seconds 10] [--size 1024]
 *     [--runs 1] [--max-queued-bytes N] [--json FILE]
 *
 * @module
 */
import { rtcAdapter, type RtcStack } from "../cli/common.ts";
import { flagTable, HELP_FLAG, helpText, parseFlags } from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import { type FloodResult, LOAD_FLAGS, LoadRun } from "../cli/loadrun.ts";

const FLAGS = flagTable({
  rtc: {
    type: "string",
    help: "host RTC stacks, comma-separated (libdatachannel, werift)",
    default: "libdatachannel,werift",
  },
  "viewer-rtc": {
    type: "string",
    help: "the viewers' RTC stack, the same for every host stack",
    default: "libdatachannel",
  },
  viewers: LOAD_FLAGS.viewers,
  processes: LOAD_FLAGS.processes,
  seconds: { type: "int", help: "seconds of flood", default: 10, min: 1, max: 3600 },
  size: LOAD_FLAGS.size,
  runs: { type: "int", help: "runs of each stack, alternating", default: 1, min: 1, max: 100 },
  "max-queued-bytes": { type: "int", help: "the host's maxQueuedBytes", min: 1 << 16 },
  json: { type: "string", help: "write every run's results here" },
  ...HELP_FLAG,
});

const { values: flags } = parseFlags(Deno.args, FLAGS);
if (flags.help) {
  console.log(helpText("Usage: deno task bench:flood [flags]", FLAGS));
  Deno.exit(0);
}
const stacks = flags.rtc.split(",");
// A clear error for an unknown stack, up front.
for (const s of [...stacks, flags["viewer-rtc"]]) await rtcAdapter(s);
const { viewers, seconds, size, runs } = flags;
const maxQueuedBytes = flags["max-queued-bytes"];
await setupLogging("json", "error");

const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const rows: Array<Record<string, unknown>> = [];
const results: Array<{ rtc: string; result: FloodResult; drops: Record<string, number> }> = [];
for (let run = 0; run < runs; run++) {
  for (const rtc of stacks) {
    await using load = new LoadRun({
      viewers,
      processes: flags.processes,
      serverProcess: true,
      rtc: rtc as RtcStack,
      viewerRtc: flags["viewer-rtc"] as RtcStack,
      host: { maxQueuedBytes },
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
