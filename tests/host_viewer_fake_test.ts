// Host and Viewer over a real signaling server, with the in-memory RTC adapter.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import { Viewer, ViewerError, type ViewerOptions } from "../core/viewer.ts";
import { createSession, eventually, RawClient, testServer } from "./_signal_helpers.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";

const text = new TextDecoder();

async function collect(viewer: Viewer, n: number, timeoutMs = 5_000): Promise<string[]> {
  const got: string[] = [];
  const deadline = setTimeout(() => viewer.close(), timeoutMs);
  try {
    for await (const m of viewer.messages()) {
      got.push(text.decode(m));
      if (got.length === n) break;
    }
  } finally {
    clearTimeout(deadline);
  }
  return got;
}

/** `n` viewers labelled `v0`… joining `host`'s session, with `extra` options. */
function joinViewers(
  n: number,
  net: FakeRtcNetwork,
  server: { url: string },
  host: Host,
  extra: Partial<ViewerOptions> = {},
): Promise<Viewer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) =>
    Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
      label: `v${i}`,
      ...extra,
    })));
}

Deno.test("Host and 5 viewers (fake RTC): all ready, broadcasts arrive in order, messages come back", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const viewers = await joinViewers(5, net, server, host);
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(5_000) })));
    await eventually(() => host.readyCount === 5, 5_000, "5 ready on the host");
    for (let i = 0; i < 50; i++) host.broadcast(`m${i}`);
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const got of await Promise.all(viewers.map((v) => collect(v, 50)))) {
      assert.deepEqual(got, expected);
    }
    assert.ok(viewers[2].send("hi from v2"));
    const inbox = host.messages();
    const first = await inbox.next();
    assert.equal(text.decode(first.value.data), "hi from v2");
    assert.equal(first.value.peerId, viewers[2].peerId);
    const m = host.metrics();
    assert.equal(m.states.ready, 5);
    assert.equal(m.signaling.offers, 5);
    assert.equal(m.signaling.answers, 5);
    assert.equal(m.outcomes.ready, 5);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
  await host.close();
  assert.equal(net.peers.length, 0, "every peer connection closed");
});

Deno.test("Host never sends application data to a viewer before its ready", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork({ latencyMs: 5 });
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const flood = setInterval(() => host.broadcast("early"), 1);
  try {
    await using viewer = await Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
    });
    await viewer.ready({ signal: AbortSignal.timeout(5_000) });
    // The viewer's decoder would throw on a partial stream; all it got are whole messages.
    const got = await collect(viewer, 3);
    assert.deepEqual(got, ["early", "early", "early"]);
  } finally {
    clearInterval(flood);
  }
});

Deno.test("a viewer that never answers costs one queue slot only until the answer timeout", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({
    rtc: net.adapter(),
    server: server.url,
    maxConcurrentHandshakes: 1,
    maxConcurrentHandshakesCeiling: 1,
    maxAttempts: 1,
    timeouts: { answerMs: 300 },
  });
  const join = (neverAnswer: boolean) =>
    Viewer.join({
      rtc: net.adapter({ neverAnswer }),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
    });
  const mute = await join(true);
  const ok = await join(false);
  try {
    const started = performance.now();
    await ok.ready({ signal: AbortSignal.timeout(5_000) });
    const waited = performance.now() - started;
    assert.ok(waited < 2_000, `the healthy viewer waited ${waited} ms`);
    await eventually(() => host.metrics().outcomes.ready === 1, 2_000, "host saw ready");
    assert.equal(host.metrics().outcomes.timeout, 1);
  } finally {
    await mute.close();
    await ok.close();
  }
});

Deno.test("Viewer.join with a wrong join code fails with a clear refusal", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  await assert.rejects(
    () =>
      Viewer.join({
        rtc: net.adapter(),
        server: server.url,
        sessionId: host.session.sessionId,
        joinCode: "WRONG-CODE",
      }),
    (e: Error) => e.name === "SignalingError" && /wrong join code/.test(e.message),
  );
  await assert.rejects(
    () => Viewer.join({ rtc: net.adapter(), server: server.url, sessionId: "nope", joinCode: "x" }),
    (e: Error) => e.name === "SessionError" && /no such session/.test(e.message),
  );
  assert.ok(ViewerError);
});

