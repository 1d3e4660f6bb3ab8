// Chaos: many viewers misbehaving at once against one host over real werift.
import { MemoryStore, startSignalingServer } from "../server/mod.ts";
import {
  assertCountersAddUp,
  assertHostHolds,
  assertSurvivorsComplete,
  ChaosHost,
} from "./_chaos.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";

const settle = async (swarms: Swarm[], last: number) => {
  await eventually(
    async () => {
      const all = (await Promise.all(swarms.map((s) => s.report()))).flat();
      return all.filter((v) => v.state === "ready").every((v) => v.lastSeq === last);
    },
    15_000,
    "survivors catch up",
  );
  return (await Promise.all(swarms.map((s) => s.report()))).flat();
};

Deno.test("chaos: dozens of viewers join and leave at random while the host broadcasts", async () => {
  await using server = testServer();
  await using ch = await ChaosHost.start(server.url);
  const opts = { server: server.url, session: ch.host.session.sessionId, code: ch.host.joinCode! };
  await using stable = new Swarm({ ...opts, count: 8, prefix: "stable" });
  await using churn = new Swarm({ ...opts, count: 16, prefix: "churn" });
  await eventually(() => ch.host.readyCount === 24, 30_000, "24 ready");
  ch.broadcast();
  const alive = new Set(Array.from({ length: 16 }, (_, i) => i));
  let next = 16;
  let random = 42;
  const rand = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let step = 0; step < 24; step++) {
    if (rand() < 0.5 && alive.size > 4) {
      const i = [...alive][Math.floor(rand() * alive.size)];
      alive.delete(i);
      await churn.command(`leave ${i}`);
    } else {
      alive.add(next++);
      await churn.command("join 1");
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await eventually(() => ch.host.readyCount === 8 + alive.size, 30_000, "joiners ready");
  await new Promise((r) => setTimeout(r, 300));
  const last = ch.stop();
  const viewers = await settle([stable, churn], last);
  assertSurvivorsComplete(viewers, last, ch.readyAt);
  await eventually(() => ch.host.metrics().peers.length === 8 + alive.size, 10_000);
  const m = ch.host.metrics();
  assertHostHolds(m, 8 + alive.size);
  assertCountersAddUp(m);
});

Deno.test("chaos: viewer processes killed mid-ICE and mid-stream", async () => {
  await using server = testServer();
  await using ch = await ChaosHost.start(server.url);
  const opts = { server: server.url, session: ch.host.session.sessionId, code: ch.host.joinCode! };
  await using stable = new Swarm({ ...opts, count: 5, prefix: "stable" });
  await eventually(() => ch.host.readyCount === 5, 20_000, "stable ready");
  ch.broadcast();
  // Mid-ICE: killed as soon as the host is negotiating with them.
  await using midIce = new Swarm({ ...opts, count: 10, prefix: "ice" });
  await eventually(() => ch.host.metrics().states.negotiating > 0, 20_000, "negotiating");
  midIce.kill("SIGKILL");
  // Mid-stream: killed after they have been receiving for a while.
  await using midStream = new Swarm({ ...opts, count: 10, prefix: "stream" });
  await midStream.waitFor("ready", 10, 30_000);
  await new Promise((r) => setTimeout(r, 1_000));
  midStream.kill("SIGKILL");
  await eventually(() => ch.host.metrics().peers.length === 5, 20_000, "the dead are forgotten");
  await new Promise((r) => setTimeout(r, 300));
  const last = ch.stop();
  assertSurvivorsComplete(await settle([stable], last), last, ch.readyAt);
  const m = ch.host.metrics();
  assertHostHolds(m, 5);
  assertCountersAddUp(m);
});

Deno.test("chaos: the signaling server restarts mid-session", async () => {
  const store = new MemoryStore();
  try {
    const first = startSignalingServer({ hostname: "127.0.0.1", port: 0, store });
    const port = first.port;
    await using ch = await ChaosHost.start(first.url);
    await using swarm = new Swarm({
      server: first.url,
      session: ch.host.session.sessionId,
      code: ch.host.joinCode!,
      count: 10,
    });
    await eventually(() => ch.host.readyCount === 10, 30_000, "10 ready");
    ch.broadcast();
    await new Promise((r) => setTimeout(r, 500));
    await first.close();
    await new Promise((r) => setTimeout(r, 300)); // streams go on without signaling
    await using _second = startSignalingServer({ hostname: "127.0.0.1", port, store });
    await eventually(
      async () => {
        const m = ch.host.metrics();
        const again = (await swarm.report()).every((v) => (v.readies ?? 0) >= 2);
        return again && m.peers.length === 10 && m.states.ready === 10;
      },
      40_000,
      "everyone back through the new server, nobody twice",
    );
    await new Promise((r) => setTimeout(r, 500));
    const last = ch.stop();
    assertSurvivorsComplete(await settle([swarm], last), last, ch.readyAt);
    const m = ch.host.metrics();
    assertHostHolds(m, 10);
    assertCountersAddUp(m);
  } finally {
    await store.close();
  }
});
