/**
 * `deno task bench`: one host, many viewers (`--rtc`, `--viewer-rtc`) in worker processes, a
 * join pattern and a broadcast phase; prints a table and writes JSON.
 *
 *   deno task bench --pattern stampede --viewers 100 --runs 3
 *   deno task bench --pattern ramp --ramp 20
 *   deno task bench --pattern churn --churn 5 --duration 10
 *   deno task bench --compare-raw --raw-cap 16   # and a raw-werift baseline, side by side
 *   deno task bench --compare --runs 3           # libdatachannel, werift, raw werift
 *
 * @module
 */
import {
  flagTable,
  type FlagValues,
  HELP_FLAG,
  helpText,
  parseFlags,
  UsageError,
} from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import { type BroadcastResult, LOAD_FLAGS, LoadRun } from "../cli/loadrun.ts";
import type { RtcStack } from "../cli/common.ts";
import { HOST_V8_FLAGS } from "../cli/compile.ts";
import {
  compareRows,
  medianStack,
  rawStack,
  shoalStack,
  type StackFigures,
  stackRows,
} from "./compare.ts";
import { rawRunInProcess, type RawRunResult } from "./raw_run.ts";

/** Flags of `shoal bench`. */
export const BENCH_FLAGS = flagTable({
  pattern: {
    type: "choice",
    help: "join pattern",
    choices: ["stampede", "ramp", "churn"],
    default: "stampede",
  },
  ...LOAD_FLAGS,
  json: { type: "string", help: "write every run's results to this file" },
  runs: { type: "int", help: "repetitions", default: 1, min: 1, max: 100 },
  ramp: {
    type: "int",
    help: "viewers joining per second (ramp)",
    default: 20,
    min: 1,
    max: 10_000,
  },
  churn: { type: "int", help: "leaves or joins per second (churn)", default: 5, min: 1, max: 1000 },
  cap: { type: "int", help: "handshakes in flight at first", default: 32, min: 1, max: 10_000 },
  ceiling: { type: "int", help: "most handshakes in flight", default: 64, min: 1, max: 10_000 },
  "answer-timeout": { type: "int", help: "answer timeout, ms", default: 10_000, min: 100 },
  "viewer-rtc": {
    type: "choice",
    choices: ["libdatachannel", "werift"],
    help: "the viewers' WebRTC stack (default: --rtc's)",
  },
  compare: {
    type: "boolean",
    help: "the stampede and broadcast for libdatachannel, werift and raw werift, each in a " +
      "process of its own, alternating, side by side",
  },
  "compare-raw": {
    type: "boolean",
    help: "also run a raw-werift baseline (stampede) and compare",
  },
  "raw-naive": {
    type: "boolean",
    help: "the raw baseline keeps werift's default STUN fallback (stalls on a closed network)",
  },
  "raw-cap": {
    type: "int",
    help: "the raw baseline's handshakes in flight (default: no cap)",
    min: 1,
    max: 10_000,
  },
  ...HELP_FLAG,
});

type _BenchFlags = FlagValues<typeof BENCH_FLAGS>;

/** One run's figures. */
export interface BenchRun {
  /** The join pattern. */
  pattern: string;
  /** Viewers asked for. */
  viewers: number;
  /** From the first join the host saw to its last ready, ms. */
  allReadyMs: number;
  /** From starting the viewer processes to all ready, ms (includes process start-up). */
  wallAllReadyMs: number;
  /** Viewer-side time from join to ready, ms. */
  timeToReadyMs: { p50: number; p95: number; max: number };
  /** Handshakes by outcome. */
  outcomes: Record<string, number>;
  /** Viewers that did not get ready. */
  failed: number;
  /** The broadcast phase. */
  broadcast: BroadcastResult;
  /** Leaves and joins during churn. */
  churn?: { left: number; joined: number };
  /** Host RSS before any viewer joined, bytes. */
  idleRss: number;
  /** The raw-werift baseline (`--compare-raw`, stampede only). */
  raw?: RawRunResult;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]) : NaN;
};

async function _one(flags: _BenchFlags, seed: number): Promise<BenchRun> {
  const { pattern, viewers, duration, rate, size } = flags;
  await using run = new LoadRun({
    viewers,
    processes: flags.processes,
    host: {
      maxConcurrentHandshakes: flags.cap,
      maxConcurrentHandshakesCeiling: flags.ceiling,
      timeouts: { answerMs: flags["answer-timeout"] },
    },
    serverProcess: flags["server-process"],
    rtc: flags.rtc as RtcStack,
    viewerRtc: flags["viewer-rtc"] as RtcStack | undefined,
  });
  await run.start();
  if (pattern === "ramp") await run.ramp(flags.ramp);
  else run.join();
  await run.waitReady(120_000);
  const wallAllReadyMs = Math.round(performance.now() - run.joinStarted);
  const allReadyMs = run.hostAllReadyMs;
  const joined = run.host.metrics();
  const times = run.progressTimes();
  let churn: BenchRun["churn"];
  let broadcast: BroadcastResult;
  if (pattern === "churn") {
    let x = seed;
    const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const perSecond = flags.churn;
    [broadcast, churn] = await Promise.all([
      run.broadcast(rate, duration, size),
      run.churn(duration, perSecond, random),
    ]);
  } else {
    broadcast = await run.broadcast(rate, duration, size);
  }
  return {
    pattern,
    viewers,
    allReadyMs,
    wallAllReadyMs,
    timeToReadyMs: { p50: pct(times, 0.5), p95: pct(times, 0.95), max: pct(times, 1) },
    outcomes: joined.outcomes,
    failed: viewers - joined.states.ready,
    broadcast,
    churn,
    idleRss: run.idleRss,
  };
}

