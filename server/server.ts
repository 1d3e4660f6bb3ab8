/**
 * The signaling server: HTTP routes and WebSocket upgrades on `Deno.serve`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { abortable } from "../core/async.ts";
import type { IceServerSource } from "./turn.ts";
import { CloseCode, Connection, type ConnectionLimits, DEFAULT_LIMITS } from "./connection.ts";
import { hashSecret, newHostToken, newJoinCode, newSessionId, normalizeJoinCode } from "./ids.ts";
import { MemoryBus, MemoryStore } from "./memory_store.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { Relay } from "./relay.ts";
import { type Bus, type SessionStore, type StoreEvent, StoreUnavailableError } from "./store.ts";

/**
 * Options of {@link startSignalingServer}: where to listen, the ICE servers handed to
 * clients, where state lives (in memory by default, or a shared {@link SessionStore} and
 * {@link Bus}), session limits and expiry, per-connection limits, extra routes.
 *
 * @example
 * ```ts
 * import { startSignalingServer, type SignalingServerOptions } from "@shoal/shoal/server";
 *
 * const options: SignalingServerOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   defaultMaxViewers: 500,
 *   limits: { viewerRate: 50 },
 *   routes: (request) =>
 *     new URL(request.url).pathname === "/hello" ? new Response("hello") : undefined,
 * };
 * await using server = startSignalingServer(options);
 * console.assert(await (await fetch(`${server.url}/hello`)).text() === "hello");
 * ```
 */
export interface SignalingServerOptions {
  /** Address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** Port to listen on (default 8787; 0 picks a free one). */
  port?: number;
  /** ICE servers handed to clients, or a minter such as `turnIceServers` (default `[]`). */
  iceServers?: IceServerSource;
  /** Session state (default: in memory). A store passed in is not closed with the server. */
  store?: SessionStore;
  /** Message delivery (default: in memory). A bus passed in is not closed with the server. */
  bus?: Bus;
  /** How long a session outlives its last connection, ms (default 10 minutes). */
  sessionIdleTtlMs?: number;
  /** `maxViewers` of a session created without one (default 256). */
  defaultMaxViewers?: number;
  /** Most sessions held at once; past it `POST /v1/sessions` answers 429 (default 10 000). */
  maxSessions?: number;
  /** Per-connection limits (defaults of PROTOCOL.md §1). */
  limits?: Partial<ConnectionLimits>;
  /** Extra routes tried before the built-in ones (the web pages use this). */
  routes?: (request: Request) => Response | Promise<Response> | undefined;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

/**
 * The most viewers any session may admit (`maxViewers` above it is refused with 400).
 *
 * @example
 * ```ts
 * import { MAX_VIEWERS_LIMIT, startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const res = await fetch(`${server.url}/v1/sessions`, {
 *   method: "POST",
 *   body: JSON.stringify({ maxViewers: MAX_VIEWERS_LIMIT + 1 }),
 * });
 * await res.body?.cancel();
 * console.assert(res.status === 400);
 * ```
 */
export const MAX_VIEWERS_LIMIT = 10_000;

/**
 * The body `POST /v1/sessions` answers with: the session's id, the host's secret token,
 * the join code for viewers and the WebSocket URL.
 *
 * @example
 * ```ts
 * import { type CreatedSession, startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
 * const created: CreatedSession = await res.json();
 * console.assert(created.wsUrl.endsWith(`/v1/sessions/${created.sessionId}/ws`));
 * ```
 */
export interface CreatedSession {
  /** The new session's id. */
  sessionId: string;
  /** The host's secret. */
  hostToken: string;
  /** What viewers type to join. */
  joinCode: string;
  /** Where to open the WebSocket. */
  wsUrl: string;
}

function _json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function _error(status: number, code: string, message: string): Response {
  return _json(status, { error: { code, message } });
}

/**
 * A running signaling server: the HTTP API (`POST /v1/sessions`, `GET /v1/sessions/:id`,
 * `/healthz`, `/metrics`) and the WebSocket that routes signals between a session's host
 * and its viewers (PROTOCOL.md §1). {@link SignalingServer.close} closes every socket with
 * 1001 and stops; so does `await using`.
 *
 * @example
 * ```ts
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const health = await fetch(`${server.url}/healthz`);
 * console.assert(health.ok && (await health.text()) === "ok");
 * console.assert(server.metrics.registry.render().includes("shoal_signal_sessions"));
 * ```
 */
export class SignalingServer implements AsyncDisposable {
  /** Base URL, such as `http://127.0.0.1:8787`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Its metrics. */
  readonly metrics: ServerMetrics;
  /** Its session state. */
  readonly store: SessionStore;

