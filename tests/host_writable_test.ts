// host.writable and host.drain() over a real signaling server, with the in-memory RTC adapter.
import assert from "node:assert/strict";
import { BroadcastError } from "../core/fanout.ts";
import { Host } from "../core/host.ts";
import type { Logger } from "../core/logger.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";

/** An endless source of numbered lines, one each millisecond; says when it was cancelled. */
function endless(): {
  stream: ReadableStream<string>;
  pulled(): number;
  cancelled: Promise<unknown>;
} {
  let n = 0;
  const cancelled = Promise.withResolvers<unknown>();
  const stream = new ReadableStream<string>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 1));
      controller.enqueue(`line ${n++}`);
    },
    cancel: (reason) => cancelled.resolve(reason),
  }, { highWaterMark: 0 });
  return { stream, pulled: () => n, cancelled: cancelled.promise };
}

Deno.test("pipeTo(host.writable) carries a source far faster than 3 viewers to all of them: it ends when the source does, nobody is dropped, every chunk arrives in order", async () => {
  await using server = testServer();
  // Each viewer takes 16 KiB every 2 ms: far slower than the source.
  const net = new FakeRtcNetwork({ latencyMs: 2, bytesPerTick: 16 * 1024 });
  const logger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
  await using host = await Host.start({ rtc: net.adapter(), server: server.url, logger });
  const viewers = await Promise.all(
    Array.from({ length: 3 }, () =>
      Viewer.join({
        rtc: net.adapter(),
        server: server.url,
        sessionId: host.session.sessionId,
        joinCode: host.joinCode!,
      })),
  );
  const total = 3_000;
  const pad = "x".repeat(1000);
  let congested = 0;
  host.on("congestion", (c) => c.congested && congested++);
  const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
  logger.warn = (message, properties) => void warnings.push([message, properties]);
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(5_000) })));
    await eventually(() => host.readyCount === 3, 5_000, "3 ready on the host");
    const receiving = viewers.map(async (v) => {
      const got: string[] = [];
      for await (const m of v.messages()) {
        got.push(new TextDecoder().decode(m).split(" ")[0]);
        if (got.length === total) break;
      }
      return got;
    });
    let peak = 0;
    let seq = 0;
    const source = new ReadableStream<string>({
      pull(controller) {
        peak = Math.max(peak, host.metrics().broadcast.queuedBytes);
        if (seq === total) controller.close();
        else controller.enqueue(`${seq++} ${pad}`);
      },
    });
    await source.pipeTo(host.writable, { signal: AbortSignal.timeout(60_000) });
    const expected = Array.from({ length: total }, (_, i) => String(i));
    for (const got of await Promise.all(receiving)) assert.deepEqual(got, expected);
    assert.deepEqual(host.metrics().drops, {});
    assert.ok(congested > 0, "the host said it was congested");
    const said = warnings.find(([m]) => m.startsWith("host congested"));
    assert.equal(said?.[1]?.sessionId, host.session.sessionId, "a warning with the session");
    assert.ok(peak < 1024 * 1024, `the backlog peaked at ${peak} bytes`);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
});

Deno.test("pipeTo(host.writable) rejects with its signal's reason when aborted, cancels the source, and the host goes on with a fresh writable", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const source = endless();
  const controller = new AbortController();
  const piping = source.stream.pipeTo(host.writable, { signal: controller.signal });
  await eventually(() => source.pulled() >= 20, 5_000);
  controller.abort(new Error("enough"));
  await assert.rejects(piping, /enough/);
  assert.match(String(await source.cancelled), /enough/);
  const messages = host.metrics().broadcast.messages;
  assert.ok(messages >= 19, `${messages} lines broadcast before the abort`);
  await ReadableStream.from(["after"]).pipeTo(host.writable);
  assert.equal(host.metrics().broadcast.messages, messages + 1);
});

Deno.test("host.close() ends a pipe into host.writable with BroadcastError closed and cancels its source; drain() rejects the same way", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  const host = await Host.start({ rtc: net.adapter(), server: server.url });
  const source = endless();
  const piping = source.stream.pipeTo(host.writable).then(() => "ended", (e) => e);
  await eventually(() => source.pulled() >= 10, 5_000);
  await host.close();
  const isClosed = (e: unknown) => e instanceof BroadcastError && e.code === "closed";
  assert.ok(isClosed(await piping));
  assert.ok(isClosed(await source.cancelled));
  await assert.rejects(host.drain(), isClosed);
  await assert.rejects(ReadableStream.from(["late"]).pipeTo(host.writable), isClosed);
});
