// The fan-out alone, over fake peer connections and fake time.
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { Fanout } from "../core/fanout.ts";
import { FrameDecoder } from "../core/frame_decoder.ts";
import type { RtcDataChannel } from "../core/rtc.ts";
import { type FakePeerConnection, FakeRtcNetwork } from "./fake_rtc.ts";

type Clock = ReturnType<typeof FakeTimers.install>;

interface Pair {
  peerId: string;
  host: FakePeerConnection;
  viewer: FakePeerConnection;
  channel: RtcDataChannel;
  received: string[];
  controls: string[];
}

/** Runs fake time until `p` settles (bounded). */
async function settle<T>(clock: Clock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(() => done = true, () => done = true);
  for (let i = 0; i < 1_000 && !done; i++) await clock.tickAsync(1);
  return await p;
}

async function pairUp(net: FakeRtcNetwork, clock: Clock, peerId: string): Promise<Pair> {
  const host = net.adapter().createPeerConnection({ iceServers: [] });
  const viewer = net.adapter().createPeerConnection({ iceServers: [] });
  host.on("icecandidate", (c) => void viewer.addIceCandidate(c).catch(() => {}));
  viewer.on("icecandidate", (c) => void host.addIceCandidate(c).catch(() => {}));
  const channel = host.createDataChannel("shoal");
  const pair: Pair = { peerId, host, viewer, channel, received: [], controls: [] };
  const decoder = new FrameDecoder();
  const text = new TextDecoder();
  viewer.on("datachannel", (ch) => {
    ch.on("message", (m) => {
      if (typeof m === "string") return void pair.controls.push(m);
      for (const msg of decoder.push(m)) pair.received.push(text.decode(msg));
    });
  });
  const offer = await settle(clock, host.createOffer());
  await settle(clock, host.setLocalDescription(offer));
  await settle(clock, viewer.setRemoteDescription(offer));
  const answer = await settle(clock, viewer.createAnswer());
  await settle(clock, viewer.setLocalDescription(answer));
  await settle(clock, host.setRemoteDescription(answer));
  for (let i = 0; i < 100 && channel.readyState !== "open"; i++) await clock.tickAsync(1);
  assert.equal(channel.readyState, "open");
  return pair;
}

function withClock(fn: (clock: Clock) => Promise<void>): () => Promise<void> {
  return async () => {
    const clock = FakeTimers.install({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"],
    });
    try {
      await fn(clock);
    } finally {
      clock.uninstall();
    }
  };
}

const enc = new TextEncoder();

