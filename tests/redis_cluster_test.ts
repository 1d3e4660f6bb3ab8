// Several signaling servers sharing one Redis, spoken to with raw sockets: routing, presence,
// takeover and expiry across servers, and what happens when one of them stops or dies.
import assert from "node:assert/strict";
import { REDIS_URL, RedisCluster, redisTest } from "./_redis.ts";
import { ServerProcess } from "./_redis_child.ts";
import { createSession, eventually, RawClient } from "./_signal_helpers.ts";
import type { CreatedSession } from "../server/mod.ts";

/** The same session as seen through another server. */
function via(server: { port: number }, s: CreatedSession): CreatedSession {
  return { ...s, wsUrl: s.wsUrl.replace(/:\d+\//, `:${server.port}/`) };
}

async function info(server: { url: string }, sessionId: string) {
  return await (await fetch(`${server.url}/v1/sessions/${sessionId}`)).json();
}

redisTest(
  "redis: host and viewers on two servers signal, join, leave and see host status",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    const s = await createSession(a);
    await using viewer = await RawClient.viewer(via(b, s), "far");
    assert.deepEqual(await viewer.next("host-status"), { type: "host-status", online: false });
    const host = await RawClient.host(s);
    assert.deepEqual(await viewer.next("host-status"), { type: "host-status", online: true });
    await using late = await RawClient.viewer(via(b, s), "late");
    assert.deepEqual(await late.next("host-status"), { type: "host-status", online: true });
    const joined = await host.next("peer-joined");
    assert.equal(joined.label, "late");
    const to = joined.peerId;
    host.send({ type: "signal", to, handshakeId: "h1", data: { kind: "offer", sdp: "o" } });
    assert.equal((await late.next("signal")).handshakeId, "h1");
    late.send({ type: "signal", handshakeId: "h1", data: { kind: "answer", sdp: "a" } });
    const answer = await host.next("signal");
    assert.equal(answer.from, to);
    late.send({ type: "signal", handshakeId: "stale", data: { kind: "answer", sdp: "x" } });
    viewer.send({ type: "leave" });
    assert.equal((await host.next("peer-left")).reason, "left");
    assert.deepEqual(await info(b, s.sessionId), {
      sessionId: s.sessionId,
      hostOnline: true,
      viewers: 1,
      maxViewers: 256,
    });
    await host.close();
    assert.deepEqual(await late.next("host-status"), { type: "host-status", online: false });
    assert.ok(!host.messages.some((m) => m.type === "signal"), "the stale answer was dropped");
  },
);

redisTest(
  "redis: a host on another server takes over; the first closes with 4409",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    const s = await createSession(a);
    await using first = await RawClient.host(s);
    await using viewer = await RawClient.viewer(via(b, s), "v");
    await first.next("peer-joined");
    await using second = await RawClient.host(via(b, s));
    assert.equal((await first.next("error")).code, "replaced");
    assert.equal((await first.closed).code, 4409);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!viewer.messages.some((m) => m.type === "host-status" && !m.online));
    viewer.send({ type: "signal", handshakeId: "", data: { kind: "request-offer" } });
    assert.equal((await second.next("signal")).data.kind, "request-offer");
    assert.equal((await info(a, s.sessionId)).hostOnline, true);
  },
);

redisTest("redis: maxViewers and expiry count connections on every server", async () => {
  await using cluster = new RedisCluster();
  const a = await cluster.start({ sessionIdleTtlMs: 300 });
  const b = await cluster.start({ sessionIdleTtlMs: 300 });
  const s = await createSession(a, { maxViewers: 2 });
  await using v1 = await RawClient.viewer(s);
  const v2 = await RawClient.viewer(via(b, s));
  await using v3 = await RawClient.open(via(b, s).wsUrl);
  v3.send({ type: "hello", role: "viewer", protocol: 1, joinCode: s.joinCode });
  assert.equal((await v3.closed).code, 4429);
  await v1.close();
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await info(a, s.sessionId)).viewers, 1, "alive while a viewer is on b");
  await v2.close();
  await eventually(async () => (await a.store.count()) === 0, 3_000, "expiry");
  const res = await fetch(`${b.url}/v1/sessions/${s.sessionId}`);
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

