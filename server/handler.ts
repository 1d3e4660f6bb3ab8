/**
 * The signaling server as a fetch handler ({@link createSignalingHandler}): every route of
 * the HTTP API and the WebSocket that routes signals, as `fetch(request) → Response`, with
 * the WebSocket upgrade injected. `startSignalingServer` runs it on `Deno.serve`; any other
 * HTTP server (or a test, without a socket) can call `fetch` itself.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { abortable } from "../core/async.ts";
import { CloseCode, type IceServer } from "../core/protocol.ts";
import { clientAddress } from "./client_address.ts";
import { Connection, type ConnectionLimits, DEFAULT_LIMITS } from "./connection.ts";
import type { CounterStore } from "./counters.ts";
import { hashSecret, newHostToken, newJoinCode, newSessionId, normalizeJoinCode } from "./ids.ts";
import { MemoryBus, MemoryStore } from "./memory_store.ts";
import { type AddressLimits, Limiter, refusalResponse } from "./limits.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { OriginPolicy } from "./origin.ts";
import { type IceServersFor, Relay } from "./relay.ts";
import { type Bus, type SessionStore, type StoreEvent, StoreUnavailableError } from "./store.ts";

export type { IceServersFor } from "./relay.ts";

/**
 * A WebSocket upgrade as `Deno.upgradeWebSocket` (or a server's own) gives it: the socket
 * and the `101` response to answer the request with.
 *
 * @example
 * ```ts
 * import type { UpgradeWebSocket } from "@shoal/shoal/server";
 *
 * const upgrade: UpgradeWebSocket = (request) => Deno.upgradeWebSocket(request, { idleTimeout: 0 });
 * console.assert(typeof upgrade === "function");
 * ```
 */
export type UpgradeWebSocket = (request: Request) => { socket: WebSocket; response: Response };

/**
 * What the HTTP server knows of a request besides the request: the peer's address (Deno's
 * `ServeHandlerInfo` is one).
 *
 * @example
 * ```ts
 * import type { RequestInfo } from "@shoal/shoal/server";
 *
 * const info: RequestInfo = { remoteAddr: { hostname: "192.0.2.1" } };
 * console.assert(info.remoteAddr?.hostname === "192.0.2.1");
 * ```
 */
export interface RequestInfo {
  /** The socket's peer. */
  remoteAddr?: { hostname: string };
}

/**
 * Options of {@link createSignalingHandler}: the ICE servers handed to clients, where state
 * lives (in memory by default, or a shared {@link SessionStore} and {@link Bus}), session
 * limits and expiry, per-connection limits, extra routes and the WebSocket upgrade.
 *
 * @example
 * ```ts
 * import { createSignalingHandler, type SignalingHandlerOptions } from "@shoal/shoal/server";
 *
 * const options: SignalingHandlerOptions = {
 *   defaultMaxViewers: 500,
 *   routes: (request) =>
 *     new URL(request.url).pathname === "/hello" ? new Response("hello") : undefined,
 * };
 * await using handler = createSignalingHandler(options);
 * const res = await handler.fetch(new Request("http://localhost/hello"));
 * console.assert((await res.text()) === "hello");
 * ```
 */
export interface SignalingHandlerOptions {
  /**
   * ICE servers handed to clients in `welcome` (default `[]`: never a public STUN server),
   * or a function that gives each client its own (such as TURN credentials minted for it).
   */
  iceServers?: IceServer[] | IceServersFor;
  /** Session state (default: in memory). A store passed in is not closed with the handler. */
  store?: SessionStore;
  /** Message delivery (default: in memory). A bus passed in is not closed with the handler. */
  bus?: Bus;
  /** How long a session outlives its last connection, ms (default 10 minutes). */
  sessionIdleTtlMs?: number;
  /** `maxViewers` of a session created without one (default 256). */
  defaultMaxViewers?: number;
  /** Most sessions held at once; past it `POST /v1/sessions` answers 429 (default 10 000). */
  maxSessions?: number;
  /** Per-connection limits (defaults of PROTOCOL.md §1). */
  limits?: Partial<ConnectionLimits>;
  /**
   * Limits per client address and per session: session creations a minute, open
   * WebSockets, failed hellos (defaults: `DEFAULT_ADDRESS_LIMITS`; 0 turns one off).
   */
  addressLimits?: Partial<AddressLimits>;
  /**
   * Where those limits count (default: in memory). Servers that share state in Redis share
   * them too with `RedisState.counters`. Not closed with the handler.
   */
  counters?: CounterStore;
  /**
   * Count a request against the first hop of `X-Forwarded-For` instead of the socket's
   * address: only behind a proxy that sets it (default false).
   */
  trustProxy?: boolean;
  /**
   * Web origins allowed to open a WebSocket or create a session besides the server's own
   * pages (`*` for any). Clients that send no `Origin` (not a browser) always pass.
   * Default: none.
   */
  allowedOrigins?: readonly string[];
  /** Extra routes tried before the built-in ones (the web pages use this). */
  routes?: (request: Request) => Response | Promise<Response> | undefined;
  /**
   * Upgrades a request to a WebSocket (on Deno: `Deno.upgradeWebSocket`). Without it the
   * WebSocket route answers 501.
   */
  upgradeWebSocket?: UpgradeWebSocket;
}

