/**
 * Small async helpers that honour `AbortSignal`.
 *
 * @module
 */

/**
 * Resolves after `ms`, or rejects with `signal.reason` when aborted first.
 *
 * @example
 * ```ts
 * import { delay } from "./async.ts";
 * await delay(1);
 * ```
 */
export function delay(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Races `promise` against `signal`: rejects with `signal.reason` when it aborts first.
 * The listener is removed once either settles.
 *
 * @example
 * ```ts
 * import { abortable } from "./async.ts";
 * const v = await abortable(Promise.resolve(1), AbortSignal.timeout(100));
 * console.assert(v === 1);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Capped exponential backoff with jitter: attempt 0 waits about `initialMs`, each later
 * attempt twice as long, never more than `maxMs`; the wait is drawn from [½, 1] of that.
 *
 * @example
 * ```ts
 * import { backoff } from "./async.ts";
 * const ms = backoff(3, { initialMs: 100, maxMs: 1000 });
 * console.assert(ms >= 400 && ms <= 800);
 * ```
 */
export function backoff(
  attempt: number,
  options: { initialMs: number; maxMs: number; random?: () => number },
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** attempt);
  return Math.round(base * (0.5 + 0.5 * (options.random ?? Math.random)()));
}

/**
 * Finishes opening `resource`: awaits `open()`, closes the resource and rethrows when that
 * fails, and otherwise closes it when `signal` aborts later. Returns the resource.
 *
 * @example
 * ```ts
 * import { openOrClose } from "./async.ts";
 * let closed = false;
 * const res = { close: () => Promise.resolve(void (closed = true)) };
 * await openOrClose(res, () => Promise.reject(new Error("refused"))).catch(() => {});
 * console.assert(closed);
 * ```
 */
export async function openOrClose<T extends { close(): Promise<void> }>(
  resource: T,
  open: () => Promise<unknown>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    await open();
  } catch (error) {
    await resource.close();
    throw error;
  }
  signal?.addEventListener("abort", () => resource.close(), { once: true });
  return resource;
}

/** One caller waiting in a set of {@link waitIn}: settle it with `resolve` or `reject`. */
export interface Waiter {
  /** Settles the wait. */
  resolve(): void;
  /** Fails the wait with `error`. */
  reject(error: unknown): void;
}

/**
 * Waits in `waiters` until its owner settles the entry (and clears the set), or rejects
 * with `signal.reason` when aborted first, leaving the set; the abort listener is removed
 * either way.
 *
 * @example
 * ```ts
 * import { type Waiter, waitIn } from "./async.ts";
 * const waiters = new Set<Waiter>();
 * const waiting = waitIn(waiters, AbortSignal.timeout(1_000));
 * for (const w of waiters) w.resolve();
 * await waiting;
 * ```
 */
export function waitIn(waiters: Set<Waiter>, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      waiters.delete(waiter);
      reject(signal!.reason);
    };
    const waiter: Waiter = {
      resolve: () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      reject: (e: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        reject(e);
      },
    };
    waiters.add(waiter);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
