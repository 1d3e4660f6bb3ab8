/**
 * The signaling client's types: {@link IncomingSignal}, {@link SignalingEvents},
 * {@link ReconnectOptions} and {@link SignalingClientOptions}. Re-exported by
 * `signaling.ts`.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import type { ErrorCode, PeerLeftReason, SignalData, WelcomeMessage } from "./protocol.ts";
import type { SignalingError } from "./signaling_error.ts";

/**
 * A signal as a client receives it: the sender, the handshake it belongs to, and its
 * payload (offer, answer, candidate, …).
 *
 * @example
 * ```ts
 * import type { IncomingSignal } from "@shoal/shoal";
 *
 * const describe = (s: IncomingSignal) => `${s.data.kind} from ${s.from} (${s.handshakeId})`;
 * console.log(describe({ from: "p1", handshakeId: "h1", data: { kind: "end-of-candidates" } }));
 * ```
 */
export interface IncomingSignal {
  /** The sender's peer id. */
  from: string;
  /** The handshake it belongs to. */
  handshakeId: string;
  /** Its payload. */
  data: SignalData;
}

/**
 * Events of a {@link SignalingClient}, for {@link SignalingClient.on}: the server's
 * messages (`welcome`, `peer-joined`, `peer-left`, `host-status`, `signal`, `error`) and
 * the connection's life (`disconnected`, `closed`).
 *
 * @example
 * ```ts
 * import type { SignalingEvents } from "@shoal/shoal";
 *
 * const onLeft = (e: SignalingEvents["peer-left"]) => console.log(`${e.peerId}: ${e.reason}`);
 * onLeft({ peerId: "p1", reason: "timeout" });
 * ```
 */
export interface SignalingEvents extends Record<string, unknown> {
  /** Every successful hello, the first and each after a reconnect. */
  welcome: WelcomeMessage;
  /** A viewer joined (host only). */
  "peer-joined": { peerId: string; label: string };
  /** A viewer left (host only). */
  "peer-left": { peerId: string; reason: PeerLeftReason };
  /** The host went on or off line (viewer only). */
  "host-status": { online: boolean };
  /** A signal for which no per-peer handler is registered. */
  signal: IncomingSignal;
  /** An `error` the server sent. */
  error: { code: ErrorCode; message: string };
  /** The socket dropped; `reconnecting` says whether the client will try again. */
  disconnected: { code: number; reason: string; reconnecting: boolean };
  /** The client is finished: closed by the user, refused, or out of attempts. */
  closed: { code: number; reason: string; error?: SignalingError };
}

/**
 * How a {@link SignalingClient} reconnects after its socket drops: capped exponential
 * backoff with jitter, for a bounded number of attempts.
 *
 * @example
 * ```ts
 * import type { ReconnectOptions } from "@shoal/shoal";
 *
 * const reconnect: ReconnectOptions = { initialDelayMs: 100, maxDelayMs: 2_000, maxAttempts: 5 };
 * console.assert(reconnect.maxAttempts === 5);
 * ```
 */
export interface ReconnectOptions {
  /** First delay, ms (default 250). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 10 000). */
  maxDelayMs?: number;
  /** Attempts before giving up (default: unlimited for a host, 10 for a viewer). */
  maxAttempts?: number;
}

/**
 * Options of {@link SignalingClient}: the session's WebSocket URL, the role and its
 * credential (a host's token or a viewer's join code) are required; the rest set the
 * label, reconnects, pings and the hello timeout.
 *
 * @example
 * ```ts
 * import type { SignalingClientOptions } from "@shoal/shoal";
 *
 * const options: SignalingClientOptions = {
 *   url: "ws://127.0.0.1:8787/v1/sessions/SESSION_ID/ws",
 *   role: "viewer",
 *   joinCode: "ABCD-EFGH-JKMN",
 *   reconnect: { maxAttempts: 3 },
 * };
 * console.assert(options.role === "viewer");
 * ```
 */
export interface SignalingClientOptions {
  /** The session's WebSocket URL (`wsUrl` from `POST /v1/sessions`). */
  url: string;
  /** Which side this client is. */
  role: "host" | "viewer";
  /** The host token (host). */
  token?: string;
  /** The join code (viewer). */
  joinCode?: string;
  /** A label the host sees (viewer, ≤ 64 characters). */
  label?: string;
  /** Reconnect after the socket drops (default: `true`). `false` disables it. */
  reconnect?: boolean | ReconnectOptions;
  /** Ping interval, ms (default 15 000). */
  pingIntervalMs?: number;
  /** Time allowed for `welcome` after opening, ms (default 10 000). */
  helloTimeoutMs?: number;
  /** The WebSocket constructor (default: `globalThis.WebSocket`). */
  WebSocket?: typeof WebSocket;
  /** Logger (default: category `shoal.signaling`). */
  logger?: Logger;
}