Deno.test("a host taken over by another with its token hears signaling closed: replaced", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using first = await Host.start({ rtc: net.adapter(), server: server.url });
  const heard: string[] = [];
  first.on("signaling", (e) => heard.push(`${e.state}${e.reason ? `:${e.reason}` : ""}`));
  await using _second = await Host.start({
    rtc: net.adapter(),
    server: server.url,
    sessionId: first.session.sessionId,
    token: first.session.hostToken,
  });
  await eventually(() => heard.includes("closed:replaced"), 5_000, "the first host hears it");
});

Deno.test("a viewer that never gets an offer asks a bounded number of times, then gives up", async () => {
  await using server = testServer();
  const session = await createSession(server);
  await using mute = await RawClient.host(session); // online, but never offers
  const net = new FakeRtcNetwork();
  await using viewer = await Viewer.join({
    rtc: net.adapter(),
    server: server.url,
    sessionId: session.sessionId,
    joinCode: session.joinCode,
    offerGraceMs: 50,
    requestOfferDelayMs: { initial: 50, max: 100 },
    maxOfferRequests: 3,
  });
  await assert.rejects(() => viewer.ready({ signal: AbortSignal.timeout(5_000) }), (e) => {
    assert.ok(e instanceof ViewerError);
    assert.equal(e.code, "gave-up");
    return true;
  });
  const asked = mute.messages.filter((m) => m.type === "signal" && m.data.kind === "request-offer");
  assert.equal(asked.length, 3, "exactly maxOfferRequests requests, no polling");
});

Deno.test("Host's Prometheus text lists only the viewers present now", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const join = () =>
    Viewer.join({
      rtc: net.adapter(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
    });
  await using stays = await join();
  const leaves = await join();
  await Promise.all([stays.ready(), leaves.ready()]);
  await eventually(() => host.readyCount === 2);
  const before = host.metricsText();
  assert.ok(before.includes(`peer="${leaves.peerId}"`));
  const gone = leaves.peerId!;
  await leaves.close();
  // The channel closes before the server's `peer-left` arrives; until then the viewer is
  // still in the session. Wait for the host to forget it.
  await eventually(() => !host.metrics().peers.some((p) => p.peerId === gone));
  assert.equal(host.readyCount, 1);
  const after = host.metricsText();
  assert.ok(!after.includes(`peer="${gone}"`), "the departed viewer's series are gone");
  assert.ok(after.includes(`peer="${stays.peerId}"`));
  assert.match(after, /shoal_host_peers\{state="ready"\} 1/);
});

Deno.test("Host whose session is ended (DELETE) says bye to its viewers and closes; the viewers end", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  const signaling: string[] = [];
  host.on("signaling", (e) => signaling.push(`${e.state}${"reason" in e ? ` ${e.reason}` : ""}`));
  // What each viewer's connection said when it was lost: the host's `bye`, if one came.
  const byes: unknown[] = [];
  const noop = () => {};
  const logger = {
    debug: noop,
    warn: noop,
    error: noop,
    info: (message: string, p?: Record<string, unknown>) => {
      if (message.startsWith("connection lost")) byes.push(p?.bye);
    },
  };
  const viewers = await joinViewers(2, net, server, host, { logger });
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(5_000) })));
    const res = await fetch(`${server.url}/v1/sessions/${host.session.sessionId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${host.session.hostToken}` },
    });
    assert.equal(res.status, 204);
    await res.body?.cancel();
    await eventually(() => viewers.every((v) => v.state === "closed"), 5_000, "viewers end");
    assert.deepEqual(byes, ["shutdown", "shutdown"], "each viewer was told bye");
    for (const v of viewers) {
      await assert.rejects(v.ready(), (e) => {
        assert.ok(e instanceof ViewerError);
        assert.match(e.message, /the session has ended/);
        return true;
      });
    }
    await eventually(() => host.readyCount === 0, 5_000, "the host let them go");
    assert.ok(signaling.includes("closed unauthorized"), signaling.join(", "));
    assert.equal(await server.store.count(), 0);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
  await host.close();
  assert.equal(net.peers.length, 0, "every peer connection closed");
});
