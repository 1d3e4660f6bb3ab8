// Resume over real werift peers: a viewer's peer connection is closed under it mid-stream; it
// notices, asks for a new offer, and gets what it missed, in order and exactly once.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import type { RtcPeerConnection } from "../core/rtc.ts";
import type { ResumeGap } from "../core/replay.ts";
import { Viewer } from "../core/viewer.ts";
import { loopback } from "./_chaos.ts";
import { tweaked } from "./_rtc_wrappers.ts";
import { eventually, testServer } from "./_signal_helpers.ts";

const dec = new TextDecoder();

Deno.test("a werift viewer whose connection is broken mid-stream resumes with every message exactly once", async () => {
  await using server = testServer();
  await using host = await Host.start({ rtc: loopback(), server: server.url });
  const pcs: RtcPeerConnection[] = [];
  await using viewer = await Viewer.join({
    rtc: tweaked(loopback(), (_, pc) => pcs.push(pc)),
    server: server.url,
    sessionId: host.session.sessionId,
    joinCode: host.joinCode!,
    heartbeatIntervalMs: 200,
    maxMissedPongs: 3,
    requestOfferDelayMs: { initial: 100, max: 1_000 },
  });
  await viewer.ready({ signal: AbortSignal.timeout(20_000) });
  await eventually(() => host.readyCount === 1, 10_000, "ready on the host");
  const got: string[] = [];
  const reading = (async () => {
    for await (const m of viewer.messages()) got.push(dec.decode(m));
  })();
  const gaps: ResumeGap[] = [];
  viewer.on("gap", (g) => gaps.push(g));
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 4; i++) host.broadcast(`m${n++}`);
  }, 20);
  try {
    await eventually(() => got.length >= 50, 10_000, "50 before the break");
    await pcs.at(-1)!.close();
    await eventually(() => viewer.state !== "ready", 10_000, "the viewer noticed");
    await eventually(() => viewer.state === "ready", 30_000, "back");
    const backAt = n;
    await eventually(() => n >= backAt + 50, 10_000, "50 more after");
  } finally {
    clearInterval(timer);
  }
  await eventually(() => got.length >= n, 10_000, "everything arrived");
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
  assert.deepEqual(gaps, []);
  assert.ok(pcs.length >= 2, "a new handshake");
  const replay = host.metrics().replay;
  assert.equal(replay.misses, 0);
  assert.ok(replay.hits >= 1 && replay.replayed > 0, JSON.stringify(replay));
  await viewer.close();
  await reading;
});
