// Host and viewers over real werift peer connections and a real signaling server.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import { SignalingClient } from "../core/signaling.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { swarmJoinsAndReceivesInOrder } from "./_swarm.ts";
import { counting } from "./_rtc_wrappers.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

Deno.test("30 werift viewers in a second process join at once: all ready, every broadcast after ready arrives in order", async () => {
  await swarmJoinsAndReceivesInOrder(loopback(), 30);
});

Deno.test("a viewer that leaves mid-handshake gets its negotiator aborted and its peer connection closed", async () => {
  await using server = testServer();
  const pcs = counting(loopback());
  await using host = await Host.start({ rtc: pcs.adapter, server: server.url });
  const viewer = new SignalingClient({
    url: host.session.wsUrl.replace(/^ws:\/\/[^/]+/, server.url.replace("http", "ws")),
    role: "viewer",
    joinCode: host.joinCode!,
    reconnect: false,
  });
  let offered = false;
  viewer.on("signal", (s) => offered ||= s.data.kind === "offer");
  await viewer.connect();
  await eventually(() => offered, 5_000, "an offer");
  assert.equal(pcs.open(), 1);
  await viewer.close(); // leaves without answering
  await eventually(() => host.metrics().outcomes.aborted === 1, 5_000, "negotiator aborted");
  await eventually(() => pcs.open() === 0, 5_000, "peer connection closed");
  assert.equal(host.metrics().peers.length, 0, "nothing kept for the departed viewer");
});

Deno.test("the host restarts with the same token: its viewers reconnect on their own and receive new broadcasts", async () => {
  await using server = testServer();
  const first = await Host.start({ rtc: loopback(), server: server.url });
  const { sessionId, hostToken } = first.session;
  const viewers = await Promise.all([0, 1, 2].map((i) =>
    Viewer.join({
      rtc: loopback(),
      server: server.url,
      sessionId,
      joinCode: first.joinCode!,
      label: `v${i}`,
      requestOfferDelayMs: { initial: 100, max: 1_000 },
      abortGraceMs: 500,
    })
  ));
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(10_000) })));
    await first.close();
    await eventually(() => viewers.every((v) => v.state !== "ready"), 5_000, "viewers notice");
    await using second = await Host.start({
      rtc: loopback(),
      server: server.url,
      sessionId,
      token: hostToken,
    });
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(15_000) })));
    await eventually(() => second.readyCount === 3, 5_000, "the new host has them all");
    second.broadcast("after the restart");
    for (const v of viewers) {
      const next = await v.messages().next();
      assert.equal(new TextDecoder().decode(next.value), "after the restart");
    }
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
});