/**
 * The signaling server as a fetch handler: the HTTP API (`POST /v1/sessions`,
 * `GET /v1/sessions/:id`, `/healthz`, `/metrics`) and the WebSocket that routes signals
 * between a session's host and its viewers (PROTOCOL.md §1). `close()` closes every socket
 * with 1001; so does `await using`.
 *
 * @example Routes called without a socket
 * ```ts
 * import { createSignalingHandler } from "@shoal/shoal/server";
 *
 * await using handler = createSignalingHandler();
 * const res = await handler.fetch(new Request("http://localhost/v1/sessions", { method: "POST" }));
 * const { wsUrl } = await res.json();
 * console.assert(res.status === 201 && wsUrl.startsWith("ws://localhost/v1/sessions/"));
 * ```
 */
export interface SignalingHandler extends AsyncDisposable {
  /** Answers one request (bound: pass `handler.fetch` as it is). */
  readonly fetch: (request: Request, info?: RequestInfo) => Promise<Response>;
  /** Closes every socket with 1001 (after an `error` `shutdown`) and stops. Idempotent. */
  close(): Promise<void>;
  /** Its metrics. */
  readonly metrics: ServerMetrics;
  /** Its session state. */
  readonly store: SessionStore;
  /** Open WebSocket connections. */
  readonly connectionCount: number;
  /**
   * What it holds, for leak checks: open `connections`, and from its in-memory store and bus
   * `sessions` and, per peer, `viewers`, `handshakes` and `subscribers` (absent with a shared
   * store or bus, which keep them elsewhere).
   */
  retained(): Record<string, number>;
}

/**
 * The most viewers any session may admit (`maxViewers` above it is refused with 400).
 *
 * @example
 * ```ts
 * import { createSignalingHandler, MAX_VIEWERS_LIMIT } from "@shoal/shoal/server";
 *
 * await using handler = createSignalingHandler();
 * const res = await handler.fetch(new Request("http://localhost/v1/sessions", {
 *   method: "POST",
 *   body: JSON.stringify({ maxViewers: MAX_VIEWERS_LIMIT + 1 }),
 * }));
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
 * import { type CreatedSession, createSignalingHandler } from "@shoal/shoal/server";
 *
 * await using handler = createSignalingHandler();
 * const res = await handler.fetch(new Request("http://localhost/v1/sessions", { method: "POST" }));
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

const _maxViewersError = `maxViewers must be an integer from 1 to ${MAX_VIEWERS_LIMIT}`;

/** The body of `POST /v1/sessions` (empty, or a JSON object). */
const _createBody = z.object({
  maxViewers: z.int({ error: _maxViewersError })
    .min(1, { error: _maxViewersError })
    .max(MAX_VIEWERS_LIMIT, { error: _maxViewersError })
    .optional(),
}, { error: "the body must be a JSON object" });

