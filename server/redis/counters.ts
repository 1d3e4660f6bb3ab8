/**
 * The server's limit counters in Redis ({@link RedisCounters}), so that every server on one
 * Redis counts an address's session creations, open WebSockets and failed hellos together.
 *
 * @module
 */
import type { CounterStore, HitOptions, WindowCount } from "../counters.ts";
import { MAX_BACKOFF_MS } from "../counters.ts";
import type { RedisLink } from "./link.ts";

/**
 * A {@link CounterStore} in Redis under the link's prefix (`PREFIX lim:KEY`). Windows are
 * keys with a TTL; leases are sorted sets scored by their expiry on Redis's clock. It does
 * not own the link: closing it leaves the link open.
 *
 * @example
 * ```ts ignore
 * import { RedisCounters, RedisLink } from "@shoal/shoal/server";
 *
 * const link = await RedisLink.open({ url: "redis://127.0.0.1:6379", log: console });
 * await using counters = new RedisCounters(link);
 * await counters.hit("create:203.0.113.9", { windowMs: 60_000, limit: 20 });
 * await link.close();
 * ```
 */
export class RedisCounters implements CounterStore {
  #link: RedisLink;

  /** Counts in the Redis of `link`. */
  constructor(link: RedisLink) {
    this.#link = link;
  }

  /** See {@link CounterStore.hit}. */
  async hit(key: string, options: HitOptions): Promise<WindowCount> {
    const [count, ttl] = await this.#link.run("limitHit", [this.#link.keys.limit(key)], [
      Math.max(1, Math.ceil(options.windowMs)),
      options.limit,
      options.backoffMs ?? 0,
      options.maxBackoffMs ?? MAX_BACKOFF_MS,
    ]) as [number, number];
    return { count, resetMs: ttl };
  }

  /** See {@link CounterStore.peek}. */
  async peek(key: string): Promise<WindowCount> {
    const [count, ttl] = await this.#link.run("limitPeek", [this.#link.keys.limit(key)], []) as [
      number,
      number,
    ];
    return { count, resetMs: ttl };
  }

  /** See {@link CounterStore.acquire}. */
  async acquire(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    const keys = [this.#link.keys.limit(key)];
    return await this.#link.run("limitAcquire", keys, [holder, limit, Math.ceil(ttlMs)]) === 1;
  }

  /** See {@link CounterStore.refresh}. */
  async refresh(leases: ReadonlyArray<readonly [string, string]>, ttlMs: number): Promise<void> {
    await Promise.all(
      leases.map(([key, holder]) =>
        this.#link.run("limitRefresh", [this.#link.keys.limit(key)], [holder, Math.ceil(ttlMs)])
      ),
    );
  }

  /** See {@link CounterStore.release}. */
  async release(key: string, holder: string): Promise<void> {
    await this.#link.call(() => this.#link.cmd.zrem(this.#link.keys.limit(key), holder));
  }

  /** Nothing to free: the link belongs to its owner. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Same as {@link RedisCounters.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
