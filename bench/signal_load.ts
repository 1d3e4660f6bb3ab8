/**
 * Signaling load: how many signals per second the server relays, through one server and
 * through two sharing Redis, over real WebSockets on 127.0.0.1.
 *
 * Each session has one host and `--viewers` viewers. After the host's offer, every viewer
 * keeps `--window` `candidate` signals in flight to the host, and the host answers each with
 * a `candidate` back: every message a client receives is one relayed signal. Servers run in
 * processes of their own (this file with `--serve`), with the per-connection rate limits
 * lifted, since what is measured is the relay, not the limiter.
 *
 * ```sh
 * redis-server --port 6390 --save '' &
 * deno run -A bench/signal_load.ts --redis redis://127.0.0.1:6390
 * deno run -A bench/signal_load.ts --modes memory --sessions 8 --viewers 50 --seconds 10
 * ```
 *
 * Modes: `memory` (one server, in-memory state), `redis-1` (one server, Redis state),
 * `redis-2` (hosts on one server, viewers on another: every signal crosses Redis).
 *
 * @module
 */
import { processCpuMs } from "./_proc.ts";
import { flagTable, parseFlags } from "../cli/flags.ts";
import { readLines } from "../cli/lines.ts";
import { Redis } from "ioredis";
import { connectRedis, startSignalingServer } from "../server/mod.ts";
import { deleteRedisPrefix, quitRedis } from "../server/redis/link.ts";

const FLAGS = flagTable({
  modes: { type: "string", help: "modes to run", default: "memory,redis-1,redis-2" },
  redis: { type: "string", help: "Redis URL (default: redis://127.0.0.1:6390)" },
  sessions: { type: "int", help: "sessions", default: 4, min: 1 },
  viewers: { type: "int", help: "viewers per session", default: 25, min: 1, max: 10_000 },
  window: { type: "int", help: "signals in flight per viewer", default: 4, min: 1 },
  seconds: { type: "int", help: "measured seconds", default: 5, min: 1 },
  serve: { type: "boolean", help: "(internal) run one server" },
  prefix: { type: "string", help: "(internal) Redis key prefix", default: "bench:" },
});

const CANDIDATE = {
  kind: "candidate",
  candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0",
  sdpMid: "0",
  sdpMLineIndex: 0,
};

interface _Load {
  sessions: number;
  viewers: number;
  window: number;
  seconds: number;
}

/** A server process. */
class _Server {
  constructor(readonly url: string, readonly child: Deno.ChildProcess) {}

