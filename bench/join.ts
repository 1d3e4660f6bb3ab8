/**
 * Join benchmark: N viewers (`--rtc` werift or libdatachannel) in P processes join one host at once (a stampede),
 * R times, for each handshake cap given. Prints time until all are ready (from the first
 * `peer-joined` seen by the host and from the viewers' join calls) and failures.
 *
 *   deno run -A bench/join.ts --viewers 100 --runs 5 --caps 16:32,32:64,1000:1000
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
    runs: { type: "int", help: "runs per cap", default: 3, min: 1 },
    caps: { type: "string", help: "start:ceiling,… handshake caps", default: "16:32" },
    json: LOAD_FLAGS.json,
    rtc: LOAD_FLAGS.rtc,
  }),
);
const { viewers, processes, runs } = flags;
const caps = flags.caps.split(",").map((c) => c.split(":").map((n) => intValue(n, "caps", 1)));
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
      rtc: flags.rtc as RtcStack,
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
if (flags.json !== undefined) {
  await Deno.writeTextFile(flags.json, JSON.stringify(results, null, 2));
}
