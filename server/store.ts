/**
 * The signaling server's shared state, behind two small interfaces: a {@link SessionStore}
 * (sessions, secrets, presence, current handshakes, expiry) and a {@link Bus} (delivery of
 * messages to a peer, wherever its socket lives). The in-memory implementations serve one
 * server; a shared engine (Redis) can implement both for several.
 *
 * @module
 */
import type { ServerMessage } from "../core/protocol.ts";

/**
 * What the server keeps of one session. Secrets are kept only as SHA-256 hashes.
 *
 * @example
 * ```ts
 * import { MemoryStore, type SessionRecord } from "@shoal/shoal/server";
 *
 * const record: SessionRecord = {
 *   sessionId: "s1",
 *   maxViewers: 10,
 *   tokenHash: "0".repeat(64),
 *   joinCodeHash: "1".repeat(64),
 *   createdAt: Date.now(),
 * };
 * const store = new MemoryStore();
 * await store.create(record);
 * console.assert((await store.get("s1"))?.maxViewers === 10);
 * await store.close();
 * ```
 */
export interface SessionRecord {
  /** The session's id. */
  sessionId: string;
  /** The most viewers it admits at once. */
  maxViewers: number;
  /** SHA-256 (hex) of the host token. */
  tokenHash: string;
  /** SHA-256 (hex) of the normalized join code. */
  joinCodeHash: string;
  /** When it was created (ms since the epoch). */
  createdAt: number;
}

/**
 * A viewer as the host sees it: its peer id and label (the `peers` of `welcome`).
 *
 * @example
 * ```ts
 * import type { ViewerInfo } from "@shoal/shoal/server";
 *
 * const viewer: ViewerInfo = { peerId: "p1", label: "alice" };
 * console.assert(viewer.label === "alice");
 * ```
 */
export interface ViewerInfo {
  /** The viewer's peer id. */
  peerId: string;
  /** The label it gave in `hello` (may be empty). */
  label: string;
}

/**
 * A peer as its server registers the connection it holds.
 *
 * @example
 * ```ts
 * import type { PeerRef } from "@shoal/shoal/server";
 *
 * const host: PeerRef = { peerId: "p0", role: "host" };
 * console.assert(host.role === "host");
 * ```
 */
export interface PeerRef {
  /** The peer's id. */
  peerId: string;
  /** Which side it is. */
  role: "host" | "viewer";
}

/**
 * A peer whose connection lived on a server that is gone (its heartbeat expired).
 *
 * @example
 * ```ts
 * import type { LostPeer } from "@shoal/shoal/server";
 *
 * const lost: LostPeer = { sessionId: "s1", peerId: "p2", role: "viewer" };
 * console.assert(lost.sessionId === "s1");
 * ```
 */
export interface LostPeer extends PeerRef {
  /** The session it was in. */
  sessionId: string;
}

/**
 * What a store reports on its own: `lost` (a peer whose server died: announce it as left
 * with reason `timeout`, exactly as if its socket had closed here), or `fenced` (this
 * server was presumed dead and its registrations were dropped: close every connection so
 * that its clients reconnect and register afresh).
 *
 * @example
 * ```ts
 * import type { StoreEvent } from "@shoal/shoal/server";
 *
 * const describe = (e: StoreEvent) =>
 *   e.type === "lost" ? `${e.peer.peerId} lost` : `fenced: ${e.reason}`;
 * console.assert(describe({ type: "fenced", reason: "heartbeat expired" }).startsWith("fenced"));
 * ```
 */
export type StoreEvent =
  | { type: "lost"; peer: LostPeer }
  | { type: "fenced"; reason: string };

/**
 * Whether a store can serve; `reason` says why not (`/healthz` reports it).
 *
 * @example
 * ```ts
 * import { MemoryStore, type StoreHealth } from "@shoal/shoal/server";
 *
 * const store = new MemoryStore();
 * const health: StoreHealth = await store.health();
 * console.assert(health.ok);
 * await store.close();
 * ```
 */
export interface StoreHealth {
  /** True when the store can serve. */
  ok: boolean;
  /** Why it cannot, for `/healthz`. */
  reason?: string;
}

/**
 * The shared state cannot be reached (Redis is down): the server answers new sessions and
 * new connections with 503 `store-unavailable` and `/healthz` reports the reason.
 *
 * @example
 * ```ts
 * import { StoreUnavailableError } from "./store.ts";
 * const e = new StoreUnavailableError("redis is unreachable");
 * console.assert(e.name === "StoreUnavailableError");
 * ```
 */