  #http: Deno.HttpServer<Deno.NetAddr>;
  #bus: Bus;
  #relay: Relay;
  #limits: ConnectionLimits;
  #options: SignalingServerOptions;
  #connections: Set<Connection> = new Set();
  #closed?: Promise<void>;
  #unwatch: () => void;
  #log = getLogger(["shoal", "server"]);

  /** Starts listening at once (same as {@link startSignalingServer}). */
  constructor(options: SignalingServerOptions = {}) {
    this.#options = options;
    this.metrics = createServerMetrics();
    this.store = options.store ?? new MemoryStore({
      idleTtlMs: options.sessionIdleTtlMs,
      onExpire: (sessionId) => {
        this.#log.info("session expired", { sessionId });
      },
    });
    this.#bus = options.bus ?? new MemoryBus();
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#relay = new Relay({
      store: this.store,
      bus: this.#bus,
      metrics: this.metrics,
      log: this.#log,
      iceServers: options.iceServers ?? [],
    });
    this.#unwatch = this.store.watch((event) => this.#storeEvent(event));
    this.#http = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 8787,
      onListen: () => {},
    }, (request) => this.#route(request));
    this.port = this.#http.addr.port;
    const host = this.#http.addr.hostname.includes(":")
      ? `[${this.#http.addr.hostname}]`
      : this.#http.addr.hostname;
    this.url = `http://${host}:${this.port}`;
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
    this.#log.info("listening on {url}", { url: this.url });
  }

  /** Open connections (for tests and metrics). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Closes every socket with 1001 (after an `error` `shutdown`), then stops listening. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const all = [...this.#connections];
      for (const c of all) {
        c.fail("shutdown", "the server is shutting down", CloseCode.goingAway, "shutdown");
      }
      // Bounded: a client that never completes the close handshake does not hold us up.
      await abortable(Promise.all(all.map((c) => c.done)), AbortSignal.timeout(2_000))
        .catch(() => {});
      await this.#http.shutdown();
      this.#unwatch();
      if (!this.#options.store) await this.store.close();
      if (!this.#options.bus) await this.#bus.close();
      this.#log.info("stopped", { url: this.url });
    })();
    return this.#closed;
  }

  /** Stops the server (see {@link SignalingServer.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A peer lost with its server is announced here; a fenced server drops every socket. */
  async #storeEvent(event: StoreEvent): Promise<void> {
    if (event.type === "lost") return await this.#relay.lost(event.peer);
    this.#log.warn("fenced: {reason}; closing every connection", { reason: event.reason });
    const all = [...this.#connections];
    for (const c of all) c.fail("shutdown", event.reason, CloseCode.serviceRestart, "shutdown");
    await Promise.all(all.map((c) => c.done));
  }

  async #route(request: Request): Promise<Response> {
    try {
      return await this.#routeOrThrow(request);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      return _error(503, "store-unavailable", error.message);
    }
  }

  async #routeOrThrow(request: Request): Promise<Response> {
    const extra = await this.#options.routes?.(request);
    if (extra) return extra;
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/healthz") {
      const health = await this.store.health();
      if (health.ok) return new Response("ok");
      return _error(503, "store-unavailable", health.reason ?? "the session store cannot serve");
    }
    if (path === "/metrics") {
      // Metrics stay readable while the store is out; the gauge keeps its last value.
      const sessions = await this.store.count().catch(() => undefined);
      if (sessions !== undefined) this.metrics.sessions.set(sessions);
      return new Response(this.metrics.registry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      });
    }
    if (path === "/v1/sessions") {
      if (request.method !== "POST") return _error(405, "method-not-allowed", "use POST");
      return await this.#create(request, url);
    }
    const match = path.match(/^\/v1\/sessions\/([A-Za-z0-9_-]{1,64})(\/ws)?$/);
    if (!match) return _error(404, "not-found", `no route ${path}`);
    const record = await this.store.get(match[1]);
    if (!record) return _error(404, "unknown-session", "no such session");
    if (match[2]) return this.#upgrade(request, record.sessionId);
    if (request.method !== "GET") return _error(405, "method-not-allowed", "use GET");
    return _json(200, {
      sessionId: record.sessionId,
      hostOnline: (await this.store.host(record.sessionId)) !== undefined,
      viewers: (await this.store.viewers(record.sessionId)).length,
      maxViewers: record.maxViewers,
    });
  }

  async #create(request: Request, url: URL): Promise<Response> {
    const text = await request.text();
    if (text.length > 4096) return _error(413, "too-large", "the body is too large");
    let maxViewers = this.#options.defaultMaxViewers ?? 256;
    if (text.trim() !== "") {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return _error(400, "bad-request", "the body is not valid JSON");
      }
      const asked = (body as { maxViewers?: unknown } | null)?.maxViewers;
      if (typeof body !== "object" || body === null) {
        return _error(400, "bad-request", "the body must be a JSON object");
      }
      if (asked !== undefined) {
        if (
          !Number.isInteger(asked) || (asked as number) < 1 || (asked as number) > MAX_VIEWERS_LIMIT
        ) {
          return _error(
            400,
            "bad-request",
            `maxViewers must be an integer from 1 to ${MAX_VIEWERS_LIMIT}`,
          );
        }
        maxViewers = asked as number;
      }
    }
    if ((await this.store.count()) >= (this.#options.maxSessions ?? 10_000)) {
      return _error(429, "too-many-sessions", "the server holds as many sessions as it may");
    }
    const sessionId = newSessionId();
    const hostToken = newHostToken();
    const joinCode = newJoinCode();
    await this.store.create({
      sessionId,
      maxViewers,
      tokenHash: await hashSecret(hostToken),
      joinCodeHash: await hashSecret(normalizeJoinCode(joinCode)),
      createdAt: Date.now(),
    });
    this.metrics.sessionsCreated.inc();
    this.#log.info("session created", { sessionId, maxViewers });
    const scheme = url.protocol === "https:" ? "wss:" : "ws:";
    const wsUrl = `${scheme}//${url.host}/v1/sessions/${sessionId}/ws`;
    const created: CreatedSession = { sessionId, hostToken, joinCode, wsUrl };
    return _json(201, created);
  }

  #upgrade(request: Request, sessionId: string): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return _error(400, "upgrade-required", "this path takes a WebSocket upgrade");
    }
    if (this.#closed) return _error(503, "shutdown", "the server is shutting down");
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    const conn = new Connection(socket, sessionId, {
      limits: this.#limits,
      handler: this.#relay,
      metrics: this.metrics,
      log: this.#log,
    });
    this.#connections.add(conn);
    conn.done.then(() => this.#connections.delete(conn));
    return response;
  }
}

/**
 * Starts a signaling server on `options.hostname` and `options.port` (default
 * 127.0.0.1:8787) with its state in memory unless a store and a bus are given.
 *
 * @example A server on a free port, and a session on it
 * ```ts
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * const server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
 * const { sessionId, joinCode } = await res.json();
 * console.log(`session ${sessionId}, join code ${joinCode}`);
 * await server.close();
 * ```
 */
export function startSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  return new SignalingServer(options);
}
