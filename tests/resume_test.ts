// Resume after a reconnect (docs/protocol.md, "Resume") with a real Host, real Viewers and
// a real signaling server over the in-memory RTC adapter; and a version-1 viewer written
// from PROTOCOL.md alone, which must still get every live message.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import type { RtcMessage } from "../core/rtc.ts";
import type { ResumeGap } from "../core/replay.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { ManualViewer } from "./_manual_viewer.ts";
import { tweaked } from "./_rtc_wrappers.ts";
import { type FakePeerConnection, FakeRtcNetwork } from "./fake_rtc.ts";

const dec = new TextDecoder();

/** Reads every message of `viewer` into `into` until it closes. */
async function drain(viewer: Viewer, into: string[]): Promise<void> {
  for await (const m of viewer.messages()) into.push(dec.decode(m));
}

const numbered = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `m${from + i}`);

/** A host, and a viewer whose peer connections the test can break. */
async function setUp(server: { url: string }, net: FakeRtcNetwork, hostOptions = {}) {
  const host = await Host.start({ rtc: net.adapter(), server: server.url, ...hostOptions });
  const pcs: FakePeerConnection[] = [];
  const viewer = await Viewer.join({
    rtc: tweaked(net.adapter(), (_, pc) => pcs.push(pc)),
    server: server.url,
    sessionId: host.session.sessionId,
    joinCode: host.joinCode!,
    requestOfferDelayMs: { initial: 20, max: 200 },
  });
  await viewer.ready({ signal: AbortSignal.timeout(5_000) });
  await eventually(() => host.readyCount === 1, 5_000, "ready on the host");
  return { host, viewer, pcs };
}

Deno.test("a viewer whose connection breaks mid-stream comes back and gets every message exactly once, in order", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork({ latencyMs: 1 });
  const { host, viewer, pcs } = await setUp(server, net);
  await using _h = host;
  await using _v = viewer;
  const got: string[] = [];
  const reading = drain(viewer, got);
  const gaps: ResumeGap[] = [];
  viewer.on("gap", (g) => gaps.push(g));
  let n = 0;
  const say = () => host.broadcast(`m${n++}`);
  // Broadcast all along: before, during and after the break, with frames in flight.
  const timer = setInterval(() => {
    for (let i = 0; i < 5; i++) say();
  }, 1);
  // The viewer may leave "ready" and come back between two polls: record it as it happens.
  let noticed = false;
  viewer.on("state", ({ state }) => {
    if (state !== "ready") noticed = true;
  });
  try {
    await eventually(() => got.length >= 100, 5_000, "100 before the break");
    pcs.at(-1)!.fail();
    await eventually(() => noticed, 5_000, "the viewer noticed");
    await eventually(() => pcs.length === 2 && viewer.state === "ready", 10_000, "back");
    const resumedAt = n;
    await eventually(() => n > resumedAt + 100, 5_000, "100 more after");
  } finally {
    clearInterval(timer);
  }
  await eventually(() => got.length >= n, 5_000, "everything arrived");
  assert.deepEqual(got, numbered(0, n));
  assert.deepEqual(gaps, []);
  const replay = host.metrics().replay;
  assert.equal(replay.hits, 1);
  assert.equal(replay.misses, 0);
  assert.ok(replay.replayed > 0, "something was in flight or sent while away");
  assert.deepEqual(viewer.position?.last, n);
  await viewer.close();
  await reading;
});

Deno.test("a viewer made again from a saved position (a page reload) resumes where the last one stopped", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  const { host, viewer } = await setUp(server, net);
  await using _h = host;
  const first: string[] = [];
  const reading = drain(viewer, first);
  for (let i = 0; i < 30; i++) host.broadcast(`m${i}`);
  await eventually(() => first.length === 30, 5_000, "30 received");
  const saved = viewer.position!;
  assert.equal(saved.last, 30);
  await viewer.close();
  await reading;
  for (let i = 30; i < 60; i++) host.broadcast(`m${i}`);
  await using again = await Viewer.join({
    rtc: net.adapter(),
    server: server.url,
    sessionId: host.session.sessionId,
    joinCode: host.joinCode!,
    resumeFrom: saved,
  });
  const second: string[] = [];
  const reading2 = drain(again, second);
  await again.ready({ signal: AbortSignal.timeout(5_000) });
  await eventually(() => host.readyCount === 1, 5_000, "ready on the host");
  for (let i = 60; i < 70; i++) host.broadcast(`m${i}`);
  await eventually(() => second.length === 40, 5_000, "40 received");
  assert.deepEqual(second, numbered(30, 70));
  await again.close();
  await reading2;
});

