/**
 * The fan-out: every ready viewer's {@link PeerLink}, a broadcast that encodes a message
 * once and queues the same frames on each link, coalescing of small messages into batch
 * frames, the capacity policy, backpressure to the producer, the cap on bytes queued for
 * broadcast, and a periodic tick for heartbeats and lag.
 *
 * Backpressure: the producer waits ({@link Fanout.congested}, {@link Fanout.drain}) while a
 * viewer that keeps up is backed up, so it goes at the pace of the slowest healthy viewer.
 * A viewer far behind the others (an outlier: lag past a tenth of `maxLagMs` and twice the
 * others' 90th percentile, or a backlog past twice theirs) is not waited for, and is dropped as slow
 * once over its bounds. When most viewers lag together nobody is an outlier: the host is
 * the bottleneck, so nobody is dropped, the producer waits, and `onCongestion` says so.
 *
 * @module
 */
import { type Waiter, waitIn } from "./async.ts";
import { Coalescer, encodeMessage, MessageIdAllocator } from "./framing.ts";
import { type DropReason, type LinkLimits, PeerLink, sayBye } from "./peer_link.ts";
import { ReplayBuffer, type ReplayCounters, type ReplayOptions } from "./replay.ts";
import type { RtcDataChannel, RtcMessage, RtcPeerConnection } from "./rtc.ts";

/**
 * Defaults of {@link LinkLimits}. `maxLagMs` is what catches a slow viewer; the byte bound
 * is a guard that must exceed the largest message (broadcast frames are shared between
 * viewers, so a backlog costs references, not copies).
 *
 * @example
 * ```ts
 * import { DEFAULT_LINK_LIMITS } from "@shoal/shoal";
 *
 * console.assert(DEFAULT_LINK_LIMITS.maxLagMs === 5_000);
 * ```
 */
export const DEFAULT_LINK_LIMITS: LinkLimits = {
  highWaterMark: 64 * 1024,
  lowWaterMark: 16 * 1024,
  maxBufferedBytes: 20 * 1024 * 1024,
  maxLagMs: 5_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxControlPerSecond: 50,
};

/**
 * Default of {@link FanoutOptions.maxQueuedBytes}: 32 MiB queued for broadcast at most.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_QUEUED_BYTES } from "@shoal/shoal";
 *
 * console.assert(DEFAULT_MAX_QUEUED_BYTES === 32 * 1024 * 1024);
 * ```
 */
export const DEFAULT_MAX_QUEUED_BYTES: number = 32 * 1024 * 1024;

/**
 * A broadcast that cannot be taken: `overflow` (it would push the bytes queued for
 * broadcast past `maxQueuedBytes` while most viewers are behind, or it is larger than the
 * cap itself; nothing of it was queued, so viewers still get a gapless stream of what was
 * accepted) or `closed` (the host is closed). `data` says how full the queue was.
 *
 * @example
 * ```ts
 * import { BroadcastError } from "@shoal/shoal";
 *
 * const e = new BroadcastError("overflow", "the broadcast queue is full", {
 *   queuedBytes: 33_000_000,
 *   maxQueuedBytes: 33_554_432,
 *   messageBytes: 1_000_000,
 * });
 * console.assert(e.name === "BroadcastError" && e.code === "overflow");
 * ```
 */
