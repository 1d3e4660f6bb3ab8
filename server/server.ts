/**
 * The signaling server on `Deno.serve`: {@link startSignalingServer} listens and answers
 * with the fetch handler of `handler.ts`, upgrading WebSockets with `Deno.upgradeWebSocket`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  createSignalingHandler,
  type SignalingHandler,
  type SignalingHandlerOptions,
} from "./handler.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { SessionStore } from "./store.ts";

/**
 * Options of {@link startSignalingServer}: where to listen, and everything the handler
 * takes (the ICE servers handed to clients, where state lives, session limits and expiry,
 * per-connection limits, extra routes).
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
export interface SignalingServerOptions extends Omit<SignalingHandlerOptions, "upgradeWebSocket"> {
  /** Address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** Port to listen on (default 8787; 0 picks a free one). */
  port?: number;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
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
  /** What answers its requests. */
  readonly handler: SignalingHandler;
  #http: Deno.HttpServer<Deno.NetAddr>;
  #closed?: Promise<void>;
  #log = getLogger(["shoal", "server"]);

  /** Starts listening at once (same as {@link startSignalingServer}). */
  constructor(options: SignalingServerOptions = {}) {
    const { hostname, port, signal, ...rest } = options;
    this.handler = createSignalingHandler({
      ...rest,
      upgradeWebSocket: (request) => Deno.upgradeWebSocket(request, { idleTimeout: 0 }),
    });
    this.#http = Deno.serve({
      hostname: hostname ?? "127.0.0.1",
      port: port ?? 8787,
      onListen: () => {},
    }, this.handler.fetch);
    this.port = this.#http.addr.port;
    const host = this.#http.addr.hostname.includes(":")
      ? `[${this.#http.addr.hostname}]`
      : this.#http.addr.hostname;
    this.url = `http://${host}:${this.port}`;
    signal?.addEventListener("abort", () => this.close(), { once: true });
    this.#log.info("listening on {url}", { url: this.url });
  }

  /** Its metrics. */
  get metrics(): ServerMetrics {
    return this.handler.metrics;
  }

  /** Its session state. */
  get store(): SessionStore {
    return this.handler.store;
  }

  /** Open connections (for tests and metrics). */
  get connectionCount(): number {
    return this.handler.connectionCount;
  }

  /** What the server holds, for leak checks (see {@link SignalingHandler.retained}). */
  retained(): Record<string, number> {
    return this.handler.retained();
  }

  /** Closes every socket with 1001 (after an `error` `shutdown`), then stops listening. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.handler.close();
      await this.#http.shutdown();
      this.#log.info("stopped", { url: this.url });
    })();
    return this.#closed;
  }

  /** Stops the server (see {@link SignalingServer.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