/** The largest `POST /v1/sessions` body, in characters. */
const _MAX_CREATE_BODY = 4096;

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
 * Makes the signaling server's fetch handler, with its state in memory unless a store and
 * a bus are given.
 *
 * @example Deno.serve around it (what `startSignalingServer` does)
 * ```ts
 * import { createSignalingHandler } from "@shoal/shoal/server";
 *
 * await using handler = createSignalingHandler({
 *   upgradeWebSocket: (request) => Deno.upgradeWebSocket(request, { idleTimeout: 0 }),
 * });
 * const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler.fetch);
 * const health = await fetch(`http://127.0.0.1:${http.addr.port}/healthz`);
 * console.assert((await health.text()) === "ok");
 * await handler.close();
 * await http.shutdown();
 * ```
 */
export function createSignalingHandler(options: SignalingHandlerOptions = {}): SignalingHandler {
  return new _Handler(options);
}

class _Handler implements SignalingHandler {
  readonly metrics: ServerMetrics;
  readonly store: SessionStore;
  #bus: Bus;
  #relay: Relay;
  #limits: ConnectionLimits;
  #limiter: Limiter;
  #origins: OriginPolicy;
  #options: SignalingHandlerOptions;
  #connections: Set<Connection> = new Set();
  #closed?: Promise<void>;
  #unwatch: () => void;
  #log = getLogger(["shoal", "server"]);

  constructor(options: SignalingHandlerOptions) {
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
    this.#origins = new OriginPolicy(options.allowedOrigins);
    this.#limiter = new Limiter({
      counters: options.counters,
      limits: options.addressLimits,
      refused: this.metrics.refused,
    });
    const ice = options.iceServers ?? [];
    this.#relay = new Relay({
      store: this.store,
      bus: this.#bus,
      metrics: this.metrics,
      log: this.#log,
      iceServers: typeof ice === "function" ? ice : () => ice,
      limiter: this.#limiter,
    });
    this.#unwatch = this.store.watch((event) => this.#storeEvent(event));
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  retained(): Record<string, number> {
    const of = (x: unknown) =>
      (x as { retained?: () => Record<string, number> }).retained?.() ?? {};
    return { connections: this.#connections.size, ...of(this.store), ...of(this.#bus) };
  }

  readonly fetch = async (request: Request, info?: RequestInfo): Promise<Response> => {
    if (this.#closed) return _error(503, "shutdown", "the server is shutting down");
    try {
      return await this.#route(request, info);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      return _error(503, "store-unavailable", error.message);
    }
  };

  close(): Promise<void> {
    this.#closed ??= (async () => {
      const all = [...this.#connections];
      for (const c of all) {
        c.fail("shutdown", "the server is shutting down", CloseCode.goingAway, "shutdown");
      }
      // Bounded: a client that never completes the close handshake does not hold us up.
      await abortable(Promise.all(all.map((c) => c.done)), AbortSignal.timeout(2_000))
        .catch(() => {});
      this.#unwatch();
      await this.#limiter.close();
      if (!this.#options.store) await this.store.close();
      if (!this.#options.bus) await this.#bus.close();
    })();
    return this.#closed;
  }

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

  /** The address `request` counts against. */
  #address(request: Request, info?: RequestInfo): string {
    const remote = info?.remoteAddr?.hostname ?? "unknown";
    return clientAddress(request, remote, { trustProxy: this.#options.trustProxy });
  }

  /** The 403 for a web page the origin policy refuses, counted; undefined when it passes. */
  #originRefusal(request: Request): Response | undefined {
    if (this.#origins.allows(request)) return undefined;
    this.metrics.refused.inc({ reason: "origin" });
    return this.#origins.refusal(request);
  }

  async #route(request: Request, info?: RequestInfo): Promise<Response> {
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
      return await this.#create(request, url, info);
    }
    const match = path.match(/^\/v1\/sessions\/([A-Za-z0-9_-]{1,64})(\/ws)?$/);
    if (!match) return _error(404, "not-found", `no route ${path}`);
    const record = await this.store.get(match[1]);
    if (!record) return _error(404, "unknown-session", "no such session");
    if (match[2]) return await this.#upgrade(request, record.sessionId, info);
    if (request.method !== "GET") return _error(405, "method-not-allowed", "use GET");
    return _json(200, {
      sessionId: record.sessionId,
      hostOnline: (await this.store.host(record.sessionId)) !== undefined,
      viewers: (await this.store.viewers(record.sessionId)).length,
      maxViewers: record.maxViewers,
    });
  }

  async #create(request: Request, url: URL, info?: RequestInfo): Promise<Response> {
    const refused = this.#originRefusal(request);
    if (refused) return refused;
    const limited = await this.#limiter.createSession(this.#address(request, info));
    if (limited) return refusalResponse(limited);
    const text = await request.text();
    if (text.length > _MAX_CREATE_BODY) return _error(413, "too-large", "the body is too large");
    let body: unknown = {};
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        return _error(400, "bad-request", "the body is not valid JSON");
      }
    }
    const parsed = _createBody.safeParse(body);
    if (!parsed.success) return _error(400, "bad-request", parsed.error.issues[0].message);
    const maxViewers = parsed.data.maxViewers ?? this.#options.defaultMaxViewers ?? 256;
    const maxSessions = this.#options.maxSessions ?? 10_000;
    if ((await this.store.count()) >= maxSessions) {
      return refusalResponse(this.#limiter.sessionCap(maxSessions));
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

  async #upgrade(request: Request, sessionId: string, info?: RequestInfo): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return _error(400, "upgrade-required", "this path takes a WebSocket upgrade");
    }
    const upgrade = this.#options.upgradeWebSocket;
    if (!upgrade) return _error(501, "no-websocket", "this server cannot upgrade to WebSocket");
    const refused = this.#originRefusal(request);
    if (refused) return refused;
    const address = this.#address(request, info);
    const lease = await this.#limiter.openSocket(address);
    if ("reason" in lease) return refusalResponse(lease);
    let upgraded;
    try {
      upgraded = upgrade(request);
    } catch (error) {
      await lease.release();
      throw error;
    }
    const conn = new Connection(upgraded.socket, sessionId, {
      address,
      limits: this.#limits,
      handler: this.#relay,
      metrics: this.metrics,
      log: this.#log,
    });
    this.#connections.add(conn);
    // Counted until its place is given back, so that a count of 0 means every place is.
    conn.done
      .then(() => lease.release())
      .catch((error) => this.#log.warn("socket lease not released: {error}", { address, error }))
      .finally(() => this.#connections.delete(conn));
    return upgraded.response;
  }
}
