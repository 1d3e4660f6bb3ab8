/**
 * The `Viewer`: the answerer. It joins with the join code, answers the current offer (a
 * newer `handshakeId` supersedes an older one), trickles ICE, attaches its handlers and
 * only then says `ready`, answers pings, and asks for a new offer, with capped backoff and a
 * bounded number of attempts, when its channel fails or the host comes back. It never polls.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Logger } from "./logger.ts";
import { backoff, openOrClose, type Waiter, waitIn } from "./async.ts";
import { Emitter } from "./emitter.ts";
import { FrameDecoder } from "./frame_decoder.ts";
import { encodeMessage, MessageIdAllocator } from "./framing.ts";
import type { ControlFrame } from "./protocol.ts";
import { AsyncQueue } from "./queue.ts";
import { ResumeCursor, type ResumeGap } from "./replay.ts";
import type { RtcAdapter, RtcIceTransportPolicy } from "./rtc.ts";
import { getSession, sessionWsUrl } from "./session.ts";
import { type IncomingSignal, SignalingClient } from "./signaling.ts";
import { ViewerConnection } from "./viewer_connection.ts";

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

/**
 * The viewer cannot go on: `kicked` or `capacity` (the host said so), `gave-up` (no ready
 * after the allowed offer requests), `refused` (the server refused it), or `closed`.
 *
 * @example
 * ```ts
 * import { ViewerError } from "./viewer.ts";
 * console.assert(new ViewerError("gave-up", "no offer").code === "gave-up");
 * ```
 */
