/**
 * Which server holds which connection, and which servers are alive: a heartbeat key per
 * server (refreshed every interval, expiring after its TTL), a set of the connections each
 * server holds, and a reaper that reports the connections of a server whose heartbeat
 * expired as `lost`, so that a live server announces them as left.
 *
 * @module
 */
import type { Logger } from "../../core/logger.ts";
import { newSessionId } from "../ids.ts";
import type { RedisLink } from "./link.ts";
import { ownedEntry, parseOwnedEntry } from "./scripts.ts";
import type { LostPeer, PeerRef, StoreEvent } from "../store.ts";

/** Settings of a {@link RedisPresence}. */
export interface RedisPresenceOptions {
  /** How long a session outlives its last connection, ms. */
  idleTtlMs: number;
  /** How long a server's heartbeat outlives its last refresh, ms. */
  heartbeatTtlMs: number;
  /** How often it is refreshed and dead servers are looked for, ms. */
  heartbeatIntervalMs: number;
  /** Reports `lost` peers and `fenced`; resolves when they have been dealt with. */
  emit: (event: StoreEvent) => Promise<void>;
  /** Logger. */
  log: Logger;
}

/** How long a reaper may take before another server may reap the same dead one, ms. */
const REAP_LOCK_MS = 30_000;

/**
 * This server's registration in Redis: its heartbeat, the connections it holds, and the
 * reaping of dead servers. Internal to {@link RedisStore}.
 */
export class RedisPresence {
  #link: RedisLink;
  #o: RedisPresenceOptions;
  #id = newSessionId();
  /** Connections held here: owned entry → the server id it was registered under. */
  #owned = new Map<string, string>();
  #timer?: ReturnType<typeof setTimeout>;
  #tick?: Promise<void>;
  #lastBeat = 0;
  #troubled = false;
  #drops = 0;
  #stopped = false;

  constructor(link: RedisLink, options: RedisPresenceOptions) {
    this.#link = link;
    this.#o = options;
  }

  /** This server's id in Redis (a new one after being fenced). */
  get serverId(): string {
    return this.#id;
  }

  /** Whether the heartbeat was refreshed within its TTL. */
  get beating(): boolean {
    return Date.now() - this.#lastBeat < this.#o.heartbeatTtlMs;
  }

  /** Registers this server and starts beating. */
  async start(): Promise<void> {
    await this.#register();
    this.#schedule();
  }

