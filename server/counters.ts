/**
 * The counters behind the server's limits ({@link CounterStore}): windowed event counts
 * with a backoff (session creations, failed hellos) and leases counted against a cap (open
 * WebSockets). {@link MemoryCounters} keeps them in this process; `RedisCounters` shares
 * them between every server on one Redis.
 *
 * @module
 */

/**
 * How to count one event of a key: a window that starts with the key's first event; past
 * `limit` events in it, each further event stretches the window to `backoffMs` doubled per
 * event over the limit, at most `maxBackoffMs` (no stretch when `backoffMs` is 0).
 *
 * @example
 * ```ts
 * import type { HitOptions } from "@shoal/shoal/server";
 *
 * const failedHellos: HitOptions = { windowMs: 60_000, limit: 10, backoffMs: 1_000 };
 * console.assert(failedHellos.maxBackoffMs === undefined); // 15 minutes by default
 * ```
 */
export interface HitOptions {
  /** Length of the window, ms. */
  windowMs: number;
  /** Events allowed in the window. */
  limit: number;
  /** First backoff past the limit, ms (0: the window is not stretched). */
  backoffMs?: number;
  /** Longest backoff, ms (default 15 minutes). */
  maxBackoffMs?: number;
}

/**
 * A key's count in its window and how long until the window (or its backoff) ends.
 *
 * @example
 * ```ts
 * import { MemoryCounters, type WindowCount } from "@shoal/shoal/server";
 *
 * await using counters = new MemoryCounters();
 * const c: WindowCount = await counters.hit("a", { windowMs: 1_000, limit: 5 });
 * console.assert(c.count === 1 && c.resetMs > 0);
 * ```
 */
export interface WindowCount {
  /** Events counted in the window (0 when the key has none). */
  count: number;
  /** Time until the count starts again from 0, ms (0 when the key has none). */
  resetMs: number;
}

/**
 * Where limit counters live. Every method may reject with a `StoreUnavailableError` when
 * a shared store cannot be reached.
 *
 * @example
 * ```ts
 * import { type CounterStore, MemoryCounters } from "@shoal/shoal/server";
 *
 * await using counters: CounterStore = new MemoryCounters();
 * console.assert(await counters.acquire("ws:1.2.3.4", "conn-1", 1, 60_000));
 * console.assert(!(await counters.acquire("ws:1.2.3.4", "conn-2", 1, 60_000)));
 * await counters.release("ws:1.2.3.4", "conn-1");
 * console.assert(await counters.acquire("ws:1.2.3.4", "conn-2", 1, 60_000));
 * ```
 */
export interface CounterStore extends AsyncDisposable {
  /** Counts one event of `key` (see {@link HitOptions}) and returns the count with it. */
  hit(key: string, options: HitOptions): Promise<WindowCount>;
  /** The count of `key` without adding to it. */
  peek(key: string): Promise<WindowCount>;
  /**
   * Adds the lease `holder` to `key` if fewer than `limit` live leases hold it; true when
   * it did (or `holder` held it already). A lease lives `ttlMs` unless refreshed, so that
   * the leases of a server that died run out.
   */
  acquire(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;
  /** Extends the given leases by `ttlMs` from now. */
  refresh(
    leases: ReadonlyArray<readonly [key: string, holder: string]>,
    ttlMs: number,
  ): Promise<void>;
  /** Drops the lease `holder` of `key`. */
  release(key: string, holder: string): Promise<void>;
  /** Frees what the store holds (not the shared state). Idempotent. */
  close(): Promise<void>;
}

/** Default longest backoff of {@link HitOptions}: 15 minutes. */
export const MAX_BACKOFF_MS = 15 * 60_000;

/**
 * The backoff after a key's `count`-th event, ms: 0 up to the limit, then `backoffMs`
 * doubled per event over it, capped. The Redis script `limitHit` computes the same.
 */
export function backoffAfter(count: number, options: HitOptions): number {
  const backoff = options.backoffMs ?? 0;
  if (count <= options.limit || backoff <= 0) return 0;
  const max = options.maxBackoffMs ?? MAX_BACKOFF_MS;
  return Math.min(max, backoff * 2 ** Math.min(count - options.limit - 1, 40));
}

/**
 * Options of {@link MemoryCounters}.
 *
 * @example
 * ```ts
 * import { MemoryCounters, type MemoryCountersOptions } from "@shoal/shoal/server";
 *
 * let t = 0;
 * const options: MemoryCountersOptions = { now: () => t };
 * await using counters = new MemoryCounters(options);
 * await counters.hit("k", { windowMs: 10, limit: 1 });
 * t = 11;
 * console.assert((await counters.peek("k")).count === 0);
 * ```
 */
export interface MemoryCountersOptions {
  /** The clock, ms (default `Date.now`). */
  now?: () => number;
}

/**
 * Limit counters in this process's memory. Expired entries are swept as it is used, so it
 * holds no timer.
 *
 * @example
 * ```ts
 * import { MemoryCounters } from "@shoal/shoal/server";
 *
 * await using counters = new MemoryCounters();
 * for (let i = 0; i < 3; i++) await counters.hit("create:1.2.3.4", { windowMs: 60_000, limit: 2 });
 * console.assert((await counters.peek("create:1.2.3.4")).count === 3);
 * ```
 */
export class MemoryCounters implements CounterStore {
  #now: () => number;
  #windows = new Map<string, { end: number; count: number }>();
  #leases = new Map<string, Map<string, number>>();
  #ops = 0;

