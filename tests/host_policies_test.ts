// Capacity, snapshots and heartbeats through Host and Viewer (fake RTC, real signaling).
import assert from "node:assert/strict";
import { Host, type HostOptions } from "../core/host.ts";
import { tweaked } from "./_rtc_wrappers.ts";
import { Viewer, ViewerError, type ViewerOptions } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { type FakePeerConnection, FakeRtcNetwork } from "./fake_rtc.ts";

const text = new TextDecoder();

async function setup(hostOptions: Partial<HostOptions> = {}) {
  const server = testServer();
  const net = new FakeRtcNetwork({ latencyMs: 1 });
  const host = await Host.start({ rtc: net.adapter(), server: server.url, ...hostOptions });
  const viewers: Viewer[] = [];
  const join = async (options: Partial<ViewerOptions> = {}) => {
    const v = await Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
      ...options,
    });
    viewers.push(v);
    return v;
  };
  return {
    server,
    net,
    host,
    join,
    async [Symbol.asyncDispose]() {
      await Promise.all(viewers.map((v) => v.close()));
      await host.close();
      await server.close();
    },
  };
}

Deno.test("Host refuses a viewer past maxPeers with bye capacity, and the viewer says why", async () => {
  await using s = await setup({ maxPeers: 2 });
  const a = await s.join();
  const b = await s.join();
  await Promise.all([a.ready(), b.ready()]);
  const c = await s.join();
  // The refusal travels over the data channel, so the newcomer connects, then hears bye.
  await eventually(() => c.state === "closed", 5_000, "the newcomer is refused");
  await assert.rejects(() => c.ready(), (e) => {
    assert.ok(e instanceof ViewerError);
    assert.equal(e.code, "capacity");
    assert.match(e.message, /host is full/);
    return true;
  });
  assert.equal(s.host.readyCount, 2);
  assert.equal(s.host.metrics().drops.capacity, 1);
  assert.equal(a.state, "ready");
});

Deno.test("Host with dropOldest admits the newcomer and drops the oldest viewer", async () => {
  await using s = await setup({ maxPeers: 2, whenFull: "dropOldest" });
  const a = await s.join({ label: "a" });
  await a.ready();
  const b = await s.join({ label: "b" });
  await b.ready();
  const errors: string[] = [];
  a.ready().catch(() => {});
  const c = await s.join({ label: "c" });
  await c.ready({ signal: AbortSignal.timeout(5_000) });
  await eventually(() => a.state === "closed", 5_000, "the oldest goes");
  await a.ready().catch((e) => errors.push(e.code));
  assert.deepEqual(errors, ["capacity"]);
  await eventually(() => s.host.readyCount === 2);
  assert.deepEqual(
    s.host.metrics().peers.filter((p) => p.state === "ready").map((p) => p.label).sort(),
    ["b", "c"],
  );
});

Deno.test("onPeerReady's snapshot reaches a new viewer before any live message, with none lost", async () => {
  let seq = 0;
  let firstLiveAtHook = -1;
  await using s = await setup({
    onPeerReady: async (peer) => {
      firstLiveAtHook = seq;
      peer.send("snapshot 1");
      await new Promise((r) => setTimeout(r, 60)); // live messages keep flowing meanwhile
      peer.send("snapshot 2");
    },
  });
  const live = setInterval(() => s.host.broadcast(`live ${seq++}`), 3);
  try {
    const v = await s.join();
    await v.ready();
    const got: string[] = [];
    for await (const m of v.messages()) {
      got.push(text.decode(m));
      if (got.length === 40) break;
    }
    assert.deepEqual(got.slice(0, 2), ["snapshot 1", "snapshot 2"]);
    const lives = got.slice(2).map((m) => Number(m.split(" ")[1]));
    assert.ok(
      lives[0] <= firstLiveAtHook,
      `first live ${lives[0]} after the hook began at ${firstLiveAtHook}`,
    );
    assert.ok(lives.every((n, i) => i === 0 || n === lives[i - 1] + 1), `consecutive: ${lives}`);
  } finally {
    clearInterval(live);
  }
});

Deno.test("Host drops a viewer that stops answering pings with heartbeat-timeout", async () => {
  const created: FakePeerConnection[] = [];
  await using s = await setup({ heartbeatIntervalMs: 100, maxMissedPongs: 3 });
  const tracking = tweaked(s.net.adapter(), (_, pc) => created.push(pc));
  const v = await s.join({ rtc: tracking, heartbeatIntervalMs: 0, maxOfferRequests: 1 });
  await v.ready();
  await eventually(() => s.host.readyCount === 1, 5_000, "the host saw ready");
  created[0].misbehave({ stallBuffer: true }); // the viewer's pongs no longer leave
  await eventually(() => (s.host.metrics().drops["heartbeat-timeout"] ?? 0) >= 1, 5_000);
});

Deno.test("a viewer whose host goes silent gives the channel up and asks for a new offer", async () => {
  const hostPcs: FakePeerConnection[] = [];
  const net = new FakeRtcNetwork({ latencyMs: 1 });
  const tracking = tweaked(net.adapter(), (_, pc) => hostPcs.push(pc));
  await using server = testServer();
  await using host = await Host.start({
    rtc: tracking,
    server: server.url,
    heartbeatIntervalMs: 0,
  });
  await using v = await Viewer.join({
    rtc: net.adapter(),
    server: server.url,
    sessionId: host.session.sessionId,
    joinCode: host.joinCode!,
    heartbeatIntervalMs: 100,
    maxMissedPongs: 3,
    requestOfferDelayMs: { initial: 50, max: 200 },
  });
  await v.ready();
  await eventually(() => host.readyCount === 1, 5_000, "the host saw ready");
  const states: string[] = [];
  v.on("state", (e) => states.push(`${e.state}${e.reason ? `:${e.reason}` : ""}`));
  hostPcs[0].misbehave({ stallBuffer: true }); // the host's pongs no longer leave
  await eventually(() => states.includes("ready"), 5_000, "back to ready through a new offer");
  assert.equal(states[0], "waiting:heartbeat-timeout");
  assert.ok(host.metrics().signaling.offers >= 2);
});
