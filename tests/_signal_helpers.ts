// Helpers for tests that speak to a real signaling server over real sockets.
import type { ServerMessage } from "../core/protocol.ts";
import { type CreatedSession, type SignalingServer, startSignalingServer } from "../server/mod.ts";
import type { SignalingServerOptions } from "../server/mod.ts";

/** Starts a server on a free port of 127.0.0.1. */
export function testServer(options: SignalingServerOptions = {}): SignalingServer {
  return startSignalingServer({ hostname: "127.0.0.1", port: 0, ...options });
}

/** Creates a session through the HTTP API. */
export async function createSession(
  server: { url: string },
  body?: Record<string, unknown>,
): Promise<CreatedSession> {
  const res = await fetch(`${server.url}/v1/sessions`, {
    method: "POST",
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return await res.json();
}

/**
 * A raw WebSocket client that queues what the server says, for asserting on the protocol
 * itself. Every wait is bounded.
 */
export class RawClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly messages: ServerMessage[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("error", () => reject(new Error("socket error")), {
        once: true,
      });
    });
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      }, { once: true });
    });
    this.socket.addEventListener("message", (e) => {
      this.messages.push(JSON.parse(e.data));
      this.#wake();
    });
  }

  static async open(url: string): Promise<RawClient> {
    const c = new RawClient(url);
    await c.opened;
    return c;
  }

  /** Opens a socket and says hello as host; waits for welcome. */
  static async host(session: CreatedSession): Promise<RawClient> {
    const c = await RawClient.open(session.wsUrl);
    c.send({ type: "hello", role: "host", protocol: 1, token: session.hostToken });
    await c.next("welcome");
    return c;
  }

  /** Opens a socket and says hello as viewer; waits for welcome. */
  static async viewer(session: CreatedSession, label?: string): Promise<RawClient> {
    const c = await RawClient.open(session.wsUrl);
    c.send({ type: "hello", role: "viewer", protocol: 1, joinCode: session.joinCode, label });
    await c.next("welcome");
    return c;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Takes the first queued message of `type` (any type when omitted), waiting if needed. */
  async next<T extends ServerMessage["type"]>(
    type?: T,
    timeoutMs = 5_000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const i = this.messages.findIndex((m) => type === undefined || m.type === type);
      if (i !== -1) return this.messages.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      const left = deadline - performance.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(
          `no ${type ?? "message"} within ${timeoutMs} ms; have ${JSON.stringify(this.messages)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  /** Waits until `n` messages of `type` are queued (bounded), without taking them. */
  async waitFor(type: ServerMessage["type"], n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.messages.filter((m) => m.type === type).length < n) {
      if (performance.now() > deadline) {
        throw new Error(`fewer than ${n} ${type} in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState < WebSocket.CLOSING) this.socket.close(1000);
    await this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Polls `check` every 20 ms until it holds, for at most `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
