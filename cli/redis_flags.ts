/**
 * The `--redis` flags of `deno task signal`: with `--redis URL` the server keeps its state
 * in Redis, shared with every other server given the same URL and prefix.
 *
 * @module
 */
import { flagTable, type FlagValues, UsageError } from "./flags.ts";
import { connectRedis, type RedisState } from "../server/redis/connect.ts";

/** Flags of the Redis-backed state. */
export const REDIS_FLAGS = flagTable({
  redis: {
    type: "string",
    help: "keep sessions in Redis at this URL (redis://host:port), shared by servers",
  },
  "redis-prefix": { type: "string", help: "prefix of Redis keys", default: "shoal:" },
  "redis-heartbeat-ms": {
    type: "int",
    help: "a stopped server's clients are announced left within about this long",
    default: 5000,
    min: 100,
  },
});

/**
 * Connects to Redis when `--redis` was given (`undefined` otherwise). Rejects with a
 * `StoreUnavailableError` when Redis cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { redisFromFlags } from "./redis_flags.ts";
 * const redis = await redisFromFlags({
 *   redis: "redis://127.0.0.1:6379",
 *   "redis-prefix": "shoal:",
 *   "redis-heartbeat-ms": 5000,
 * });
 * await redis?.close();
 * ```
 */
export async function redisFromFlags(
  flags: FlagValues<typeof REDIS_FLAGS>,
): Promise<RedisState | undefined> {
  const url = flags.redis;
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\/./.test(url)) {
    throw new UsageError("--redis must be a redis:// or rediss:// URL");
  }
  return await connectRedis({
    url,
    prefix: flags["redis-prefix"],
    heartbeatTtlMs: flags["redis-heartbeat-ms"],
  });
}
