/**
 * One client's WebSocket as the server holds it: parsing, the bad-frame counter, the rate
 * limit, the hello deadline and the silence timer. What a valid message means is the
 * relay's business ({@link ConnectionHandler}).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import {
  type ClientMessage,
  CloseCode,
  type ErrorCode,
  parseClientMessage,
  type PeerLeftReason,
  type ServerMessage,
} from "../core/protocol.ts";
import type { ServerMetrics } from "./metrics.ts";

/**
 * Limits of one WebSocket connection: the hello deadline, the silence timeout, message
 * rates, bad frames tolerated and the largest frame. A server takes any of them in
 * `limits`.
 *
 * @example
 * ```ts
 * import { type ConnectionLimits, DEFAULT_LIMITS } from "@shoal/shoal/server";
 *
 * const strict: ConnectionLimits = { ...DEFAULT_LIMITS, viewerRate: 20, maxBadFrames: 3 };
 * console.assert(strict.helloTimeoutMs === 10_000);
 * ```
 */
export interface ConnectionLimits {
  /** Time allowed for `hello` after the upgrade, ms (10 000). */
  helloTimeoutMs: number;
  /** Silence after which the connection is closed, ms (45 000). */
  silenceTimeoutMs: number;
  /** Length of a rate-limit window, ms (1 000). */
  rateWindowMs: number;
  /** Messages a host may send per window (2 000). */
  hostRate: number;
  /** Messages a viewer (or a client before hello) may send per window (100). */
  viewerRate: number;
  /** Bad frames tolerated; the next one closes with 4400 (10). */
  maxBadFrames: number;
  /** Largest frame in UTF-8 bytes (65 536). */
  maxFrameBytes: number;
}

/**
 * The defaults of {@link ConnectionLimits}, as PROTOCOL.md §1 sets them.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "@shoal/shoal/server";
 *
 * console.assert(DEFAULT_LIMITS.maxFrameBytes === 65_536 && DEFAULT_LIMITS.maxBadFrames === 10);
 * ```
 */
export const DEFAULT_LIMITS: ConnectionLimits = {
  helloTimeoutMs: 10_000,
  silenceTimeoutMs: 45_000,
  rateWindowMs: 1_000,
  hostRate: 2_000,
  viewerRate: 100,
  maxBadFrames: 10,
  maxFrameBytes: 65_536,
};

/** What the relay does with a connection's messages and its end. */
export interface ConnectionHandler {
  /** Handles one parsed message; may call {@link Connection.badFrame} or `fail`. */
  message(conn: Connection, message: ClientMessage): Promise<void>;
  /** Cleans up after the socket closed. */
  closed(conn: Connection): Promise<void>;
}

/**
 * A client's socket with its limits. Messages are handled one after another, in order.
 */
export class Connection {
  /** Set by the relay after a successful hello. */
  role?: "host" | "viewer";
  /** Set by the relay after a successful hello. */
  peerId?: string;
  /** Why the peer is gone, as `peer-left` will say. */
  leftReason: PeerLeftReason = "closed";
  /** Whether the socket has closed. */
  closed = false;
  /** The client's address as the limits count it. */
  readonly address: string;
  /** Resolves when the socket closed and the relay finished cleaning up. */
  readonly done: Promise<void>;

  #socket: WebSocket;
  #limits: ConnectionLimits;
  #handler: ConnectionHandler;
  #metrics: ServerMetrics;
  #log: Logger;
  #chain: Promise<void> = Promise.resolve();
  #badFrames = 0;
  #windowStart = 0;
  #windowCount = 0;
  #helloTimer?: ReturnType<typeof setTimeout>;
  #silenceTimer?: ReturnType<typeof setTimeout>;
  #closing = false;
  #resolveDone!: () => void;

