// What signaling costs per viewer: bounded to ready, nothing but pings after it.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import { loopback } from "./_chaos.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";

Deno.test("signaling per viewer is bounded to ready, and after ready only pings travel", async () => {
  await using server = testServer();
  await using host = await Host.start({ rtc: loopback(), server: server.url, pingIntervalMs: 500 });
  await using _swarm = Swarm.of(host, server.url, 20);
  await eventually(() => host.readyCount === 20, 30_000, "20 ready");
  const m = server.metrics;
  const relayedToReady = m.relayed.total();
  const signalsToReady = m.received.series().filter((s) => s.labels.type === "signal");
  const perViewer = relayedToReady / 20;
  // An offer, an answer, a few candidates each way and end-of-candidates: a handful.
  assert.ok(perViewer <= 12, `${perViewer} messages relayed per viewer to ready`);
  const nonPing = () =>
    m.received.series().filter((s) => s.labels.type !== "ping").reduce((n, s) => n + s.value, 0);
  const before = nonPing();
  await new Promise((r) => setTimeout(r, 3_000)); // a host ping every 500 ms meanwhile
  assert.equal(m.relayed.total(), relayedToReady, "nothing relayed after ready");
  assert.equal(nonPing(), before, "clients sent nothing but pings after ready");
  const pings = m.received.series().filter((s) => s.labels.type === "ping");
  assert.ok(pings.reduce((n, s) => n + s.value, 0) >= 4, "the host kept pinging");
  assert.equal(m.dropped.total(), 0, "no stale or unknown signals");
  const byKind = Object.fromEntries(
    signalsToReady.map((s) => [`${s.labels.role}:${s.labels.kind}`, s.value]),
  );
  assert.equal(byKind["host:offer"], 20);
  assert.equal(byKind["viewer:answer"], 20);
  assert.equal(byKind["viewer:request-offer"] ?? 0, 0, "no viewer had to ask twice");
  console.log(`signaling to ready: ${perViewer} relayed per viewer; ${JSON.stringify(byKind)}`);
});
