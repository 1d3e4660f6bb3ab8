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
import { RTC_FLAG, rtcStack } from "../cli/common.ts";
import { type FlagSpec, helpText, intFlag, parseFlags, UsageError } from "../cli/flags.ts";
import { setupLogging } from "../cli/logging.ts";
import { type BroadcastResult, LoadRun } from "../cli/loadrun.ts";
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
export const BENCH_FLAGS: FlagSpec[] = [
  { name: "pattern", type: "string", description: "stampede, ramp or churn", default: "stampede" },
  { name: "viewers", type: "string", description: "viewers", default: "100" },
  {
    name: "processes",
    type: "string",
    description: "worker processes for the viewers",
    default: "4",
  },
  { name: "runs", type: "string", description: "repetitions", default: "1" },
  { name: "ramp", type: "string", description: "viewers joining per second (ramp)", default: "20" },
  {
    name: "churn",
    type: "string",
    description: "leaves or joins per second (churn)",
    default: "5",
  },
  { name: "duration", type: "string", description: "seconds of broadcast", default: "10" },
  { name: "rate", type: "string", description: "messages per second", default: "50" },
  { name: "size", type: "string", description: "bytes per message", default: "1024" },
  { name: "cap", type: "string", description: "handshakes in flight at first", default: "32" },
  { name: "ceiling", type: "string", description: "most handshakes in flight", default: "64" },
  { name: "answer-timeout", type: "string", description: "answer timeout, ms", default: "10000" },
  { name: "json", type: "string", description: "write every run's results to this file" },
  {
    name: "server-process",
    type: "boolean",
    description: "run the signaling server in its own process (host figures without it)",
  },
  {
    name: "compare",
    type: "boolean",
    description:
      "run the stampede and broadcast for libdatachannel, werift and raw werift, each in a process of its own, alternating, and compare",
  },
  {
    name: "compare-raw",
    type: "boolean",
    description: "also run a raw-werift baseline (stampede) and compare",
  },
  {
    name: "raw-naive",
    type: "boolean",
    description:
      "the raw baseline keeps werift's default STUN fallback (stalls on a closed network)",
  },
  {
    name: "raw-cap",
    type: "string",
    description: "the raw baseline's handshakes in flight (default: no cap)",
  },
  RTC_FLAG,
  {
    name: "viewer-rtc",
    type: "string",
    description: "the viewers' WebRTC stack (default: --rtc's)",
  },
  { name: "help", type: "boolean", description: "show this help" },
];

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

async function _one(
  flags: Record<string, string | boolean | undefined>,
  seed: number,
): Promise<BenchRun> {
  const pattern = String(flags.pattern ?? "stampede");
  const viewers = intFlag(flags.viewers, "viewers", 100, 1, 10_000);
  const duration = intFlag(flags.duration, "duration", 10, 1, 3600);
  await using run = new LoadRun({
    viewers,
    processes: intFlag(flags.processes, "processes", 4, 1, 64),
    host: {
      maxConcurrentHandshakes: intFlag(flags.cap, "cap", 32, 1, 10_000),
      maxConcurrentHandshakesCeiling: intFlag(flags.ceiling, "ceiling", 64, 1, 10_000),
      timeouts: { answerMs: intFlag(flags["answer-timeout"], "answer-timeout", 10_000, 100) },
    },
    serverProcess: !!flags["server-process"],
    rtc: rtcStack(flags.rtc),
    viewerRtc: flags["viewer-rtc"] === undefined ? undefined : rtcStack(flags["viewer-rtc"]),
  });
  await run.start();
  if (pattern === "ramp") await run.ramp(intFlag(flags.ramp, "ramp", 20, 1, 10_000));
  else run.join();
  await run.waitReady(120_000);
  const wallAllReadyMs = Math.round(performance.now() - run.joinStarted);
  const allReadyMs = run.hostAllReadyMs;
  const joined = run.host.metrics();
  const times = run.progressTimes();
  const rate = intFlag(flags.rate, "rate", 50, 1, 100_000);
  const size = intFlag(flags.size, "size", 1024, 48, 1 << 20);
  let churn: BenchRun["churn"];
  let broadcast: BroadcastResult;
  if (pattern === "churn") {
    let x = seed;
    const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const perSecond = intFlag(flags.churn, "churn", 5, 1, 1000);
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
function _raw(flags: Record<string, string | boolean | undefined>): Promise<RawRunResult> {
  const args = ["viewers", "processes", "rate", "duration", "size"]
    .flatMap((name) => typeof flags[name] === "string" ? [`--${name}`, String(flags[name])] : []);
  if (typeof flags["raw-cap"] === "string") {
    args.push("--cap", String(intFlag(flags["raw-cap"], "raw-cap", 16, 1, 10_000)));
  }
  if (flags["server-process"]) args.push("--server-process");
  if (flags["raw-naive"]) args.push("--naive");
  return rawRunInProcess(args);
}

const BENCH_MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** One stampede and broadcast of `shoal bench` with `stack` for host and viewers, in a
 * process of its own (so that its RSS and CPU are its own). */
async function _stackRun(
  flags: Record<string, string | boolean | undefined>,
  stack: "libdatachannel" | "werift",
): Promise<BenchRun> {
  const args = ["viewers", "processes", "rate", "duration", "size", "cap", "ceiling"]
    .concat(["answer-timeout"])
    .flatMap((name) => typeof flags[name] === "string" ? [`--${name}`, String(flags[name])] : []);
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
async function _compare(flags: Record<string, string | boolean | undefined>): Promise<number> {
  const n = intFlag(flags.runs, "runs", 1, 1, 100);
  const order = ["libdatachannel", "werift", "raw"] as const;
  const runs: Record<string, StackFigures[]> = { libdatachannel: [], werift: [], raw: [] };
  for (let i = 0; i < n; i++) {
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
  console.log(`${n === 1 ? "one run" : `medians of ${n} runs`} per stack, stampede:`);
  console.table(stackRows(stacks));
  if (typeof flags.json === "string") {
    await Deno.writeTextFile(flags.json, JSON.stringify({ stacks, runs }, null, 2) + "\n");
  }
  return 0;
}

/** Runs `shoal bench`; resolves with the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, BENCH_FLAGS);
  if (flags.help) {
    console.log(
      helpText(
        "Usage: shoal bench [flags]\n\nJoin patterns and broadcast under load.",
        BENCH_FLAGS,
      ),
    );
    return 0;
  }
  if (!["stampede", "ramp", "churn"].includes(String(flags.pattern ?? "stampede"))) {
    throw new UsageError("--pattern must be stampede, ramp or churn");
  }
  if ((flags["compare-raw"] || flags.compare) && Deno.build.standalone) {
    throw new UsageError("--compare and --compare-raw run from the sources only (deno task bench)");
  }
  await setupLogging("json", "error");
  if (flags.compare) return await _compare(flags);
  const runs: BenchRun[] = [];
  const n = intFlag(flags.runs, "runs", 1, 1, 100);
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
  if (typeof flags.json === "string") {
    await Deno.writeTextFile(flags.json, JSON.stringify(runs, null, 2) + "\n");
  }
  return 0;
}
