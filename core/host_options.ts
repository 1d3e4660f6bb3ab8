/**
 * What a {@link Host} is made with and what it tells: {@link HostOptions},
 * {@link ViewerMessage} and {@link HostEvents}. Re-exported by `host.ts`.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import type { Congestion, FanoutOptions } from "./fanout.ts";
import type { HandshakeTimeouts } from "./negotiator.ts";
import type { RtcAdapter, RtcIceTransportPolicy } from "./rtc.ts";
import type { PeerState } from "./supervisor.ts";

/**
 * Options of {@link Host.start}: the WebRTC adapter and the signaling server are required;
 * the rest tune the session (a new one, or `sessionId` with `token` to take one over), the
 * handshakes (concurrency cap, attempts, per-phase timeouts) and the fan-out (viewer cap,
 * what to do when full, send-path limits, heartbeats, coalescing, and `maxQueuedBytes`, the
 * cap on bytes queued for broadcast).
 *
 * @example
 * ```ts
 * import type { HostOptions } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * const options: HostOptions = {
 *   rtc: werift(),
 *   server: "http://127.0.0.1:8787",
 *   maxPeers: 64,
 *   whenFull: "dropOldest",
 *   timeouts: { answerMs: 5_000 },
 *   maxQueuedBytes: 8 * 1024 * 1024,
 * };
 * console.assert(options.whenFull === "dropOldest");
 * ```
 */
export interface HostOptions
  extends Omit<FanoutOptions, "onMessage" | "onClosed" | "onCongestion" | "now" | "counters"> {
  /** The WebRTC stack (`werift()` in Deno, `browser()` in a page). */
  rtc: RtcAdapter;
  /** The signaling server's base URL, e.g. `http://127.0.0.1:8787`. */
  server: string;
  /** Join this session (with `token`) instead of creating one. */
  sessionId?: string;
  /** The host token of `sessionId`. */
  token?: string;
  /** `maxViewers` of a session this host creates. */
  maxViewers?: number;
  /** `relay` to reach viewers through TURN only, never directly (default `all`). */
  iceTransportPolicy?: RtcIceTransportPolicy;
  /** Per-phase handshake timeouts. */
  timeouts?: Partial<HandshakeTimeouts>;
  /** Handshakes in flight at first (default 32; see bench/RESULTS.md). */
  maxConcurrentHandshakes?: number;
  /** Let the cap grow on success up to this (default 64), halving on a failure. */
  maxConcurrentHandshakesCeiling?: number;
  /** Attempts per viewer before giving up (default 4). */
  maxAttempts?: number;
  /** Least interval between two honoured `request-offer`s of one viewer, ms (default 1 000). */
  requestOfferIntervalMs?: number;
  /**
   * Called when a viewer is ready, before it joins the live broadcast: what `peer.send`
   * queues reaches it before any broadcast made from now on.
   */
  onPeerReady?: (
    peer: { peerId: string; label: string; send(data: Uint8Array | string): void },
  ) => void | Promise<void>;
  /** Most viewer messages kept unread by `messages()` (default 10 000; older ones drop). */
  inboxCapacity?: number;
  /** Signaling ping interval, ms (default 15 000). */
  pingIntervalMs?: number;
  /** Logger (default: category `shoal.host`). */
  logger?: Logger;
  /** Closes the host when aborted. */
  signal?: AbortSignal;
  /** WebSocket constructor (default: the global one). */
  WebSocket?: typeof WebSocket;
}

/**
 * A message a viewer sent to the host, as {@link Host.messages} yields it: who sent it and
 * its bytes.
 *
 * @example
 * ```ts
 * import type { ViewerMessage } from "@shoal/shoal";
 *
 * const m: ViewerMessage = { peerId: "p1", data: new TextEncoder().encode("hi") };
 * console.assert(new TextDecoder().decode(m.data) === "hi");
 * ```
 */
export interface ViewerMessage {
  /** Who sent it. */
  peerId: string;
  /** What it sent. */
  data: Uint8Array;
}

/**
 * Events of a {@link Host}, for {@link Host.on}: `peer` whenever a viewer changes state
 * (`queued`, `negotiating`, `open`, `ready`, `closed`), with the reason when there is one;
 * `signaling` for the link to the server; `congestion` when the host itself becomes the
 * bottleneck (most viewers backed up at once) and when that ends.
 *
 * @example
 * ```ts
 * import type { HostEvents } from "@shoal/shoal";
 *
 * const onPeer = (e: HostEvents["peer"]) => console.log(e.peerId, e.label, e.state, e.reason);
 * onPeer({ peerId: "p1", label: "alice", state: "ready" });
 * ```
 */
export interface HostEvents extends Record<string, unknown> {
  /** A viewer changed state. */
  peer: { peerId: string; label: string; state: PeerState; reason?: string };
  /**
   * The host's link to the signaling server changed: `connected` (every welcome),
   * `reconnecting` (the socket dropped; ready viewers keep streaming), or `closed` for good,
   * with the server's reason (`replaced` when another connection took the session over).
   */
  signaling: { state: "connected" | "reconnecting" | "closed"; reason?: string };
  /**
   * Most viewers are backed up or lag at once (`congested: true`): the host, not a viewer,
   * is the bottleneck, so nobody is dropped and producers that wait (`host.writable`,
   * `host.drain()`) are held back; `congested: false` after a second without.
   */
  congestion: Congestion;
}
