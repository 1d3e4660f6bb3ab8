/**
 * The signaling client: one WebSocket to the shoal signaling server, the hello handshake,
 * typed events, per-peer routing of signals, pings, and (by default for a host) reconnect
 * with capped exponential backoff and jitter. Runtime-agnostic: it uses the standard
 * `WebSocket`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Logger } from "./logger.ts";
import { abortable, backoff, delay } from "./async.ts";
import { Emitter } from "./emitter.ts";
import {
  CloseCode,
  type ErrorCode,
  FATAL_CLOSE_CODES,
  parseServerMessage,
  type PeerLeftReason,
  PROTOCOL_VERSION,
  type ServerMessage,
  type SignalData,
  type WelcomeMessage,
} from "./protocol.ts";

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

/**
 * A failure of the signaling connection: refused by the server (`code` is its error code),
 * unreachable (`connect-failed`), or closed (`closed`).
 *
 * @example
 * ```ts
 * import { SignalingError } from "./signaling.ts";
 * const e = new SignalingError("unauthorized", "wrong join code", 4401);
 * console.assert(e.name === "SignalingError");
 * ```
 */
export class SignalingError extends Error {
  /** Always `"SignalingError"`. */
  override name = "SignalingError";
  /** Makes the error from its code, a message, the close code and a `cause`. */
  constructor(
    /** The server's error code, or `connect-failed` / `closed` / `hello-timeout`. */
    readonly code: ErrorCode | "connect-failed" | "closed",
    message: string,
    /** The WebSocket close code, when there was one. */
    readonly closeCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A connection to the signaling server, for a host or a viewer: {@link SignalingClient.connect}
 * says `hello` and resolves with the `welcome`; events arrive through
 * {@link SignalingClient.on}, signals for one peer through {@link SignalingClient.route};
 * it pings, and reconnects with backoff when the socket drops. {@link Host} and
 * {@link Viewer} use it; use it directly to speak the signaling protocol yourself.
 *
 * @example A host and a viewer meet on a server
 * ```ts
 * import { createSession, SignalingClient } from "@shoal/shoal";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const session = await createSession(server.url);
 * await using host = new SignalingClient({
 *   url: session.wsUrl,
 *   role: "host",
 *   token: session.hostToken,
 * });
 * const joined = new Promise<{ label: string }>((resolve) => host.on("peer-joined", resolve));
 * await host.connect();
 * await using viewer = new SignalingClient({
 *   url: session.wsUrl,
 *   role: "viewer",
 *   joinCode: session.joinCode,
 *   label: "alice",
 * });
 * const welcome = await viewer.connect();
 * console.assert(welcome.role === "viewer" && (await joined).label === "alice");
 * ```
 */
export class SignalingClient implements AsyncDisposable {
  #o: SignalingClientOptions;
  #events: Emitter<SignalingEvents>;
  #routes: Map<string, (signal: IncomingSignal) => void> = new Map();
  #socket?: WebSocket;
  #welcome?: WelcomeMessage;
  #closing = new AbortController();
  #closed?: Promise<void>;
  #pingTimer?: ReturnType<typeof setInterval>;
  #lastHeard = 0;
  #reconnecting?: Promise<void>;
  #log: Logger;

  /** A client with `options`; it connects on {@link SignalingClient.connect}. */
  constructor(options: SignalingClientOptions) {
    if (options.role === "host" && !options.token) throw new TypeError("a host needs a token");
    if (options.role === "viewer" && !options.joinCode) {
      throw new TypeError("a viewer needs a join code");
    }
    this.#o = options;
    this.#log = options.logger ?? getLogger(["shoal", "signaling"]);
    this.#events = new Emitter((error) => this.#log.error("listener threw: {error}", { error }));
  }

  /** The welcome of the current connection, if connected. */
  get welcome(): WelcomeMessage | undefined {
    return this.#welcome;
  }

  /** This client's peer id on the current connection. */
  get peerId(): string | undefined {
    return this.#welcome?.peerId;
  }

  /** Whether the socket is open and welcomed. */
  get connected(): boolean {
    return this.#welcome !== undefined && this.#socket?.readyState === 1;
  }

  /** Listens to `type`; returns the unsubscribe function. */
  on<K extends keyof SignalingEvents>(
    type: K,
    listener: (value: SignalingEvents[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Routes signals from `peerId` to `handler` instead of the `signal` event, until the
   * returned function is called.
   */
  route(peerId: string, handler: (signal: IncomingSignal) => void): () => void {
    this.#routes.set(peerId, handler);
    return () => {
      if (this.#routes.get(peerId) === handler) this.#routes.delete(peerId);
    };
  }

  /**
   * Opens the socket and says hello; resolves with `welcome`. Rejects with a
   * {@link SignalingError} when refused or unreachable, or with `signal.reason`.
   */
  async connect(options: { signal?: AbortSignal } = {}): Promise<WelcomeMessage> {
    if (this.#closing.signal.aborted) throw new SignalingError("closed", "the client is closed");
    const signal = AbortSignal.any([
      this.#closing.signal,
      ...(options.signal ? [options.signal] : []),
    ]);
    const welcome = await this.#open(signal);
    this.#startPing();
    return welcome;
  }

  /** Sends a signal to `to` (a viewer's `to` is ignored by the server); false if offline. */
  send(to: string, handshakeId: string, data: SignalData): boolean {
    return this.#send({ type: "signal", to, handshakeId, data });
  }

  /** Says `leave`, then closes. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new SignalingError("closed", "the client is closed"));
      clearInterval(this.#pingTimer);
      const socket = this.#socket;
      if (socket && socket.readyState === 1) {
        this.#send({ type: "leave" });
        await this.#closeSocket(socket, CloseCode.normal, "bye");
      } else if (socket && socket.readyState === 0) {
        await this.#closeSocket(socket, CloseCode.normal, "bye");
      }
      await this.#reconnecting?.catch(() => {});
      this.#welcome = undefined;
      this.#events.emit("closed", { code: CloseCode.normal, reason: "closed by the user" });
      this.#routes.clear();
      this.#events.clear();
    })();
    return this.#closed;
  }

  /** Closes the client (see {@link SignalingClient.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(message: Record<string, unknown>): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== 1) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  #hello(): Record<string, unknown> {
    const { role, token, joinCode, label } = this.#o;
    return role === "host"
      ? { type: "hello", role, protocol: PROTOCOL_VERSION, token }
      : { type: "hello", role, protocol: PROTOCOL_VERSION, joinCode, label };
  }

  /** Opens one socket and resolves on welcome; wires the socket for its whole life. */
  #open(signal: AbortSignal): Promise<WelcomeMessage> {
    const Ctor = this.#o.WebSocket ?? globalThis.WebSocket;
    const socket = new Ctor(this.#o.url);
    this.#socket = socket;
    let settle: { resolve(w: WelcomeMessage): void; reject(e: unknown): void } | undefined;
    const welcomed = new Promise<WelcomeMessage>((resolve, reject) => {
      settle = { resolve, reject };
    });
    let refusal: SignalingError | undefined;
    socket.onopen = () => this.#send(this.#hello());
    socket.onmessage = (event) => {
      this.#lastHeard = Date.now();
      const parsed = parseServerMessage(event.data);
      if (!parsed.ok) {
        this.#log.warn("bad message from server: {message}", { message: parsed.message });
        return;
      }
      const m = parsed.value;
      if (m.type === "welcome") {
        this.#welcome = m;
        settle?.resolve(m);
        settle = undefined;
      } else if (m.type === "error") {
        // The server names the reason before every close it decides on.
        refusal = new SignalingError(m.code, m.message);
      }
      this.#dispatch(m);
    };
    socket.onclose = (event) => {
      socket.onopen =
        socket.onmessage =
        socket.onclose =
        socket.onerror =
          null;
      if (settle) {
        const error = refusal
          ? new SignalingError(refusal.code, refusal.message, event.code)
          : new SignalingError("connect-failed", `could not connect to ${this.#o.url}`, event.code);
        settle.reject(error);
        settle = undefined;
        return;
      }
      this.#onDrop(socket, event.code, event.reason, refusal);
    };
    socket.onerror = () => {}; // close follows with the code.
    const timeout = AbortSignal.timeout(this.#o.helloTimeoutMs ?? 10_000);
    return abortable(welcomed, AbortSignal.any([signal, timeout])).catch(async (error) => {
      if (settle) {
        settle = undefined;
        socket.onclose = socket.onmessage = null;
        await this.#closeSocket(socket, CloseCode.normal, "abandoned");
      }
      if (error === timeout.reason) {
        throw new SignalingError("connect-failed", "no welcome from the server in time");
      }
      throw error;
    });
  }

  #dispatch(m: ServerMessage): void {
    switch (m.type) {
      case "welcome":
        this.#log.info("welcome as {role}", {
          sessionId: m.sessionId,
          peerId: m.peerId,
          role: m.role,
        });
        return this.#events.emit("welcome", m);
      case "signal": {
        const s: IncomingSignal = { from: m.from, handshakeId: m.handshakeId, data: m.data };
        const route = this.#routes.get(m.from);
        return route ? route(s) : this.#events.emit("signal", s);
      }
      case "peer-joined":
        return this.#events.emit("peer-joined", { peerId: m.peerId, label: m.label });
      case "peer-left":
        return this.#events.emit("peer-left", { peerId: m.peerId, reason: m.reason });
      case "host-status":
        return this.#events.emit("host-status", { online: m.online });
      case "error":
        this.#log.warn("server error {code}: {message}", { code: m.code, message: m.message });
        return this.#events.emit("error", { code: m.code, message: m.message });
      case "pong":
        return;
    }
  }

  #startPing(): void {
    clearInterval(this.#pingTimer);
    const every = this.#o.pingIntervalMs ?? 15_000;
    this.#lastHeard = Date.now();
    this.#pingTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket || socket.readyState !== 1) return;
      if (Date.now() - this.#lastHeard > every * 3) {
        this.#log.warn("no word from the server for {ms} ms; dropping the socket", {
          ms: Date.now() - this.#lastHeard,
        });
        this.#closeSocket(socket, 4000, "silent server");
        this.#onDrop(socket, 4000, "silent server");
        return;
      }
      this.#send({ type: "ping", ts: Date.now() });
    }, every);
  }

  #onDrop(socket: WebSocket, code: number, reason: string, refusal?: SignalingError): void {
    if (socket !== this.#socket) return;
    socket.onopen =
      socket.onmessage =
      socket.onclose =
      socket.onerror =
        null;
    this.#welcome = undefined;
    if (this.#closing.signal.aborted) return;
    const policy = this.#o.reconnect ?? true;
    const reconnecting = policy !== false && !FATAL_CLOSE_CODES.has(code);
    this.#log.info("disconnected ({code} {reason})", { code, reason, reconnecting });
    this.#events.emit("disconnected", { code, reason, reconnecting });
    if (!reconnecting) {
      clearInterval(this.#pingTimer);
      const error = refusal
        ? new SignalingError(refusal.code, refusal.message, code)
        : new SignalingError("closed", `closed by the server (${code})`, code);
      this.#events.emit("closed", { code, reason, error });
      return;
    }
    this.#reconnecting = this.#reconnect(policy === true ? {} : policy);
  }

  async #reconnect(policy: ReconnectOptions): Promise<void> {
    const max = policy.maxAttempts ?? (this.#o.role === "host" ? Infinity : 10);
    const signal = this.#closing.signal;
    for (let attempt = 0; attempt < max && !signal.aborted; attempt++) {
      const wait = backoff(attempt, {
        initialMs: policy.initialDelayMs ?? 250,
        maxMs: policy.maxDelayMs ?? 10_000,
      });
      try {
        await delay(wait, { signal });
        await this.#open(signal);
        this.#lastHeard = Date.now();
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof SignalingError && error.code !== "connect-failed") {
          this.#events.emit("closed", { code: error.closeCode ?? 0, reason: error.message, error });
          return;
        }
        this.#log.info("reconnect attempt {attempt} failed", { attempt: attempt + 1 });
      }
    }
    if (!signal.aborted) {
      const error = new SignalingError("connect-failed", `gave up after ${max} attempts`);
      clearInterval(this.#pingTimer);
      this.#events.emit("closed", { code: 0, reason: error.message, error });
    }
  }

  async #closeSocket(socket: WebSocket, code: number, reason: string): Promise<void> {
    if (socket.readyState === 3) return;
    const closed = new Promise<void>((resolve) => {
      socket.addEventListener("close", () => resolve(), { once: true });
    });
    try {
      socket.close(code, reason);
    } catch {
      return;
    }
    await abortable(closed, AbortSignal.timeout(1_000)).catch(() => {});
  }
}