  /** Registers a connection held here (see the `open` script). */
  async opened(sessionId: string, peer: PeerRef): Promise<void> {
    const entry = ownedEntry(peer.role, sessionId, peer.peerId);
    this.#owned.set(entry, this.#id);
    await this.#link.run("open", this.#sessionKeys(sessionId, this.#id), [
      sessionId,
      peer.peerId,
      entry,
    ]);
  }

  /** Unregisters a connection; with none left anywhere, the session's expiry starts. */
  async closed(sessionId: string, peer: PeerRef): Promise<void> {
    const entry = ownedEntry(peer.role, sessionId, peer.peerId);
    const serverId = this.#owned.get(entry) ?? this.#id;
    this.#owned.delete(entry);
    await this.#release(serverId, sessionId, peer.peerId, entry);
  }

  /** Stops beating and retires: leftovers in Redis are reaped by the other servers. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    const { keys } = this.#link;
    await this.#link.run("retire", [keys.heartbeat(this.#id), keys.owned(this.#id), keys.servers], [
      this.#id,
    ]).catch((error) => this.#o.log.warn("redis: could not retire: {error}", { error }));
  }

  /** Runs one beat now (tests use it to skip waiting for the interval). */
  beat(): Promise<void> {
    this.#tick ??= this.#beat().finally(() => this.#tick = undefined);
    return this.#tick;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.beat();
      this.#schedule();
    }, this.#o.heartbeatIntervalMs);
  }

  async #register(): Promise<void> {
    const { keys, cmd } = this.#link;
    const ttl = this.#o.heartbeatTtlMs;
    await this.#link.call(() =>
      cmd.multi().set(keys.heartbeat(this.#id), "1", "PX", ttl).sadd(keys.servers, this.#id).exec()
    );
    this.#lastBeat = Date.now();
  }

  async #beat(): Promise<void> {
    const { keys, cmd } = this.#link;
    try {
      const ttl = this.#o.heartbeatTtlMs;
      const ok = await this.#link.call(() =>
        cmd.set(keys.heartbeat(this.#id), "1", "PX", ttl, "XX")
      );
      if (ok === null) await this.#fence();
      else this.#lastBeat = Date.now();
      // After any outage, however short, clean-ups that failed meanwhile are done now.
      const drops = this.#link.drops;
      if (this.#troubled || drops !== this.#drops) await this.#reconcile();
      this.#troubled = false;
      this.#drops = drops;
      await this.#reapDead();
    } catch (error) {
      if (!this.#troubled) this.#o.log.warn("redis: heartbeat failed: {error}", { error });
      this.#troubled = true;
    }
  }

  /**
   * Our heartbeat expired (Redis was away too long, or lost its data): the others may have
   * reported our peers lost. Start afresh under a new id and have every connection closed,
   * so that its client reconnects and registers again.
   */
  async #fence(): Promise<void> {
    const old = this.#id;
    this.#id = newSessionId();
    await this.#register();
    this.#o.log.warn("redis: heartbeat of {old} had expired; now {id}", { old, id: this.#id });
    await this.#o.emit({ type: "fenced", reason: "the server lost its registration" });
  }

  /** After an outage: what Redis says we hold but we no longer do is reported lost. */
  async #reconcile(): Promise<void> {
    const entries = await this.#link.call(() =>
      this.#link.cmd.smembers(this.#link.keys.owned(this.#id))
    );
    const stale = entries.filter((e) => !this.#owned.has(e));
    if (stale.length) await this.#reap(this.#id, stale);
  }

  /** Reaps every registered server whose heartbeat has expired (one reaper per server). */
  async #reapDead(): Promise<void> {
    const { keys, cmd } = this.#link;
    const others = (await this.#link.call(() => cmd.smembers(keys.servers))).filter((id) =>
      id !== this.#id
    );
    for (const id of others) {
      if (this.#stopped) return;
      if (await this.#link.call(() => cmd.exists(keys.heartbeat(id)))) continue;
      const lock = await this.#link.call(() =>
        cmd.set(keys.reaping(id), this.#id, "PX", REAP_LOCK_MS, "NX")
      );
      if (lock === null) continue;
      const entries = await this.#link.call(() => cmd.smembers(keys.owned(id)));
      this.#o.log.info("redis: server {id} is gone; {n} connections lost", {
        id,
        n: entries.length,
      });
      await this.#reap(id, entries);
      await this.#link.call(() =>
        cmd.multi().del(keys.owned(id), keys.reaping(id)).srem(keys.servers, id).exec()
      );
    }
  }

  /** Reports each entry lost, then unregisters it on behalf of `serverId`. */
  async #reap(serverId: string, entries: string[]): Promise<void> {
    for (const entry of entries) {
      const parsed = parseOwnedEntry(entry);
      if (!parsed) continue;
      const peer: LostPeer = parsed;
      await this.#o.emit({ type: "lost", peer });
      await this.#release(serverId, peer.sessionId, peer.peerId, entry);
    }
  }

  #release(serverId: string, sessionId: string, peerId: string, entry: string): Promise<unknown> {
    return this.#link.run("close", this.#sessionKeys(sessionId, serverId), [
      sessionId,
      peerId,
      entry,
      this.#o.idleTtlMs,
    ]);
  }

  #sessionKeys(sessionId: string, serverId: string): string[] {
    const { keys } = this.#link;
    return [...keys.sessionKeys(sessionId), keys.index, keys.owned(serverId)];
  }
}
