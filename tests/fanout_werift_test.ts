// The fan-out over real werift: frozen viewers, large messages, framing violations.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { fnv1a } from "../cli/swarm.ts";
import { Host } from "../core/host.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { ManualViewer } from "./_manual_viewer.ts";
import { frozenAmongHealthy, Swarm } from "./_swarm.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const stamp = (seq: number, pad: string) =>
  `${seq} ${performance.timeOrigin + performance.now()} ${pad}`;

Deno.test("a viewer process frozen with SIGSTOP is dropped as slow or silent while the others keep receiving", async () => {
  await using server = testServer();
  await using host = await Host.start({
    rtc: loopback(),
    server: server.url,
    limits: { maxLagMs: 1_500 },
    heartbeatIntervalMs: 500,
    maxMissedPongs: 4,
  });
  await using swarms = await frozenAmongHealthy(host, server.url);
  const { healthy, frozen } = swarms;
  const drops = () => host.metrics().drops;
  const pad = "x".repeat(1000);
  let seq = 0;
  try {
    // As fast as healthy viewers take it here: 300 messages of 1 KiB per second.
    const until = performance.now() + 10_000;
    while (performance.now() < until && !(drops().slow || drops()["heartbeat-timeout"])) {
      for (let i = 0; i < 3; i++) host.broadcast(stamp(seq++, pad));
      await new Promise((r) => setTimeout(r, 10));
    }
    const why = Object.entries(drops());
    assert.equal(why.length, 1, `exactly one drop: ${JSON.stringify(why)}`);
    assert.ok(["slow", "heartbeat-timeout"].includes(why[0][0]) && why[0][1] === 1);
    const afterDrop = seq;
    for (let i = 0; i < 100; i++) host.broadcast(stamp(seq++, pad));
    await eventually(
      async () => (await healthy.report()).every((v) => v.lastSeq === seq - 1),
      20_000,
    );
    for (const v of await healthy.report()) {
      assert.equal(v.received, seq, `healthy viewer ${v.i} lost nothing`);
      assert.equal(v.outOfOrder, 0);
    }
    assert.ok(afterDrop > 0);
    assert.equal(host.readyCount, 5);
  } finally {
    frozen.kill("SIGCONT");
  }
});

Deno.test("a 5 MiB message arrives intact at 20 viewers", async () => {
  await using server = testServer();
  await using host = await Host.start({
    rtc: loopback(),
    server: server.url,
    limits: { maxLagMs: 60_000 },
  });
  await using swarm = Swarm.of(host, server.url, 20);
  await swarm.waitFor("ready", 20, 30_000);
  await eventually(() => host.readyCount === 20, 5_000);
  const big = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 13)) & 0xff;
  const started = performance.now();
  host.broadcast(big);
  await eventually(async () => (await swarm.report()).every((v) => v.large?.length === 1), 60_000);
  const ms = Math.round(performance.now() - started);
  for (const v of await swarm.report()) {
    assert.deepEqual(v.large, [{ bytes: big.length, fnv: fnv1a(big) }], `viewer ${v.i}`);
  }
  console.log(`5 MiB to 20 viewers in ${ms} ms`);
});

Deno.test("a viewer that breaks the chunk framing is dropped with bye bad-length, and nobody else is hurt", async () => {
  await using server = testServer();
  await using host = await Host.start({ rtc: loopback(), server: server.url });
  await using swarm = Swarm.of(host, server.url, 3);
  await swarm.waitFor("ready", 3, 20_000);
  await using evil = await ManualViewer.join(loopback(), host.session.wsUrl, host.joinCode!);
  await eventually(() => host.readyCount === 4, 5_000);
  const chunk = (id: number, total: number) => {
    const f = new Uint8Array(9 + 10);
    const view = new DataView(f.buffer);
    f[0] = 0x01;
    view.setUint32(1, id);
    view.setUint32(5, total);
    return f;
  };
  evil.channel!.send(chunk(1, 1000));
  evil.channel!.send(chunk(2, 1000)); // another message before the first is complete
  await eventually(() => host.metrics().drops["bad-length"] === 1, 5_000, "bad-length drop");
  await eventually(() => evil.received.includes('{"t":"bye","reason":"bad-length"}'), 5_000);
  for (let seq = 0; seq < 50; seq++) host.broadcast(stamp(seq, "after"));
  await eventually(async () => (await swarm.report()).every((v) => v.received === 50), 10_000);
  assert.equal(host.readyCount, 3);
});
