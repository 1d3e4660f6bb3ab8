/**
 * The server's limits per client address and per session ({@link Limiter}): session
 * creations per address per minute, open WebSockets per address, failed hellos (wrong code
 * or token) per address and per session with a backoff, and the cap on sessions held. Each
 * refusal names its reason, answers 429 with its own `code` ({@link refusalResponse}) and
 * is counted by reason.
 *
 * @module
 */
import type { Counter } from "../core/metrics.ts";
import { type CounterStore, MemoryCounters } from "./counters.ts";

/**
 * The limits, each with its flag of `shoal signal`. 0 turns a limit off.
 *
 * @example
 * ```ts
 * import { type AddressLimits, DEFAULT_ADDRESS_LIMITS } from "@shoal/shoal/server";
 *
 * const strict: AddressLimits = { ...DEFAULT_ADDRESS_LIMITS, sessionsPerMinute: 5 };
 * console.assert(strict.socketsPerAddress === 128);
 * ```
 */
export interface AddressLimits {
  /** `POST /v1/sessions` per address per minute (`--max-sessions-per-minute`, 30). */
  sessionsPerMinute: number;
  /** Open WebSockets per address (`--max-sockets-per-address`, 128). */
  socketsPerAddress: number;
  /** Failed hellos per address per minute before the backoff (`--max-failed-hellos`, 20). */
  failedHellosPerAddress: number;
  /**
   * Failed hellos per session per minute before viewers' hellos to it back off
   * (`--max-failed-hellos-per-session`, 100). The host, whose token cannot be guessed,
   * is never held back by it.
   */
  failedHellosPerSession: number;
  /** First backoff past a failed-hello limit, doubled per further failure, ms (1 000). */
  failedHelloBackoffMs: number;
  /** Longest backoff, ms (15 minutes). */
  maxBackoffMs: number;
}

/**
 * The default {@link AddressLimits}.
 *
 * @example
 * ```ts
 * import { DEFAULT_ADDRESS_LIMITS } from "@shoal/shoal/server";
 *
 * console.assert(DEFAULT_ADDRESS_LIMITS.sessionsPerMinute === 30);
 * ```
 */
export const DEFAULT_ADDRESS_LIMITS: Readonly<AddressLimits> = Object.freeze({
  sessionsPerMinute: 30,
  socketsPerAddress: 128,
  failedHellosPerAddress: 20,
  failedHellosPerSession: 100,
  failedHelloBackoffMs: 1_000,
  maxBackoffMs: 15 * 60_000,
});

/**
 * Why a request was refused: too many session creations from the address
 * (`session-rate`), too many open WebSockets from it (`sockets`), too many failed hellos
 * from it (`failed-hellos-address`) or to the session (`failed-hellos-session`), or the
 * server holds as many sessions as it may (`sessions`).
 *
 * @example
 * ```ts
 * import type { LimitReason } from "@shoal/shoal/server";
 *
 * const reason: LimitReason = "sockets";
 * console.assert(reason === "sockets");
 * ```
 */
export type LimitReason =
  | "session-rate"
  | "sockets"
  | "failed-hellos-address"
  | "failed-hellos-session"
  | "sessions";

/**
 * The `code` of the JSON error each {@link LimitReason} is answered with.
 *
 * @example
 * ```ts
 * import { LIMIT_CODES } from "@shoal/shoal/server";
 *
 * console.assert(LIMIT_CODES["session-rate"] === "too-many-session-creations");
 * ```
 */
export const LIMIT_CODES: Readonly<Record<LimitReason, string>> = Object.freeze({
  "session-rate": "too-many-session-creations",
  "sockets": "too-many-sockets",
  "failed-hellos-address": "too-many-failed-hellos",
  "failed-hellos-session": "session-locked",
  "sessions": "too-many-sessions",
});

/**
 * A refusal: its reason, the JSON error `code` and `message`, and when to try again.
 *
 * @example
 * ```ts
 * import { type Refusal, refusalResponse } from "@shoal/shoal/server";
 *
 * const r: Refusal = { reason: "sockets", code: "too-many-sockets", message: "…", retryAfterMs: 0 };
 * console.assert(refusalResponse(r).status === 429);
 * ```
 */
export interface Refusal {
  /** Which limit. */
  reason: LimitReason;
  /** The error code ({@link LIMIT_CODES}). */
  code: string;
  /** One sentence. */
  message: string;
  /** How long until the same request may pass, ms (0: unknown, as soon as something closes). */
  retryAfterMs: number;
}