Deno.test("a viewer away longer than the replay buffer holds is told of the gap, then streams on", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  const { host, viewer, pcs } = await setUp(server, net, { replay: { maxBytes: 64 } });
  await using _h = host;
  await using _v = viewer;
  const got: string[] = [];
  const reading = drain(viewer, got);
  const events: Array<ResumeGap | string> = [];
  viewer.on("gap", (g) => events.push(g));
  for (let i = 0; i < 10; i++) host.broadcast(`m${i}`);
  await eventually(() => got.length === 10, 5_000, "10 received");
  pcs.at(-1)!.fail();
  // 40 messages of 3 bytes while away: more than 64 bytes, so the first ones are forgotten.
  for (let i = 10; i < 50; i++) host.broadcast(`m${i}`);
  await eventually(() => pcs.length === 2 && viewer.state === "ready", 10_000, "back");
  await eventually(() => host.readyCount === 1, 5_000, "back on the host");
  for (let i = 50; i < 60; i++) host.broadcast(`m${i}`);
  // The buffer held the newest 64 bytes: m29..m49 (numbers 30..50); m10..m28 are lost.
  await eventually(() => got.length === 41, 5_000, "what was held, then 10 live");
  assert.deepEqual(got, [...numbered(0, 10), ...numbered(29, 60)]);
  const stream = (events[0] as ResumeGap | undefined)?.stream;
  assert.deepEqual(events, [{ reason: "evicted", stream, from: 11, to: 29 }]);
  assert.equal(viewer.stats.gaps, 1);
  const replay = host.metrics().replay;
  assert.equal(replay.misses, 1);
  assert.equal(replay.hits, 0);
  assert.ok(host.metricsText().includes('shoal_host_resumes_total{outcome="miss"} 1'));
  await viewer.close();
  await reading;
});

Deno.test("a viewer that comes back to a restarted host is told of a gap (new stream)", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  const { host, viewer } = await setUp(server, net);
  const got: string[] = [];
  const reading = drain(viewer, got);
  const gaps: ResumeGap[] = [];
  viewer.on("gap", (g) => gaps.push(g));
  host.broadcast("m0");
  await eventually(() => got.length === 1, 5_000, "one received");
  const { sessionId, hostToken } = host.session;
  await host.close();
  await using again = await Host.start({
    rtc: net.adapter(),
    server: server.url,
    sessionId,
    token: hostToken,
  });
  await eventually(() => again.readyCount === 1, 10_000, "the viewer is back");
  again.broadcast("m1");
  await eventually(() => got.length === 2, 5_000, "m1");
  assert.deepEqual(got, ["m0", "m1"]);
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].reason, "new-stream");
  await viewer.close();
  await reading;
});

/**
 * PROTOCOL.md §2 decoded by hand, as an independent version-1 viewer would: text frames are
 * control, binary frames are 0x00 whole, 0x01 chunk, 0x02 batch; anything else is an error.
 */
function decodeV1(frames: RtcMessage[]): { messages: string[]; controls: Array<{ t: string }> } {
  const messages: string[] = [];
  const controls: Array<{ t: string }> = [];
  let chunked: { id: number; total: number; bytes: number[] } | undefined;
  for (const f of frames) {
    if (typeof f === "string") {
      controls.push(JSON.parse(f));
      continue;
    }
    const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
    if (f[0] === 0x00) messages.push(dec.decode(f.subarray(1)));
    else if (f[0] === 0x01) {
      const id = view.getUint32(1);
      const total = view.getUint32(5);
      chunked ??= { id, total, bytes: [] };
      assert.equal(chunked.id, id);
      chunked.bytes.push(...f.subarray(9));
      if (chunked.bytes.length === total) {
        messages.push(dec.decode(new Uint8Array(chunked.bytes)));
        chunked = undefined;
      }
    } else if (f[0] === 0x02) {
      for (let at = 1; at < f.length;) {
        const length = view.getUint32(at);
        messages.push(dec.decode(f.subarray(at + 4, at + 4 + length)));
        at += 4 + length;
      }
    } else throw new Error(`frame kind 0x${f[0].toString(16)} is not in PROTOCOL.md`);
  }
  return { messages, controls };
}

Deno.test("a version-1 viewer (plain ready, frames decoded by hand) gets every live message and no frame it does not know, beside a resuming one", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({
    rtc: net.adapter(),
    server: server.url,
    onPeerReady: (peer) => peer.send(`hello ${peer.peerId}`),
  });
  await using v1 = await ManualViewer.join(net.adapter(), host.session.wsUrl, host.joinCode!);
  await using modern = await Viewer.join({
    rtc: net.adapter(),
    server: server.url,
    sessionId: host.session.sessionId,
    joinCode: host.joinCode!,
  });
  await modern.ready({ signal: AbortSignal.timeout(5_000) });
  await eventually(() => host.readyCount === 2, 5_000, "both ready");
  const got: string[] = [];
  const reading = drain(modern, got);
  const big = "B".repeat(40_000); // three 0x01 chunks
  const live = [...numbered(0, 100), big, ...numbered(100, 110)];
  for (const m of live.slice(0, 100)) host.broadcast(m);
  host.broadcast(big);
  host.send(v1.signaling.peerId!, "just you");
  host.send(modern.peerId!, "just you");
  for (const m of live.slice(101)) host.broadcast(m);
  const expected = (peerId: string) => [
    `hello ${peerId}`,
    ...live.slice(0, 101),
    "just you",
    ...live.slice(101),
  ];
  await eventually(() => decodeV1(v1.received).messages.length === 113, 5_000, "v1 got all");
  const { messages, controls } = decodeV1(v1.received);
  assert.deepEqual(messages, expected(v1.signaling.peerId!));
  assert.ok(controls.every((c) => ["ping", "pong", "bye"].includes(c.t)), JSON.stringify(controls));
  await eventually(() => got.length === 113, 5_000, "the resuming viewer got all");
  assert.deepEqual(got, expected(modern.peerId!));
  await modern.close();
  await reading;
});
