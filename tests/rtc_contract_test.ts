import assert from "node:assert/strict";
import dgram from "node:dgram";
import dns from "node:dns";
import FakeTimers from "@sinonjs/fake-timers";
import { RTCPeerConnection as RawWerift } from "werift";
import { werift } from "../adapters/werift.ts";
import type { RTCIceCandidateLike, RtcPeerConnection } from "../core/rtc.ts";
import { type FakePeerConnection, FakeRtcNetwork } from "./fake_rtc.ts";
import {
  channelOpen,
  closeAtEveryStage,
  collect,
  connectionState,
  connectPair,
  nextEvent,
  rtcContract,
  sanitizedTest,
} from "./rtc_contract.ts";

const test = sanitizedTest;

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

rtcContract("fake", () => {
  const network = new FakeRtcNetwork({ latencyMs: 1 });
  return {
    host: network.adapter(),
    assertQuiet: () => {
      assert.equal(network.peers.length, 0, "every fake peer closed");
      assert.equal(network.pendingTimers, 0, "no fake timer pending");
    },
  };
}, test);

rtcContract("werift", () => ({ host: loopback() }), test);

// --- the fake's misbehaviour knobs -------------------------------------------------------

Deno.test("fake: a pair negotiates and talks under @sinonjs/fake-timers", async () => {
  const clock = FakeTimers.install();
  try {
    const network = new FakeRtcNetwork({ latencyMs: 50 });
    const connecting = connectPair(network.adapter(), network.adapter());
    await clock.runAllAsync();
    await using pair = await connecting;
    assert.ok(clock.now >= 150, `the handshake ran on fake time (${clock.now} ms)`);
    const got = collect(pair.viewerChannel, 2);
    pair.hostChannel.send("a");
    pair.hostChannel.send(new Uint8Array([1, 2]));
    await clock.tickAsync(50);
    assert.deepEqual(await got, ["a", new Uint8Array([1, 2])]);
  } finally {
    clock.uninstall();
  }
});

Deno.test("fake: a peer that never answers keeps createAnswer pending until aborted", async () => {
  const network = new FakeRtcNetwork();
  await using host = network.adapter().createPeerConnection({ iceServers: [] });
  await using viewer = network.adapter({ neverAnswer: true }).createPeerConnection({
    iceServers: [],
  });
  host.createDataChannel("shoal");
  const offer = await host.createOffer();
  await host.setLocalDescription(offer);
  await viewer.setRemoteDescription(offer);
  const signal = AbortSignal.timeout(50);
  await assert.rejects(viewer.createAnswer({ signal }), (e) => e === signal.reason);
  const pending = viewer.createAnswer();
  await viewer.close();
  await assert.rejects(pending, { name: "InvalidStateError" });
});

Deno.test("fake: candidates dropped on both sides keep ICE checking", async () => {
  const network = new FakeRtcNetwork();
  const rtc = network.adapter({ dropCandidates: true });
  const signal = AbortSignal.timeout(100);
  await assert.rejects(connectPair(rtc, rtc, { signal }), (e) => e === signal.reason);
  assert.equal(network.peers.length, 0, "connectPair closed both on abort");
});

Deno.test("fake: candidates dropped on one side still connect, as in real ICE", async () => {
  const network = new FakeRtcNetwork();
  await using pair = await connectPair(
    network.adapter({ dropCandidates: true }),
    network.adapter(),
    { signal: AbortSignal.timeout(1000) },
  );
  assert.equal(pair.trickled.host, 0);
  assert.equal(pair.hostChannel.readyState, "open");
});

Deno.test("fake: a stalled buffer stops draining until it is released", async () => {
  const network = new FakeRtcNetwork({ bytesPerTick: 1000 });
  const signal = AbortSignal.timeout(2000);
  await using pair = await connectPair(network.adapter(), network.adapter(), { signal });
  const host = pair.host as FakePeerConnection;
  host.misbehave({ stallBuffer: true });
  let received = 0;
  pair.viewerChannel.on("message", () => received++);
  for (let i = 0; i < 10; i++) pair.hostChannel.send(new Uint8Array(500));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pair.hostChannel.bufferedAmount, 5000);
  assert.equal(received, 0);
  const low = nextEvent<void>((fn) => pair.hostChannel.on("bufferedamountlow", fn), { signal });
  host.misbehave({ stallBuffer: false });
  await low;
  assert.equal(pair.hostChannel.bufferedAmount, 0);
  assert.equal(received, 10);
});

Deno.test("fake: fail() closes the channels and fails both sides", async () => {
  const network = new FakeRtcNetwork();
  const signal = AbortSignal.timeout(2000);
  await using pair = await connectPair(network.adapter(), network.adapter(), { signal });
  const closed = Promise.all(
    [pair.hostChannel, pair.viewerChannel].map((c) =>
      nextEvent<void>((fn) => c.on("close", fn), { signal })
    ),
  );
  const failed = [pair.host, pair.viewer].map((pc) => connectionState(pc, "failed", signal));
  (pair.viewer as FakePeerConnection).fail();
  await Promise.all([closed, ...failed]);
});

