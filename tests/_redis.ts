// Redis for tests: where it is (SHOAL_REDIS_URL, else redis://127.0.0.1:6390, the port
// .ci/run starts it on), whether it answers, and fixtures that give each test its own key
// prefix and leave nothing behind (no keys, no sockets, no timers).
import { deleteRedisPrefix } from "../server/redis/link.ts";
import {
  connectRedis,
  type RedisOptions,
  type RedisState,
  type SignalingServer,
  type SignalingServerOptions,
  startSignalingServer,
} from "../server/mod.ts";

/** The Redis the tests use. */
export const REDIS_URL: string = Deno.env.get("SHOAL_REDIS_URL") ?? "redis://127.0.0.1:6390";

async function _answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), 1_000);
  try {
    conn = await Deno.connect({ hostname, port: Number(port || 6379) });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    // "+PONG", or "-NOAUTH" from a Redis that wants a password (the URL carries it).
    return n !== null && /^[+-]/.test(new TextDecoder().decode(buf.subarray(0, n)));
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/** Whether Redis answers; under CI=true a missing Redis is an error, not a skip. */
export const REDIS_UP: boolean = await _answers(REDIS_URL);
if (!REDIS_UP) {
  const why = `no Redis answers at ${REDIS_URL} (set SHOAL_REDIS_URL, or run ` +
    "`redis-server --port 6390 --save ''`)";
  if (Deno.env.get("CI") === "true") throw new Error(`redis tests: ${why}`);
  console.error(`redis tests skipped: ${why}`);
}

/** `Deno.test` that is skipped when no Redis answers. */
export function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !REDIS_UP, fn });
}

/** Deletes every key under `prefix`. */
export function flushPrefix(prefix: string): Promise<void> {
  return deleteRedisPrefix(REDIS_URL, prefix);
}

/** Redis settings of one test server (its idle TTL comes from `sessionIdleTtlMs`). */
export type RedisServerOptions = SignalingServerOptions & Partial<Omit<RedisOptions, "url">>;

/**
 * Servers sharing one Redis under a prefix of their own. Disposing it closes every server
 * and its Redis connections and deletes the keys.
 */
export class RedisCluster implements AsyncDisposable {
  readonly prefix = `shoal-test:${crypto.randomUUID().slice(0, 8)}:`;
  readonly servers: SignalingServer[] = [];
  #states = new Map<SignalingServer, RedisState>();

  /** Starts one more server on a free port of 127.0.0.1. */
  async start(options: RedisServerOptions = {}): Promise<SignalingServer> {
    const { heartbeatTtlMs, heartbeatIntervalMs, timeoutMs, prefix, idleTtlMs, ...serverOptions } =
      options;
    const state = await connectRedis({
      url: REDIS_URL,
      prefix: prefix ?? this.prefix,
      idleTtlMs: idleTtlMs ?? options.sessionIdleTtlMs,
      heartbeatTtlMs,
      heartbeatIntervalMs,
      timeoutMs,
    });
    const server = startSignalingServer({
      hostname: "127.0.0.1",
      port: 0,
      ...serverOptions,
      store: state.store,
      bus: state.bus,
      counters: state.counters,
    });
    this.servers.push(server);
    this.#states.set(server, state);
    return server;
  }

  /** The Redis state of `server`. */
  state(server: SignalingServer): RedisState {
    return this.#states.get(server)!;
  }

  /** Closes `server`, then its Redis state. Idempotent. */
  async stop(server: SignalingServer): Promise<void> {
    await server.close();
    await this.#states.get(server)?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.servers.map((s) => this.stop(s)));
    await flushPrefix(this.prefix);
  }
}

/**
 * A single Redis-backed server whose `close()` also closes its Redis state and deletes its
 * keys: what the server contract suite takes.
 */
export async function redisServer(options: RedisServerOptions = {}): Promise<SignalingServer> {
  const cluster = new RedisCluster();
  const server = await cluster.start(options);
  let closing: Promise<void> | undefined;
  const close = server.close.bind(server);
  server.close = () => {
    closing ??= (async () => {
      await close();
      await cluster.state(server).close();
      await flushPrefix(cluster.prefix);
    })();
    return closing;
  };
  return server;
}
