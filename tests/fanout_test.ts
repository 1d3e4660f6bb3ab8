// The fan-out alone, over fake peer connections and fake time.
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { BroadcastError, Fanout } from "../core/fanout.ts";
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
      for (const p of pairs) {
        const link = fanout.link(p.peerId); // gone once dropped
        if (!link) continue;
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
  "Fanout drops a viewer whose queued bytes pass maxBufferedBytes before its lag bound while another keeps up",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ bytesPerTick: 1 << 20 });
    const closed: string[] = [];
    const fanout = new Fanout({
      limits: { maxLagMs: 60_000, maxBufferedBytes: 256 * 1024 },
      heartbeatIntervalMs: 0,
      coalesceMs: 0,
      onClosed: (id, reason, detail) => closed.push(`${id} ${reason}: ${detail}`),
    });
    const p = await pairUp(net, clock, "v");
    const ok = await pairUp(net, clock, "ok");
    for (const x of [p, ok]) fanout.add({ ...x, pc: x.host, label: "" }, () => {});
    p.host.misbehave({ stallBuffer: true });
    const big = new Uint8Array(16_000);
    for (let i = 0; i < 40 && closed.length === 0; i++) {
      fanout.broadcast(big);
      await clock.tickAsync(1);
    }
    // Far behind the other for half of maxLagMs, it goes at the next check.
    for (let i = 0; i < 60 && closed.length === 0; i++) await clock.tickAsync(1_000);
    assert.equal(closed.length, 1);
    assert.match(closed[0], /^v slow: \d+ bytes waiting \(limit 262144\)$/);
    await settle(clock, fanout.close());
    for (const x of [p, ok]) await x.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout never blames a lone viewer: past its bounds the host refuses the broadcast instead of dropping it",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork();
    const closed: string[] = [];
    const fanout = new Fanout({
      limits: { maxLagMs: 1_000, maxBufferedBytes: 256 * 1024 },
      maxQueuedBytes: 256 * 1024,
      heartbeatIntervalMs: 0,
      coalesceMs: 0,
      onClosed: (id, reason) => closed.push(`${id}:${reason}`),
    });
    const p = await pairUp(net, clock, "v");
    fanout.add({ ...p, pc: p.host, label: "" }, () => {});
    p.host.misbehave({ stallBuffer: true });
    assert.throws(() => {
      for (let i = 0; i < 40; i++) fanout.broadcast(new Uint8Array(16_000));
    }, BroadcastError);
    await clock.tickAsync(5_000);
    assert.deepEqual(closed, []);
    assert.ok(fanout.congested);
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

/** `n` viewers of `fanout` on `net`, each recording what it receives. */
async function viewersOf(net: FakeRtcNetwork, clock: Clock, fanout: Fanout, n: number) {
  const pairs: Pair[] = [];
  for (let i = 0; i < n; i++) pairs.push(await pairUp(net, clock, `v${i}`));
  for (const p of pairs) fanout.add({ ...p, pc: p.host, label: "" }, () => {});
  return pairs;
}

/**
 * Runs `produce` while fake time runs, a millisecond at a time (bounded); returns the
 * longest broadcast backlog seen at any of those steps.
 */
async function runProducer(clock: Clock, fanout: Fanout, produce: () => Promise<void>) {
  let done = false;
  let failure: unknown;
  const running = produce().catch((e) => failure = e).finally(() => done = true);
  let peak = 0;
  for (let i = 0; i < 200_000 && !done; i++) {
    await clock.tickAsync(1);
    peak = Math.max(peak, fanout.queuedBytes);
  }
  await running;
  if (failure) throw failure;
  assert.ok(done, "the producer finished");
  return peak;
}

function assertGapless(pairs: Pair[], n: number): void {
  for (const p of pairs) {
    assert.equal(p.received.length, n, `${p.peerId} got every message`);
    assert.ok(p.received.every((m, i) => m.startsWith(`${i} `)), `${p.peerId} in order`);
  }
}

