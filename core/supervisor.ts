/**
 * The supervisor: one state per viewer, never two handshakes for one viewer, at most a
 * bounded number in flight with the rest queued in join order, bounded retries with
 * backoff and jitter, rate-limited `request-offer`, and immediate abort of a departed
 * viewer's work. It knows nothing of WebRTC: it runs whatever `negotiate` does.
 *
 * @module
 */
import { backoff } from "./async.ts";
import { Emitter } from "./emitter.ts";

/**
 * Where a viewer stands, as the host sees it: `queued` (waiting for a handshake slot),
 * `negotiating`, `open` (channel open, `ready` awaited), `ready` (in the fan-out) or
 * `closed`.
 *
 * @example
 * ```ts
 * import type { PeerState } from "@shoal/shoal";
 *
 * const order: PeerState[] = ["queued", "negotiating", "open", "ready", "closed"];
 * console.assert(order.indexOf("ready") === 3);
 * ```
 */
export type PeerState = "queued" | "negotiating" | "open" | "ready" | "closed";

/** One handshake the supervisor asks for. */
export interface NegotiationJob {
  /** The viewer. */
  peerId: string;
  /** Its label. */
  label: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  attempt: number;
  /** Aborted when the viewer leaves, asks for a new offer, or the supervisor closes. */
  signal: AbortSignal;
  /** Call when the data channel is open (the `open` state, before `ready`). */
  opened(): void;
}

/** Handshakes in flight at first, unless `maxConcurrentHandshakes` says otherwise. */
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 32;

/** Options of {@link Supervisor}. */
export interface SupervisorOptions<T> {
  /** Runs one handshake; resolves with the ready peer, rejects on failure. */
  negotiate(job: NegotiationJob): Promise<T>;
  /** Frees a ready peer nobody will take (its viewer left meanwhile, or on close). */
  dispose(peer: T, reason: string): void;
  /** Handshakes in flight at first (default {@link DEFAULT_MAX_CONCURRENT_HANDSHAKES}). */
  maxConcurrentHandshakes?: number;
  /** Adapt the cap: +1 per success up to this, halve on a failure (default: no adapting). */
  maxConcurrentHandshakesCeiling?: number;
  /** Attempts per viewer before giving up (default 4). */
  maxAttempts?: number;
  /** Backoff before a retry: first delay and cap, ms (default 250 / 4 000). */
  retryDelayMs?: { initial: number; max: number };
  /** Least time between two honoured `request-offer`s of one viewer, ms (default 1 000). */
  requestOfferIntervalMs?: number;
  /** Random source for jitter (tests). */
  random?: () => number;
}

/** Events of a {@link Supervisor}. */
export interface SupervisorEvents<T> extends Record<string, unknown> {
  /** A viewer changed state. */
  state: { peerId: string; state: PeerState; reason?: string };
  /** A viewer is ready. */
  ready: T;
  /** A handshake attempt failed; `willRetry` tells whether another follows. */
  failed: { peerId: string; attempt: number; error: unknown; willRetry: boolean };
}

interface _Slot {
  peerId: string;
  label: string;
  state: PeerState;
  attempt: number;
  controller?: AbortController;
  retryTimer?: ReturnType<typeof setTimeout>;
  lastRequest: number;
}

/**
 * Runs every viewer's handshake under a concurrency cap.
 *
 * @example
 * ```ts
 * import { Supervisor } from "./supervisor.ts";
 * const sup = new Supervisor<string>({
 *   negotiate: (job) => Promise.resolve(job.peerId),
 *   dispose: () => {},
 * });
 * const ready = new Promise((resolve) => sup.on("ready", resolve));
 * sup.add("v1", "");
 * console.log(await ready);
 * await sup.close();
 * ```
 */
export class Supervisor<T> implements AsyncDisposable {
  #o: SupervisorOptions<T>;
  #slots: Map<string, _Slot> = new Map();
  #queue: string[] = [];
  #inFlight: Set<Promise<void>> = new Set();
  #limit: number;
  #events = new Emitter<SupervisorEvents<T>>();
  #closed = false;

