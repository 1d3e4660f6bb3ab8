// Redis goes away under a running server (a private redis-server, killed and restarted with
// its data): new sessions and connections are refused with 503, /healthz says why, routing
// between the server's own peers goes on, and afterwards the server catches up.
import assert from "node:assert/strict";
import { SignalingClient } from "../core/signaling.ts";
import { connectRedis, type RedisState, startSignalingServer } from "../server/mod.ts";
import { REDIS_SERVER_INSTALLED, RedisProcess } from "./_redis_process.ts";
import { createSession, eventually, RawClient } from "./_signal_helpers.ts";

/** The status of a request, its body consumed. */
async function statusOf(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.body?.cancel();
  return res.status;
}

function outageTest(name: string, fn: () => Promise<void>): void {
  const required = Deno.env.get("CI") === "true";
  if (!REDIS_SERVER_INSTALLED && !required) {
    console.error(`redis outage tests skipped: redis-server is not installed`);
  }
  Deno.test({ name, ignore: !REDIS_SERVER_INSTALLED && !required, fn });
}

async function stateOn(redis: RedisProcess, heartbeatTtlMs: number): Promise<RedisState> {
  return await connectRedis({ url: redis.url, heartbeatTtlMs, timeoutMs: 500 });
}

async function errorOf(res: Response): Promise<[number, string, string]> {
  const body = await res.json();
  return [res.status, body.error?.code, body.error?.message];
}

outageTest(
  "redis: while Redis is away: 503 for new sessions, /healthz says why, local routing goes on",
  async () => {
    await using redis = await RedisProcess.start();
    await using state = await stateOn(redis, 10_000);
    await using server = startSignalingServer({ port: 0, store: state.store, bus: state.bus });
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    await using v1 = await RawClient.viewer(s, "stays");
    const v2 = await RawClient.viewer(s, "goes");
    const id1 = (await host.next("peer-joined")).peerId;
    await host.next("peer-joined");

    await redis.kill();
    await eventually(async () => (await statusOf(`${server.url}/healthz`)) === 503, 5_000);
    const [status, code, why] = await errorOf(await fetch(`${server.url}/healthz`));
    assert.deepEqual([status, code], [503, "store-unavailable"]);
    assert.match(why, /redis/);
    assert.deepEqual(
      (await errorOf(await fetch(`${server.url}/v1/sessions`, { method: "POST" }))).slice(0, 2),
      [503, "store-unavailable"],
    );
    const upgrade = await fetch(`${server.url}/v1/sessions/${s.sessionId}/ws`, {
      headers: { upgrade: "websocket" },
    });
    assert.equal(upgrade.status, 503, "no new connections either");
    await upgrade.body?.cancel();
    const metrics = await fetch(`${server.url}/metrics`);
    assert.equal(metrics.status, 200, "metrics stay readable");
    await metrics.body?.cancel();

    // Between the host and a viewer of this very server, signals still flow.
    host.send({ type: "signal", to: id1, handshakeId: "h", data: { kind: "offer", sdp: "o" } });
    assert.equal((await v1.next("signal")).data.kind, "offer");
    v1.send({ type: "signal", handshakeId: "h", data: { kind: "answer", sdp: "a" } });
    assert.equal((await host.next("signal")).data.kind, "answer");
    v1.send({ type: "ping", ts: 1 });
    assert.deepEqual(await v1.next("pong"), { type: "pong", ts: 1 });
    await v2.close(); // cannot be announced now: Redis holds the membership

    await redis.restart();
    await eventually(async () => (await statusOf(`${server.url}/healthz`)) === 200, 8_000);
    const left = await host.next("peer-left", 5_000);
    assert.equal(left.reason, "timeout", "the viewer that left meanwhile is announced after");
    const info = await (await fetch(`${server.url}/v1/sessions/${s.sessionId}`)).json();
    assert.equal(info.viewers, 1);
    assert.equal(await statusOf(`${server.url}/v1/sessions`, { method: "POST" }), 201);
  },
);

outageTest(
  "redis: a server whose heartbeat expired while Redis was away drops its sockets (1012); clients come back",
  async () => {
    await using redis = await RedisProcess.start();
    await using state = await stateOn(redis, 500);
    await using server = startSignalingServer({ port: 0, store: state.store, bus: state.bus });
    const s = await createSession(server);
    const fast = { initialDelayMs: 100, maxDelayMs: 500 };
    await using host = new SignalingClient({
      url: s.wsUrl,
      role: "host",
      token: s.hostToken,
      reconnect: fast,
    });
    const drops: number[] = [];
    host.on("disconnected", (d) => drops.push(d.code));
    const joined: string[] = [];
    host.on("peer-joined", (p) => joined.push(p.peerId));
    await host.connect();
    await using viewer = new SignalingClient({
      url: s.wsUrl,
      role: "viewer",
      joinCode: s.joinCode,
      reconnect: fast,
    });
    await viewer.connect();
    await eventually(() => joined.length === 1, 5_000, "peer-joined");

    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_200)); // past the 500 ms heartbeat TTL
    await redis.restart();
    await eventually(() => drops.includes(1012), 10_000, "the server dropped its sockets");
    await eventually(() => host.connected && viewer.connected, 10_000, "both came back");
    await eventually(
      async () => {
        const info = await (await fetch(`${server.url}/v1/sessions/${s.sessionId}`)).json();
        return info.hostOnline && info.viewers === 1;
      },
      10_000,
      "the session holds the host and one viewer again",
    );
    await host.close();
    await viewer.close();
  },
);
