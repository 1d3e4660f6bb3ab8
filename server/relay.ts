/**
 * What the signaling server does with valid messages: the hello checks, routing of signals
 * between a session's host and its viewers, presence announcements and clean-up.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import {
  type ClientMessage,
  CloseCode,
  type HelloMessage,
  type IceServer,
  kindAllowedFrom,
  type PeerLeftReason,
  type ServerMessage,
  type WelcomeMessage,
} from "../core/protocol.ts";
import type { Connection, ConnectionHandler } from "./connection.ts";
import type { Limiter } from "./limits.ts";
import { constantTimeEqual, hashSecret, newPeerId, normalizeJoinCode } from "./ids.ts";
import type { ServerMetrics } from "./metrics.ts";
import {
  type Bus,
  type LostPeer,
  type PeerRef,
  type SessionRecord,
  type SessionStore,
  StoreUnavailableError,
} from "./store.ts";

/**
 * Gives a client the ICE servers its `welcome` lists, once per hello: the same for every
 * client, or its own (such as TURN credentials minted for it).
 *
 * @example
 * ```ts
 * import type { IceServersFor } from "@shoal/shoal/server";
 *
 * const stunOnly: IceServersFor = () => [{ urls: "stun:stun.example.org:3478" }];
 * const listed = await stunOnly({ sessionId: "s", peerId: "p", role: "viewer" });
 * console.assert(listed.length === 1);
 * ```
 */
export type IceServersFor = (
  peer: { sessionId: string; peerId: string; role: "host" | "viewer" },
) => IceServer[] | Promise<IceServer[]>;

/** What the relay needs from the server. */
export interface RelayOptions {
  /** Session state. */
  store: SessionStore;
  /** Message delivery. */
  bus: Bus;
  /** Metrics to count into. */
  metrics: ServerMetrics;
  /** Logger (category `shoal.server`). */
  log: Logger;
  /** ICE servers handed out in `welcome`. */
  iceServers: IceServersFor;
  /** Failed hellos per address and per session. */
  limiter: Limiter;
}

/** Per-connection state that only the relay uses. */
interface _Attached {
  unsubscribe: () => void;
  /** Deliveries that arrived before `welcome` went out. */
  pending?: ServerMessage[];
}

/**
 * Implements PROTOCOL.md §1 on top of a {@link SessionStore} and a {@link Bus}.
 */
export class Relay implements ConnectionHandler {
  #o: RelayOptions;
  #attached: WeakMap<Connection, _Attached> = new WeakMap();

  constructor(options: RelayOptions) {
    this.#o = options;
  }

  async message(conn: Connection, message: ClientMessage): Promise<void> {
    if (message.type === "hello") {
      if (conn.welcomed) return conn.badFrame("bad-message", "a second hello");
      return await this.#hello(conn, message);
    }
    if (!conn.welcomed) return conn.badFrame("bad-message", `"${message.type}" before hello`);
    switch (message.type) {
      case "ping":
        conn.send(message.ts === undefined ? { type: "pong" } : { type: "pong", ts: message.ts });
        return;
      case "leave":
        conn.leftReason = "left";
        conn.close(CloseCode.normal, "leave");
        return;
      case "signal":
        return await this.#signal(conn, message);
    }
  }