  static async spawn(redis?: string, prefix?: string): Promise<_Server> {
    const args = ["run", "-A", new URL(import.meta.url).pathname, "--serve"];
    if (redis) args.push("--redis", redis, "--prefix", prefix ?? "bench:");
    const child = new Deno.Command(Deno.execPath(), { args, stdin: "piped", stdout: "piped" })
      .spawn();
    const lines = readLines(child.stdout)[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error("server process ended");
    void (async () => {
      while (!(await lines.next()).done) { /* drain */ }
    })();
    return new _Server(JSON.parse(first.value).url, child);
  }

  async stop(): Promise<void> {
    await this.child.stdin.close();
    await this.child.status;
  }
}

function _open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot open ${url}`));
  });
}

/** One session's clients: the host echoes each viewer's candidate back to it. */
async function _session(
  hostServer: string,
  viewerServer: string,
  load: _Load,
  counter: { n: number; on: boolean },
): Promise<WebSocket[]> {
  const res = await fetch(`${hostServer}/v1/sessions`, {
    method: "POST",
    body: JSON.stringify({ maxViewers: load.viewers }),
  });
  const s = await res.json();
  const path = `/v1/sessions/${s.sessionId}/ws`;
  const host = await _open(hostServer.replace("http", "ws") + path);
  const welcomed = new Promise<void>((resolve) => {
    host.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "welcome") return resolve();
      if (m.type !== "signal") return;
      if (counter.on) counter.n++;
      host.send(JSON.stringify({ type: "signal", to: m.from, handshakeId: "h", data: CANDIDATE }));
    };
  });
  host.send(JSON.stringify({ type: "hello", role: "host", protocol: 1, token: s.hostToken }));
  await welcomed;
  const viewers = await Promise.all(
    Array.from({ length: load.viewers }, () => _viewer(viewerServer + path, s.joinCode, counter)),
  );
  for (const v of viewers) {
    host.send(JSON.stringify({ type: "signal", to: v.id, handshakeId: "h", data: OFFER }));
  }
  await Promise.all(viewers.map((v) => v.offered));
  for (const v of viewers) {
    for (let i = 0; i < load.window; i++) v.ws.send(v.candidate);
  }
  return [host, ...viewers.map((v) => v.ws)];
}

const OFFER = { kind: "offer", sdp: "v=0" };

async function _viewer(
  httpUrl: string,
  joinCode: string,
  counter: { n: number; on: boolean },
): Promise<{ ws: WebSocket; id: string; offered: Promise<void>; candidate: string }> {
  const ws = await _open(httpUrl.replace("http", "ws"));
  const candidate = JSON.stringify({ type: "signal", handshakeId: "h", data: CANDIDATE });
  let id = "";
  let offered!: () => void;
  const gotOffer = new Promise<void>((resolve) => offered = resolve);
  const welcomed = new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "welcome") {
        id = m.peerId;
        return resolve();
      }
      if (m.type !== "signal") return;
      if (m.data.kind === "offer") return offered();
      if (counter.on) counter.n++;
      ws.send(candidate);
    };
  });
  ws.send(JSON.stringify({ type: "hello", role: "viewer", protocol: 1, joinCode }));
  await welcomed;
  return { ws, id, offered: gotOffer, candidate };
}

async function _closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) =>
    new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.onclose = () => resolve();
      ws.onmessage = null;
      ws.close();
    })
  ));
}

/** The pid of the Redis at `url` (when it runs on this machine). */
async function _redisPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    const info = await redis.info("server");
    return Number(info.match(/process_id:(\d+)/)?.[1]) || undefined;
  } catch {
    return undefined;
  } finally {
    await quitRedis(redis);
  }
}

/** What one mode measured. */
interface _Result {
  /** Relayed signals per second (as received by the clients). */
  rate: number;
  /** CPU ms the signaling servers spent per 1 000 signals. */
  serverCpu: number;
  /** CPU ms Redis spent per 1 000 signals. */
  redisCpu: number;
}

/** Runs one mode. */
async function _run(mode: string, redis: string, load: _Load): Promise<_Result> {
  const prefix = `bench:${crypto.randomUUID().slice(0, 8)}:`;
  const servers = mode === "memory" ? [await _Server.spawn()] : await Promise.all(
    Array.from({ length: mode === "redis-2" ? 2 : 1 }, () => _Server.spawn(redis, prefix)),
  );
  const [a, b = a] = servers;
  const counter = { n: 0, on: false };
  const sockets = (await Promise.all(
    Array.from({ length: load.sessions }, () => _session(a.url, b.url, load, counter)),
  )).flat();
  await new Promise((r) => setTimeout(r, 1_000)); // warm-up
  const redisPid = mode === "memory" ? undefined : await _redisPid(redis);
  const cpu = () => ({
    server: servers.reduce((sum, s) => sum + processCpuMs(s.child.pid), 0),
    redis: redisPid ? processCpuMs(redisPid) : 0,
  });
  const before = cpu();
  counter.on = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, load.seconds * 1_000));
  counter.on = false;
  const after = cpu();
  const n = counter.n;
  await _closeAll(sockets);
  await Promise.all(servers.map((s) => s.stop()));
  if (mode !== "memory") await deleteRedisPrefix(redis, prefix);
  return {
    rate: n / ((performance.now() - started) / 1_000),
    serverCpu: (after.server - before.server) / (n / 1_000),
    redisCpu: (after.redis - before.redis) / (n / 1_000),
  };
}

async function _serve(redisUrl: string | undefined, prefix: string): Promise<void> {
  const redis = redisUrl ? await connectRedis({ url: redisUrl, prefix }) : undefined;
  const server = startSignalingServer({
    port: 0,
    store: redis?.store,
    bus: redis?.bus,
    limits: { hostRate: 1e9, viewerRate: 1e9 },
    counters: redis?.counters,
    addressLimits: { socketsPerAddress: 0 }, // every client is on 127.0.0.1
  });
  console.log(JSON.stringify({ url: server.url }));
  for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
  await server.close();
  await redis?.close();
}

if (import.meta.main) {
  const { values: flags } = parseFlags(Deno.args, FLAGS);
  const redis = flags.redis ?? "redis://127.0.0.1:6390";
  if (flags.serve) {
    await _serve(flags.redis, flags.prefix);
  } else {
    const { sessions, viewers, window, seconds } = flags;
    const load: _Load = { sessions, viewers, window, seconds };
    const modes = flags.modes.split(",");
    console.log(
      `${load.sessions} sessions × (1 host + ${load.viewers} viewers), ${load.window} in flight ` +
        `per viewer, ${load.seconds} s, ${navigator.hardwareConcurrency} CPUs`,
    );
    console.log("mode      signals/s  server CPU ms/1k  redis CPU ms/1k");
    for (const mode of modes) {
      const r = await _run(mode, redis, load);
      console.log(
        `${mode.padEnd(8)} ${Math.round(r.rate).toString().padStart(10)} ` +
          `${r.serverCpu.toFixed(1).padStart(17)} ${r.redisCpu.toFixed(1).padStart(16)}`,
      );
    }
  }
}
