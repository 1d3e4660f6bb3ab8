/**
 * The signaling server's metrics.
 *
 * @module
 */
import { type Counter, type Gauge, Registry } from "../core/metrics.ts";

/**
 * Every metric the signaling server keeps, registered in one {@link Registry}: what
 * `GET /metrics` renders, and what `server.metrics` holds.
 *
 * @example
 * ```ts
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * await (await fetch(`${server.url}/v1/sessions`, { method: "POST" })).body?.cancel();
 * console.assert(server.metrics.sessionsCreated.total() === 1);
 * ```
 */
export interface ServerMetrics {
  /** The registry to render. */
  registry: Registry;
  /** Sessions in the store. */
  sessions: Gauge;
  /** Connections by `role` (`host`, `viewer`, `pending` before hello). */
  connections: Gauge;
  /** Valid messages received from clients, by `role` and `type` (and `kind` for signals). */
  received: Counter;
  /** Messages relayed to their addressee, by `type` and `kind`. */
  relayed: Counter;
  /** Messages dropped, by `reason`. */
  dropped: Counter;
  /** Bad frames received, by `code`. */
  badFrames: Counter;
  /** Deliberate closes by the server, by close `code`. */
  closes: Counter;
  /** Sessions created. */
  sessionsCreated: Counter;
  /** Requests refused by a limit (`LimitReason`) or the origin policy (`origin`), by `reason`. */
  refused: Counter;
}

/** Creates the server's metrics in a fresh registry. */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  return {
    registry,
    sessions: registry.gauge("shoal_signal_sessions", "Sessions held by the server."),
    connections: registry.gauge(
      "shoal_signal_connections",
      "Open WebSocket connections by role.",
    ),
    received: registry.counter(
      "shoal_signal_messages_received_total",
      "Valid messages received from clients, by role, type and signal kind.",
    ),
    relayed: registry.counter(
      "shoal_signal_messages_relayed_total",
      "Messages relayed between peers, by type and signal kind.",
    ),
    dropped: registry.counter(
      "shoal_signal_messages_dropped_total",
      "Messages dropped, by reason.",
    ),
    badFrames: registry.counter("shoal_signal_bad_frames_total", "Bad frames, by error code."),
    closes: registry.counter("shoal_signal_closes_total", "Deliberate closes, by close code."),
    sessionsCreated: registry.counter("shoal_signal_sessions_created_total", "Sessions created."),
    refused: registry.counter(
      "shoal_signal_refused_total",
      "Requests refused by a limit or the origin policy, by reason.",
    ),
  };
}
