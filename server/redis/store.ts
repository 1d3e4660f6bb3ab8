/**
 * {@link SessionStore} in Redis, shared by several signaling servers: sessions (secrets as
 * hashes), join order, presence, current handshakes, connection counts and expiry.
 *
 * @module
 */
import type { Logger } from "../../core/logger.ts";
import type { RedisLink } from "./link.ts";
import { RedisPresence } from "./presence.ts";
import {
  type PeerRef,
  type SessionRecord,
  type SessionStore,
  type StoreEvent,
  type StoreHealth,
  StoreUnavailableError,
  type ViewerInfo,
} from "../store.ts";

/**
 * Settings of a {@link RedisStore}: session expiry, this server's heartbeat, and where to
 * log Redis trouble. {@link connectRedis} fills them from its own options.
 *
 * @example
 * ```ts
 * import type { RedisStoreOptions } from "@shoal/shoal/server";
 *
 * const options: RedisStoreOptions = { heartbeatTtlMs: 3_000, log: console };
 * console.assert(options.heartbeatTtlMs === 3_000);
 * ```
 */
export interface RedisStoreOptions {
  /** How long a session outlives its last connection, ms (default 10 minutes). */
  idleTtlMs?: number;
  /** How long a server's heartbeat outlives its last refresh, ms (default 5 000). */
  heartbeatTtlMs?: number;
  /** How often the heartbeat is refreshed and dead servers looked for, ms (default TTL / 5). */
  heartbeatIntervalMs?: number;
  /** Logger. */
  log: Logger;
}

/**
 * What this server knows of its own peers, so that routing between two peers of this
 * server goes on while Redis is away (only positive answers are taken from it).
 */
class _Mirror {
  hosts = new Map<string, string>();
  viewers = new Map<string, Set<string>>();
  handshakes = new Map<string, Map<string, string>>();

  forgetHandshakes(sessionId: string): void {
    this.handshakes.delete(sessionId);
  }
  setHandshake(sessionId: string, viewerId: string, handshakeId: string | undefined): void {
    let m = this.handshakes.get(sessionId);
    if (handshakeId === undefined) return void m?.delete(viewerId);
    if (!m) this.handshakes.set(sessionId, m = new Map());
    m.set(viewerId, handshakeId);
  }
  removeViewer(sessionId: string, peerId: string): void {
    const set = this.viewers.get(sessionId);
    set?.delete(peerId);
    if (set?.size === 0) this.viewers.delete(sessionId);
    this.setHandshake(sessionId, peerId, undefined);
  }
}

function _record(fields: Record<string, string>): SessionRecord | undefined {
  if (!fields.sessionId || !fields.tokenHash) return undefined;
  return {
    sessionId: fields.sessionId,
    maxViewers: Number(fields.maxViewers),
    tokenHash: fields.tokenHash,
    joinCodeHash: fields.joinCodeHash,
    createdAt: Number(fields.createdAt),
  };
}

/**
 * Sessions in Redis. Made by {@link connectRedis}, which also makes the matching
 * {@link RedisBus}; see `server/redis/scripts.ts` for the keys.
 *
 * @example
 * ```ts ignore
 * import { connectRedis } from "./connect.ts";
 * import { startSignalingServer } from "../server.ts";
 * await using redis = await connectRedis({ url: "redis://127.0.0.1:6379" });
 * await using server = startSignalingServer({ store: redis.store, bus: redis.bus });
 * ```
 */
export class RedisStore implements SessionStore {
  #link: RedisLink;
  #presence: RedisPresence;
  #ttl: number;
  #log: Logger;
  #watchers = new Set<(event: StoreEvent) => void | Promise<void>>();
  #mirror = new _Mirror();