export class BroadcastError extends Error {
  /** Always `"BroadcastError"`. */
  override name = "BroadcastError";
  /** Makes the error from its code, a message, how full the queue was, and a `cause`. */
  constructor(
    /** Why. */
    readonly code: "overflow" | "closed",
    message: string,
    /** The longest backlog, the cap, and the refused message's size (bytes). */
    readonly data: { queuedBytes?: number; maxQueuedBytes?: number; messageBytes?: number } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A congestion episode of the host, as {@link FanoutOptions.onCongestion} and the host's
 * `congestion` event tell it: it starts when most viewers are backed up (or lag) at once,
 * so the host, not a viewer, is the bottleneck, and ends after a second without;
 * `backedUp` of `viewers` were backed up at that moment.
 *
 * @example
 * ```ts
 * import type { Congestion } from "@shoal/shoal";
 *
 * const say = (c: Congestion) =>
 *   c.congested ? `host congested (${c.backedUp}/${c.viewers} backed up)` : "host keeps up";
 * console.assert(say({ congested: false, viewers: 3, backedUp: 0, queuedBytes: 0 }) === "host keeps up");
 * ```
 */
export interface Congestion {
  /** Whether the episode starts (`true`) or ended. */
  congested: boolean;
  /** Ready viewers. */
  viewers: number;
  /** Viewers backed up (channel full, shoal's queue past the low-water mark). */
  backedUp: number;
  /** The longest backlog of any viewer (bytes; frames are shared, so this is what they hold). */
  queuedBytes: number;
}

/**
 * Options of the fan-out, which a host takes among its own ({@link HostOptions}): the
 * viewer cap and what to do when full, send-path limits per viewer, heartbeats, and how
 * long small messages may wait to be batched.
 *
 * @example
 * ```ts
 * import type { FanoutOptions } from "@shoal/shoal";
 *
 * const fanout: FanoutOptions = { maxPeers: 500, coalesceMs: 0, limits: { maxLagMs: 2_000 } };
 * console.assert(fanout.limits?.maxLagMs === 2_000);
 * ```
 */
export interface FanoutOptions {
  /** Send-path limits per viewer. */
  limits?: Partial<LinkLimits>;
  /** Most viewers at once (default 128). */
  maxPeers?: number;
  /** When full: refuse the newcomer (`refuse`, default) or drop the oldest (`dropOldest`). */
  whenFull?: "refuse" | "dropOldest";
  /** Heartbeat ping interval, ms (default 5 000; 0 disables). */
  heartbeatIntervalMs?: number;
  /** Unanswered pings before a viewer is dropped (default 3). */
  maxMissedPongs?: number;
  /** Hold small broadcast messages this long to batch them, ms (default 2; 0 sends at once). */
  coalesceMs?: number;
  /**
   * Most bytes queued for broadcast (default {@link DEFAULT_MAX_QUEUED_BYTES}): the longest
   * backlog of any viewer, shoal's queue plus its channel's buffer (frames are shared
   * between viewers, so this is the memory they hold; each channel's buffer is also bounded
   * by `limits.highWaterMark`). It is also every viewer's byte bound when lower than
   * `limits.maxBufferedBytes`. An outlier viewer that would pass it is dropped as slow; a
   * broadcast that would pass it otherwise throws {@link BroadcastError} (`overflow`) and
   * queues nothing.
   */
  maxQueuedBytes?: number;
  /** A congestion episode started or ended. */
  onCongestion?: (congestion: Congestion) => void;
  /** Bounds of the replay buffer that viewers resume from (docs/protocol.md, "Resume"). */
  replay?: Partial<ReplayOptions>;
  /** Where resumes are counted. */
  counters?: ReplayCounters;
  /** A message from a viewer. */
  onMessage?: (peerId: string, payload: Uint8Array) => void;
  /** A viewer's link closed. */
  onClosed?: (peerId: string, reason: DropReason, detail: string) => void;
  /** Clock (tests). */
  now?: () => number;
}

/** What the fan-out needs of a ready viewer. */
export interface FanoutPeer {
  /** The viewer. */
  peerId: string;
  /** Its label. */
  label: string;
  /** Its peer connection. */
  pc: RtcPeerConnection;
  /** Its open data channel. */
  channel: RtcDataChannel;
  /** The `resume` of its `ready`, if any (a viewer that follows sequence numbers). */
  resume?: unknown;
}

/**
 * Broadcast to every ready viewer with per-viewer backpressure.
 *
 * @example
 * ```ts ignore
 * const fanout = new Fanout({ onMessage: (id, m) => console.log(id, m.byteLength) });
 * fanout.add(peer, (onMessage) => peer.adopt(onMessage));
 * fanout.broadcast(new TextEncoder().encode("hello"));
 * await fanout.close();
 * ```
 */
export class Fanout implements AsyncDisposable {
  #o: FanoutOptions;
  #limits: LinkLimits;
  #links: Map<string, PeerLink> = new Map();
  #held: Map<string, _Held> = new Map();
  /** Links whose viewer follows sequence numbers: a message to it alone is marked direct. */
  #sequenced: WeakSet<PeerLink> = new WeakSet();
  #ids = new MessageIdAllocator();
  #coalescer = new Coalescer(this.#ids);
  #flushTimer?: ReturnType<typeof setTimeout>;
  #tick?: ReturnType<typeof setInterval>;
  #closing: Set<Promise<void>> = new Set();
  #closed = false;
  #now: () => number;
  #maxQueued: number;
  /** Byte bound of each viewer: `maxBufferedBytes`, or the cap when lower. */
  #maxLinkBytes: number;
  /** Links backed up. */
  #backedUp = 0;
  /** Links backed up that keep up (not outliers): the producer waits for these. */
  #gating = 0;
  /** Links far behind the others, since when: not waited for, dropped once over bounds. */
  #outliers: Map<PeerLink, number> = new Map();
  /** Most links lagged past half of `maxLagMs` at the latest check. */
  #behind = false;
  #congested = false;
  #congestedAt = 0;
  /** Most links backed up or behind: the host is the bottleneck. */
  #hostBound = false;
  #lastHostBound = -Infinity;
  #episode = false;
  /** The longest backlog of any link at the latest check (may be stale high, never low). */
  #peak = 0;
  #waiters: Set<Waiter> = new Set();
  /** Viewers dropped, by reason. */
  readonly drops: Record<string, number> = {};
  /** Numbers broadcast messages and keeps the latest for viewers that come back. */
  readonly replay: ReplayBuffer;
  /**
   * Broadcast messages and their payload bytes, frames and bytes sent, broadcasts refused
   * (`overflow`), congestion episodes and the time spent congested (ms).
   */
  readonly totals = {
    messages: 0,
    bytes: 0,
    framesSent: 0,
    bytesSent: 0,
    rejected: 0,
    congestions: 0,
    congestedMs: 0,
  };

  constructor(options: FanoutOptions = {}) {
    this.#o = options;
    this.#limits = { ...DEFAULT_LINK_LIMITS, ...options.limits };
    this.#maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!(this.#maxQueued > 0)) throw new RangeError("maxQueuedBytes must be positive");
    this.#maxLinkBytes = Math.min(this.#limits.maxBufferedBytes, this.#maxQueued);
    this.#now = options.now ?? (() => performance.now());
    this.replay = new ReplayBuffer(options.replay, this.#now, options.counters);
    const every = options.heartbeatIntervalMs ?? 5_000;
    const tickMs = Math.max(50, Math.min(every || 1_000, this.#limits.maxLagMs / 4, 1_000));
    let sinceBeat = 0;
    this.#tick = setInterval(() => {
      sinceBeat += tickMs;
      const beat = every > 0 && sinceBeat >= every;
      if (beat) sinceBeat = 0;
      this.#sweep(beat);
    }, tickMs);
  }

  /** Ready viewers. */
  get size(): number {
    return this.#links.size;
  }

  /**
   * Whether the producer should wait: a viewer that keeps up is backed up (its channel full
   * and shoal's queue past the low-water mark), or most viewers lag.
   */
  get congested(): boolean {
    return this.#congested;
  }

  /** The longest backlog of any viewer now, bytes (queued, held and in its channel). */
  get queuedBytes(): number {
    let peak = 0;
    for (const link of this.#links.values()) peak = Math.max(peak, this.#pending(link));
    return this.#peak = peak;
  }

  /**
   * Resolves once the host is not congested (at once when it is not); rejects with
   * `signal.reason` when aborted, and with {@link BroadcastError} (`closed`) when the
   * fan-out closes first.
   */
  drain(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(_closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#congested) return Promise.resolve();
    return waitIn(this.#waiters, signal);
  }

  /** The link of `peerId`. */
  link(peerId: string): PeerLink | undefined {
    return this.#links.get(peerId);
  }

  /**
   * Adds a ready viewer. `adopt` hands the channel's messages to the link. With
   * `snapshot`, broadcasts are held for this viewer until the returned promise of
   * `snapshot(send)` settles; what `send` queues goes first. Returns false when refused.
   */
  add(
    peer: FanoutPeer,
    adopt: (onMessage: (m: string | Uint8Array) => void) => void,
    snapshot?: (send: (payload: Uint8Array) => void) => void | Promise<void>,
  ): boolean {
    if (this.#closed) return false;
    const max = this.#o.maxPeers ?? 128;
    if (this.#links.size >= max && !this.#links.has(peer.peerId)) {
      if ((this.#o.whenFull ?? "refuse") === "refuse") {
        this.#refuse(peer);
        return false;
      }
      const oldest = this.#links.values().next().value!;
      oldest.close("capacity", `dropped for a newer viewer (maxPeers ${max})`);
    }
    this.#links.get(peer.peerId)?.close("closed", "replaced by a new connection", false);
    this.flush(); // what is numbered so far goes to the others only
    const start = this.replay.start(peer.resume, this.#ids);
    const link = new PeerLink(peer.peerId, peer.label, peer.pc, peer.channel, this.#limits, {
      message: (m) => this.#o.onMessage?.(peer.peerId, m),
      closed: (reason, detail) => this.#closedLink(link, reason, detail),
      backlog: (on) => {
        this.#backedUp += on ? 1 : -1;
        if (!this.#outliers.has(link)) this.#gating += on ? 1 : -1;
        this.#update();
      },
    }, this.#now);
    this.#links.set(peer.peerId, link);
    if (start.length > 0) {
      this.#sequenced.add(link);
      link.enqueue(start);
    }
    this.#update();
    adopt((m) => link.receive(m));
    if (snapshot) this.#snapshot(link, snapshot);
    return true;
  }

  /**
   * Queues `payload` for every ready viewer; returns how many it was queued for. Throws
   * {@link BroadcastError} (`overflow`) and queues nothing when it would pass
   * `maxQueuedBytes` (see {@link FanoutOptions.maxQueuedBytes}).
   */
  broadcast(payload: Uint8Array): number {
    const size = payload.byteLength + this.#coalescer.pendingBytes;
    if (this.#peak + size > this.#maxQueued) this.#makeRoom(payload.byteLength, size);
    this.replay.push(payload);
    this.totals.messages++;
    this.totals.bytes += payload.byteLength;
    const coalesceMs = this.#o.coalesceMs ?? 2;
    if (coalesceMs <= 0) return this.#toAll(encodeMessage(payload, this.#ids.next()));
    const ready = this.#coalescer.push(payload);
    if (ready.length > 0) this.#toAll(ready);
    if (this.#coalescer.pendingMessages > 0) {
      this.#flushTimer ??= setTimeout(() => this.flush(), coalesceMs);
    }
    return this.#links.size;
  }

  /** Sends what the coalescer holds now. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const frames = this.#coalescer.flush();
    if (frames.length > 0) this.#toAll(frames);
  }

  /** Queues `payload` for one viewer, after every earlier broadcast; false if not ready. */
  send(peerId: string, payload: Uint8Array): boolean {
    const link = this.#links.get(peerId);
    if (!link || link.closed) return false;
    this.flush();
    const frames = this.#direct(link, payload);
    const held = this.#held.get(peerId);
    if (held) this.#hold(held, frames);
    else link.enqueue(frames);
    this.#enforce();
    return !link.closed;
  }

  /** Drops a viewer with `reason` (it is told with `bye` unless it already left). */
  remove(peerId: string, reason: DropReason, detail: string = reason): void {
    this.#links.get(peerId)?.close(reason, detail, reason !== "left");
  }

  /**
   * Says `bye` (`shutdown`) to every viewer and closes their connections; a pending
   * {@link Fanout.drain} rejects. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.flush();
      this.#closed = true;
      clearInterval(this.#tick);
      for (const link of [...this.#links.values()]) link.close("shutdown", "the host is closing");
      for (const w of [...this.#waiters]) w.reject(_closedError());
      this.#waiters.clear();
    }
    await Promise.all([...this.#closing]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Entries held per viewer: `links`, `held` (waiting on a snapshot), `closing`. */
  retained(): { links: number; held: number; closing: number } {
    return { links: this.#links.size, held: this.#held.size, closing: this.#closing.size };
  }

  /** The frames of a message to `link` alone, marked `direct` if its viewer follows numbers. */
  #direct(link: PeerLink, payload: Uint8Array): RtcMessage[] {
    const frames = encodeMessage(payload, this.#ids.next());
    return this.#sequenced.has(link) ? [this.replay.direct, ...frames] : frames;
  }

  #toAll(frames: Uint8Array[]): number {
    const now = this.#now();
    for (const link of this.#links.values()) {
      const held = this.#held.get(link.peerId);
      if (held) this.#hold(held, frames);
      else link.enqueue(frames, now);
    }
    this.#enforce(now);
    return this.#links.size;
  }

  #hold(held: _Held, frames: readonly RtcMessage[]): void {
    for (const f of frames) {
      held.frames.push(f);
      held.bytes += f.length;
    }
  }

  /** Everything waiting for `link`: its queue, what is held for it, its channel's buffer. */
  #pending(link: PeerLink): number {
    return link.queuedBytes + link.bufferedAmount + (this.#held.get(link.peerId)?.bytes ?? 0);
  }

  /**
   * The slow-viewer policy. A link is an outlier when its lag passes both a tenth of
   * `maxLagMs` and twice the others' 90th percentile, or its backlog passes twice theirs
   * plus the water marks: it is no longer waited for, and once over its bounds (bytes beyond
   * `reserve` more, or lag) it is dropped as slow. When most links lag together nobody is
   * an outlier: the host is the bottleneck, nobody is dropped and the producer waits. A
   * lone viewer is never an outlier. Also refreshes the peak backlog and whether most links
   * are behind.
   */
  #enforce(now: number = this.#now(), reserve = 0): void {
    const links = [...this.#links.values()];
    const n = links.length;
    const lags = links.map((l) => l.lag(now));
    const pending = links.map((l) => this.#pending(l));
    const sortedLags = [...lags].sort((a, b) => a - b);
    const sortedPending = [...pending].sort((a, b) => a - b);
    const lagFloor = this.#limits.maxLagMs / 10;
    const byteFloor = this.#limits.highWaterMark + this.#limits.lowWaterMark;
    let behind = 0;
    let peak = 0;
    let drop: Array<[PeerLink, string]> | undefined;
    for (let i = 0; i < n; i++) {
      const link = links[i];
      if (lags[i] > this.#limits.maxLagMs / 2) behind++;
      const outlier = n > 1 && (
        lags[i] > Math.max(lagFloor, 2 * _othersP90(sortedLags, lags[i])) ||
        pending[i] > byteFloor + 2 * _othersP90(sortedPending, pending[i])
      );
      if (outlier !== this.#outliers.has(link)) {
        if (outlier) this.#outliers.set(link, now);
        else this.#outliers.delete(link);
        if (link.backedUp) this.#gating += outlier ? -1 : 1;
      }
      const why = outlier
        ? this.#overBounds(link, pending[i] + reserve, lags[i], now, reserve > 0)
        : undefined;
      if (why) (drop ??= []).push([link, why]);
      else peak = Math.max(peak, pending[i]);
    }
    for (const [link, why] of drop ?? []) link.close("slow", why);
    this.#peak = peak;
    this.#behind = n > 0 && 2 * behind > n;
    this.#update();
  }

  /**
   * Why an outlier is over its bounds (`bytes` waiting past the byte bound, or a lag past
   * `maxLagMs`) once it has been an outlier for half of `maxLagMs`, or at once when a
   * broadcast needs the room (`now`): lags are sawtooths as a channel drains in bursts, so
   * a stalled link stays an outlier while a jittery one does not.
   */
  #overBounds(
    link: PeerLink,
    bytes: number,
    lag: number,
    now: number,
    urgent: boolean,
  ): string | undefined {
    const max = this.#maxLinkBytes;
    const { maxLagMs } = this.#limits;
    if (!urgent && now - this.#outliers.get(link)! < maxLagMs / 2) return undefined;
    if (bytes > max) return `${bytes} bytes waiting (limit ${max})`;
    if (lag > maxLagMs) return `oldest frame waited ${Math.round(lag)} ms (limit ${maxLagMs})`;
    return undefined;
  }

  /**
   * `bytes` more (`size` with what the coalescer holds) would pass the cap: drop the links
   * that alone would pass it while the others keep up, or refuse the broadcast.
   */
  #makeRoom(bytes: number, size: number): void {
    const refuse = (message: string) => {
      this.totals.rejected++;
      return new BroadcastError("overflow", message, {
        queuedBytes: this.#peak,
        maxQueuedBytes: this.#maxQueued,
        messageBytes: bytes,
      });
    };
    if (this.#closed) return;
    if (bytes > this.#maxQueued) {
      throw refuse(`a ${bytes}-byte message is over maxQueuedBytes (${this.#maxQueued})`);
    }
    this.#enforce(this.#now(), Math.max(0, size - (this.#maxQueued - this.#maxLinkBytes)));
    if (this.#peak + size > this.#maxQueued) {
      throw refuse(
        `the broadcast queue is full: ${this.#peak} bytes queued, ${bytes} more would pass ` +
          `maxQueuedBytes (${this.#maxQueued}); wait for drain()`,
      );
    }
  }

  /**
   * Recomputes whether the producer must wait (a link that keeps up is backed up, or most
   * are behind) and whether the host is the bottleneck (most are backed up or behind);
   * wakes waiters and starts episodes.
   */
  #update(): void {
    const n = this.#links.size;
    const open = !this.#closed && n > 0;
    const congested = open && (this.#gating > 0 || this.#behind);
    this.#hostBound = open && (2 * this.#backedUp > n || this.#behind);
    if (this.#hostBound && !this.#episode) {
      this.#episode = true;
      this.#lastHostBound = this.#now();
      this.totals.congestions++;
      this.#tell(true);
    }
    if (congested === this.#congested) return;
    this.#congested = congested;
    const now = this.#now();
    if (congested) {
      this.#congestedAt = now;
      return;
    }
    this.totals.congestedMs += now - this.#congestedAt;
    for (const w of [...this.#waiters]) w.resolve();
    this.#waiters.clear();
  }

  #tell(congested: boolean): void {
    this.#o.onCongestion?.({
      congested,
      viewers: this.#links.size,
      backedUp: this.#backedUp,
      queuedBytes: this.#peak,
    });
  }

  #snapshot(
    link: PeerLink,
    snapshot: (send: (payload: Uint8Array) => void) => void | Promise<void>,
  ): void {
    const held: _Held = { frames: [], bytes: 0 };
    this.#held.set(link.peerId, held);
    const send = (payload: Uint8Array) => link.enqueue(this.#direct(link, payload));
    const release = () => {
      if (this.#held.get(link.peerId) !== held) return;
      this.#held.delete(link.peerId);
      if (held.frames.length > 0) link.enqueue(held.frames);
    };
    Promise.resolve().then(() => snapshot(send)).then(release, (error) => {
      this.#held.delete(link.peerId);
      link.close("closed", `snapshot failed: ${error instanceof Error ? error.message : error}`);
    });
  }

  #refuse(peer: FanoutPeer): void {
    this.drops.capacity = (this.drops.capacity ?? 0) + 1;
    this.#o.onClosed?.(peer.peerId, "capacity", "the host is full (maxPeers)");
    const p = sayBye(peer.channel, peer.pc, "capacity");
    this.#closing.add(p);
    p.then(() => this.#closing.delete(p));
  }

  #closedLink(link: PeerLink, reason: DropReason, detail: string): void {
    if (this.#links.get(link.peerId) === link) this.#links.delete(link.peerId);
    this.#outliers.delete(link);
    this.#held.delete(link.peerId);
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.totals.framesSent += link.stats.framesSent;
    this.totals.bytesSent += link.stats.bytesSent;
    const p = link.done;
    this.#closing.add(p);
    p.then(() => this.#closing.delete(p));
    this.#o.onClosed?.(link.peerId, reason, detail);
    this.#update();
  }

  #sweep(beat: boolean): void {
    const now = this.#now();
    const maxMissed = this.#o.maxMissedPongs ?? 3;
    for (const link of this.#links.values()) link.flush();
    this.#enforce(now);
    if (this.#hostBound) this.#lastHostBound = now;
    else if (this.#episode && now - this.#lastHostBound >= 1_000) {
      this.#episode = false;
      this.#tell(false);
    }
    if (beat) { for (const link of [...this.#links.values()]) link.ping(maxMissed); }
  }
}

/** Broadcast frames held for a viewer whose snapshot is being sent. */
interface _Held {
  frames: RtcMessage[];
  bytes: number;
}

/**
 * The 90th percentile of `sorted` (two values at least) without one occurrence of `own`,
 * which it holds.
 */
function _othersP90(sorted: readonly number[], own: number): number {
  const m = Math.floor(0.9 * (sorted.length - 2));
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < own) lo = mid + 1;
    else hi = mid;
  }
  return lo <= m ? sorted[m + 1] : sorted[m];
}

function _closedError(): BroadcastError {
  return new BroadcastError("closed", "the host is closed");
}