Deno.test("fake: crash() closes one side silently and fails the other", async () => {
  const network = new FakeRtcNetwork();
  const signal = AbortSignal.timeout(2000);
  await using pair = await connectPair(network.adapter(), network.adapter(), { signal });
  const closed = nextEvent<void>((fn) => pair.hostChannel.on("close", fn), { signal });
  let viewerEvents = 0;
  pair.viewer.on("connectionstatechange", () => viewerEvents++);
  await (pair.viewer as FakePeerConnection).crash();
  await closed;
  await connectionState(pair.host, "failed", signal);
  assert.equal(viewerEvents, 0);
});

Deno.test("fake: a candidate from another peer is rejected", async () => {
  const network = new FakeRtcNetwork();
  await using a = network.adapter().createPeerConnection({ iceServers: [] });
  await using b = network.adapter().createPeerConnection({ iceServers: [] });
  a.createDataChannel("shoal");
  const offer = await a.createOffer();
  await b.setRemoteDescription(offer);
  const stranger = {
    candidate: "candidate:1 1 udp 1 x 1 typ host ufrag p99",
    sdpMid: "0",
    sdpMLineIndex: 0,
  };
  await assert.rejects(b.addIceCandidate(stranger), { name: "OperationError" });
});

// --- werift specifics ---------------------------------------------------------------------

/** Records every host name looked up and every UDP destination while `fn` runs (werift
 * resolves a STUN server with dns.promises.lookup, then sends with dgram). */
async function destinations(fn: () => Promise<void>): Promise<string[]> {
  const hosts: string[] = [];
  const socket = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown };
  const resolver = dns.promises as unknown as { lookup: (...a: unknown[]) => unknown };
  const [send, lookup] = [socket.send, resolver.lookup];
  socket.send = function (this: unknown, ...args: unknown[]) {
    hosts.push(String(args.find((a, i) => i > 0 && typeof a === "string")));
    return send.apply(this, args);
  };
  resolver.lookup = (...args: unknown[]) => {
    hosts.push(String(args[0]));
    return lookup.apply(resolver, args);
  };
  try {
    await fn();
  } finally {
    [socket.send, resolver.lookup] = [send, lookup];
  }
  return hosts;
}

async function gatherAll(pc: RtcPeerConnection): Promise<RTCIceCandidateLike[]> {
  const got: RTCIceCandidateLike[] = [];
  const off = pc.on("icecandidate", (c) => c && got.push(c));
  const done = nextEvent((fn) => pc.on("icecandidate", fn), {
    signal: AbortSignal.timeout(5000),
    filter: (c) => c === null,
  });
  pc.createDataChannel("shoal");
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  off();
  return got;
}

test("werift: with no STUN server configured none is looked up or contacted", async () => {
  const raw = await destinations(async () => {
    const pc = new RawWerift({ iceServers: [] });
    pc.createDataChannel("x");
    await pc.setLocalDescription(await pc.createOffer()); // waits for its STUN query
    await pc.close();
  });
  assert.ok(raw.includes("stun.l.google.com"), "werift itself still asks Google's STUN server");
  const ours = await destinations(async () => {
    await using pc = loopback().createPeerConnection({ iceServers: [] });
    await gatherAll(pc);
  });
  assert.deepEqual(ours.filter((h) => h !== "127.0.0.1"), []);
});

test("werift: host candidates are on the interface address, within the port range", async () => {
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" }, portRange: [41000, 41100] });
  await using pc = rtc.createPeerConnection({ iceServers: [] });
  const candidates = await gatherAll(pc);
  assert.ok(candidates.length > 0);
  for (const c of candidates) {
    const [, port] = / 127\.0\.0\.1 (\d+) typ host/.exec(c.candidate) ?? assert.fail(c.candidate);
    assert.ok(Number(port) >= 41000 && Number(port) <= 41100, c.candidate);
  }
});

test("werift: a peer known only by mDNS candidates is reached through its checks", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = loopback();
  await using host = rtc.createPeerConnection({ iceServers: [] });
  await using viewer = rtc.createPeerConnection({ iceServers: [] });
  host.on("icecandidate", (c) => void viewer.addIceCandidate(c).catch(() => {}));
  // What a browser sends: its address hidden behind a random .local name, then the end.
  viewer.on("icecandidate", (c) => {
    const masked = c &&
      { ...c, candidate: c.candidate.replace("127.0.0.1", `${crypto.randomUUID()}.local`) };
    void host.addIceCandidate(masked).catch(() => {});
  });
  const channel = host.createDataChannel("shoal");
  const viewerChannel = nextEvent((fn) => viewer.on("datachannel", fn), { signal });
  const offer = await host.createOffer();
  await host.setLocalDescription(offer);
  await viewer.setRemoteDescription(offer);
  const answer = await viewer.createAnswer();
  await viewer.setLocalDescription(answer);
  await host.setRemoteDescription(answer);
  await Promise.all([channelOpen(channel, signal), viewerChannel]);
});

test("werift: closing at any stage of a handshake leaves nothing running", async () => {
  await closeAtEveryStage(loopback());
});