  /** A store over `link` (see {@link connectRedis}, which makes both). */
  constructor(link: RedisLink, options: RedisStoreOptions) {
    this.#link = link;
    this.#ttl = options.idleTtlMs ?? 10 * 60_000;
    this.#log = options.log;
    const heartbeatTtlMs = options.heartbeatTtlMs ?? 5_000;
    this.#presence = new RedisPresence(link, {
      idleTtlMs: this.#ttl,
      heartbeatTtlMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? Math.max(50, heartbeatTtlMs / 5),
      emit: (event) => this.#emit(event),
      log: options.log,
    });
  }

  /** This server's id in Redis. */
  get serverId(): string {
    return this.#presence.serverId;
  }

  /** Registers this server and starts its heartbeat. */
  start(): Promise<void> {
    return this.#presence.start();
  }

  /** Refreshes the heartbeat and reaps dead servers now, without waiting for the interval. */
  beat(): Promise<void> {
    return this.#presence.beat();
  }

  async create(record: SessionRecord): Promise<void> {
    const k = this.#link.keys;
    const fields = Object.entries(record).flat().map(String);
    await this.#link.run("create", [k.session(record.sessionId), k.index], [
      this.#ttl,
      record.sessionId,
      ...fields,
    ]);
  }
  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const key = this.#link.keys.session(sessionId);
    return _record(await this.#link.call(() => this.#link.cmd.hgetall(key)));
  }
  async count(): Promise<number> {
    return Number(await this.#link.run("count", [this.#link.keys.index], []));
  }
  connectionOpened(sessionId: string, peer: PeerRef): Promise<void> {
    return this.#presence.opened(sessionId, peer);
  }
  connectionClosed(sessionId: string, peer: PeerRef): Promise<void> {
    return this.#presence.closed(sessionId, peer);
  }
  async claimHost(sessionId: string, peerId: string): Promise<string | undefined> {
    const previous = await this.#link.run("claimHost", [this.#link.keys.session(sessionId)], [
      peerId,
    ]);
    this.#mirror.hosts.set(sessionId, peerId);
    return typeof previous === "string" ? previous : undefined;
  }
  async releaseHost(sessionId: string, peerId: string): Promise<boolean> {
    if (this.#mirror.hosts.get(sessionId) === peerId) {
      this.#mirror.hosts.delete(sessionId);
      this.#mirror.forgetHandshakes(sessionId);
    }
    const s = this.#link.keys.session(sessionId);
    return (await this.#link.run("releaseHost", [s], [peerId])) === 1;
  }
  host(sessionId: string): Promise<string | undefined> {
    const key = this.#link.keys.session(sessionId);
    return this.#orMirror(
      async () => (await this.#link.cmd.hget(key, "host")) ?? undefined,
      () => this.#mirror.hosts.get(sessionId),
    );
  }
  async addViewer(sessionId: string, viewer: ViewerInfo, maxViewers: number): Promise<boolean> {
    const [s, v, l] = this.#link.keys.sessionKeys(sessionId);
    const added = await this.#link.run("addViewer", [s, v, l], [
      viewer.peerId,
      viewer.label,
      maxViewers,
    ]) === 1;
    if (added) {
      const set = this.#mirror.viewers.get(sessionId) ?? new Set();
      this.#mirror.viewers.set(sessionId, set.add(viewer.peerId));
    }
    return added;
  }
  async removeViewer(sessionId: string, peerId: string): Promise<boolean> {
    this.#mirror.removeViewer(sessionId, peerId);
    const [, v, l, hs] = this.#link.keys.sessionKeys(sessionId);
    return (await this.#link.run("removeViewer", [v, l, hs], [peerId])) === 1;
  }
  hasViewer(sessionId: string, peerId: string): Promise<boolean> {
    const [, v] = this.#link.keys.sessionKeys(sessionId);
    return this.#orMirror(
      async () => (await this.#link.cmd.zscore(v, peerId)) !== null,
      () => this.#mirror.viewers.get(sessionId)?.has(peerId) || undefined,
    );
  }
  async viewers(sessionId: string): Promise<ViewerInfo[]> {
    const [, v, l] = this.#link.keys.sessionKeys(sessionId);
    const flat = (await this.#link.run("viewers", [v, l], [])) as string[];
    const out: ViewerInfo[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ peerId: flat[i], label: flat[i + 1] });
    return out;
  }
  async setHandshake(
    sessionId: string,
    viewerId: string,
    handshakeId: string | undefined,
  ): Promise<void> {
    this.#mirror.setHandshake(sessionId, viewerId, handshakeId);
    const hs = this.#link.keys.sessionKeys(sessionId)[3];
    const { cmd } = this.#link;
    try {
      await this.#link.call(() =>
        handshakeId === undefined ? cmd.hdel(hs, viewerId) : cmd.hset(hs, viewerId, handshakeId)
      );
    } catch (error) {
      // Kept here: routing between this server's own peers goes on.
      if (!(error instanceof StoreUnavailableError)) throw error;
    }
  }
  handshake(sessionId: string, viewerId: string): Promise<string | undefined> {
    const hs = this.#link.keys.sessionKeys(sessionId)[3];
    return this.#orMirror(
      async () => (await this.#link.cmd.hget(hs, viewerId)) ?? undefined,
      () => this.#mirror.handshakes.get(sessionId)?.get(viewerId),
    );
  }
  async clearHandshakes(sessionId: string): Promise<void> {
    this.#mirror.forgetHandshakes(sessionId);
    const hs = this.#link.keys.sessionKeys(sessionId)[3];
    await this.#link.call(() => this.#link.cmd.del(hs));
  }
  watch(listener: (event: StoreEvent) => void | Promise<void>): () => void {
    this.#watchers.add(listener);
    return () => this.#watchers.delete(listener);
  }
  health(): Promise<StoreHealth> {
    if (!this.#link.ready) return Promise.resolve({ ok: false, reason: this.#link.trouble });
    if (!this.#presence.beating) {
      return Promise.resolve({ ok: false, reason: "redis: the heartbeat is not being refreshed" });
    }
    return Promise.resolve({ ok: true });
  }
  /** Stops the heartbeat and retires this server (the link's owner closes Redis). */
  async close(): Promise<void> {
    await this.#presence.stop();
    this.#watchers.clear();
  }

  /** Asks Redis; while it is away, a positive answer about this server's own peers will do. */
  async #orMirror<T>(ask: () => Promise<T>, local: () => T | undefined): Promise<T> {
    try {
      return await this.#link.call(ask);
    } catch (error) {
      const known = local();
      if (!(error instanceof StoreUnavailableError) || known === undefined) throw error;
      return known;
    }
  }

  /** Calls every listener; the first failure is rethrown (a reaper then tries again later). */
  async #emit(event: StoreEvent): Promise<void> {
    let failure: unknown;
    for (const listener of [...this.#watchers]) {
      try {
        await listener(event);
      } catch (error) {
        this.#log.warn("store event {type} failed: {error}", { type: event.type, error });
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