Deno.test(
  "Fanout drops one stalled viewer among 99 healthy ones within maxLagMs; the 99 get every message in order, and queued bytes stay bounded",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ bytesPerTick: 1 << 20 });
    const closed: Array<{ peerId: string; reason: string; at: number }> = [];
    const maxLagMs = 2_000;
    const maxBufferedBytes = 512 * 1024;
    const fanout = new Fanout({
      limits: { maxLagMs, maxBufferedBytes },
      maxPeers: 200,
      heartbeatIntervalMs: 0,
      now: () => performance.now(),
      onClosed: (peerId, reason) => closed.push({ peerId, reason, at: performance.now() }),
    });
    const pairs: Pair[] = [];
    for (let i = 0; i < 100; i++) pairs.push(await pairUp(net, clock, `v${i}`));
    for (const p of pairs) fanout.add({ ...p, pc: p.host, label: "" }, () => {});
    const stalled = pairs[0];
    stalled.host.misbehave({ stallBuffer: true });
    const stalledAt = performance.now();
    let peakStalled = 0;
    let peakHealthy = 0;
    const payload = "x".repeat(1000);
    for (let seq = 0; seq < 800; seq++) {
      fanout.broadcast(enc.encode(`${seq} ${payload}`));
      await clock.tickAsync(10); // 100 messages per second
      for (const link of fanout.links()) {
        const bytes = link.queuedBytes + link.bufferedAmount;
        if (link.peerId === stalled.peerId) peakStalled = Math.max(peakStalled, bytes);
        else peakHealthy = Math.max(peakHealthy, bytes);
      }
    }
    fanout.flush();
    await clock.tickAsync(100);
    assert.deepEqual(closed.map((c) => `${c.peerId}:${c.reason}`), ["v0:slow"]);
    const after = closed[0].at - stalledAt;
    // Its channel buffer fills first (high-water mark), then its own queue ages past maxLagMs.
    assert.ok(after <= maxLagMs + 1_000, `dropped ${after} ms after stalling`);
    assert.ok(peakStalled <= maxBufferedBytes, `stalled link held ${peakStalled} bytes`);
    assert.ok(peakHealthy < 64 * 1024, `a healthy link held ${peakHealthy} bytes`);
    for (const p of pairs.slice(1)) {
      assert.equal(p.received.length, 800, p.peerId);
      assert.ok(p.received.every((m, i) => m.startsWith(`${i} `)), `${p.peerId} in order`);
    }
    assert.ok(stalled.controls.length === 0 || stalled.controls.every((c) => c.includes("bye")));
    await settle(clock, fanout.close());
    for (const p of pairs) await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout drops a viewer whose queued bytes pass maxBufferedBytes before its lag bound",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork();
    const closed: string[] = [];
    const fanout = new Fanout({
      limits: { maxLagMs: 60_000, maxBufferedBytes: 256 * 1024 },
      heartbeatIntervalMs: 0,
      coalesceMs: 0,
      onClosed: (_id, reason, detail) => closed.push(`${reason}: ${detail}`),
    });
    const p = await pairUp(net, clock, "v");
    fanout.add({ ...p, pc: p.host, label: "" }, () => {});
    p.host.misbehave({ stallBuffer: true });
    const big = new Uint8Array(16_000);
    for (let i = 0; i < 40 && closed.length === 0; i++) fanout.broadcast(big);
    assert.equal(closed.length, 1);
    assert.match(closed[0], /^slow: \d+ bytes waiting \(limit 262144\)$/);
    await settle(clock, fanout.close());
    await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout pings every viewer, measures RTT, and drops one that stops answering",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ latencyMs: 3 });
    const closed: string[] = [];
    const fanout = new Fanout({
      heartbeatIntervalMs: 1_000,
      maxMissedPongs: 3,
      onClosed: (id, reason) => closed.push(`${id}:${reason}`),
    });
    const good = await pairUp(net, clock, "good");
    const mute = await pairUp(net, clock, "mute");
    // The viewers answer pings like the Viewer does; `mute` stops answering after a while.
    for (const p of [good, mute]) {
      const ch = await new Promise<RtcDataChannel>((r) => {
        const found = [...p.viewer._channels][0];
        r(found as unknown as RtcDataChannel);
      });
      ch.on("message", (m) => {
        if (typeof m !== "string" || (p === mute && performance.now() > 2_500)) return;
        const c = JSON.parse(m);
        if (c.t === "ping") ch.send(JSON.stringify({ t: "pong", n: c.n, ts: c.ts }));
      });
    }
    for (const p of [good, mute]) {
      fanout.add({ ...p, pc: p.host, label: "" }, (on) => p.channel.on("message", on));
    }
    await clock.tickAsync(2_000);
    const rtt = fanout.link("good")!.stats.rttMs!;
    assert.ok(rtt >= 6 && rtt < 20, `rtt ${rtt}`);
    await clock.tickAsync(6_000);
    assert.deepEqual(closed, ["mute:heartbeat-timeout"]);
    assert.ok(mute.controls.some((c) => c === '{"t":"bye","reason":"heartbeat-timeout"}'));
    await settle(clock, fanout.close());
    await good.viewer.close();
    await mute.viewer.close();
    await clock.tickAsync(1_000);
  }),
);
