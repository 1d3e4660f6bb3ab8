/**
 * The host's counters, gauges and histograms, and the per-viewer snapshot.
 *
 * @module
 */
import { type Counter, type Histogram, Registry } from "./metrics.ts";
import type { HandshakeCounters } from "./negotiator.ts";
import type { ReplayCounters } from "./replay.ts";
import type { PeerState } from "./supervisor.ts";

/**
 * One viewer in a {@link HostMetricsSnapshot}: its state, round-trip time, what is queued
 * for it and what went each way.
 *
 * @example
 * ```ts
 * import type { PeerSnapshot } from "@shoal/shoal";
 *
 * const lagging = (p: PeerSnapshot) => p.queuedBytes + p.bufferedAmount > 1 << 20;
 * console.assert(!lagging({
 *   peerId: "p1",
 *   label: "alice",
 *   state: "ready",
 *   queuedBytes: 0,
 *   bufferedAmount: 0,
 *   bytesSent: 0,
 *   framesSent: 0,
 *   messagesReceived: 0,
 *   bytesReceived: 0,
 *   unknownControl: 0,
 * }));
 * ```
 */
export interface PeerSnapshot {
  /** The viewer. */
  peerId: string;
  /** Its label. */
  label: string;
  /** Where it stands. */
  state: PeerState;
  /** Last round-trip time over the data channel, ms. */
  rttMs?: number;
  /** Bytes queued by shoal for it. */
  queuedBytes: number;
  /** Bytes buffered in its data channel. */
  bufferedAmount: number;
  /** Bytes handed to its channel. */
  bytesSent: number;
  /** Frames handed to its channel. */
  framesSent: number;
  /** Messages it sent. */
  messagesReceived: number;
  /** Bytes it sent. */
  bytesReceived: number;
  /** Control frames of a type this version does not know that it sent (ignored). */
  unknownControl: number;
}

/**
 * What `host.metrics()` returns: viewers by state and one by one, handshakes in flight and
 * their outcomes, drops by reason, broadcast totals and time to ready.
 *
 * @example
 * ```ts
 * import { Host, type HostMetricsSnapshot } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * await using host = await Host.start({ rtc: werift(), server: server.url });
 * const m: HostMetricsSnapshot = host.metrics();
 * console.log(`${m.states.ready} ready, ${m.states.negotiating} negotiating`);
 * console.assert(m.sessionId === host.session.sessionId && m.peers.length === 0);
 * ```
 */
export interface HostMetricsSnapshot {
  /** The session. */
  sessionId: string;
  /** Viewers by state. */
  states: Record<PeerState, number>;
  /** Every known viewer. */
  peers: PeerSnapshot[];
  /** Handshakes in flight and the current cap. */
  handshakes: { inFlight: number; concurrency: number };
  /** Offers sent, answers received, stale signals dropped. */
  signaling: { offers: number; answers: number; stale: number };
  /**
   * Handshake outcomes (`ready`, `timeout`, `ice-failed` (no candidate pair worked),
   * `failed`, `aborted`, `viewer-abort`).
   */
  outcomes: Record<string, number>;
  /** Handshake outcomes by `outcome/phase`, e.g. `timeout/answer`. */
  outcomesByPhase: Record<string, number>;
  /** Viewers dropped, by reason. */
  drops: Record<string, number>;
  /**
   * Broadcast totals: messages and payload bytes; bytes out per second over the last tick;
   * the longest backlog of any viewer now (bytes) and the cap on it; whether the host is
   * congested now, its congestion episodes, time spent congested (ms), and broadcasts
   * refused for the cap.
   */
  broadcast: {
    messages: number;
    bytes: number;
    bytesOutPerSecond: number;
    queuedBytes: number;
    maxQueuedBytes: number;
    congested: boolean;
    congestions: number;
    congestedMs: number;
    rejected: number;
  };
  /** Time from join to ready, ms (p50, p95, max) over this host's life. */
  timeToReadyMs: { p50: number; p95: number; max: number; count: number };
  /**
   * Resume (docs/protocol.md): viewers that came back and got what they missed (`hits`) or
   * were told of a gap (`misses`), messages replayed, and what the buffer holds now.
   */
  replay: { hits: number; misses: number; replayed: number; held: number; heldBytes: number };
}

/** The host's metric objects. */
export interface HostMetrics extends HandshakeCounters, ReplayCounters {
  /** Everything, to render as Prometheus text. */
  registry: Registry;
  /** Offers sent. */
  offers: Counter;
  /** Answers received. */
  answers: Counter;
  /** Handshake outcomes by `outcome` and `phase`. */
  outcomes: Counter;
  /** Stale signals dropped. */
  stale: Counter;
  /** Viewers dropped, by `reason`. */
  drops: Counter;
  /** Congestion episodes: most viewers backed up at once, the producer held back. */
  congestions: Counter;
  /** Broadcasts refused because they would pass `maxQueuedBytes`. */
  rejected: Counter;
  /** Time from join to ready, ms. */
  timeToReady: Histogram;
  /** Viewers that came back with a position, by `outcome` (`hit`, `miss`). */
  replays: Counter;
  /** Messages sent again from the replay buffer. */
  replayed: Counter;
}

