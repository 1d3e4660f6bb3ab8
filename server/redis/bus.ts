/**
 * {@link Bus} over Redis pub/sub: one channel per connected peer. A message for a peer
 * connected to this very server is handed over in process, without Redis, so routing
 * between peers of one server goes on while Redis is away.
 *
 * @module
 */
import type { ServerMessage } from "../../core/protocol.ts";
import type { RedisLink } from "./link.ts";
import type { Bus } from "../store.ts";

/**
 * Delivers server messages through Redis channels `PREFIX to:SESSION:PEER`.
 *
 * Order: a server publishes over one connection, one message after another, and Redis
 * hands each subscriber what one connection published in the order it was published, so
 * what one client sends reaches its addressee in order. A subscription is active (Redis
 * acknowledged it) before {@link RedisBus.subscribe} resolves.
 *
 * @example
 * ```ts ignore
 * import { connectRedis } from "./connect.ts";
 * await using redis = await connectRedis({ url: "redis://127.0.0.1:6379" });
 * const off = await redis.bus.subscribe("s", "p", (m) => console.log(m));
 * await redis.bus.publish("s", "p", { type: "host-status", online: true });
 * off();
 * ```
 */
export class RedisBus implements Bus {
  #link: RedisLink;
  #local = new Map<string, (message: ServerMessage) => void>();
  #onMessage = (channel: string, text: string) => this.#received(channel, text);

  /** A bus over `link`'s subscriber connection (see {@link connectRedis}). */
  constructor(link: RedisLink) {
    this.#link = link;
    link.sub.on("message", this.#onMessage);
  }

  async publish(sessionId: string, peerId: string, message: ServerMessage): Promise<boolean> {
    const channel = this.#link.keys.channel(sessionId, peerId);
    const local = this.#local.get(channel);
    if (local) {
      local(message);
      return true;
    }
    const text = JSON.stringify(message);
    return (await this.#link.call(() => this.#link.cmd.publish(channel, text))) > 0;
  }

  async subscribe(
    sessionId: string,
    peerId: string,
    deliver: (message: ServerMessage) => void,
  ): Promise<() => void> {
    const channel = this.#link.keys.channel(sessionId, peerId);
    this.#local.set(channel, deliver);
    try {
      await this.#link.call(() => this.#link.sub.subscribe(channel));
    } catch (error) {
      if (this.#local.get(channel) === deliver) this.#local.delete(channel);
      throw error;
    }
    return () => {
      if (this.#local.get(channel) !== deliver) return;
      this.#local.delete(channel);
      this.#link.sub.unsubscribe(channel).catch(() => {
        // Redis is away: the channel may come back subscribed; its messages are ignored.
      });
    };
  }

  /** Forgets every subscriber (the link's owner closes the connections). */
  close(): Promise<void> {
    this.#link.sub.off("message", this.#onMessage);
    this.#local.clear();
    return Promise.resolve();
  }

  #received(channel: string, text: string): void {
    const deliver = this.#local.get(channel);
    if (!deliver) return;
    let message: ServerMessage;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    deliver(message);
  }
}