  /** Makes an empty store. */
  constructor(options: MemoryCountersOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Keys with a live window or lease, for tests and the soak benchmark. */
  get size(): number {
    this.#sweep(true);
    return this.#windows.size + this.#leases.size;
  }

  /** See {@link CounterStore.hit}. */
  hit(key: string, options: HitOptions): Promise<WindowCount> {
    const now = this.#now();
    this.#sweep();
    let w = this.#windows.get(key);
    if (w === undefined || w.end <= now) {
      w = { end: now + options.windowMs, count: 0 };
      this.#windows.set(key, w);
    }
    w.count++;
    w.end = Math.max(w.end, now + backoffAfter(w.count, options));
    return Promise.resolve({ count: w.count, resetMs: w.end - now });
  }

  /** See {@link CounterStore.peek}. */
  peek(key: string): Promise<WindowCount> {
    const now = this.#now();
    const w = this.#windows.get(key);
    if (w === undefined || w.end <= now) return Promise.resolve({ count: 0, resetMs: 0 });
    return Promise.resolve({ count: w.count, resetMs: w.end - now });
  }

  /** See {@link CounterStore.acquire}. */
  acquire(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    this.#sweep();
    let leases = this.#leases.get(key);
    if (leases === undefined) this.#leases.set(key, leases = new Map());
    for (const [h, until] of leases) if (until <= now) leases.delete(h);
    if (!leases.has(holder) && leases.size >= limit) {
      if (leases.size === 0) this.#leases.delete(key);
      return Promise.resolve(false);
    }
    leases.set(holder, now + ttlMs);
    return Promise.resolve(true);
  }

  /** See {@link CounterStore.refresh}. */
  refresh(leases: ReadonlyArray<readonly [string, string]>, ttlMs: number): Promise<void> {
    const until = this.#now() + ttlMs;
    for (const [key, holder] of leases) {
      const held = this.#leases.get(key);
      if (held?.has(holder)) held.set(holder, until);
    }
    return Promise.resolve();
  }

  /** See {@link CounterStore.release}. */
  release(key: string, holder: string): Promise<void> {
    const leases = this.#leases.get(key);
    if (leases?.delete(holder) && leases.size === 0) this.#leases.delete(key);
    return Promise.resolve();
  }

  /** Forgets everything. Idempotent. */
  close(): Promise<void> {
    this.#windows.clear();
    this.#leases.clear();
    return Promise.resolve();
  }

  /** Same as {@link MemoryCounters.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Every 256 operations (or when asked), drops what has run out. */
  #sweep(now = false): void {
    if (!now && ++this.#ops % 256 !== 0) return;
    const t = this.#now();
    for (const [key, w] of this.#windows) if (w.end <= t) this.#windows.delete(key);
    for (const [key, leases] of this.#leases) {
      for (const [h, until] of leases) if (until <= t) leases.delete(h);
      if (leases.size === 0) this.#leases.delete(key);
    }
  }
}