  constructor(options: SupervisorOptions<T>) {
    this.#o = options;
    this.#limit = options.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES;
    if (!(this.#limit >= 1)) throw new RangeError("maxConcurrentHandshakes must be ≥ 1");
  }

  /** The current cap on handshakes in flight. */
  get concurrency(): number {
    return this.#limit;
  }

  /** Handshakes in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Listens to `type`; returns the unsubscribe function. */
  on<K extends keyof SupervisorEvents<T>>(
    type: K,
    listener: (value: SupervisorEvents<T>[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /** The state of `peerId`, if known. */
  state(peerId: string): PeerState | undefined {
    return this.#slots.get(peerId)?.state;
  }

  /** How many known viewers are in each state. */
  counts(): Record<PeerState, number> {
    const counts = { queued: 0, negotiating: 0, open: 0, ready: 0, closed: 0 };
    for (const s of this.#slots.values()) counts[s.state]++;
    return counts;
  }

  /** A viewer joined (or was waiting in `welcome`): queue its handshake. Duplicates are ignored. */
  add(peerId: string, label: string): void {
    if (this.#closed || this.#slots.has(peerId)) return;
    const slot: _Slot = { peerId, label, state: "queued", attempt: 0, lastRequest: -Infinity };
    this.#slots.set(peerId, slot);
    this.#events.emit("state", { peerId, state: "queued", reason: "joined" });
    this.#enqueue(slot);
  }

  /** A viewer left: abort its work and forget it. */
  remove(peerId: string, reason: string): void {
    const slot = this.#slots.get(peerId);
    if (!slot) return;
    this.#slots.delete(peerId);
    this.#stop(slot, reason);
    this.#setState(slot, "closed", reason);
  }

  /**
   * A ready viewer's connection ended (its channel closed) while it stays in the session:
   * mark it closed; a `request-offer` from it starts over.
   */
  lost(peerId: string, reason: string): void {
    const slot = this.#slots.get(peerId);
    if (!slot || slot.state !== "ready") return;
    this.#setState(slot, "closed", reason);
  }

  /**
   * The viewer asked for a (new) offer. Honoured at most once per interval; aborts a
   * handshake in flight and starts afresh. Returns whether it was honoured.
   */
  requestOffer(peerId: string, label = ""): boolean {
    if (this.#closed) return false;
    const slot = this.#slots.get(peerId);
    if (!slot) {
      this.add(peerId, label);
      return true;
    }
    const now = Date.now();
    if (now - slot.lastRequest < (this.#o.requestOfferIntervalMs ?? 1_000)) return false;
    slot.lastRequest = now;
    if (slot.state === "queued" && slot.retryTimer === undefined) return true;
    this.restart(peerId, "request-offer");
    return true;
  }

  /** Aborts the viewer's handshake in flight (if any) and queues a fresh one, unlimited. */
  restart(peerId: string, reason: string): void {
    const slot = this.#slots.get(peerId);
    if (!slot || this.#closed) return;
    this.#stop(slot, reason);
    slot.attempt = 0;
    this.#setState(slot, "queued", reason);
    this.#enqueue(slot);
  }

  /** Aborts every handshake and forgets every viewer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of [...this.#slots.values()]) this.#stop(slot, "shutdown");
    this.#queue = [];
    await Promise.allSettled([...this.#inFlight]);
    this.#slots.clear();
    this.#events.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #enqueue(slot: _Slot): void {
    if (!this.#queue.includes(slot.peerId)) this.#queue.push(slot.peerId);
    this.#pump();
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight.size < this.#limit && this.#queue.length > 0) {
      const slot = this.#slots.get(this.#queue.shift()!);
      if (slot && slot.state === "queued") this.#start(slot);
    }
  }

  #start(slot: _Slot): void {
    const controller = new AbortController();
    slot.controller = controller;
    slot.attempt++;
    this.#setState(slot, "negotiating");
    const job: NegotiationJob = {
      peerId: slot.peerId,
      label: slot.label,
      attempt: slot.attempt,
      signal: controller.signal,
      opened: () => {
        if (slot.controller === controller && !controller.signal.aborted) {
          this.#setState(slot, "open");
        }
      },
    };
    const run: Promise<void> = Promise.resolve()
      .then(() => this.#o.negotiate(job))
      .then((peer) => ({ peer }), (error: unknown) => ({ error }))
      .then((outcome) => {
        this.#inFlight.delete(run);
        if ("peer" in outcome) this.#succeeded(slot, controller, outcome.peer);
        else this.#failed(slot, controller, outcome.error);
        this.#pump();
      });
    this.#inFlight.add(run);
  }

  #succeeded(slot: _Slot, controller: AbortController, peer: T): void {
    if (controller.signal.aborted || this.#slots.get(slot.peerId) !== slot) {
      this.#o.dispose(peer, String(controller.signal.reason ?? "gone"));
      return;
    }
    slot.controller = undefined;
    this.#adapt(true);
    this.#setState(slot, "ready");
    this.#events.emit("ready", peer);
  }

  #failed(slot: _Slot, controller: AbortController, error: unknown): void {
    if (controller.signal.aborted || this.#slots.get(slot.peerId) !== slot) return;
    slot.controller = undefined;
    this.#adapt(false);
    const maxAttempts = this.#o.maxAttempts ?? 4;
    const willRetry = slot.attempt < maxAttempts && !this.#closed;
    this.#events.emit("failed", { peerId: slot.peerId, attempt: slot.attempt, error, willRetry });
    if (!willRetry) {
      this.#setState(slot, "closed", "failed");
      return;
    }
    this.#setState(slot, "queued", "retry");
    const delays = this.#o.retryDelayMs ?? { initial: 250, max: 4_000 };
    const wait = backoff(slot.attempt - 1, {
      initialMs: delays.initial,
      maxMs: delays.max,
      random: this.#o.random,
    });
    slot.retryTimer = setTimeout(() => {
      slot.retryTimer = undefined;
      if (this.#slots.get(slot.peerId) === slot && slot.state === "queued") this.#enqueue(slot);
    }, wait);
  }

  #adapt(success: boolean): void {
    const ceiling = this.#o.maxConcurrentHandshakesCeiling;
    if (ceiling === undefined) return;
    const floor = Math.min(this.#o.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES, 4);
    this.#limit = success
      ? Math.min(ceiling, this.#limit + 1)
      : Math.max(floor, Math.floor(this.#limit / 2));
  }

  #stop(slot: _Slot, reason: string): void {
    clearTimeout(slot.retryTimer);
    slot.retryTimer = undefined;
    slot.controller?.abort(reason);
    slot.controller = undefined;
    const i = this.#queue.indexOf(slot.peerId);
    if (i !== -1) this.#queue.splice(i, 1);
  }

  #setState(slot: _Slot, state: PeerState, reason?: string): void {
    if (slot.state === state && reason === undefined) return;
    slot.state = state;
    this.#events.emit("state", { peerId: slot.peerId, state, reason });
  }
}
