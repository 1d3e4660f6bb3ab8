/**
 * A bounded push/pull queue exposed as an async iterator.
 *
 * @module
 */

/**
 * Values pushed by a producer and pulled by one consumer with `for await`. When `capacity`
 * values wait unread, the oldest is dropped (and counted) so memory stays bounded.
 *
 * @example
 * ```ts
 * import { AsyncQueue } from "./queue.ts";
 * const q = new AsyncQueue<number>();
 * q.push(1);
 * q.close();
 * for await (const n of q) console.log(n);
 * ```
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #head = 0;
  #waiting?: (result: IteratorResult<T>) => void;
  #closed = false;
  #capacity: number;
  /** Values dropped because the queue was full. */
  dropped = 0;

  /** `capacity`: most values kept unread (default unbounded). */
  constructor(capacity: number = Infinity) {
    if (!(capacity > 0)) throw new RangeError("capacity must be positive");
    this.#capacity = capacity;
  }

  /** Values waiting to be read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a value (ignored after `close()`); returns false when it was dropped. */
  push(value: T): boolean {
    if (this.#closed) return false;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value, done: false });
      return true;
    }
    this.#items.push(value);
    if (this.size > this.#capacity) {
      this.#head++;
      this.dropped++;
    }
    this.#compact();
    return true;
  }

  /** Ends the iteration once the values already queued are read. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const resolve = this.#waiting;
    this.#waiting = undefined;
    resolve?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.#items[this.#head++];
      this.#compact();
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiting) return Promise.reject(new TypeError("one reader at a time"));
    return new Promise((resolve) => this.#waiting = resolve);
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    this.#items = [];
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
