/**
 * shoal: one host streaming to hundreds of WebRTC data-channel viewers, from Deno or from
 * a browser tab.
 *
 * A {@linkcode Host} creates a session on a shoal signaling server, negotiates with every
 * viewer in parallel (each with its own handshake id, timeouts and clean-up), and fans
 * messages out to all ready viewers with per-viewer backpressure; a {@linkcode Viewer}
 * joins with the session's join code and receives them. This module is runtime-agnostic:
 * the WebRTC stack is passed in as an adapter (`werift()` from `@shoal/shoal/werift` in
 * Deno, `browser()` from `@shoal/shoal/browser` in a page), and the signaling server is
 * `@shoal/shoal/server`. It also exports the wire protocol's schemas and types, the
 * signaling client, the session helpers, the data-channel framing and the metrics.
 *
 * @example Host a session and broadcast the time to every viewer for a second
 * ```ts
 * import { Host } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * await using host = await Host.start({
 *   rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
 *   server: server.url,
 * });
 * console.log(`viewers join session ${host.session.sessionId} with ${host.joinCode}`);
 * const timer = setInterval(() => host.broadcast(new Date().toISOString()), 200);
 * await new Promise((resolve) => setTimeout(resolve, 1_000));
 * clearInterval(timer);
 * ```
 *
 * @module
 */
export { Host, type HostEvents, type HostOptions, type ViewerMessage } from "./core/host.ts";
export { Viewer, ViewerError, type ViewerEvents, type ViewerOptions } from "./core/viewer.ts";
export type { ViewerState, ViewerStats } from "./core/viewer.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUTS,
  HandshakeError,
  type HandshakePhase,
  HandshakeTimeoutError,
  type HandshakeTimeouts,
} from "./core/negotiator.ts";
export type { PeerState } from "./core/supervisor.ts";
export type { Logger } from "./core/logger.ts";
export {
  BroadcastError,
  type Congestion,
  DEFAULT_LINK_LIMITS,
  DEFAULT_MAX_QUEUED_BYTES,
  type FanoutOptions,
} from "./core/fanout.ts";
export type { DropReason, LinkLimits } from "./core/peer_link.ts";
export {
  DEFAULT_REPLAY_OPTIONS,
  ReplayBuffer,
  type ReplayCounters,
  type ReplayOptions,
  ResumeCursor,
  type ResumeGap,
} from "./core/replay.ts";
export type { HostMetricsSnapshot, PeerSnapshot } from "./core/host_metrics.ts";
export {
  createSession,
  getSession,
  SessionError,
  type SessionInfo,
  type SessionStatus,
  sessionWsUrl,
} from "./core/session.ts";
export * from "./core/protocol.ts";
export {
  type IncomingSignal,
  type ReconnectOptions,
  SignalingClient,
  type SignalingClientOptions,
  SignalingError,
  type SignalingEvents,
} from "./core/signaling.ts";
export {
  Counter,
  Gauge,
  Histogram,
  type HistogramSnapshot,
  type Labels,
  type Metric,
  Registry,
  Scalar,
} from "./core/metrics.ts";
export * from "./core/framing.ts";
export * from "./core/frame_decoder.ts";
export type * from "./core/rtc.ts";
export * from "./core/terminal_messages.ts";
