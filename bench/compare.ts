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