export class StoreUnavailableError extends Error {
  /** Always `"StoreUnavailableError"`. */
  override name = "StoreUnavailableError";
  /** Makes the error with a message and optionally its `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Sessions, presence and handshakes. Every method may be asynchronous, and may reject with
 * a {@link StoreUnavailableError} when the shared state cannot be reached.
 * {@link MemoryStore} keeps them in one process; `RedisStore` shares them between servers.
 *
 * @example A server with its store passed in (and closed by its owner)
 * ```ts
 * import { MemoryStore, type SessionStore, startSignalingServer } from "@shoal/shoal/server";
 *
 * const store: SessionStore = new MemoryStore({ idleTtlMs: 60_000 });
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0, store });
 * await (await fetch(`${server.url}/v1/sessions`, { method: "POST" })).body?.cancel();
 * console.assert(await store.count() === 1);
 * await server.close();
 * await store.close();
 * ```
 */
export interface SessionStore {
  /** Stores a new session; it expires after the idle time unless a connection opens. */
  create(record: SessionRecord): Promise<void>;
  /** Returns the session, or `undefined` when unknown or expired. */
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /** How many sessions exist. */
  count(): Promise<number>;
  /**
   * Forgets the session at once: its record and secrets, host, viewers and handshakes.
   * Returns whether it existed. Connections still open to it close on their own.
   */
  delete(sessionId: string): Promise<boolean>;
  /**
   * Notes that `peer`'s connection to the session opened on this server, before it claims
   * the host or joins as a viewer: the session will not expire while any is open, and if
   * this server dies the peer is reported `lost` to the others.
   */
  connectionOpened(sessionId: string, peer: PeerRef): Promise<void>;
  /** Notes that `peer`'s connection closed; with none left anywhere, the expiry clock starts. */
  connectionClosed(sessionId: string, peer: PeerRef): Promise<void>;
  /** Makes `peerId` the session's host; returns the host it replaced, if any. */
  claimHost(sessionId: string, peerId: string): Promise<string | undefined>;
  /** Clears the host if it is still `peerId`; returns whether it was. */
  releaseHost(sessionId: string, peerId: string): Promise<boolean>;
  /** The current host's peer id, if one is online. */
  host(sessionId: string): Promise<string | undefined>;
  /** Adds a viewer unless `maxViewers` are present; returns whether it was added. */
  addViewer(sessionId: string, viewer: ViewerInfo, maxViewers: number): Promise<boolean>;
  /** Removes a viewer; returns whether it was present. */
  removeViewer(sessionId: string, peerId: string): Promise<boolean>;
  /** Whether `peerId` is a viewer of the session. */
  hasViewer(sessionId: string, peerId: string): Promise<boolean>;
  /** The viewers present, in join order. */
  viewers(sessionId: string): Promise<ViewerInfo[]>;
  /** Records the current handshake between the host and a viewer (`undefined` voids it). */
  setHandshake(sessionId: string, viewerId: string, handshakeId: string | undefined): Promise<void>;
  /** The current handshake id between the host and a viewer. */
  handshake(sessionId: string, viewerId: string): Promise<string | undefined>;
  /** Voids every handshake of the session (a host took over or came back). */
  clearHandshakes(sessionId: string): Promise<void>;
  /** Listens to what the store reports on its own; returns the unsubscribe function. */
  watch(listener: (event: StoreEvent) => void | Promise<void>): () => void;
  /** Whether the store can serve now. */
  health(): Promise<StoreHealth>;
  /** Stops every timer. */
  close(): Promise<void>;
}

/**
 * Delivers server messages to peers, wherever they are connected. {@link MemoryBus}
 * delivers within one process; `RedisBus` between servers.
 *
 * @example
 * ```ts
 * import { type Bus, MemoryBus } from "@shoal/shoal/server";
 *
 * const bus: Bus = new MemoryBus();
 * const got: string[] = [];
 * const unsubscribe = await bus.subscribe("s1", "p1", (m) => got.push(m.type));
 * await bus.publish("s1", "p1", { type: "host-status", online: true });
 * unsubscribe();
 * console.assert(got[0] === "host-status");
 * await bus.close();
 * ```
 */
export interface Bus {
  /** Delivers `message` to `peerId` of `sessionId`; returns whether anyone took it. */
  publish(sessionId: string, peerId: string, message: ServerMessage): Promise<boolean>;
  /**
   * Receives what is published to `peerId`. Resolves, with the unsubscribe function, once
   * the subscription is active everywhere: whatever is published after that reaches it.
   */
  subscribe(
    sessionId: string,
    peerId: string,
    deliver: (message: ServerMessage) => void,
  ): Promise<() => void>;
  /** Drops every subscription. */
  close(): Promise<void>;
}