/**
 * The 429 answer to a refusal: `{"error":{"code","message"}}` with `Retry-After` (seconds)
 * when known.
 *
 * @example
 * ```ts
 * import { refusalResponse } from "@shoal/shoal/server";
 *
 * const res = refusalResponse({
 *   reason: "session-rate",
 *   code: "too-many-session-creations",
 *   message: "too many sessions created from 192.0.2.1",
 *   retryAfterMs: 1_500,
 * });
 * console.assert(res.headers.get("retry-after") === "2");
 * console.assert((await res.json()).error.code === "too-many-session-creations");
 * ```
 */
export function refusalResponse(refusal: Refusal): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (refusal.retryAfterMs > 0) {
    headers["retry-after"] = String(Math.ceil(refusal.retryAfterMs / 1000));
  }
  const body = { error: { code: refusal.code, message: refusal.message } };
  return new Response(JSON.stringify(body), { status: 429, headers });
}

/**
 * One open WebSocket counted against its address; {@link SocketLease.release} when it
 * closes (idempotent).
 *
 * @example
 * ```ts
 * import { Limiter } from "@shoal/shoal/server";
 *
 * await using limiter = new Limiter();
 * const lease = await limiter.openSocket("192.0.2.1");
 * if ("reason" in lease) throw new Error(lease.message);
 * await lease.release();
 * ```
 */
export interface SocketLease {
  /** Gives the socket's place back. */
  release(): Promise<void>;
}

/**
 * Options of a {@link Limiter}.
 *
 * @example
 * ```ts
 * import { Limiter, type LimiterOptions, MemoryCounters } from "@shoal/shoal/server";
 *
 * const options: LimiterOptions = { counters: new MemoryCounters(), limits: { sessionsPerMinute: 5 } };
 * await using limiter = new Limiter(options);
 * console.assert(limiter.limits.sessionsPerMinute === 5);
 * ```
 */
export interface LimiterOptions {
  /** Where counts live (default: in memory; a Redis store shares them between servers). */
  counters?: CounterStore;
  /** Any of the limits (the rest are {@link DEFAULT_ADDRESS_LIMITS}). */
  limits?: Partial<AddressLimits>;
  /** Counts refusals by `reason`. */
  refused?: Counter;
  /** How long a socket lease lives unless refreshed, ms (60 000; refreshed every third). */
  leaseTtlMs?: number;
}

const _MINUTE = 60_000;

/**
 * Applies the {@link AddressLimits}. Addresses are keys such as {@link clientAddress}
 * gives. A counter store passed in is not closed with the limiter.
 *
 * @example Three session creations a minute from one address
 * ```ts
 * import { Limiter } from "@shoal/shoal/server";
 *
 * await using limiter = new Limiter({ limits: { sessionsPerMinute: 3 } });
 * const answers = [];
 * for (let i = 0; i < 4; i++) answers.push(await limiter.createSession("192.0.2.1"));
 * console.assert(answers.slice(0, 3).every((a) => a === undefined));
 * console.assert(answers[3]?.code === "too-many-session-creations");
 * ```
 */