export class ViewerError extends Error {
  /** Always `"ViewerError"`. */
  override name = "ViewerError";
  /** Makes an error with its `code`, a message, and optionally a `cause`. */
  constructor(
    /** Why. */
    readonly code: "kicked" | "capacity" | "gave-up" | "refused" | "closed",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const encoder = new TextEncoder();

/**
 * One viewer of a host. {@link Viewer.join} checks that the session exists and connects to
 * the signaling server; the viewer then answers the host's offer, says `ready` once its
 * handlers are attached, and asks for a new offer (with backoff, a bounded number of
 * times) when its channel fails or the host comes back. {@link Viewer.messages} yields
 * what the host broadcasts, in order; {@link Viewer.send} talks back.
 *
 * @example Join a host's session, receive a message and answer it
 * ```ts
 * import { Host, Viewer } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * await using host = await Host.start({
 *   rtc,
 *   server: server.url,
 *   onPeerReady: (peer) => peer.send(`welcome, ${peer.label}`),
 * });
 * await using viewer = await Viewer.join({
 *   rtc,
 *   server: server.url,
 *   sessionId: host.session.sessionId,
 *   joinCode: host.joinCode!,
 *   label: "alice",
 * });
 * const { value } = await viewer.messages().next();
 * console.assert(new TextDecoder().decode(value) === "welcome, alice");
 * viewer.send("thanks");
 * const { value: reply } = await host.messages().next();
 * console.assert(new TextDecoder().decode(reply!.data) === "thanks");
 * ```
 */
export class Viewer implements AsyncDisposable {
  /** Counters over the viewer's life. */
  readonly stats: ViewerStats = { unknownControl: 0, gaps: 0 };
  #o: ViewerOptions;
  #log: Logger;
  #signaling: SignalingClient;
  #conn?: ViewerConnection;
  #lastHandshake = "";
  #state: ViewerState = "waiting";
  #events = new Emitter<ViewerEvents>();
  #inbox: AsyncQueue<Uint8Array>;
  #cursor?: ResumeCursor;
  #ids = new MessageIdAllocator();
  #requests = 0;
  #requestTimer?: ReturnType<typeof setTimeout>;
  #hostOnline = false;
  #statusWelcome?: unknown;
  #readyWaiters = new Set<Waiter>();
  #error?: ViewerError;
  #signalingError?: ViewerError;
  #closed?: Promise<void>;

  private constructor(options: ViewerOptions) {
    this.#o = options;
    this.#log = options.logger ?? getLogger(["shoal", "viewer"]);
    this.#inbox = new AsyncQueue(options.inboxCapacity ?? 10_000);
    if (options.resume ?? true) this.#cursor = new ResumeCursor(options.resumeFrom);
    this.#signaling = new SignalingClient({
      url: sessionWsUrl(options.server, options.sessionId),
      role: "viewer",
      joinCode: options.joinCode,
      label: options.label,
      WebSocket: options.WebSocket,
    });
    this.#signaling.on("signal", (s) => this.#signal(s));
    this.#signaling.on("host-status", ({ online }) => this.#hostStatus(online));
    this.#signaling.on("closed", ({ error }) => {
      if (!error) return;
      // A working channel outlives the signaling server; only a new handshake needs it.
      this.#signalingError = new ViewerError("refused", error.message, { cause: error });
      if (this.#state !== "ready") this.#fatal(this.#signalingError);
      else this.#log.warn("signaling lost; streaming on while the channel lasts", this.#fields());
    });
  }

  /**
   * Joins the session: checks it exists, connects to the signaling server and waits for
   * the host's offer. Rejects with a `SessionError` or `SignalingError` when refused.
   */
  static async join(options: ViewerOptions): Promise<Viewer> {
    await getSession(options.server, options.sessionId, { signal: options.signal });
    const viewer = new Viewer(options);
    return openOrClose(
      viewer,
      () => viewer.#signaling.connect({ signal: options.signal }),
      options.signal,
    );
  }

  /** This viewer's peer id on the signaling server. */
  get peerId(): string | undefined {
    return this.#signaling.peerId;
  }

  /** Where it stands. */
  get state(): ViewerState {
    return this.#state;
  }

  /**
   * The host's stream and the number of the last message received from it, once known: a
   * viewer made later with it as `resumeFrom` resumes where this one stopped.
   */
  get position(): { stream: string; last: number } | undefined {
    return this.#cursor?.position;
  }

  /** Last round-trip time to the host over the data channel, ms. */
  get rttMs(): number | undefined {
    return this.#conn?.rttMs;
  }

  /** Listens to `type`; returns the unsubscribe function. */
  on<K extends keyof ViewerEvents>(
    type: K,
    listener: (value: ViewerEvents[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /** Resolves when the channel is ready (now, if it is); rejects if the viewer gives up. */
  ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === "ready") return Promise.resolve();
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state === "closed") {
      return Promise.reject(new ViewerError("closed", "the viewer is closed"));
    }
    return waitIn(this.#readyWaiters, options.signal);
  }

  /** Messages from the host, in order; ends when the viewer closes. */
  messages(): AsyncIterableIterator<Uint8Array> {
    return this.#inbox;
  }

  /** Sends `data` to the host; false when not ready. */
  send(data: Uint8Array | string): boolean {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return this.#conn?.send(encodeMessage(bytes, this.#ids.next())) ?? false;
  }

  /** Says `bye`, closes the channel and leaves the session. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearTimeout(this.#requestTimer);
      await this.#conn?.close("shutdown");
      this.#conn = undefined;
      await this.#signaling.close();
      this.#setState("closed");
      const error = this.#error ?? new ViewerError("closed", "the viewer is closed");
      for (const w of this.#readyWaiters) w.reject(error);
      this.#readyWaiters.clear();
      this.#inbox.close();
      this.#events.clear();
    })();
    return this.#closed;
  }

  /** Closes the viewer (see {@link Viewer.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #signal(s: IncomingSignal): void {
    if (this.#closed) return;
    if (s.data.kind === "offer") return void this.#answer(s.from, s.handshakeId, s.data.sdp);
    const conn = this.#conn;
    if (!conn || conn.handshakeId !== s.handshakeId) return;
    if (s.data.kind === "abort") {
      this.#log.info("host aborted the handshake", this.#fields({ reason: s.data.reason }));
      void this.#drop("host-abort", this.#o.abortGraceMs ?? 3_000);
      return;
    }
    conn.remote(s.data);
  }

  async #answer(hostId: string, handshakeId: string, sdp: string): Promise<void> {
    const previous = this.#conn;
    this.#lastHandshake = handshakeId;
    clearTimeout(this.#requestTimer);
    this.#requestTimer = undefined; // an offer came: a later loss may ask again
    const conn = new ViewerConnection({
      rtc: this.#o.rtc,
      iceServers: this.#signaling.welcome?.iceServers ?? [],
      iceTransportPolicy: this.#o.iceTransportPolicy,
      hostId,
      handshakeId,
      signaling: this.#signaling,
      heartbeatIntervalMs: this.#o.heartbeatIntervalMs ?? 5_000,
      maxMissedPongs: this.#o.maxMissedPongs ?? 3,
      stats: this.stats,
      decoder: new FrameDecoder({ maxMessageBytes: this.#o.maxMessageBytes }),
      onMessage: (m) => (this.#cursor?.message() ?? true) && this.#inbox.push(m),
      resume: this.#cursor && (() => this.#cursor!.ready()),
      onSequence: (frame) => this.#sequence(frame),
      onReady: () => this.#onReady(conn),
      onLost: (why, bye) => this.#lost(conn, why, bye),
      log: this.#log,
      logFields: this.#fields(),
    });
    this.#conn = conn;
    this.#setState("connecting");
    if (previous) await previous.close(undefined);
    await conn.answer(sdp);
  }

  #onReady(conn: ViewerConnection): void {
    if (this.#conn !== conn) return;
    this.#requests = 0;
    this.#setState("ready");
    for (const w of this.#readyWaiters) w.resolve();
    this.#readyWaiters.clear();
  }

  #sequence(frame: Extract<ControlFrame, { t: "seq" | "direct" }>): void {
    const gap = this.#cursor?.control(frame);
    if (!gap) return;
    this.stats.gaps++;
    this.#log.warn("messages lost while away: {reason}", this.#fields({ ...gap }));
    this.#events.emit("gap", gap);
  }

  #lost(conn: ViewerConnection, why: string, bye?: string): void {
    if (this.#conn !== conn || this.#closed) return;
    this.#log.info("connection lost: {why}", this.#fields({ why, bye }));
    if (bye === "kicked" || bye === "capacity") {
      const message = bye === "kicked" ? "the host removed this viewer" : "the host is full";
      this.#fatal(new ViewerError(bye, message));
      return;
    }
    // After a host shutdown, wait for it to come back (host-status) rather than ask now.
    void this.#drop(bye !== undefined ? `bye:${bye}` : why, bye === "shutdown" ? undefined : 0);
  }

  /** Forgets the current connection and, unless `askAfterMs` is undefined, asks for an offer. */
  async #drop(why: string, askAfterMs?: number): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (this.#signalingError) {
      await conn?.close(undefined);
      return this.#fatal(this.#signalingError);
    }
    this.#setState("waiting", why);
    await conn?.close(undefined);
    if (askAfterMs !== undefined && this.#hostOnline) this.#scheduleRequest(why, askAfterMs);
  }

  #hostStatus(online: boolean): void {
    const was = this.#hostOnline;
    const first = this.#statusWelcome !== this.#signaling.welcome;
    this.#statusWelcome = this.#signaling.welcome;
    this.#hostOnline = online;
    // A host that is online offers to every viewer that joins, unasked; only if no offer
    // comes within the grace time (a long queue, a lost signal) does the viewer ask.
    if (first && online && this.#state === "waiting") {
      this.#scheduleRequest("no-offer", this.#o.offerGraceMs ?? 10_000);
      return;
    }
    if (first) return;
    if (online && !was && this.#state === "waiting") {
      // The host's own welcome lists us; ask only if no offer comes by itself.
      this.#scheduleRequest("host-online", this.#o.abortGraceMs ?? 3_000);
    }
  }

  #scheduleRequest(reason: string, minDelayMs: number): void {
    if (this.#closed || this.#requestTimer !== undefined) return;
    const delays = this.#o.requestOfferDelayMs ?? { initial: 500, max: 8_000 };
    const wait = Math.max(
      minDelayMs,
      backoff(this.#requests, { initialMs: delays.initial, maxMs: delays.max }),
    );
    this.#requestTimer = setTimeout(() => {
      this.#requestTimer = undefined;
      if (this.#closed || this.#state !== "waiting" || !this.#hostOnline) return;
      // Each request had its backoff to bear fruit; after the last one, give up.
      const max = this.#o.maxOfferRequests ?? 8;
      if (this.#requests >= max) {
        const message = `no working connection after ${max} offer requests`;
        return this.#fatal(new ViewerError("gave-up", message));
      }
      this.#requests++;
      this.#log.info("asking for an offer", this.#fields({ reason, request: this.#requests }));
      this.#signaling.send("", this.#lastHandshake, { kind: "request-offer", reason });
      // If nothing comes of it, ask again (bounded by maxOfferRequests).
      this.#scheduleRequest(reason, 0);
    }, this.#requests === 0 && minDelayMs === 0 ? 0 : wait);
  }

  #fatal(error: ViewerError): void {
    if (this.#error) return;
    this.#error = error;
    this.#log.warn(
      "viewer stopped: {message}",
      this.#fields({ code: error.code, message: error.message }),
    );
    for (const w of this.#readyWaiters) w.reject(error);
    this.#readyWaiters.clear();
    void this.close();
  }

  #setState(state: ViewerState, reason?: string): void {
    if (this.#state === state || this.#state === "closed") return;
    this.#state = state;
    this.#events.emit("state", { state, reason });
  }

  #fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      sessionId: this.#o.sessionId,
      peerId: this.#signaling.peerId,
      handshakeId: this.#conn?.handshakeId ?? this.#lastHandshake,
      ...extra,
    };
  }
}
