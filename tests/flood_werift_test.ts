// Backpressure over real werift: a source piped into host.writable as fast as it takes it.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import type { Logger } from "../core/logger.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { frozenAmongHealthy } from "./_swarm.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const stamp = (seq: number, pad: string) =>
  `${seq} ${performance.timeOrigin + performance.now()} ${pad}`;

Deno.test("a source piped into host.writable as fast as it takes it: a viewer frozen with SIGSTOP is dropped, the 5 healthy ones get every message in order, and the backlog stays under its bound", async () => {
  await using server = testServer();
  const maxBufferedBytes = 4 * 1024 * 1024;
  const dropped: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (m, p) => void (m.startsWith("viewer dropped") && dropped.push(JSON.stringify(p))),
    error() {},
  };
  await using host = await Host.start({
    logger,
    rtc: loopback(),
    server: server.url,
    limits: { maxLagMs: 3_000, maxBufferedBytes },
    heartbeatIntervalMs: 0, // only the slow-viewer policy may drop it
  });
  await using swarms = await frozenAmongHealthy(host, server.url);
  const { healthy, frozen } = swarms;
  try {
    const total = 2_000;
    const pad = "x".repeat(1000);
    let seq = 0;
    let peak = 0;
    const source = new ReadableStream<string>({
      pull(controller) {
        peak = Math.max(peak, host.metrics().broadcast.queuedBytes);
        if (seq === total) controller.close();
        else controller.enqueue(stamp(seq++, pad));
      },
    }, { highWaterMark: 0 });
    // The pipe ends although the frozen viewer took nothing: it never held the source back.
    await source.pipeTo(host.writable, { signal: AbortSignal.timeout(120_000) });
    // Once the healthy ones have drained, the frozen one is far behind them (bounded wait);
    // on a loaded machine werift may give its connection up first (`closed`).
    const drops = () => host.metrics().drops;
    await eventually(() => host.readyCount === 5, 30_000, "the frozen one dropped");
    const why = Object.entries(drops());
    assert.ok(
      why.length === 1 && ["slow", "closed"].includes(why[0][0]) && why[0][1] === 1,
      dropped.join("\n"),
    );
    await eventually(
      async () => (await healthy.report()).every((v) => v.lastSeq === total - 1),
      30_000,
    );
    for (const v of await healthy.report()) {
      assert.equal(v.received, total, `healthy viewer ${v.i} lost nothing`);
      assert.equal(v.outOfOrder, 0);
      assert.equal(v.state, "ready");
    }
    assert.equal(host.readyCount, 5);
    assert.ok(peak <= maxBufferedBytes, `the backlog peaked at ${peak} bytes`);
    assert.equal(host.metrics().broadcast.rejected, 0);
  } finally {
    frozen.kill("SIGCONT");
  }
});
