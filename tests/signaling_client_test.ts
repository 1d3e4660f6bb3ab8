import assert from "node:assert/strict";
import { type IncomingSignal, SignalingClient, SignalingError } from "../core/signaling.ts";
import { MemoryStore, startSignalingServer } from "../server/mod.ts";
import { createSession, eventually, testServer } from "./_signal_helpers.ts";

Deno.test("SignalingClient says hello, routes signals per peer and closes idempotently", async () => {
  await using server = testServer();
  const s = await createSession(server);
  await using host = new SignalingClient({ url: s.wsUrl, role: "host", token: s.hostToken });
  const joined: string[] = [];
  host.on("peer-joined", (p) => joined.push(p.peerId));
  const hw = await host.connect();
  assert.equal(hw.role, "host");
  const viewer = new SignalingClient({ url: s.wsUrl, role: "viewer", joinCode: s.joinCode });
  const vw = await viewer.connect();
  await eventually(() => joined.length === 1);
  assert.equal(joined[0], vw.peerId);

  const routed: IncomingSignal[] = [];
  const unrouted: IncomingSignal[] = [];
  const off = host.route(vw.peerId, (sig) => routed.push(sig));
  host.on("signal", (sig) => unrouted.push(sig));
  const offers: IncomingSignal[] = [];
  viewer.on("signal", (sig) => offers.push(sig));
  assert.ok(host.send(vw.peerId, "h1", { kind: "offer", sdp: "x" }));
  await eventually(() => offers.length === 1);
  viewer.send("", "h1", { kind: "answer", sdp: "y" });
  await eventually(() => routed.length === 1);
  off();
  viewer.send("", "h1", { kind: "end-of-candidates" });
  await eventually(() => unrouted.length === 1);
  assert.equal(routed[0].from, vw.peerId);

  const left: string[] = [];
  host.on("peer-left", (p) => left.push(p.reason));
  await viewer.close();
  await viewer.close();
  await eventually(() => left.length === 1);
  assert.deepEqual(left, ["left"]);
});

Deno.test("SignalingClient rejects a wrong join code with an unauthorized SignalingError", async () => {
  await using server = testServer();
  const s = await createSession(server);
  await using viewer = new SignalingClient({
    url: s.wsUrl,
    role: "viewer",
    joinCode: "0000-0000-0000",
  });
  await assert.rejects(() => viewer.connect(), (e) => {
    assert.ok(e instanceof SignalingError);
    assert.equal(e.code, "unauthorized");
    assert.equal(e.closeCode, 4401);
    return true;
  });
});

Deno.test("SignalingClient rejects an unreachable server with connect-failed", async () => {
  const server = testServer();
  const s = await createSession(server);
  await server.close();
  await using viewer = new SignalingClient({ url: s.wsUrl, role: "viewer", joinCode: "x" });
  await assert.rejects(() => viewer.connect(), (e) => {
    assert.ok(e instanceof SignalingError);
    assert.equal(e.code, "connect-failed");
    return true;
  });
});

Deno.test("host signaling client reconnects after a server restart; viewers see host-status false then true", async () => {
  const store = new MemoryStore();
  try {
    const first = startSignalingServer({ hostname: "127.0.0.1", port: 0, store });
    const port = first.port;
    const s = await createSession(first);
    await using host = new SignalingClient({
      url: s.wsUrl,
      role: "host",
      token: s.hostToken,
      reconnect: { initialDelayMs: 400, maxDelayMs: 800 },
    });
    const hostWelcomes: string[] = [];
    host.on("welcome", (w) => hostWelcomes.push(w.peerId));
    await host.connect();
    await using viewer = new SignalingClient({
      url: s.wsUrl,
      role: "viewer",
      joinCode: s.joinCode,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    const status: boolean[] = [];
    viewer.on("host-status", (h) => status.push(h.online));
    await viewer.connect();
    await eventually(() => status.at(-1) === true);

    await first.close();
    await using _second = startSignalingServer({ hostname: "127.0.0.1", port, store });
    await eventually(() => hostWelcomes.length === 2, 10_000, "host reconnect");
    await eventually(() => status.at(-1) === true && status.includes(false), 10_000);
    const afterRestart = status.slice(status.indexOf(false));
    assert.deepEqual(afterRestart.slice(0, 1), [false]);
    assert.equal(afterRestart.at(-1), true);
    assert.ok(host.connected && viewer.connected);
  } finally {
    await store.close();
  }
});

Deno.test("signaling: 200 viewers join, every signal reaches exactly its addressee, 200 leaves, session expires", async () => {
  // 201 sockets from 127.0.0.1: past the default cap of open WebSockets per address.
  await using server = testServer({
    sessionIdleTtlMs: 300,
    addressLimits: { socketsPerAddress: 0 },
  });
  const s = await createSession(server);
  const baseline = 0;
  await using host = new SignalingClient({ url: s.wsUrl, role: "host", token: s.hostToken });
  const joined = new Set<string>();
  const left = new Set<string>();
  const answers = new Map<string, IncomingSignal>();
  host.on("peer-joined", (p) => joined.add(p.peerId));
  host.on("peer-left", (p) => left.add(p.peerId));
  host.on("signal", (sig) => answers.set(sig.from, sig));
  await host.connect();

  const viewers = Array.from({ length: 200 }, (_, i) =>
    new SignalingClient({
      url: s.wsUrl,
      role: "viewer",
      joinCode: s.joinCode,
      label: `v${i}`,
      reconnect: false,
    }));
  const received = viewers.map(() => [] as IncomingSignal[]);
  viewers.forEach((v, i) => v.on("signal", (sig) => received[i].push(sig)));
  const welcomes = await Promise.all(viewers.map((v) => v.connect()));
  await eventually(() => joined.size === 200, 10_000, "200 peer-joined");

  for (const w of welcomes) host.send(w.peerId, `h-${w.peerId}`, { kind: "offer", sdp: w.peerId });
  await eventually(() => received.every((r) => r.length === 1), 10_000, "every offer delivered");
  received.forEach((r, i) => {
    assert.equal(r[0].handshakeId, `h-${welcomes[i].peerId}`, "each viewer got its own offer");
    viewers[i].send("", r[0].handshakeId, { kind: "answer", sdp: welcomes[i].peerId });
  });
  await eventually(() => answers.size === 200, 10_000, "every answer delivered");
  for (const [from, sig] of answers) {
    assert.equal(sig.data.kind === "answer" && sig.data.sdp, from, "answer came from its sender");
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(received.every((r) => r.length === 1), "no viewer got anything twice");

  await Promise.all(viewers.map((v) => v.close()));
  await eventually(() => left.size === 200, 10_000, "200 peer-left");
  assert.deepEqual([...left].sort(), [...joined].sort());
  await host.close();
  await eventually(async () => (await server.store.count()) === baseline, 5_000, "expiry");
});
