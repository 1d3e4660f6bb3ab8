// The deterministic half of the soak (bench/soak.ts runs the long one): viewers join and
// leave 200 times while the host broadcasts; afterwards the host and the server hold nothing
// for any of them, and the process has as many open file descriptors as before.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;
const nonZero = (sizes: Record<string, number>, except: string[] = []) =>
  Object.fromEntries(Object.entries(sizes).filter(([k, v]) => v !== 0 && !except.includes(k)));

Deno.test("after 200 viewers joined and left, no per-peer map holds anything and descriptors are back to where they were", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const join = async (label: string) => {
    const viewer = await Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
      label,
    });
    try {
      await viewer.ready({ signal: AbortSignal.timeout(10_000) });
      // Each one gets a message before it leaves, so the fan-out really held it.
      await viewer.messages().next();
    } finally {
      await viewer.close();
    }
  };
  const feed = setInterval(() => host.broadcast("tick"), 5);
  // With no viewer, the server holds the host's connection and subscription, nothing else.
  const hostOnly = { connections: 1, subscribers: 1 };
  const idle = () =>
    eventually(
      () =>
        Object.keys(nonZero(host.retained())).length === 0 &&
        JSON.stringify(nonZero(server.retained(), ["sessions"])) === JSON.stringify(hostOnly),
      10_000,
      "nothing held for viewers",
    ).catch((error) => {
      throw new Error(`${error.message}: ${JSON.stringify([host.retained(), server.retained()])}`);
    });
  try {
    // 10 viewers at once, 21 rounds; the first is the warm-up: what it opens for good (the
    // HTTP client's keep-alive connections, up to one per concurrent request) is the baseline.
    const round = (r: number) =>
      Promise.all(Array.from({ length: 10 }, (_, i) => join(`v${r}-${i}`)));
    await round(0);
    await idle();
    const before = openFds();
    for (let r = 1; r <= 20; r++) await round(r); // 200 join/leave cycles

    await idle();
    assert.deepEqual(nonZero(host.retained()), {});
    assert.deepEqual(nonZero(server.retained(), ["sessions"]), hostOnly);
    assert.equal(server.retained().sessions, 1);
    assert.equal(host.metrics().peers.length, 0);
    assert.equal(net.peers.length, 0, "every fake peer connection closed");
    await eventually(() => openFds() <= before, 5_000, `descriptors back to ${before}`);
  } finally {
    clearInterval(feed);
  }
});