  async closed(conn: Connection): Promise<void> {
    const attached = this.#attached.get(conn);
    this.#attached.delete(conn);
    attached?.unsubscribe();
    const { sessionId, peerId, role } = conn;
    if (peerId && role) {
      try {
        await this.#depart({ sessionId, peerId, role }, conn.leftReason);
      } finally {
        await this.#o.store.connectionClosed(sessionId, { peerId, role });
      }
    }
    this.#o.log.info("{role} left: {reason}", {
      sessionId,
      peerId,
      role: role ?? "pending",
      reason: conn.leftReason,
    });
  }

  /**
   * Announces a peer whose server died (the store reported it `lost`) exactly as if its
   * socket had closed here after a silence: `peer-left` with reason `timeout`, or
   * `host-status` offline.
   */
  async lost(peer: LostPeer): Promise<void> {
    await this.#depart(peer, "timeout");
    this.#o.log.info("{role} lost with its server", { ...peer, reason: "timeout" });
  }

  async #depart(peer: LostPeer, reason: PeerLeftReason): Promise<void> {
    const { store, bus } = this.#o;
    const { sessionId, peerId } = peer;
    if (peer.role === "host") {
      if (await store.releaseHost(sessionId, peerId)) {
        await store.clearHandshakes(sessionId);
        await this.#toViewers(sessionId, { type: "host-status", online: false });
      }
    } else if (await store.removeViewer(sessionId, peerId)) {
      const host = await store.host(sessionId);
      if (host) await bus.publish(sessionId, host, { type: "peer-left", peerId, reason });
    }
  }

  async #hello(conn: Connection, hello: HelloMessage): Promise<void> {
    try {
      await this.#helloChecked(conn, hello);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      // Not the client's fault: 1013 (try again later) lets it reconnect, maybe elsewhere.
      conn.fail("shutdown", `the server cannot serve now: ${error.message}`, CloseCode.tryAgain);
    }
  }

  async #helloChecked(conn: Connection, hello: HelloMessage): Promise<void> {
    const { store, log, limiter } = this.#o;
    const record = await store.get(conn.sessionId);
    if (!record) {
      return conn.fail("unauthorized", "the session no longer exists", CloseCode.unauthorized);
    }
    // While the address (or, for a viewer, the session) backs off after failed hellos, no
    // code is checked at all; 1013 tells the client to come back later.
    const refusal = await limiter.checkHello(conn.address, conn.sessionId, hello.role);
    if (refusal) {
      log.info("hello refused: {reason}", { sessionId: conn.sessionId, reason: refusal.reason });
      return conn.fail("rate-limited", refusal.message, CloseCode.tryAgain);
    }
    if (!(await this.#authorized(record, hello))) {
      const what = hello.role === "host" ? "host token" : "join code";
      log.info("unauthorized {role} hello", { sessionId: conn.sessionId, role: hello.role });
      await limiter.helloFailed(conn.address, conn.sessionId);
      return conn.fail("unauthorized", `wrong ${what}`, CloseCode.unauthorized);
    }
    const peerId = newPeerId(hello.role);
    // Deliveries are held back until welcome is out, so that nothing precedes it; the
    // subscription is active before anyone can learn of the peer.
    const attached: _Attached = { pending: [], unsubscribe: () => {} };
    this.#attached.set(conn, attached);
    attached.unsubscribe = await this.#o.bus.subscribe(conn.sessionId, peerId, (m) => {
      if (attached.pending) attached.pending.push(m);
      else this.#deliver(conn, m);
    });
    if (hello.role === "host") await this.#helloHost(conn, peerId);
    else await this.#helloViewer(conn, peerId, record, hello.label ?? "");
    if (conn.closed || !conn.welcomed) return;
    const held = attached.pending ?? [];
    attached.pending = undefined;
    for (const m of held) this.#deliver(conn, m);
  }

  async #authorized(record: SessionRecord, hello: HelloMessage): Promise<boolean> {
    if (hello.role === "host") {
      return hello.token !== undefined &&
        constantTimeEqual(await hashSecret(hello.token), record.tokenHash);
    }
    return hello.joinCode !== undefined &&
      constantTimeEqual(await hashSecret(normalizeJoinCode(hello.joinCode)), record.joinCodeHash);
  }

  async #helloHost(conn: Connection, peerId: string): Promise<void> {
    const { store, bus, log } = this.#o;
    const sessionId = conn.sessionId;
    conn.accept("host", peerId);
    await store.connectionOpened(sessionId, { peerId, role: "host" });
    const previous = await store.claimHost(sessionId, peerId);
    await store.clearHandshakes(sessionId);
    if (previous) {
      await bus.publish(sessionId, previous, {
        type: "error",
        code: "replaced",
        message: "another connection took over as host",
      });
    }
    conn.send(await this.#welcome(conn, { peers: await store.viewers(sessionId) }));
    log.info("host online", { sessionId, peerId, tookOver: previous !== undefined });
    if (!previous) await this.#toViewers(sessionId, { type: "host-status", online: true });
  }

  async #helloViewer(
    conn: Connection,
    peerId: string,
    record: SessionRecord,
    label: string,
  ): Promise<void> {
    const { store, bus, log } = this.#o;
    const sessionId = conn.sessionId;
    const peer: PeerRef = { peerId, role: "viewer" };
    await store.connectionOpened(sessionId, peer);
    let added = false;
    try {
      added = await store.addViewer(sessionId, { peerId, label }, record.maxViewers);
    } finally {
      if (!added) await store.connectionClosed(sessionId, peer).catch(() => {});
    }
    if (!added) {
      log.info("viewer refused: session full", { sessionId, maxViewers: record.maxViewers });
      return conn.fail(
        "session-full",
        `the session admits at most ${record.maxViewers} viewers`,
        CloseCode.full,
      );
    }
    conn.accept("viewer", peerId);
    const host = await store.host(sessionId);
    conn.send(await this.#welcome(conn));
    conn.send({ type: "host-status", online: host !== undefined });
    log.info("viewer joined", { sessionId, peerId, label });
    if (host) await bus.publish(sessionId, host, { type: "peer-joined", peerId, label });
  }

  /** The `welcome` of an accepted connection: its peer id, role and ICE servers. */
  async #welcome(
    conn: Connection,
    extra: Pick<WelcomeMessage, "peers"> = {},
  ): Promise<WelcomeMessage> {
    const peer = { sessionId: conn.sessionId, peerId: conn.peerId!, role: conn.role! };
    return { type: "welcome", ...peer, iceServers: await this.#o.iceServers(peer), ...extra };
  }

  #deliver(conn: Connection, message: ServerMessage): void {
    if (message.type === "error" && message.code === "replaced" && conn.role === "host") {
      conn.fail("replaced", message.message, CloseCode.replaced, "replaced");
      return;
    }
    conn.send(message);
  }

  async #signal(
    conn: Connection,
    message: Extract<ClientMessage, { type: "signal" }>,
  ): Promise<void> {
    const { store, bus, metrics } = this.#o;
    const { sessionId, peerId: from } = conn;
    const role = conn.role!;
    const kind = message.data.kind;
    if (!kindAllowedFrom(role, kind)) {
      return conn.badFrame("bad-message", `a ${role} may not send "${kind}"`);
    }
    let to: string | undefined;
    let viewerId: string;
    if (role === "host") {
      if (message.to === undefined) return conn.badFrame("bad-message", "a host signal needs `to`");
      to = message.to;
      viewerId = to;
      if (!(await store.hasViewer(sessionId, to))) return this.#unknown(conn, `no viewer ${to}`);
    } else {
      to = await store.host(sessionId);
      viewerId = from!;
      if (!to) return this.#unknown(conn, "no host is online");
    }
    if (kind === "offer") {
      await store.setHandshake(sessionId, viewerId, message.handshakeId);
    } else if (kind !== "request-offer") {
      const current = await store.handshake(sessionId, viewerId);
      if (current !== message.handshakeId) {
        metrics.dropped.inc({ reason: "stale" });
        return;
      }
    }
    const out: ServerMessage = {
      type: "signal",
      from: from!,
      handshakeId: message.handshakeId,
      data: message.data,
    };
    if (await bus.publish(sessionId, to, out)) metrics.relayed.inc({ type: "signal", kind });
    else metrics.dropped.inc({ reason: "gone" });
  }

  #unknown(conn: Connection, message: string): void {
    this.#o.metrics.dropped.inc({ reason: "unknown-peer" });
    conn.send({ type: "error", code: "unknown-peer", message });
  }

  async #toViewers(sessionId: string, message: ServerMessage): Promise<void> {
    const { store, bus, metrics } = this.#o;
    for (const v of await store.viewers(sessionId)) {
      if (await bus.publish(sessionId, v.peerId, message)) {
        metrics.relayed.inc({ type: message.type });
      }
    }
  }
}
