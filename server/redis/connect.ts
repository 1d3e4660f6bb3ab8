/**
 * The Redis-backed state of a signaling server: {@link connectRedis} opens the connections
 * and returns a {@link RedisStore} and a {@link RedisBus} to hand to
 * `startSignalingServer`, so that several servers behind a load balancer share sessions
 * and route signals to each other's clients.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { RedisBus } from "./bus.ts";
import { RedisCounters } from "./counters.ts";
import { RedisLink } from "./link.ts";
import { RedisStore } from "./store.ts";

/**
 * Options of {@link connectRedis}: the Redis URL and key prefix (servers sharing state use
 * the same), session expiry, the heartbeat that tells live servers from dead ones, and the
 * time allowed per command.
 *
 * @example
 * ```ts
 * import type { RedisOptions } from "@shoal/shoal/server";
 *
 * const options: RedisOptions = { url: "redis://127.0.0.1:6379", heartbeatTtlMs: 3_000 };
 * console.assert(options.prefix === undefined); // "shoal:" by default
 * ```
 */
export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of every key and channel; servers that share state use the same (`shoal:`). */
  prefix?: string;
  /** How long a session outlives its last connection, ms (default 10 minutes). */
  idleTtlMs?: number;
  /**
   * How long a server's heartbeat outlives its last refresh, ms (default 5 000): the
   * connections of a server that stopped are announced as left within about this long.
   */
  heartbeatTtlMs?: number;
  /** How often the heartbeat is refreshed and dead servers looked for, ms (default TTL / 5). */
  heartbeatIntervalMs?: number;
  /** Time allowed to connect and for each command, ms (default 2 000). */
  timeoutMs?: number;
}

/**
 * Redis connections with the store and bus over them. `close()` stops the heartbeat,
 * retires this server and quits Redis; close the signaling server first.
 *
 * @example
 * ```ts ignore
 * import { connectRedis } from "./connect.ts";
 * const redis = await connectRedis({ url: "redis://127.0.0.1:6379", prefix: "app:" });
 * console.log(redis.store.serverId, (await redis.store.health()).ok);
 * await redis.close();
 * ```
 */
export class RedisState implements AsyncDisposable {
  /** Sessions and presence. */
  readonly store: RedisStore;
  /** Message delivery. */
  readonly bus: RedisBus;
  /** The limits' counters, shared by every server on this Redis and prefix. */
  readonly counters: RedisCounters;
  #link: RedisLink;
  #closed?: Promise<void>;

  /** Wraps an open link with its store and bus (see {@link connectRedis}). */
  constructor(link: RedisLink, store: RedisStore, bus: RedisBus) {
    this.#link = link;
    this.store = store;
    this.bus = bus;
    this.counters = new RedisCounters(link);
  }

  /** Stops the heartbeat, retires this server, closes both connections. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.counters.close();
      await this.store.close();
      await this.bus.close();
      await this.#link.close();
    })();
    return this.#closed;
  }

  /** Same as {@link RedisState.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to Redis and registers this server. Rejects with a `StoreUnavailableError`
 * when Redis cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { connectRedis, startSignalingServer } from "@shoal/shoal/server";
 *
 * await using redis = await connectRedis({ url: "redis://127.0.0.1:6379" });
 * await using server = startSignalingServer({ port: 8787, store: redis.store, bus: redis.bus });
 * ```
 */
export async function connectRedis(options: RedisOptions): Promise<RedisState> {
  const log = getLogger(["shoal", "server", "redis"]);
  const link = await RedisLink.open({
    url: options.url,
    prefix: options.prefix,
    timeoutMs: options.timeoutMs,
    log,
  });
  const store = new RedisStore(link, {
    idleTtlMs: options.idleTtlMs,
    heartbeatTtlMs: options.heartbeatTtlMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    log,
  });
  try {
    await store.start();
  } catch (error) {
    await link.close();
    throw error;
  }
  return new RedisState(link, store, new RedisBus(link));
}