  constructor(
    socket: WebSocket,
    readonly sessionId: string,
    options: {
      /** The client's address as the limits count it. */
      address: string;
      limits: ConnectionLimits;
      handler: ConnectionHandler;
      metrics: ServerMetrics;
      log: Logger;
    },
  ) {
    this.#socket = socket;
    this.address = options.address;
    this.#limits = options.limits;
    this.#handler = options.handler;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.done = new Promise((resolve) => this.#resolveDone = resolve);
    this.#metrics.connections.inc({ role: "pending" });
    socket.addEventListener("message", (e) => this.#onFrame(e.data));
    socket.addEventListener("close", () => this.#onClose());
    this.#helloTimer = setTimeout(() => {
      this.fail("hello-timeout", "no hello within the deadline", CloseCode.timeout, "timeout");
    }, this.#limits.helloTimeoutMs);
    this.#armSilence();
  }

  /** Whether `hello` succeeded. */
  get welcomed(): boolean {
    return this.peerId !== undefined;
  }

  /** Marks hello as done: stops the hello deadline and counts the connection by role. */
  accept(role: "host" | "viewer", peerId: string): void {
    clearTimeout(this.#helloTimer);
    this.role = role;
    this.peerId = peerId;
    this.#metrics.connections.dec({ role: "pending" });
    this.#metrics.connections.inc({ role });
  }

  /** Sends one message if the socket is open. */
  send(message: ServerMessage): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(JSON.stringify(message));
    } catch {
      // The socket closed between the check and the send: the close handler cleans up.
    }
  }

  /** Answers a bad frame with an error; the one past the limit closes with 4400. */
  badFrame(code: ErrorCode, message: string): void {
    this.#badFrames++;
    this.#metrics.badFrames.inc({ code });
    if (this.#badFrames > this.#limits.maxBadFrames) {
      this.fail("bad-message", `too many bad frames (last: ${message})`, CloseCode.badMessage);
      return;
    }
    this.#log.debug("bad frame {code}: {message}", this.#fields({ code, message }));
    this.send({ type: "error", code, message });
  }

  /** Sends an error naming the reason, then closes the socket with `closeCode`. */
  fail(code: ErrorCode, message: string, closeCode: number, reason?: PeerLeftReason): void {
    if (this.#closing) return;
    if (reason) this.leftReason = reason;
    this.#log.info(
      "closing {closeCode}: {code} {message}",
      this.#fields({ code, message, closeCode }),
    );
    this.send({ type: "error", code, message });
    this.close(closeCode, code);
  }

  /** Closes the socket (once). */
  close(code: number, reason = ""): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#metrics.closes.inc({ code });
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#silenceTimer);
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  #fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { sessionId: this.sessionId, peerId: this.peerId, role: this.role, ...extra };
  }

  #armSilence(): void {
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = setTimeout(() => {
      this.fail("timeout", "silent for too long", CloseCode.timeout, "timeout");
    }, this.#limits.silenceTimeoutMs);
  }

  #onFrame(data: unknown): void {
    if (this.#closing) return;
    this.#armSilence();
    if (!this.#withinRate()) return;
    const parsed = parseClientMessage(data, this.#limits.maxFrameBytes);
    this.#chain = this.#chain.then(async () => {
      if (this.#closing) return;
      if (!parsed.ok) {
        if (parsed.code === "protocol-version" && !this.welcomed) {
          this.fail("protocol-version", parsed.message, CloseCode.badMessage);
        } else {this.badFrame(
            parsed.code === "too-large" ? "too-large" : "bad-message",
            parsed.message,
          );}
        return;
      }
      const m = parsed.value;
      this.#metrics.received.inc({
        role: this.role ?? "pending",
        type: m.type,
        ...(m.type === "signal" ? { kind: m.data.kind } : {}),
      });
      try {
        await this.#handler.message(this, m);
      } catch (error) {
        this.#log.error("handler failed: {error}", this.#fields({ error }));
      }
    });
  }

  /** Counts the frame in the current window; over the limit it is refused. */
  #withinRate(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= this.#limits.rateWindowMs) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    const limit = this.role === "host" ? this.#limits.hostRate : this.#limits.viewerRate;
    this.#windowCount++;
    if (this.#windowCount <= limit) return true;
    this.#metrics.dropped.inc({ reason: "rate-limited" });
    if (this.#windowCount === limit + 1) {
      this.send({
        type: "error",
        code: "rate-limited",
        message: `over ${limit} messages per window`,
      });
    } else this.badFrame("rate-limited", "still over the message rate");
    return false;
  }

  #onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.#closing = true;
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#silenceTimer);
    this.#metrics.connections.dec({ role: this.role ?? "pending" });
    this.#chain = this.#chain
      .then(() => this.#handler.closed(this))
      .catch((error) => this.#log.error("cleanup failed: {error}", this.#fields({ error })))
      .finally(() => this.#resolveDone());
  }
}