Deno.test(
  "Fanout holds a producer far faster than its 20 viewers to their pace through drain(): nobody is dropped, every message arrives in order, and the backlog stays near the high-water marks",
  withClock(async (clock) => {
    // Each channel carries 8 KiB a millisecond; the producer never sleeps, it only waits.
    const net = new FakeRtcNetwork({ latencyMs: 1, bytesPerTick: 8 * 1024 });
    const closed: string[] = [];
    const congestion: boolean[] = [];
    const fanout = new Fanout({
      maxPeers: 50,
      heartbeatIntervalMs: 0,
      onClosed: (id, reason) => closed.push(`${id}:${reason}`),
      onCongestion: (c) => congestion.push(c.congested),
    });
    const pairs = await viewersOf(net, clock, fanout, 20);
    const total = 4_000;
    const payload = "x".repeat(1000);
    let waits = 0;
    const peak = await runProducer(clock, fanout, async () => {
      for (let seq = 0; seq < total; seq++) {
        if (fanout.congested) waits++;
        await fanout.drain();
        fanout.broadcast(enc.encode(`${seq} ${payload}`));
      }
    });
    fanout.flush();
    for (let i = 0; i < 5_000 && pairs.some((p) => p.received.length < total); i++) {
      await clock.tickAsync(1);
    }
    assert.deepEqual(closed, []);
    assertGapless(pairs, total);
    assert.ok(waits > 0, "the producer was held back");
    assert.equal(congestion[0], true, "the congestion was told");
    // Channel buffer and queue each stop one frame past their 64 KiB mark.
    assert.ok(peak <= 2 * (64 + 16) * 1024, `backlog peaked at ${peak} bytes`);
    await clock.tickAsync(2_000);
    assert.deepEqual(congestion, [true, false], "and its end");
    await settle(clock, fanout.close());
    for (const p of pairs) await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout refuses a broadcast that would pass maxQueuedBytes with BroadcastError overflow, queues nothing of it, and drops nobody; what it took arrives gapless",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ latencyMs: 1, bytesPerTick: 4 * 1024 });
    const closed: string[] = [];
    const maxQueuedBytes = 512 * 1024;
    const fanout = new Fanout({
      maxQueuedBytes,
      heartbeatIntervalMs: 0,
      coalesceMs: 0,
      onClosed: (id, reason) => closed.push(`${id}:${reason}`),
    });
    const pairs = await viewersOf(net, clock, fanout, 5);
    const payload = "x".repeat(4000);
    let seq = 0;
    let refused: unknown;
    for (; seq < 10_000; seq++) {
      try {
        fanout.broadcast(enc.encode(`${seq} ${payload}`));
      } catch (error) {
        refused = error;
        break;
      }
      assert.ok(fanout.queuedBytes <= maxQueuedBytes);
    }
    assert.ok(refused instanceof BroadcastError, String(refused));
    assert.equal(refused.code, "overflow");
    assert.ok(refused.data.queuedBytes! + refused.data.messageBytes! > maxQueuedBytes);
    assert.ok(fanout.congested);
    assert.throws(() => fanout.broadcast(new Uint8Array(maxQueuedBytes + 1)), BroadcastError);
    assert.equal(fanout.totals.rejected, 2);
    // A producer that waits goes on where it was refused.
    const total = seq + 200;
    await runProducer(clock, fanout, async () => {
      for (; seq < total; seq++) {
        await fanout.drain();
        fanout.broadcast(enc.encode(`${seq} ${payload}`));
      }
    });
    for (let i = 0; i < 5_000 && pairs.some((p) => p.received.length < total); i++) {
      await clock.tickAsync(1);
    }
    assert.deepEqual(closed, []);
    assertGapless(pairs, total);
    await settle(clock, fanout.close());
    await assert.rejects(fanout.drain(), (e: BroadcastError) => e.code === "closed");
    for (const p of pairs) await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout with a producer waiting on drain() still drops one stalled viewer among 19 healthy ones as slow, and the 19 go on at full pace with every message in order",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ latencyMs: 1, bytesPerTick: 8 * 1024 });
    const closed: Array<{ id: string; reason: string; at: number }> = [];
    const maxLagMs = 2_000;
    const fanout = new Fanout({
      limits: { maxLagMs },
      heartbeatIntervalMs: 0,
      onClosed: (id, reason) => closed.push({ id, reason, at: performance.now() }),
    });
    const pairs = await viewersOf(net, clock, fanout, 20);
    pairs[0].host.misbehave({ stallBuffer: true });
    const stalledAt = performance.now();
    const payload = "x".repeat(1000);
    const total = 30_000;
    await runProducer(clock, fanout, async () => {
      for (let seq = 0; seq < total; seq++) {
        await fanout.drain();
        fanout.broadcast(enc.encode(`${seq} ${payload}`));
      }
    });
    fanout.flush();
    const healthy = pairs.slice(1);
    for (let i = 0; i < 5_000 && healthy.some((p) => p.received.length < total); i++) {
      await clock.tickAsync(1);
    }
    assert.deepEqual(closed.map((c) => `${c.id}:${c.reason}`), ["v0:slow"]);
    assert.ok(closed[0].at - stalledAt <= maxLagMs + 1_000, "dropped once past its lag bound");
    assertGapless(healthy, total);
    await settle(clock, fanout.close());
    for (const p of pairs) await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);

Deno.test(
  "Fanout drops nobody when most viewers stall together past maxLagMs: the host is congested, the producer waits, and all resume gapless",
  withClock(async (clock) => {
    const net = new FakeRtcNetwork({ latencyMs: 1, bytesPerTick: 8 * 1024 });
    const closed: string[] = [];
    const congestion: boolean[] = [];
    const fanout = new Fanout({
      limits: { maxLagMs: 1_000 },
      heartbeatIntervalMs: 0,
      onClosed: (id, reason) => closed.push(`${id}:${reason}`),
      onCongestion: (c) => congestion.push(c.congested),
    });
    const pairs = await viewersOf(net, clock, fanout, 10);
    const payload = "x".repeat(1000);
    const total = 3_000;
    let done = false;
    const producing = (async () => {
      for (let seq = 0; seq < total; seq++) {
        await fanout.drain();
        fanout.broadcast(enc.encode(`${seq} ${payload}`));
      }
    })().finally(() => done = true);
    await clock.tickAsync(50);
    for (const p of pairs.slice(0, 7)) p.host.misbehave({ stallBuffer: true });
    await clock.tickAsync(5_000); // five times maxLagMs
    assert.deepEqual(closed, []);
    assert.ok(fanout.congested && !done);
    assert.equal(congestion[0], true);
    for (const p of pairs.slice(0, 7)) p.host.misbehave({ stallBuffer: false });
    for (let i = 0; i < 100_000 && !done; i++) await clock.tickAsync(1);
    await producing;
    fanout.flush();
    for (let i = 0; i < 5_000 && pairs.some((p) => p.received.length < total); i++) {
      await clock.tickAsync(1);
    }
    assert.deepEqual(closed, []);
    assertGapless(pairs, total);
    await settle(clock, fanout.close());
    for (const p of pairs) await p.viewer.close();
    await clock.tickAsync(1_000);
  }),
);
