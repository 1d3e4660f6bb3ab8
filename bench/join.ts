/**
 * Join benchmark: N viewers (`--rtc` werift or libdatachannel) in P processes join one host at once (a stampede),
 * R times, for each handshake cap given. Prints time until all are ready (from the first
 * `peer-joined` seen by the host and from the viewers' join calls) and failures.
 *
 *   deno run -A bench/join.ts --viewers 100 --runs 5 --caps 16:32,32:64,1000:1000
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
  { name: "runs", type: "string", description: "runs per cap", default: "3" },
  { name: "caps", type: "string", description: "start:ceiling,… handshake caps", default: "16:32" },
  { name: "json", type: "string", description: "write results here" },
  RTC_FLAG,
]);
const viewers = Number(flags.viewers ?? 100);
const processes = Number(flags.processes ?? 4);
const runs = Number(flags.runs ?? 3);
const caps = String(flags.caps ?? "16:32").split(",").map((c) => c.split(":").map(Number));
await setupLogging("json", "error");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (const [start, ceiling] of caps) {
  const all: number[] = [];
  const hostSide: number[] = [];
  let failures = 0;
  for (let r = 0; r < runs; r++) {
    await using run = new LoadRun({
      viewers,
      processes,
      host: { maxConcurrentHandshakes: start, maxConcurrentHandshakesCeiling: ceiling ?? start },
      rtc: rtcStack(flags.rtc),
    });
    await run.start();
    run.join();
    const ok = await run.waitReady(60_000);
    const m = run.host.metrics();
    const times = run.progressTimes();
    all.push(Math.max(...times));
    hostSide.push(m.timeToReadyMs.max);
    failures += (m.outcomes.failed ?? 0) + (m.outcomes.timeout ?? 0) + (ok ? 0 : 1);
    console.log(
      `cap ${start}:${ceiling} run ${r + 1}: all ready ${Math.max(...times)} ms (viewer side), ` +
        `${Math.round(m.timeToReadyMs.max)} ms host side (p50 ${
          Math.round(m.timeToReadyMs.p50)
        }), ` +
        `outcomes ${JSON.stringify(m.outcomes)}, final cap ${m.handshakes.concurrency}`,
    );
  }
  results.push({
    cap: `${start}:${ceiling}`,
    viewers,
    runs,
    medianAllReadyMs: median(all),
    medianHostMaxMs: Math.round(median(hostSide)),
    min: Math.min(...all),
    max: Math.max(...all),
    failures,
  });
}
console.table(results);
if (typeof flags.json === "string") {
  await Deno.writeTextFile(flags.json, JSON.stringify(results, null, 2));
}
