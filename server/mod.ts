/**
 * The shoal signaling server: sessions with a host token and a join code, the hello
 * handshake, routing of WebRTC signals between a session's host and its viewers, presence,
 * limits, metrics. Runs on `Deno.serve`; its state sits behind {@link SessionStore} and
 * {@link Bus}: in memory by default, or in Redis ({@link connectRedis}) so that several
 * servers behind a load balancer share sessions and route to each other's clients.
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
export {
  type Bus,
  type LostPeer,
  type PeerRef,
  type SessionRecord,
  type SessionStore,
  type StoreEvent,
  type StoreHealth,
  StoreUnavailableError,
  type ViewerInfo,
} from "./store.ts";
export { connectRedis, type RedisOptions, RedisState } from "./redis.ts";
export { RedisStore, type RedisStoreOptions } from "./redis_store.ts";
export { RedisBus } from "./redis_bus.ts";
export { RedisLink, type RedisLinkOptions } from "./redis_link.ts";
export { RedisKeys } from "./redis_scripts.ts";
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
export { RedisCounters } from "./redis_counters.ts";
export { clientAddress, type ClientAddressOptions } from "./client_address.ts";
export { OriginPolicy } from "./origin.ts";
export {
  DEFAULT_TURN_TTL_SECONDS,
  type IceServerSource,
  turnIceServers,
  type TurnOptions,
} from "./turn.ts";
