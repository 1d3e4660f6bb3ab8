/**
 * The `--redis` flags of `deno task signal`: with `--redis URL` the server keeps its state
 * in Redis, shared with every other server given the same URL and prefix.
 *
 * @module
 */
import { type FlagSpec, intFlag, UsageError } from "../cli/flags.ts";
import { connectRedis, type RedisState } from "./redis.ts";

/** Flags of the Redis-backed state. */
export const REDIS_FLAGS: FlagSpec[] = [
  {
    name: "redis",
    type: "string",
    description: "keep sessions in Redis at this URL (redis://host:port), shared by servers",
  },
  { name: "redis-prefix", type: "string", description: "prefix of Redis keys", default: "shoal:" },
  {
    name: "redis-heartbeat-ms",
    type: "string",
    description: "a stopped server's clients are announced left within about this long",
    default: "5000",
  },
];

/**
 * Connects to Redis when `--redis` was given (`undefined` otherwise). Rejects with a
 * `StoreUnavailableError` when Redis cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { redisFromFlags } from "./redis_flags.ts";
 * const redis = await redisFromFlags({ redis: "redis://127.0.0.1:6379" });
 * await redis?.close();
 * ```
 */
export async function redisFromFlags(
  flags: Record<string, string | boolean | undefined>,
): Promise<RedisState | undefined> {
  const url = flags.redis;
  if (url === undefined) return undefined;
  if (typeof url !== "string" || !/^rediss?:\/\/./.test(url)) {
    throw new UsageError("--redis must be a redis:// or rediss:// URL");
  }
  const prefix = (flags["redis-prefix"] as string | undefined) ?? "shoal:";
  const heartbeatTtlMs = intFlag(flags["redis-heartbeat-ms"], "redis-heartbeat-ms", 5_000, 100);
  return await connectRedis({ url, prefix, heartbeatTtlMs });
}