export class Limiter implements AsyncDisposable {
  /** The limits in force. */
  readonly limits: Readonly<AddressLimits>;
  #counters: CounterStore;
  #ownsCounters: boolean;
  #refused?: Counter;
  #leaseTtlMs: number;
  #leases = new Map<string, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Makes a limiter over `options.counters` (default: in memory). */
  constructor(options: LimiterOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_ADDRESS_LIMITS, ...options.limits });
    for (const [name, value] of Object.entries(this.limits)) {
      if (!(value >= 0)) throw new RangeError(`${name} must be a number ≥ 0, not ${value}`);
    }
    this.#counters = options.counters ?? new MemoryCounters();
    this.#ownsCounters = options.counters === undefined;
    this.#refused = options.refused;
    this.#leaseTtlMs = options.leaseTtlMs ?? 60_000;
  }

  /** Open sockets this limiter holds leases for (for tests and the soak benchmark). */
  get leaseCount(): number {
    return this.#leases.size;
  }

  /** Counts a session creation from `address`; a refusal when it is one too many. */
  async createSession(address: string): Promise<Refusal | undefined> {
    const limit = this.limits.sessionsPerMinute;
    if (limit === 0) return undefined;
    const c = await this.#counters.hit(`create:${address}`, { windowMs: _MINUTE, limit });
    if (c.count <= limit) return undefined;
    return this.#refuse(
      "session-rate",
      `more than ${limit} sessions a minute from ${address}`,
      c.resetMs,
    );
  }

  /** The refusal for the session cap, counted like the others. */
  sessionCap(max: number): Refusal {
    return this.#refuse("sessions", `the server holds as many sessions as it may (${max})`, 0);
  }

  /**
   * Admits a WebSocket from `address`, unless the address is backing off after failed
   * hellos or holds `socketsPerAddress` sockets already.
   */
  async openSocket(address: string): Promise<SocketLease | Refusal> {
    const blocked = await this.#backingOff(
      `hello:a:${address}`,
      this.limits.failedHellosPerAddress,
    );
    if (blocked !== undefined) {
      return this.#refuse(
        "failed-hellos-address",
        `too many failed hellos from ${address}`,
        blocked,
      );
    }
    const limit = this.limits.socketsPerAddress;
    if (limit === 0) return { release: () => Promise.resolve() };
    const key = `ws:${address}`;
    const holder = crypto.randomUUID();
    if (!(await this.#counters.acquire(key, holder, limit, this.#leaseTtlMs))) {
      return this.#refuse("sockets", `${address} has ${limit} WebSockets open already`, 0);
    }
    this.#leases.set(holder, key);
    this.#startRefresh();
    let released: Promise<void> | undefined;
    return {
      release: () =>
        released ??= (async () => {
          this.#leases.delete(holder);
          if (this.#leases.size === 0) this.#stopRefresh();
          await this.#counters.release(key, holder);
        })(),
    };
  }

  /**
   * Whether a hello to `sessionId` from `address` may be checked at all: a refusal while
   * the address, or (for a viewer) the session, backs off after failed hellos.
   */
  async checkHello(
    address: string,
    sessionId: string,
    role: "host" | "viewer",
  ): Promise<Refusal | undefined> {
    const a = await this.#backingOff(`hello:a:${address}`, this.limits.failedHellosPerAddress);
    if (a !== undefined) {
      return this.#refuse("failed-hellos-address", `too many failed hellos from ${address}`, a);
    }
    if (role === "host") return undefined;
    const s = await this.#backingOff(`hello:s:${sessionId}`, this.limits.failedHellosPerSession);
    if (s === undefined) return undefined;
    return this.#refuse("failed-hellos-session", "too many failed hellos to this session", s);
  }

  /** Counts a hello with a wrong join code or token, against the address and the session. */
  async helloFailed(address: string, sessionId: string): Promise<void> {
    const backoff = this.#backoff();
    const perAddress = this.limits.failedHellosPerAddress;
    const perSession = this.limits.failedHellosPerSession;
    await Promise.all([
      perAddress && this.#counters.hit(`hello:a:${address}`, { ...backoff, limit: perAddress }),
      perSession && this.#counters.hit(`hello:s:${sessionId}`, { ...backoff, limit: perSession }),
    ]);
  }

  /** Stops refreshing leases and closes a counter store it made. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopRefresh();
    this.#leases.clear();
    if (this.#ownsCounters) await this.#counters.close();
  }

  /** Same as {@link Limiter.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Time left of a key's backoff, or undefined when it is within its limit. An attempt
   * while it backs off counts as one more failure, so the backoff doubles.
   */
  async #backingOff(key: string, limit: number): Promise<number | undefined> {
    if (limit === 0) return undefined;
    const c = await this.#counters.peek(key);
    if (c.count < limit) return undefined;
    return (await this.#counters.hit(key, { ...this.#backoff(), limit })).resetMs;
  }

  #backoff(): { windowMs: number; backoffMs: number; maxBackoffMs: number } {
    return {
      windowMs: _MINUTE,
      backoffMs: this.limits.failedHelloBackoffMs,
      maxBackoffMs: this.limits.maxBackoffMs,
    };
  }

  #refuse(reason: LimitReason, message: string, retryAfterMs: number): Refusal {
    this.#refused?.inc({ reason });
    return { reason, code: LIMIT_CODES[reason], message, retryAfterMs };
  }

  #startRefresh(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      const leases = [...this.#leases].map(([holder, key]) => [key, holder] as const);
      this.#counters.refresh(leases, this.#leaseTtlMs).catch(() => {
        // A store that is away: the next round tries again; leases outlive two misses.
      });
    }, this.#leaseTtlMs / 3);
  }

  #stopRefresh(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
