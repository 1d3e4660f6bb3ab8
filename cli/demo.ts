/**
 * `shoal demo`: an embedded signaling server, a host and 100 viewers (libdatachannel, or
 * werift with `--rtc werift`) over a few processes on this machine. Shows viewers by state
 * while they connect, broadcasts for a few seconds, then prints a summary. Exits 0 only when
 * every viewer was ready and every message delivered.
 *
 * @module
 */
import type { RtcStack } from "./common.ts";
import { flagTable, HELP_FLAG, helpText, parseFlags } from "./flags.ts";
import { setupLogging } from "./logging.ts";
import { type BroadcastResult, LOAD_FLAGS, LoadRun } from "./loadrun.ts";
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";

/** Flags of `shoal demo`. */
export const DEMO_FLAGS = flagTable({
  ...LOAD_FLAGS,
  duration: { ...LOAD_FLAGS.duration, default: 5 },
  ...HELP_FLAG,
});

/** Everything `demo` measured (what `--json` writes). */
export interface DemoResult {
  /** Viewers asked for. */
  viewers: number;
  /** Ready on the host at the end of joining. */
  ready: number;
  /** Viewers that never got ready. */
  failed: number;
  /** Time from the start of joining to each viewer's ready, ms. */
  timeToReadyMs: { p50: number; p95: number; max: number };
  /** From the first join the host saw until all were ready, ms. */
  allReadyMs: number;
  /** Handshakes by outcome. */
  handshakes: Record<string, number>;
  /** Signaling messages relayed per viewer, join to ready and after ready. */
  signalingPerViewer: { toReady: number; afterReady: number };
  /** The broadcast phase. */
  broadcast: BroadcastResult;
  /** Host RSS idle and at the end, bytes. */
  hostRss: { idle: number; end: number; perViewer: number };
}

const enc = new TextEncoder();
const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));

function _bar(m: HostMetricsSnapshot, total: number): string {
  const width = 40;
  const s = m.states;
  const cells = (n: number) => Math.round((n / Math.max(1, total)) * width);
  const r = cells(s.ready);
  const o = Math.min(width - r, cells(s.open + s.negotiating));
  const bar = "█".repeat(r) + "▒".repeat(o) + "·".repeat(width - r - o);
  return `[${bar}] ready ${s.ready}/${total}  negotiating ${
    s.negotiating + s.open
  }  queued ${s.queued}  closed ${s.closed}`;
}

function _pct(sorted: number[], p: number): number {
  return sorted.length
    ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))])
    : NaN;
}

/** Runs the demo; resolves with the exit code. */
export async function demoCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, DEMO_FLAGS);
  if (flags.help) {
    console.log(
      helpText("Usage: shoal demo [flags]\n\nOne host, many viewers, on this machine.", DEMO_FLAGS),
    );
    return 0;
  }
  const { viewers, processes, duration, rate, size } = flags;
  await setupLogging("json", "error");
  await using run = new LoadRun({
    viewers,
    processes,
    serverProcess: flags["server-process"],
    rtc: flags.rtc as RtcStack,
  });
  await run.start();
  write(`shoal demo: ${viewers} viewers in ${processes} processes joining one host at once\n`);
  run.join();
  const tty = Deno.stderr.isTerminal();
  let lastLine = "";
  const allReady = await run.waitReady(120_000, (m) => {
    const line = _bar(m, viewers);
    if (line === lastLine) return;
    lastLine = line;
    write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  });
  const allReadyMs = run.hostAllReadyMs;
  if (tty) write("\n");
  const joined = run.host.metrics();
  const relayedAtReady = await run.relayed();
  write(`broadcasting ${rate} msg/s of ${size} bytes for ${duration} s…\n`);
  const broadcast = await run.broadcast(rate, duration, size);
  const end = run.host.metrics();
  const times = [...run.progressTimes()].sort((a, b) => a - b);
  const result: DemoResult = {
    viewers,
    ready: joined.states.ready,
    failed: viewers - joined.states.ready,
    timeToReadyMs: { p50: _pct(times, 0.5), p95: _pct(times, 0.95), max: _pct(times, 1) },
    allReadyMs,
    handshakes: end.outcomes,
    signalingPerViewer: {
      toReady: Math.round((relayedAtReady / viewers) * 10) / 10,
      afterReady: Math.round((((await run.relayed()) - relayedAtReady) / viewers) * 10) / 10,
    },
    broadcast,
    hostRss: {
      idle: run.idleRss,
      end: broadcast.hostRss,
      perViewer: Math.round((broadcast.hostRss - run.idleRss) / Math.max(1, joined.states.ready)),
    },
  };
  write(_table(result));
  if (flags.json !== undefined) {
    await Deno.writeTextFile(flags.json, JSON.stringify(result, null, 2) + "\n");
  }
  const ok = allReady && result.failed === 0 && broadcast.deliveryRatio === 1 &&
    broadcast.complete === viewers;
  write(ok ? "result: PASS, every viewer ready and every message delivered\n" : "result: FAIL\n");
  return ok ? 0 : 1;
}

function _table(r: DemoResult): string {
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  const rows: Array<[string, string]> = [
    ["viewers ready / failed", `${r.ready} / ${r.failed}`],
    [
      "time to ready p50 / p95 / max",
      `${r.timeToReadyMs.p50} / ${r.timeToReadyMs.p95} / ${r.timeToReadyMs.max} ms`,
    ],
    ["all ready after", `${r.allReadyMs} ms`],
    ["handshakes by outcome", Object.entries(r.handshakes).map(([k, v]) => `${k} ${v}`).join(", ")],
    [
      "signaling msgs per viewer",
      `${r.signalingPerViewer.toReady} to ready, ${r.signalingPerViewer.afterReady} after`,
    ],
    ["broadcast", `${r.broadcast.sent} msgs × ${r.broadcast.size} B at ${r.broadcast.rate}/s`],
    [
      "delivered",
      `${
        (r.broadcast.deliveryRatio * 100).toFixed(2)
      }% (${r.broadcast.complete}/${r.viewers} viewers complete, in order)`,
    ],
    ["one-way latency p50 / p99", `${r.broadcast.latencyMs.p50} / ${r.broadcast.latencyMs.p99} ms`],
    ["host CPU while broadcasting", `${r.broadcast.hostCpuPercent}% of one core`],
    [
      "host RSS idle / end / per viewer",
      `${mb(r.hostRss.idle)} / ${mb(r.hostRss.end)} / ${
        (r.hostRss.perViewer / 1024).toFixed(0)
      } KiB`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return "\n" + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n") + "\n\n";
}
