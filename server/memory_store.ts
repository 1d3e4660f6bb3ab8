/**
 * In-memory {@link SessionStore} and {@link Bus}: the default state of one signaling server.
 *
 * @module
 */
import type { ServerMessage } from "../core/protocol.ts";
import type {
  Bus,
  PeerRef,
  SessionRecord,
  SessionStore,
  StoreEvent,
  StoreHealth,
  ViewerInfo,
} from "./store.ts";

interface _Session {
  record: SessionRecord;
  host?: string;
  viewers: Map<string, ViewerInfo>;
  handshakes: Map<string, string>;
  connections: number;
  expiry?: ReturnType<typeof setTimeout>;
}

/**
 * Options of {@link MemoryStore}: how long an unused session lives, and a callback when
 * one expires.
 *
 * @example
 * ```ts
 * import { MemoryStore, type MemoryStoreOptions } from "@shoal/shoal/server";
 *
 * const options: MemoryStoreOptions = { idleTtlMs: 60_000, onExpire: (id) => console.log(id) };
 * const store = new MemoryStore(options);
 * await store.close();
 * ```
 */
export interface MemoryStoreOptions {
  /** How long a session lives with no connection, in ms (default 10 minutes). */
  idleTtlMs?: number;
  /** Called when a session expires. */
  onExpire?: (sessionId: string) => void;
}

/**
 * Sessions kept in this process's memory, each expiring `idleTtlMs` after its last
 * connection closed (or after its creation, if nobody ever connects).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * const store = new MemoryStore({ idleTtlMs: 1000 });
 * await store.create({ sessionId: "s", maxViewers: 2, tokenHash: "", joinCodeHash: "", createdAt: 0 });
 * console.assert(await store.count() === 1);
 * await store.close();
 * ```
 */
export class MemoryStore implements SessionStore {
  #sessions: Map<string, _Session> = new Map();
  #ttl: number;
  #onExpire?: (sessionId: string) => void;

  /** An empty store; sessions expire `idleTtlMs` after their last connection. */
  constructor(options: MemoryStoreOptions = {}) {
    this.#ttl = options.idleTtlMs ?? 10 * 60_000;
    this.#onExpire = options.onExpire;
  }

