/**
 * The fan-out: every ready viewer's {@link PeerLink}, a broadcast that encodes a message
 * once and queues the same frames on each link, coalescing of small messages into batch
 * frames, the capacity policy, and a periodic tick for heartbeats and lag.
 *
 * @module
 */
import { Coalescer, encodeMessage, MessageIdAllocator } from "./framing.ts";
import { type DropReason, type LinkLimits, PeerLink } from "./peer_link.ts";
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
  #held: Map<string, RtcMessage[]> = new Map();
  /** Links whose viewer follows sequence numbers: a message to it alone is marked direct. */
  #sequenced: WeakSet<PeerLink> = new WeakSet();
  #ids = new MessageIdAllocator();
  #coalescer = new Coalescer(this.#ids);
  #flushTimer?: ReturnType<typeof setTimeout>;
  #tick?: ReturnType<typeof setInterval>;
  #closing: Set<Promise<void>> = new Set();
  #closed = false;
  #now: () => number;
  /** Viewers dropped, by reason. */
  readonly drops: Record<string, number> = {};
  /** Numbers broadcast messages and keeps the latest for viewers that come back. */
  readonly replay: ReplayBuffer;
  /** Broadcast messages and their payload bytes. */
  readonly totals = { messages: 0, bytes: 0, framesSent: 0, bytesSent: 0 };

  constructor(options: FanoutOptions = {}) {
    this.#o = options;
    this.#limits = { ...DEFAULT_LINK_LIMITS, ...options.limits };
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

  /** The link of `peerId`. */
  link(peerId: string): PeerLink | undefined {
    return this.#links.get(peerId);
  }

  /** Every link. */
  links(): IterableIterator<PeerLink> {
    return this.#links.values();
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
    }, this.#now);
    this.#links.set(peer.peerId, link);
    if (start.length > 0) {
      this.#sequenced.add(link);
      link.enqueue(start);
    }
    adopt((m) => link.receive(m));
    if (snapshot) this.#snapshot(link, snapshot);
    return true;
  }

  /** Queues `payload` for every ready viewer; returns how many it was queued for. */
  broadcast(payload: Uint8Array): number {
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
    if (held) {
      held.push(...frames);
      return link.checkSlow();
    }
    return link.enqueue(frames);
  }

  /** Drops a viewer with `reason` (it is told with `bye` unless it already left). */
  remove(peerId: string, reason: DropReason, detail: string = reason): void {
    this.#links.get(peerId)?.close(reason, detail, reason !== "left");
  }

  /** Says `bye` (`shutdown`) to every viewer and closes their connections. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.flush();
      clearInterval(this.#tick);
      for (const link of [...this.#links.values()]) link.close("shutdown", "the host is closing");
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
    let n = 0;
    for (const link of [...this.#links.values()]) {
      const held = this.#held.get(link.peerId);
      if (held) held.push(...frames);
      else if (link.enqueue(frames, now)) n++;
    }
    return n;
  }

  #snapshot(
    link: PeerLink,
    snapshot: (send: (payload: Uint8Array) => void) => void | Promise<void>,
  ): void {
    const held: RtcMessage[] = [];
    this.#held.set(link.peerId, held);
    const send = (payload: Uint8Array) => link.enqueue(this.#direct(link, payload));
    const release = () => {
      if (this.#held.get(link.peerId) !== held) return;
      this.#held.delete(link.peerId);
      if (held.length > 0) link.enqueue(held);
    };
    Promise.resolve().then(() => snapshot(send)).then(release, (error) => {
      this.#held.delete(link.peerId);
      link.close("closed", `snapshot failed: ${error instanceof Error ? error.message : error}`);
    });
  }

  #refuse(peer: FanoutPeer): void {
    try {
      peer.channel.send(JSON.stringify({ t: "bye", reason: "capacity" }));
    } catch {
      // It is being closed anyway.
    }
    this.drops.capacity = (this.drops.capacity ?? 0) + 1;
    this.#o.onClosed?.(peer.peerId, "capacity", "the host is full (maxPeers)");
    const p = new Promise((r) => setTimeout(r, 50)).then(() => peer.pc.close()).catch(() => {});
    this.#closing.add(p);
    p.then(() => this.#closing.delete(p));
  }

  #closedLink(link: PeerLink, reason: DropReason, detail: string): void {
    if (this.#links.get(link.peerId) === link) this.#links.delete(link.peerId);
    this.#held.delete(link.peerId);
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.totals.framesSent += link.stats.framesSent;
    this.totals.bytesSent += link.stats.bytesSent;
    const p = link.done;
    this.#closing.add(p);
    p.then(() => this.#closing.delete(p));
    this.#o.onClosed?.(link.peerId, reason, detail);
  }

  #sweep(beat: boolean): void {
    const now = this.#now();
    const maxMissed = this.#o.maxMissedPongs ?? 3;
    for (const link of [...this.#links.values()]) {
      link.flush();
      if (!link.checkSlow(now)) continue;
      if (beat) link.ping(maxMissed);
    }
  }
}
