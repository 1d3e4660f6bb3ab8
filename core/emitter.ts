/**
 * A tiny typed event emitter: `on` returns its own unsubscribe function.
 *
 * @module
 */

/**
 * Typed events. A listener that throws does not stop the others.
 *
 * @example
 * ```ts
 * import { Emitter } from "./emitter.ts";
 * const e = new Emitter<{ tick: number }>();
 * const off = e.on("tick", (n) => console.log(n));
 * e.emit("tick", 1);
 * off();
 * ```
 */
export class Emitter<Events extends Record<string, unknown>> {
  #listeners: Map<keyof Events, Set<(value: never) => void>> = new Map();
  #onError: (error: unknown) => void;

  /** `onError` receives what a listener throws (default: `console.error`). */
  constructor(onError: (error: unknown) => void = (e) => console.error(e)) {
    this.#onError = onError;
  }

  /** Calls `listener` on every `type` event until the returned function is called. */
  on<K extends keyof Events>(type: K, listener: (value: Events[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as (value: never) => void);
    return () => {
      set.delete(listener as (value: never) => void);
    };
  }

  /** Calls every listener of `type` with `value`. */
  emit<K extends keyof Events>(type: K, value: Events[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: Events[K]) => void)(value);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
