// Every lifecycle step is one structured record carrying the ids that tie it together.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { Host } from "../core/host.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";

Deno.test("host logs each handshake step with sessionId, peerId, handshakeId, attempt and timings", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r) => records.push(r) },
    loggers: [
      { category: ["shoal"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using server = testServer();
    const net = new FakeRtcNetwork();
    await using host = await Host.start({ rtc: net.adapter(), server: server.url });
    await using viewer = await Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
    });
    await viewer.ready();
    await eventually(() => host.readyCount === 1);
    const hostSteps = records.filter((r) => r.category.join(".") === "shoal.host");
    const text = (r: LogRecord) => r.message.join("");
    for (const step of ["offer sent", "answer received", "connected", "channel open", "ready"]) {
      const r = hostSteps.find((r) => text(r) === step);
      assert.ok(r, `a record for "${step}"`);
      const p = r.properties;
      assert.equal(p.sessionId, host.session.sessionId, step);
      assert.equal(p.peerId, viewer.peerId, step);
      assert.match(String(p.handshakeId), /^[0-9a-f]{16}$/, step);
      assert.equal(p.attempt, 1, step);
    }
    const ready = hostSteps.find((r) => text(r) === "ready")!;
    const timings = ready.properties.timings as Record<string, number>;
    for (const phase of ["offer", "answer", "connected", "open", "ready", "total"]) {
      assert.equal(typeof timings[phase], "number", phase);
    }
    const joined = hostSteps.find((r) => text(r) === "viewer joined")!;
    assert.equal(joined.properties.peerId, viewer.peerId);
    // Nothing secret in any record.
    const all = JSON.stringify(records.map((r) => r.properties));
    assert.ok(!all.includes(host.session.hostToken), "no host token");
    assert.ok(!all.includes(host.joinCode!), "no join code");
  } finally {
    await reset();
  }
});