/** The raw baseline with the same viewers, processes and broadcast as `flags` asks for. */
function _raw(flags: _BenchFlags): Promise<RawRunResult> {
  const args = (["viewers", "processes", "rate", "duration", "size"] as const)
    .flatMap((name) => [`--${name}`, String(flags[name])]);
  if (flags["raw-cap"] !== undefined) args.push("--cap", String(flags["raw-cap"]));
  if (flags["server-process"]) args.push("--server-process");
  if (flags["raw-naive"]) args.push("--naive");
  return rawRunInProcess(args);
}

const BENCH_MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** One stampede and broadcast of `shoal bench` with `stack` for host and viewers, in a
 * process of its own (so that its RSS and CPU are its own). */
async function _stackRun(flags: _BenchFlags, stack: RtcStack): Promise<BenchRun> {
  const names = ["viewers", "processes", "rate", "duration", "size", "cap", "ceiling"] as const;
  const args = names.flatMap((name) => [`--${name}`, String(flags[name])]);
  args.push("--answer-timeout", String(flags["answer-timeout"]));
  if (flags["server-process"]) args.push("--server-process");
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", HOST_V8_FLAGS, "-A", BENCH_MAIN, "bench", ...args, "--rtc", stack],
    stdout: "null",
    stderr: "piped",
  }).output();
  // A run prints its figures as one JSON line on stderr.
  const line = new TextDecoder().decode(stderr).trim().split("\n").findLast((l) => l[0] === "{");
  if (code !== 0 || !line) throw new Error(`the ${stack} run exited with ${code}`);
  return JSON.parse(line);
}

/** `--compare`: each stack `runs` times, alternating; prints medians and ratios. */
async function _compare(flags: _BenchFlags): Promise<number> {
  const order = ["libdatachannel", "werift", "raw"] as const;
  const runs: Record<string, StackFigures[]> = { libdatachannel: [], werift: [], raw: [] };
  for (let i = 0; i < flags.runs; i++) {
    // Alternate who goes first, so that a noisy neighbour does not always hit the same one.
    const turn = [...order.slice(i % 3), ...order.slice(0, i % 3)];
    for (const stack of turn) {
      try {
        const figures = stack === "raw" ? rawStack(await _raw(flags)) : shoalStack(
          await _stackRun(flags, stack),
        );
        runs[stack].push(figures);
        console.error(JSON.stringify({ run: i + 1, stack, ...figures }));
      } catch (error) {
        // One stack crashing (raw werift does, under load) leaves the others' figures.
        console.error(JSON.stringify({ run: i + 1, stack, error: String(error) }));
      }
    }
  }
  const stacks = Object.fromEntries(
    order.filter((s) => runs[s].length > 0).map((s) => [s, medianStack(runs[s])]),
  );
  console.log(`${flags.runs === 1 ? "one run" : `medians of ${flags.runs} runs`} per stack:`);
  console.table(stackRows(stacks));
  if (flags.json !== undefined) {
    await Deno.writeTextFile(flags.json, JSON.stringify({ stacks, runs }, null, 2) + "\n");
  }
  return 0;
}

/** Runs `shoal bench`; resolves with the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, BENCH_FLAGS);
  if (flags.help) {
    console.log(
      helpText(
        "Usage: shoal bench [flags]\n\nJoin patterns and broadcast under load.",
        BENCH_FLAGS,
      ),
    );
    return 0;
  }
  if ((flags["compare-raw"] || flags.compare) && Deno.build.standalone) {
    throw new UsageError("--compare and --compare-raw run from the sources only (deno task bench)");
  }
  await setupLogging("json", "error");
  if (flags.compare) return await _compare(flags);
  const runs: BenchRun[] = [];
  const n = flags.runs;
  for (let i = 0; i < n; i++) {
    const r = await _one(flags, 42 + i);
    if (flags["compare-raw"] && r.pattern === "stampede") r.raw = await _raw(flags);
    runs.push(r);
    console.error(JSON.stringify(r));
  }
  console.table(runs.map((r) => ({
    pattern: r.pattern,
    viewers: r.viewers,
    "all ready ms": r.allReadyMs,
    "ready p50/p95": `${r.timeToReadyMs.p50}/${r.timeToReadyMs.p95}`,
    failed: r.failed,
    outcomes: JSON.stringify(r.outcomes),
    delivered: `${(r.broadcast.deliveryRatio * 100).toFixed(1)}%`,
    "survivors complete": `${r.broadcast.survivorsComplete}/${r.broadcast.survivors}`,
    "p50/p99 ms": `${r.broadcast.latencyMs.p50}/${r.broadcast.latencyMs.p99}`,
    "host cpu": `${r.broadcast.hostCpuPercent}%`,
    "viewers cpu": `${r.broadcast.viewersCpuPercent}%`,
    "rss MiB": Math.round(r.broadcast.hostRss / 1048576),
  })));
  if (flags["compare-raw"]) {
    runs.forEach((r, i) => {
      const cap = r.raw?.cap === undefined ? "no cap" : `cap ${r.raw.cap}`;
      console.log(`run ${i + 1}: shoal vs raw werift (${r.pattern}, ${r.viewers} viewers, ${cap})`);
      console.table(compareRows(r, r.raw));
    });
  }
  if (flags.json !== undefined) {
    await Deno.writeTextFile(flags.json, JSON.stringify(runs, null, 2) + "\n");
  }
  return 0;
}
