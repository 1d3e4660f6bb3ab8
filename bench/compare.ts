/**
 * The side-by-side table of `shoal bench --compare-raw`: shoal's figures, the raw-werift
 * baseline's, and their ratio.
 *
 * @module
 */
import type { BroadcastResult } from "../cli/swarm_proc.ts";
import type { RawRunResult } from "./raw_run.ts";

/** What the comparison needs of one shoal run. */
export interface ShoalFigures {
  /** Viewers asked for. */
  viewers: number;
  /** From the host's first join to its latest ready, ms. */
  allReadyMs: number;
  /** Handshakes by outcome. */
  outcomes: Record<string, number>;
  /** Viewers that did not get ready. */
  failed: number;
  /** Host RSS before any viewer joined, bytes. */
  idleRss: number;
  /** The broadcast phase. */
  broadcast: BroadcastResult;
}

/** One row of the comparison. */
export interface CompareRow {
  /** What is compared. */
  figure: string;
  /** shoal's value. */
  shoal: number | string;
  /** The raw baseline's value, or "n/a". */
  raw: number | string;
  /** shoal / raw, or "n/a". */
  "shoal/raw": string;
}

const MiB = 1048576;
const round1 = (x: number) => Math.round(x * 10) / 10;

function _figures(
  viewers: number,
  allReadyMs: number,
  failedHandshakes: number,
  notReady: number,
  idleRss: number,
  b: BroadcastResult,
): number[] {
  return [
    allReadyMs,
    failedHandshakes,
    notReady,
    round1(b.deliveryRatio * 100),
    b.latencyMs.p50,
    b.latencyMs.p99,
    b.hostCpuPercent,
    b.viewersCpuPercent,
    round1(b.hostRss / MiB),
    round1((b.hostRss - idleRss) / 1024 / viewers),
  ];
}

const NAMES = [
  "all ready, ms",
  "failed handshakes",
  "viewers not ready",
  "delivery, %",
  "latency p50, ms",
  "latency p99, ms",
  "host CPU, %",
  "viewers' CPU, %",
  "host RSS, MiB",
  "RSS per viewer, KiB",
];

const _ratio = (x: number) => x !== 0 && Math.abs(x) < 0.1 ? x.toPrecision(2) : x.toFixed(2);

/** The comparison rows of one run; `raw` undefined gives "n/a". */
export function compareRows(shoal: ShoalFigures, raw?: RawRunResult): CompareRow[] {
  const failedHandshakes = Object.entries(shoal.outcomes)
    .filter(([outcome]) => outcome !== "ready")
    .reduce((n, [, k]) => n + k, 0);
  const s = _figures(
    shoal.viewers,
    shoal.allReadyMs,
    failedHandshakes,
    shoal.failed,
    shoal.idleRss,
    shoal.broadcast,
  );
  const r = raw
    ? _figures(raw.viewers, raw.allReadyMs, raw.failed, raw.notReady, raw.idleRss, raw.broadcast)
    : undefined;
  return NAMES.map((figure, i) => ({
    figure,
    shoal: s[i],
    raw: r ? r[i] : "n/a",
    "shoal/raw": !r ? "n/a" : r[i] === 0 ? (s[i] === 0 ? "=" : "∞") : _ratio(s[i] / r[i]),
  }));
}

/** One stack's figures in `shoal bench --compare --json`. */
export interface StackFigures {
  /** Viewers asked for. */
  viewers: number;
  /** From the host's first join to its latest ready, ms. */
  allReadyMs: number;
  /** Handshakes that did not end ready. */
  failed: number;
  /** Viewers that did not get ready. */
  notReady: number;
  /** Host RSS at the end of the broadcast, bytes. */
  hostRss: number;
  /** Host RSS before any viewer joined, bytes. */
  idleRss: number;
  /** The broadcast phase. */
  broadcast: {
    deliveryRatio: number;
    latencyMs: { p50: number; p99: number };
    /** Every thread of the host process (getrusage: native threads too), % of one core. */
    hostCpuPercent: number;
    viewersCpuPercent: number;
  };
}

/** A shoal run's figures as {@linkcode StackFigures}. */
export function shoalStack(run: ShoalFigures): StackFigures {
  const failed = Object.entries(run.outcomes)
    .filter(([outcome]) => outcome !== "ready")
    .reduce((n, [, k]) => n + k, 0);
  return _stack(run.viewers, run.allReadyMs, failed, run.failed, run.idleRss, run.broadcast);
}

/** The raw baseline's figures as {@linkcode StackFigures}. */
export function rawStack(run: RawRunResult): StackFigures {
  return _stack(run.viewers, run.allReadyMs, run.failed, run.notReady, run.idleRss, run.broadcast);
}

function _stack(
  viewers: number,
  allReadyMs: number,
  failed: number,
  notReady: number,
  idleRss: number,
  b: BroadcastResult,
): StackFigures {
  return {
    viewers,
    allReadyMs,
    failed,
    notReady,
    hostRss: b.hostRss,
    idleRss,
    broadcast: {
      deliveryRatio: b.deliveryRatio,
      latencyMs: { p50: b.latencyMs.p50, p99: b.latencyMs.p99 },
      hostCpuPercent: b.hostCpuPercent,
      viewersCpuPercent: b.viewersCpuPercent,
    },
  };
}

/** Each figure's median over runs (runs of one stack). */
export function medianStack(runs: StackFigures[]): StackFigures {
  const m = (f: (s: StackFigures) => number) => {
    const xs = runs.map(f).sort((a, b) => a - b);
    return xs.length % 2 ? xs[xs.length >> 1] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  };
  return {
    viewers: m((s) => s.viewers),
    allReadyMs: m((s) => s.allReadyMs),
    failed: m((s) => s.failed),
    notReady: m((s) => s.notReady),
    hostRss: m((s) => s.hostRss),
    idleRss: m((s) => s.idleRss),
    broadcast: {
      deliveryRatio: m((s) => s.broadcast.deliveryRatio),
      latencyMs: {
        p50: m((s) => s.broadcast.latencyMs.p50),
        p99: m((s) => s.broadcast.latencyMs.p99),
      },
      hostCpuPercent: m((s) => s.broadcast.hostCpuPercent),
      viewersCpuPercent: m((s) => s.broadcast.viewersCpuPercent),
    },
  };
}

/** The side-by-side rows of `--compare`: each stack's figures and libdatachannel's ratio to
 * the others. */
export function stackRows(stacks: Record<string, StackFigures>): Record<string, string | number>[] {
  const names = Object.keys(stacks);
  const columns = names.map((name) => {
    const s = stacks[name];
    return _figures(s.viewers, s.allReadyMs, s.failed, s.notReady, s.idleRss, {
      ...s.broadcast,
      latencyMs: { ...s.broadcast.latencyMs, max: NaN },
      hostRss: s.hostRss,
    } as BroadcastResult);
  });
  const base = names.indexOf("libdatachannel");
  return NAMES.map((figure, i) => {
    const row: Record<string, string | number> = { figure };
    names.forEach((name, k) => row[name] = columns[k][i]);
    if (base >= 0) {
      names.forEach((name, k) => {
        if (k === base) return;
        const [a, b] = [columns[base][i], columns[k][i]];
        row[`libdatachannel/${name}`] = b === 0 ? (a === 0 ? "=" : "∞") : _ratio(a / b);
      });
    }
    return row;
  });
}
