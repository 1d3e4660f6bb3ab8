// What either side does with unexpected input on the data channel: a control frame of an
// unknown type is ignored and counted (PROTOCOL.md §2); garbage from a viewer drops that
// viewer alone, with a `bye` that says why (docs/protocol.md). Real frames, fake RTC.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import type { RtcDataChannel, RtcMessage } from "../core/rtc.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { ManualViewer } from "./_manual_viewer.ts";
import { tweaked } from "./_rtc_wrappers.ts";
import { type FakePeerConnection, FakeRtcNetwork } from "./fake_rtc.ts";

const text = new TextDecoder();

/** A fake adapter that remembers the peer connections it made (the host's side). */
function recording(net: FakeRtcNetwork) {
  const pcs: FakePeerConnection[] = [];
  return {
    rtc: tweaked(net.adapter(), (_, pc) => pcs.push(pc)),
    /** The host's open channels. */
    channels: (): RtcDataChannel[] =>
      pcs.flatMap((pc) => [...pc._channels].filter((ch) => ch.readyState === "open")),
  };
}

async function viewers(host: Host, url: string, net: FakeRtcNetwork, n: number) {
  const vs = await Promise.all(Array.from({ length: n }, (_, i) =>
    Viewer.join({
      rtc: net.adapter(),
      server: url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
      label: `ok${i}`,
    })));
  await Promise.all(vs.map((v) => v.ready({ signal: AbortSignal.timeout(5_000) })));
  return vs;
}

/** A host whose channels the test reaches, one ready viewer, and the host's open channel. */
async function oneViewer() {
  const server = testServer();
  const net = new FakeRtcNetwork();
  const h = recording(net);
  const host = await Host.start({ rtc: h.rtc, server: server.url });
  const [viewer] = await viewers(host, server.url, net, 1);
  await eventually(() => h.channels().length === 1, 5_000, "host's channel open");
  return {
    host,
    viewer,
    channel: h.channels()[0],
    async [Symbol.asyncDispose]() {
      await viewer.close();
      await host.close();
      await server.close();
    },
  };
}

async function take(viewer: Viewer, n: number): Promise<string[]> {
  const got: string[] = [];
  const it = viewer.messages();
  const deadline = setTimeout(() => viewer.close(), 5_000);
  try {
    while (got.length < n) {
      const r = await it.next();
      if (r.done) break;
      got.push(text.decode(r.value));
    }
  } finally {
    clearTimeout(deadline);
  }
  return got;
}

const binaryCount = (received: RtcMessage[]) =>
  received.filter((m) => typeof m !== "string").length;

Deno.test("a host ignores and counts a control frame of an unknown type, and the viewer streams on", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({ rtc: net.adapter(), server: server.url });
  await using raw = await ManualViewer.join(net.adapter(), host.session.wsUrl, host.joinCode!);
  await eventually(() => host.readyCount === 1, 5_000, "ready");
  raw.channel!.send('{"t":"hug","warmth":3}');
  raw.channel!.send('{"t":"replay-later","from":7}');
  await eventually(() => host.metrics().peers[0]?.unknownControl === 2, 5_000, "counted");
  host.broadcast("still here");
  await eventually(() => binaryCount(raw.received) === 1, 5_000, "broadcast arrives");
  assert.equal(host.readyCount, 1);
  assert.deepEqual(host.metrics().drops, {});
});

Deno.test("a viewer ignores and counts a control frame of an unknown type from the host, and stays ready", async () => {
  await using t = await oneViewer();
  const { host, viewer, channel } = t;
  const states: string[] = [];
  viewer.on("state", (e) => states.push(e.state));
  channel.send('{"t":"hug","warmth":3}');
  channel.send('{"t":"replay-later","from":7}');
  host.broadcast("after the unknown frames");
  assert.deepEqual(await take(viewer, 1), ["after the unknown frames"]);
  assert.equal(viewer.stats.unknownControl, 2);
  assert.equal(viewer.state, "ready");
  assert.deepEqual(states, []);
});

Deno.test("a viewer gives up a connection whose host sends a malformed control frame", async () => {
  await using t = await oneViewer();
  const reasons: string[] = [];
  t.viewer.on("state", (e) => e.reason && reasons.push(e.reason));
  t.channel.send('{"t":"ping","n":"one"}');
  await eventually(() => reasons.length > 0, 5_000, "connection given up");
  assert.match(reasons[0], /framing violation: bad control frame/);
  assert.equal(t.viewer.stats.unknownControl, 0);
});

/** A chunk header (0x01, messageId, totalLength) with `data` bytes after it. */
function chunk(id: number, total: number, data = 10): Uint8Array {
  const f = new Uint8Array(9 + data);
  const view = new DataView(f.buffer);
  f[0] = 0x01;
  view.setUint32(1, id);
  view.setUint32(5, total);
  return f;
}

const garbage: Array<{ what: string; reason: string; send(ch: RtcDataChannel): void }> = [
  {
    what: "a binary frame of an unknown kind",
    reason: "bad-frame",
    send: (ch) => ch.send(new Uint8Array([0x07, 1, 2])),
  },
  {
    what: "a chunk stream that lies about its length",
    reason: "bad-length",
    send: (ch) => {
      ch.send(chunk(1, 15));
      ch.send(chunk(1, 15)); // 20 bytes of a 15-byte message
    },
  },
  {
    what: "a chunked message abandoned for another",
    reason: "bad-length",
    send: (ch) => {
      ch.send(chunk(1, 1_000));
      ch.send(chunk(2, 1_000));
    },
  },
  { what: "malformed JSON control", reason: "bad-control", send: (ch) => ch.send('{"t":"ping",') },
  {
    what: "a flood of pings",
    reason: "flood",
    send: (ch) => {
      for (let n = 1; n <= 200; n++) ch.send(JSON.stringify({ t: "ping", n, ts: n }));
    },
  },
];

for (const g of garbage) {
  Deno.test(`a viewer that sends ${g.what} is dropped alone with bye ${g.reason}; the others miss nothing`, async () => {
    await using server = testServer();
    const net = new FakeRtcNetwork();
    await using host = await Host.start({ rtc: net.adapter(), server: server.url });
    const good = await viewers(host, server.url, net, 3);
    try {
      await using evil = await ManualViewer.join(
        net.adapter(),
        host.session.wsUrl,
        host.joinCode!,
      );
      await eventually(() => host.readyCount === 4, 5_000, "4 ready");
      const sent: string[] = [];
      const say = (m: string) => (host.broadcast(m), sent.push(m));
      for (let i = 0; i < 20; i++) say(`before ${i}`);
      g.send(evil.channel!);
      for (let i = 0; i < 20; i++) say(`during ${i}`);
      await eventually(() => host.metrics().drops[g.reason] === 1, 5_000, `${g.reason} drop`);
      await eventually(
        () => evil.received.includes(JSON.stringify({ t: "bye", reason: g.reason })),
        5_000,
        "the offender was told why",
      );
      for (let i = 0; i < 20; i++) say(`after ${i}`);
      for (const got of await Promise.all(good.map((v) => take(v, sent.length)))) {
        assert.deepEqual(got, sent);
      }
      assert.equal(host.readyCount, 3);
      assert.deepEqual(Object.keys(host.metrics().drops), [g.reason]);
      assert.ok(good.every((v) => v.state === "ready"));
    } finally {
      await Promise.all(good.map((v) => v.close()));
    }
  });
}