  create(record: SessionRecord): Promise<void> {
    const s: _Session = { record, viewers: new Map(), handshakes: new Map(), connections: 0 };
    this.#sessions.set(record.sessionId, s);
    this.#arm(s);
    return Promise.resolve();
  }
  get(sessionId: string): Promise<SessionRecord | undefined> {
    return Promise.resolve(this.#sessions.get(sessionId)?.record);
  }
  count(): Promise<number> {
    return Promise.resolve(this.#sessions.size);
  }
  connectionOpened(sessionId: string, _peer?: PeerRef): Promise<void> {
    const s = this.#sessions.get(sessionId);
    if (s) {
      s.connections++;
      clearTimeout(s.expiry);
      s.expiry = undefined;
    }
    return Promise.resolve();
  }
  connectionClosed(sessionId: string, _peer?: PeerRef): Promise<void> {
    const s = this.#sessions.get(sessionId);
    if (s && --s.connections <= 0) {
      s.connections = 0;
      this.#arm(s);
    }
    return Promise.resolve();
  }
  claimHost(sessionId: string, peerId: string): Promise<string | undefined> {
    const s = this.#sessions.get(sessionId);
    const previous = s?.host;
    if (s) s.host = peerId;
    return Promise.resolve(previous);
  }
  releaseHost(sessionId: string, peerId: string): Promise<boolean> {
    const s = this.#sessions.get(sessionId);
    if (!s || s.host !== peerId) return Promise.resolve(false);
    s.host = undefined;
    return Promise.resolve(true);
  }
  host(sessionId: string): Promise<string | undefined> {
    return Promise.resolve(this.#sessions.get(sessionId)?.host);
  }
  addViewer(sessionId: string, viewer: ViewerInfo, maxViewers: number): Promise<boolean> {
    const s = this.#sessions.get(sessionId);
    if (!s || s.viewers.size >= maxViewers) return Promise.resolve(false);
    s.viewers.set(viewer.peerId, viewer);
    return Promise.resolve(true);
  }
  removeViewer(sessionId: string, peerId: string): Promise<boolean> {
    const s = this.#sessions.get(sessionId);
    s?.handshakes.delete(peerId);
    return Promise.resolve(s?.viewers.delete(peerId) ?? false);
  }
  hasViewer(sessionId: string, peerId: string): Promise<boolean> {
    return Promise.resolve(this.#sessions.get(sessionId)?.viewers.has(peerId) ?? false);
  }
  viewers(sessionId: string): Promise<ViewerInfo[]> {
    return Promise.resolve([...(this.#sessions.get(sessionId)?.viewers.values() ?? [])]);
  }
  setHandshake(
    sessionId: string,
    viewerId: string,
    handshakeId: string | undefined,
  ): Promise<void> {
    const s = this.#sessions.get(sessionId);
    if (s && handshakeId === undefined) s.handshakes.delete(viewerId);
    else if (s && handshakeId !== undefined) s.handshakes.set(viewerId, handshakeId);
    return Promise.resolve();
  }
  handshake(sessionId: string, viewerId: string): Promise<string | undefined> {
    return Promise.resolve(this.#sessions.get(sessionId)?.handshakes.get(viewerId));
  }
  clearHandshakes(sessionId: string): Promise<void> {
    this.#sessions.get(sessionId)?.handshakes.clear();
    return Promise.resolve();
  }
  /** One process has no other servers to lose: nothing is ever reported. */
  watch(_listener: (event: StoreEvent) => void | Promise<void>): () => void {
    return () => {};
  }
  health(): Promise<StoreHealth> {
    return Promise.resolve({ ok: true });
  }
  /** Entries held: `sessions`, and per peer `viewers` and `handshakes` (all sessions). */
  retained(): { sessions: number; viewers: number; handshakes: number } {
    let viewers = 0;
    let handshakes = 0;
    for (const s of this.#sessions.values()) {
      viewers += s.viewers.size;
      handshakes += s.handshakes.size;
    }
    return { sessions: this.#sessions.size, viewers, handshakes };
  }

  close(): Promise<void> {
    for (const s of this.#sessions.values()) clearTimeout(s.expiry);
    this.#sessions.clear();
    return Promise.resolve();
  }

  #arm(s: _Session): void {
    clearTimeout(s.expiry);
    s.expiry = setTimeout(() => {
      if (this.#sessions.get(s.record.sessionId) !== s || s.connections > 0) return;
      this.#sessions.delete(s.record.sessionId);
      this.#onExpire?.(s.record.sessionId);
    }, this.#ttl);
  }
}

/**
 * Delivers messages to subscribers in this process.
 *
 * @example
 * ```ts
 * import { MemoryBus } from "./memory_store.ts";
 * const bus = new MemoryBus();
 * const got: unknown[] = [];
 * await bus.subscribe("s", "p", (m) => got.push(m));
 * await bus.publish("s", "p", { type: "host-status", online: true });
 * console.assert(got.length === 1);
 * ```
 */
export class MemoryBus implements Bus {
  #subscribers: Map<string, (message: ServerMessage) => void> = new Map();

  publish(sessionId: string, peerId: string, message: ServerMessage): Promise<boolean> {
    const deliver = this.#subscribers.get(`${sessionId}/${peerId}`);
    deliver?.(message);
    return Promise.resolve(deliver !== undefined);
  }
  /** Entries held per peer: `subscribers`. */
  retained(): { subscribers: number } {
    return { subscribers: this.#subscribers.size };
  }

  subscribe(
    sessionId: string,
    peerId: string,
    deliver: (message: ServerMessage) => void,
  ): Promise<() => void> {
    const key = `${sessionId}/${peerId}`;
    this.#subscribers.set(key, deliver);
    return Promise.resolve(() => {
      if (this.#subscribers.get(key) === deliver) this.#subscribers.delete(key);
    });
  }
  close(): Promise<void> {
    this.#subscribers.clear();
    return Promise.resolve();
  }
}