/** Creates the host's metrics in a fresh registry. */
export function createHostMetrics(): HostMetrics {
  const registry = new Registry();
  return {
    registry,
    offers: registry.counter("shoal_host_offers_total", "Offers sent."),
    answers: registry.counter("shoal_host_answers_total", "Answers received."),
    outcomes: registry.counter("shoal_host_handshakes_total", "Handshakes by outcome and phase."),
    stale: registry.counter(
      "shoal_host_stale_signals_total",
      "Signals of a stale handshake dropped.",
    ),
    drops: registry.counter("shoal_host_drops_total", "Viewers dropped, by reason."),
    congestions: registry.counter(
      "shoal_host_congestions_total",
      "Congestion episodes: most viewers backed up at once, the producer held back.",
    ),
    rejected: registry.counter(
      "shoal_host_broadcast_rejected_total",
      "Broadcasts refused because they would pass maxQueuedBytes.",
    ),
    replays: registry.counter(
      "shoal_host_resumes_total",
      "Viewers that came back with a position, by outcome: hit (replayed) or miss (a gap).",
    ),
    replayed: registry.counter("shoal_host_replayed_messages_total", "Messages replayed."),
    timeToReady: registry.histogram(
      "shoal_host_time_to_ready_ms",
      "Time from join to ready, ms.",
      [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000],
    ),
  };
}

/** Handshake outcomes by `outcome` and by `outcome/phase`, from the outcomes counter. */
export function outcomeTotals(
  outcomes: Counter,
): { outcomes: Record<string, number>; outcomesByPhase: Record<string, number> } {
  const totals: Record<string, number> = {};
  const byPhase: Record<string, number> = {};
  for (const { labels, value } of outcomes.series()) {
    totals[labels.outcome] = (totals[labels.outcome] ?? 0) + value;
    byPhase[`${labels.outcome}/${labels.phase}`] = value;
  }
  return { outcomes: totals, outcomesByPhase: byPhase };
}

/** The `replay` part of a {@link HostMetricsSnapshot}. */
export function replayTotals(
  metrics: HostMetrics,
  buffer: { size: number; bytes: number },
): HostMetricsSnapshot["replay"] {
  const by = (outcome: string) =>
    metrics.replays.series().find((s) => s.labels.outcome === outcome)?.value ?? 0;
  return {
    hits: by("hit"),
    misses: by("miss"),
    replayed: metrics.replayed.total(),
    held: buffer.size,
    heldBytes: buffer.bytes,
  };
}

/** p50, p95 and max of `samples` (ms), and how many there are. */
export function readyPercentiles(
  samples: readonly number[],
): { p50: number; p95: number; max: number; count: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
  return { p50: q(0.5), p95: q(0.95), max: sorted.at(-1) ?? NaN, count: sorted.length };
}

/**
 * Renders the host's metrics in the Prometheus text format, with the gauges of this moment:
 * viewers by state, bytes out per second, the broadcast backlog and whether the host is
 * congested, and RTT and queue depth of each present viewer (series of departed viewers
 * are dropped).
 */
export function renderHostMetrics(
  metrics: HostMetrics,
  now: {
    states: Record<PeerState, number>;
    peers: PeerSnapshot[];
    bytesOutPerSecond: number;
    queuedBytes: number;
    congested: boolean;
  },
): string {
  const r = metrics.registry;
  const peers = r.gauge("shoal_host_peers", "Viewers by state.");
  for (const [state, n] of Object.entries(now.states)) peers.set(n, { state });
  r.gauge("shoal_host_bytes_out_per_second", "Broadcast bytes per second.")
    .set(now.bytesOutPerSecond);
  r.gauge("shoal_host_broadcast_queued_bytes", "Longest broadcast backlog of any viewer, bytes.")
    .set(now.queuedBytes);
  r.gauge("shoal_host_congested", "1 while most viewers are backed up (the producer waits).")
    .set(now.congested ? 1 : 0);
  const rtt = r.gauge("shoal_host_peer_rtt_ms", "Round-trip time per viewer, ms.");
  const queued = r.gauge("shoal_host_peer_queued_bytes", "Bytes queued per viewer.");
  rtt.clear();
  queued.clear();
  for (const p of now.peers) {
    if (p.rttMs !== undefined) rtt.set(p.rttMs, { peer: p.peerId });
    queued.set(p.queuedBytes + p.bufferedAmount, { peer: p.peerId });
  }
  return r.render();
}
