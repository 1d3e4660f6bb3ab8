/**
 * The shoal signaling server: sessions with a host token and a join code, the hello
 * handshake, routing of WebRTC signals between a session's host and its viewers, presence,
 * limits, metrics. Runs on `Deno.serve`; its state sits behind {@link SessionStore} and
 * {@link Bus} so a shared engine can replace the in-memory default.
 *
 * @example
 * ```ts ignore
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 8787 });
 * const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
 * const { sessionId, joinCode } = await res.json();
 * console.log(sessionId, joinCode);
 * ```
 *
 * @module
 */
export {
  type CreatedSession,
  MAX_VIEWERS_LIMIT,
  SignalingServer,
  type SignalingServerOptions,
  startSignalingServer,
} from "./server.ts";
export { CloseCode, type ConnectionLimits, DEFAULT_LIMITS } from "./connection.ts";
export { MemoryBus, MemoryStore, type MemoryStoreOptions } from "./memory_store.ts";
export type { Bus, SessionRecord, SessionStore, ViewerInfo } from "./store.ts";
export type { ServerMetrics } from "./metrics.ts";
