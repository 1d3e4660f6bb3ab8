/**
 * What a {@link Viewer} is made with and what it tells: {@link ViewerState},
 * {@link ViewerOptions} and {@link ViewerEvents}. Re-exported by `viewer.ts`.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import type { ResumeGap } from "./replay.ts";
import type { RtcAdapter, RtcIceTransportPolicy } from "./rtc.ts";

/**
 * Where a viewer stands: `waiting` for the host's offer, `connecting` (answered, ICE and
 * the channel under way), `ready` (receiving), or `closed`.
 *
 * @example
 * ```ts
 * import type { ViewerState } from "@shoal/shoal";
 *
 * const streaming = (state: ViewerState) => state === "ready";
 * console.assert(!streaming("waiting"));
 * ```
 */
export type ViewerState = "waiting" | "connecting" | "ready" | "closed";

/**
 * Options of {@link Viewer.join}: the WebRTC adapter, the signaling server, the session
 * and its join code are required; the rest bound how long and how often the viewer asks
 * for a new offer, and set its heartbeats and inbound limits.
 *
 * @example
 * ```ts
 * import type { ViewerOptions } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * const options: ViewerOptions = {
 *   rtc: werift(),
 *   server: "http://127.0.0.1:8787",
 *   sessionId: "SESSION_ID",
 *   joinCode: "ABCD-EFGH-JKMN",
 *   label: "alice",
 *   maxOfferRequests: 4,
 * };
 * console.assert(options.label === "alice");
 * ```
 */
export interface ViewerOptions {
  /** The WebRTC stack. */
  rtc: RtcAdapter;
  /** The signaling server's base URL. */
  server: string;
  /** The session to join. */
  sessionId: string;
  /** Its join code. */
  joinCode: string;
  /** A label the host sees (≤ 64 characters). */
  label?: string;
  /**
   * `relay` to connect through TURN only: the host never learns this viewer's address
   * (default `all`).
   */
  iceTransportPolicy?: RtcIceTransportPolicy;
  /** `request-offer`s without reaching `ready` before giving up (default 8). */
  maxOfferRequests?: number;
  /** Backoff between `request-offer`s, ms (default 500 / 8 000). */
  requestOfferDelayMs?: { initial: number; max: number };
  /** How long to wait for the host's own retry after an abort before asking, ms (default 3 000). */
  abortGraceMs?: number;
  /** How long to wait for a first offer from an online host before asking, ms (default 10 000). */
  offerGraceMs?: number;
  /** Heartbeat interval, ms (default 5 000; 0 disables). */
  heartbeatIntervalMs?: number;
  /** Unanswered pings before the channel is given up (default 3). */
  maxMissedPongs?: number;
  /** Largest message accepted from the host (default 16 MiB). */
  maxMessageBytes?: number;
  /** Most messages kept unread by `messages()` (default 10 000). */
  inboxCapacity?: number;
  /**
   * Resume after a reconnect (default true): follow the host's message numbers, ask for what
   * was missed, and tell a `gap` when the host no longer has it (docs/protocol.md).
   */
  resume?: boolean;
  /** Resume from a position saved from an earlier viewer's `position` (e.g. a page reload). */
  resumeFrom?: { stream: string; last: number };
  /** Logger (default: category `shoal.viewer`). */
  logger?: Logger;
  /** Closes the viewer when aborted. */
  signal?: AbortSignal;
  /** WebSocket constructor (default: the global one). */
  WebSocket?: typeof WebSocket;
}

/**
 * Counters of a {@link Viewer} over its life, across reconnects (`viewer.stats`).
 *
 * @example
 * ```ts
 * import type { ViewerStats } from "@shoal/shoal";
 *
 * const stats: ViewerStats = { unknownControl: 0, gaps: 0 };
 * console.assert(stats.unknownControl === 0);
 * ```
 */
export interface ViewerStats {
  /** Control frames from the host of a type this version does not know, ignored. */
  unknownControl: number;
  /** Gaps found on coming back (each also a `gap` event). */
  gaps: number;
}

/**
 * Events of a {@link Viewer}, for {@link Viewer.on}: `state` on every change of
 * {@link ViewerState}, with the reason (e.g. `bye:shutdown` when the host ended).
 *
 * @example
 * ```ts
 * import type { ViewerEvents } from "@shoal/shoal";
 *
 * const onState = (e: ViewerEvents["state"]) => console.log(e.state, e.reason ?? "");
 * onState({ state: "waiting", reason: "bye:shutdown" });
 * ```
 */
export interface ViewerEvents extends Record<string, unknown> {
  /** The state changed. */
  state: { state: ViewerState; reason?: string };
  /**
   * Coming back, the viewer found that messages were lost (the host no longer held them, or
   * it is another host): fetch a snapshot. Emitted before any message that follows the gap.
   */
  gap: ResumeGap;
}
