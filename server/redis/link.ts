/**
 * The two Redis connections a signaling server holds (commands and subscriptions), the
 * Lua scripts it runs, and the mapping of connection failures to
 * {@link StoreUnavailableError}.
 *
 * @module
 */
import type { Logger } from "../../core/logger.ts";
import { Redis, type RedisOptions as IoRedisOptions } from "ioredis";
import { RedisKeys, type ScriptName, SCRIPTS } from "./scripts.ts";
import { StoreUnavailableError } from "../store.ts";

/**
 * Deletes every key under `prefix` on the Redis at `url` (a test's or a benchmark's
 * namespace), then quits.
 *
 * @example
 * ```ts ignore
 * await deleteRedisPrefix("redis://127.0.0.1:6390", "test-1234:");
 * ```
 */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    await quitRedis(redis);
  }
}

/**
 * Quits an ioredis client politely and waits (at most 2 s) until its socket is gone.
 * `disconnect()` alone leaves a timer behind until the socket closes, which outlives a test.
 *
 * @example
 * ```ts ignore
 * await quitRedis(client);
 * ```
 */
export async function quitRedis(client: Redis): Promise<void> {
  if (client.status === "end") return;
  const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
  try {
    if (client.status === "ready") await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
  const bound = AbortSignal.timeout(2_000);
  await Promise.race([ended, new Promise((r) => bound.addEventListener("abort", r))]);
}

/**
 * Connection settings of a {@link RedisLink}: the Redis URL, the key prefix, the time
 * allowed per command, and where to log connection trouble.
 *
 * @example
 * ```ts
 * import type { RedisLinkOptions } from "@shoal/shoal/server";
 *
 * const options: RedisLinkOptions = { url: "redis://127.0.0.1:6379", prefix: "app:", log: console };
 * console.assert(new URL(options.url).port === "6379");
 * ```
 */
export interface RedisLinkOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of every key and channel (default `shoal:`). */
  prefix?: string;
  /** Time allowed to connect and for each command, ms (default 2 000). */
  timeoutMs?: number;
  /** Logger for connection trouble. */
  log: Logger;
}

async function _sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A reply error is Redis refusing a command (a bug here), not Redis being away. */
function _isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

/**
 * A command connection and a subscriber connection to one Redis, with scripts loaded on
 * demand (`EVALSHA`, falling back to `EVAL`). Commands fail at once while Redis is away
 * (no offline queue) and reconnecting goes on in the background.
 */
export class RedisLink {
  /** The key layout. */
  readonly keys: RedisKeys;
  /**
   * Commands and publishing: the `npm:ioredis` client itself.
   *
   * @ignore
   */
  readonly cmd: Redis;
  /**
   * Subscriptions only: the `npm:ioredis` client itself.
   *
   * @ignore
   */
  readonly sub: Redis;
  /** How often the command connection dropped: writes may have been lost meanwhile. */
  drops = 0;
  #sha = new Map<ScriptName, string>();
  #lastError = "";
  #log: Logger;
  #closed = false;

  private constructor(options: RedisLinkOptions) {
    this.keys = new RedisKeys(options.prefix ?? "shoal:");
    this.#log = options.log;
    const timeout = options.timeoutMs ?? 2_000;
    const settings: IoRedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeout,
      commandTimeout: timeout,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
    };
    this.cmd = new Redis(options.url, settings);
    this.sub = new Redis(options.url, { ...settings, autoResubscribe: true });
    for (const client of [this.cmd, this.sub]) {
      client.on("error", (error: Error) => this.#trouble(error));
    }
    this.cmd.on("close", () => this.drops++);
  }

  /** Connects both; rejects with a {@link StoreUnavailableError} when Redis is unreachable. */
  static async open(options: RedisLinkOptions): Promise<RedisLink> {
    const link = new RedisLink(options);
    try {
      await Promise.all([link.cmd.connect(), link.sub.connect()]);
    } catch (error) {
      link.disconnect();
      const where = new URL(options.url).host;
      const why = link.#lastError || _message(error);
      throw new StoreUnavailableError(`cannot reach redis at ${where}: ${why}`, { cause: error });
    }
    return link;
  }

  /** Whether both connections are up. */
  get ready(): boolean {
    return this.cmd.status === "ready" && this.sub.status === "ready";
  }

  /** Why Redis is not ready, for `/healthz`. */
  get trouble(): string {
    const status = `commands ${this.cmd.status}, subscriptions ${this.sub.status}`;
    return `redis unreachable (${status})${this.#lastError ? `: ${this.#lastError}` : ""}`;
  }

  /** Runs `op`, turning connection failures into {@link StoreUnavailableError}. */
  async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (_isReplyError(error)) throw error;
      throw new StoreUnavailableError(`redis: ${_message(error)}`, { cause: error });
    }
  }

  /**
   * Runs one of {@link SCRIPTS} with `keys` and `args`.
   *
   * @ignore
   */
  run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    return this.call(async () => {
      let sha = this.#sha.get(name);
      if (!sha) this.#sha.set(name, sha = await _sha1(SCRIPTS[name]));
      try {
        return await this.cmd.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return await this.cmd.eval(SCRIPTS[name], keys.length, ...keys, ...args);
      }
    });
  }

  /** Quits both connections (politely when possible). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.cmd, this.sub].map(quitRedis));
  }

  /** Drops both connections at once. */
  disconnect(): void {
    this.#closed = true;
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  #trouble(error: Error): void {
    const message = _message(error);
    if (message !== this.#lastError) this.#log.warn("redis: {error}", { error: message });
    this.#lastError = message;
  }
}

function _message(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length) return _message(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}