redisTest(
  "redis: a stopping server announces its viewers left (shutdown)",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    const s = await createSession(a);
    await using host = await RawClient.host(s);
    const viewers = await Promise.all([0, 1, 2].map(() => RawClient.viewer(via(b, s))));
    await host.waitFor("peer-joined", 3);
    await cluster.stop(b);
    for (const v of viewers) assert.equal((await v.closed).code, 1001);
    await host.waitFor("peer-left", 3);
    const reasons = host.messages.filter((m) => m.type === "peer-left").map((m) => m.reason);
    assert.deepEqual(reasons, ["shutdown", "shutdown", "shutdown"]);
    assert.equal((await info(a, s.sessionId)).viewers, 0);
  },
);

redisTest(
  "redis: a killed server's viewers are announced left (timeout) by heartbeat expiry",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start({ heartbeatTtlMs: 600 });
    await using b = await ServerProcess.start(REDIS_URL, cluster.prefix, 600);
    const s = await createSession(a);
    await using host = await RawClient.host(s);
    const viewers = await Promise.all([0, 1, 2].map(() => RawClient.viewer(via(b, s))));
    await host.waitFor("peer-joined", 3);
    await using local = await RawClient.viewer(s, "on a");
    const killedAt = Date.now();
    await b.kill();
    for (const v of viewers) await v.closed;
    await host.waitFor("peer-left", 3, 5_000);
    const took = Date.now() - killedAt;
    const left = host.messages.filter((m) => m.type === "peer-left");
    assert.deepEqual(left.map((m) => m.reason), ["timeout", "timeout", "timeout"]);
    assert.ok(took < 4_000, `announced ${took} ms after the kill (heartbeat TTL 600 ms)`);
    assert.equal((await info(a, s.sessionId)).viewers, 1, "only the viewer on a is left");
    await eventually(async () => (await cluster.state(a).store.count()) === 1, 2_000, "count");
    assert.ok(local);
  },
);

redisTest(
  "redis: a host on a killed server goes offline, then returns through another",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start({ heartbeatTtlMs: 600 });
    await using b = await ServerProcess.start(REDIS_URL, cluster.prefix, 600);
    const s = await createSession(a);
    const host = await RawClient.host(via(b, s));
    await using viewer = await RawClient.viewer(s);
    assert.deepEqual(await viewer.next("host-status"), { type: "host-status", online: true });
    await b.kill();
    await host.closed;
    assert.deepEqual(await viewer.next("host-status"), { type: "host-status", online: false });
    await using again = await RawClient.host(s);
    assert.deepEqual(await viewer.next("host-status"), { type: "host-status", online: true });
    assert.equal((await info(a, s.sessionId)).hostOnline, true);
    viewer.send({ type: "signal", handshakeId: "", data: { kind: "request-offer" } });
    assert.equal((await again.next("signal")).data.kind, "request-offer");
  },
);

redisTest(
  "redis: servers on one Redis share the limits: session creations, sockets and failed hellos",
  async () => {
    await using cluster = new RedisCluster();
    const addressLimits = {
      sessionsPerMinute: 2,
      socketsPerAddress: 2,
      failedHellosPerAddress: 1,
      failedHelloBackoffMs: 60_000,
    };
    const a = await cluster.start({ addressLimits });
    const b = await cluster.start({ addressLimits });
    const s = await createSession(a);
    await createSession(b);
    const third = await fetch(`${b.url}/v1/sessions`, { method: "POST" });
    assert.equal(third.status, 429, "the creations on a count on b");
    assert.equal((await third.json()).error.code, "too-many-session-creations");
    await using host = await RawClient.host(s);
    await using viewer = await RawClient.viewer(via(b, s));
    const over = await fetch(`${b.url}/v1/sessions/${s.sessionId}/ws`, {
      headers: { upgrade: "websocket" },
    });
    assert.equal(over.status, 429, "a's socket counts on b");
    assert.equal((await over.json()).error.code, "too-many-sockets");
    await viewer.close();
    await eventually(() => b.connectionCount === 0, 3_000, "the viewer's socket on b closed");
    await using wrong = await RawClient.open(via(b, s).wsUrl);
    wrong.send({ type: "hello", role: "viewer", protocol: 1, joinCode: "0000-0000-0000" });
    assert.equal((await wrong.closed).code, 4401);
    await eventually(() => b.connectionCount === 0, 3_000, "b's socket closed");
    const backedOff = await fetch(`${a.url}/v1/sessions/${s.sessionId}/ws`, {
      headers: { upgrade: "websocket" },
    });
    assert.equal(backedOff.status, 429, "the failed hello on b counts on a");
    assert.equal((await backedOff.json()).error.code, "too-many-failed-hellos");
    assert.ok(host);
  },
);
