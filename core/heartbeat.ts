/**
 * The ping/pong heartbeat both ends of a data channel keep (PROTOCOL.md §2): numbered
 * pings, the round-trip time from the matching pong, and a count of pings that went
 * unanswered. The host's peer link and the viewer's connection each own one and send the
 * frames it makes.
 *
 * @module
 */

/** A heartbeat's ping frame. */
export interface PingFrame {
  /** Always `"ping"`. */
  t: "ping";
  /** The ping's number. */
  n: number;
  /** Wall-clock time it was sent, ms. */
  ts: number;
}

/**
 * Numbered pings, RTT and misses of one data channel.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "./heartbeat.ts";
 *
 * let t = 0;
 * const beat = new Heartbeat(() => t);
 * const ping = beat.next(3)!;
 * t = 12;
 * console.assert(beat.pong(ping.n) === 12 && beat.rttMs === 12);
 * ```
 */
export class Heartbeat {
  /** Round-trip time of the latest answered ping, ms (one decimal). */
  rttMs?: number;
  #now: () => number;
  #n = 0;
  /** Pings in flight: number → when sent (from `now`); the latest 8 at most. */
  #pending: Map<number, number> = new Map();
  #missed = 0;

  /** A heartbeat timed by `now` (ms; default `performance.now`). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Heartbeats in a row that found the previous ping unanswered. */
  get missed(): number {
    return this.#missed;
  }

  /**
   * The next ping to send, or `undefined` once `maxMissed` heartbeats in a row found the
   * previous ping unanswered (the other side counts as gone).
   */
  next(maxMissed: number): PingFrame | undefined {
    if (this.#pending.size > 0) this.#missed++;
    if (this.#missed >= maxMissed) return undefined;
    const n = ++this.#n;
    this.#pending.set(n, this.#now());
    if (this.#pending.size > 8) this.#pending.delete(this.#pending.keys().next().value!);
    return { t: "ping", n, ts: Date.now() };
  }

  /** A pong for ping `n`: returns the RTT, or `undefined` when it answers no ping in flight. */
  pong(n: number): number | undefined {
    const sent = this.#pending.get(n);
    if (sent === undefined) return undefined;
    this.#pending.clear();
    this.#missed = 0;
    return this.rttMs = Math.round((this.#now() - sent) * 10) / 10;
  }
}
