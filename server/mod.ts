/**
 * The shoal signaling server: sessions with a host token and a join code, the hello
 * handshake, routing of WebRTC signals between a session's host and its viewers, presence,
 * limits, metrics. A fetch handler ({@link createSignalingHandler}) that
 * {@link startSignalingServer} runs on `Deno.serve`; its state sits behind
 * {@link SessionStore} and {@link Bus}: in memory by default, or in Redis
 * ({@link connectRedis}) so that several servers behind a load balancer share sessions and
 * route to each other's clients.
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
  createSignalingHandler,
  type IceServersFor,
  MAX_VIEWERS_LIMIT,
  type RequestInfo,
  type SignalingHandler,
  type SignalingHandlerOptions,
  type UpgradeWebSocket,
} from "./handler.ts";
export { SignalingServer, type SignalingServerOptions, startSignalingServer } from "./server.ts";
export { CloseCode } from "../core/protocol.ts";
export { type ConnectionLimits, DEFAULT_LIMITS } from "./connection.ts";
export { MemoryBus, MemoryStore, type MemoryStoreOptions } from "./memory_store.ts";
export * from "./store.ts";
export { connectRedis, type RedisOptions, RedisState } from "./redis/connect.ts";
export { RedisStore, type RedisStoreOptions } from "./redis/store.ts";
export { RedisBus } from "./redis/bus.ts";
export { RedisLink, type RedisLinkOptions } from "./redis/link.ts";
export { RedisKeys } from "./redis/scripts.ts";
export type { ServerMetrics } from "./metrics.ts";
export {
  type AddressLimits,
  DEFAULT_ADDRESS_LIMITS,
  LIMIT_CODES,
  Limiter,
  type LimiterOptions,
  type LimitReason,
  type Refusal,
  refusalResponse,
  type SocketLease,
} from "./limits.ts";
export {
  type CounterStore,
  type HitOptions,
  MemoryCounters,
  type MemoryCountersOptions,
  type WindowCount,
} from "./counters.ts";
export { RedisCounters } from "./redis/counters.ts";
export { clientAddress, type ClientAddressOptions } from "./client_address.ts";
export { OriginPolicy } from "./origin.ts";
export { DEFAULT_TURN_TTL_SECONDS, turnIceServers, type TurnOptions } from "./turn.ts";
