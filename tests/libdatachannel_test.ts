// Every test that loads libdatachannel in this process lives here: node-datachannel keeps its
// N-API constructors in process-wide statics, so a second isolate that loads it (deno test
// runs each file in its own) makes Deno panic ("attempt to access Handle hosted by disposed
// Isolate"). Other files reach it through child processes (the CLI, the swarm).
import assert from "node:assert/strict";
import { libdatachannel } from "../adapters/libdatachannel.ts";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import type { RtcAdapter, RTCIceCandidateLike, RtcPeerConnection } from "../core/rtc.ts";
import { Viewer } from "../core/viewer.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { swarmJoinsAndReceivesInOrder } from "./_swarm.ts";
import { chromiumViewersJoin } from "./_browser_viewers.ts";
import { browserTest } from "./_chromium.ts";
import {
  closeAtEveryStage,
  collect,
  connectPair,
  nextEvent,
  rtcContract,
  sanitizedTest,
} from "./rtc_contract.ts";

const test = sanitizedTest;

const loopback = () => libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" } });
const ldc = loopback;
const wrt = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

// --- the contract, alone and mixed with werift ------------------------------------------

rtcContract("libdatachannel", () => ({ host: ldc(), hostHoldsCandidates: true }), test);
rtcContract(
  "libdatachannel host, werift viewer",
  () => ({ host: ldc(), viewer: wrt(), hostHoldsCandidates: true }),
  test,
);
rtcContract("werift host, libdatachannel viewer", () => ({ host: wrt(), viewer: ldc() }), test);

// --- libdatachannel specifics ---------------------------------------------------------------

/** Every candidate `pc` gives out as the offerer (it gives them once the answer is in). */
async function gatherAll(pc: RtcPeerConnection): Promise<RTCIceCandidateLike[]> {
  const got: RTCIceCandidateLike[] = [];
  const off = pc.on("icecandidate", (c) => c && got.push(c));
  const done = nextEvent((fn) => pc.on("icecandidate", fn), {
    signal: AbortSignal.timeout(5000),
    filter: (c) => c === null,
  });
  pc.createDataChannel("shoal");
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await using answerer = loopback().createPeerConnection({ iceServers: [] });
  await answerer.setRemoteDescription(offer);
  const answer = await answerer.createAnswer();
  await answerer.setLocalDescription(answer);
  await pc.setRemoteDescription(answer);
  await done;
  off();
  return got;
}

async function child(mode: string, v8Flags: string[] = []): Promise<Record<string, unknown>> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      ...v8Flags,
      new URL("./_libdatachannel_child.ts", import.meta.url).pathname,
      mode,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000), // a child that hangs is killed, and the test fails
  });
  const out = await command.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the child exited by itself (signal ${out.signal}): ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

test("libdatachannel: a process that used it exits by itself once its peers are closed", async () => {
  assert.deepEqual(await child("exit"), { message: "bye" });
});

test("libdatachannel: a channel whose object the caller dropped keeps working after GC", async () => {
  assert.deepEqual(await child("gc", ["--v8-flags=--expose-gc"]), { a: 10, b: 10 });
});

test("libdatachannel: closing at any stage of a handshake leaves nothing running", async () => {
  await closeAtEveryStage(loopback());
});

test("libdatachannel: candidates are on the bound address, within the port range", async () => {
  const rtc = libdatachannel({
    interfaceAddresses: { udp4: "127.0.0.1" },
    portRange: [42000, 42100],
  });
  await using pc = rtc.createPeerConnection({ iceServers: [] });
  const candidates = await gatherAll(pc);
  assert.ok(candidates.length > 0);
  for (const c of candidates) {
    const [, port] = / 127\.0\.0\.1 (\d+) typ host/.exec(c.candidate) ?? assert.fail(c.candidate);
    assert.ok(Number(port) >= 42000 && Number(port) <= 42100, c.candidate);
    assert.ok(!c.candidate.startsWith("a="), "candidate lines come without a=");
    assert.equal(c.sdpMid, "0");
    assert.equal(c.sdpMLineIndex, 0);
  }
});

test("libdatachannel: with a UDP mux port every connection shares that one port", async () => {
  const rtc = libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" }, iceUdpMuxPort: 42200 });
  for (let i = 0; i < 2; i++) {
    await using pc = rtc.createPeerConnection({ iceServers: [] });
    const ports = (await gatherAll(pc)).map((c) => c.candidate.split(" ")[5]);
    assert.deepEqual(ports, ["42200"]);
  }
  // Two viewers at once on the one port, each with its own channel.
  const signal = AbortSignal.timeout(10_000);
  await using first = await connectPair(rtc, loopback(), { signal });
  await using second = await connectPair(rtc, loopback(), { signal });
  const got = Promise.all([first, second].map((p) => collect(p.viewerChannel, 1, signal)));
  first.hostChannel.send("one");
  second.hostChannel.send("two");
  assert.deepEqual(await got, [["one"], ["two"]]);
});

test("libdatachannel: the selected candidate pair is the loopback host pair once connected", async () => {
  const signal = AbortSignal.timeout(10_000);
  const pair = await connectPair(loopback(), loopback(), { signal });
  const path = await pair.host.selectedCandidatePair?.();
  assert.equal(path?.local.address, "127.0.0.1");
  assert.equal(path?.remote.address, "127.0.0.1");
  assert.equal(path?.local.protocol, "udp");
  assert.equal(path?.local.type, "host");
  await pair.close();
  assert.equal(await pair.host.selectedCandidatePair?.(), undefined, "none after close");
});

test("libdatachannel: an offer makes the offerer the DTLS client (setup:active)", async () => {
  await using pc = loopback().createPeerConnection({ iceServers: [] });
  pc.createDataChannel("shoal");
  const offer = await pc.createOffer();
  assert.match(offer.sdp, /^a=setup:active\r?$/m);
  assert.doesNotMatch(offer.sdp, /a=setup:actpass/);
});

test("libdatachannel: an offerer gives out its candidates once the answer is applied, none in the SDP", async () => {
  const rtc = loopback();
  await using host = rtc.createPeerConnection({ iceServers: [] });
  await using viewer = rtc.createPeerConnection({ iceServers: [] });
  const given: unknown[] = [];
  host.on("icecandidate", (c) => given.push(c));
  host.createDataChannel("shoal");
  const offer = await host.createOffer();
  await host.setLocalDescription(offer);
  await new Promise((resolve) => setTimeout(resolve, 100)); // gathering on loopback: ~1 ms
  assert.deepEqual(given, [], "nothing before the answer");
  assert.doesNotMatch(offer.sdp, /a=candidate:/);
  await viewer.setRemoteDescription(offer);
  const answer = await viewer.createAnswer();
  await viewer.setLocalDescription(answer);
  const ended = nextEvent((fn) => host.on("icecandidate", fn), {
    signal: AbortSignal.timeout(5000),
    filter: (c) => c === null,
  });
  await host.setRemoteDescription(answer);
  await ended;
  assert.ok(given.length >= 2, "candidates, then the end");
});

/** An offer from `host`, answered by `viewer`; the answer is applied on `host` too. */
async function offerAnswer(host: RtcPeerConnection, viewer: RtcPeerConnection): Promise<void> {
  host.createDataChannel("shoal");
  const offer = await host.createOffer();
  await host.setLocalDescription(offer);
  await viewer.setRemoteDescription(offer);
  const answer = await viewer.createAnswer();
  await viewer.setLocalDescription(answer);
  await host.setRemoteDescription(answer);
}

test("libdatachannel: an answerer that is the DTLS server gives out its candidates only once its ICE is connected", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = loopback();
  await using host = rtc.createPeerConnection({ iceServers: [] });
  await using viewer = rtc.createPeerConnection({ iceServers: [] });
  const seen: string[] = [];
  viewer.on("iceconnectionstatechange", (s) => seen.push(`ice ${s}`));
  viewer.on("icecandidate", (c) => seen.push(c ? "candidate" : "end"));
  host.on("icecandidate", (c) => void viewer.addIceCandidate(c).catch(() => {}));
  await offerAnswer(host, viewer);
  // The viewer checks the host first and so connects first; only then the host gets its
  // candidates (not needed any more: it learnt the viewer's address from the checks).
  await nextEvent((fn) => viewer.on("icecandidate", fn), { signal, filter: (c) => c === null });
  const connected = seen.indexOf("ice connected");
  assert.ok(connected >= 0, seen.join(", "));
  assert.ok(seen.indexOf("candidate") > connected, seen.join(", "));
  await nextEvent((fn) => host.on("connectionstatechange", fn), {
    signal,
    filter: (s) => s === "connected",
  });
});

test("libdatachannel: a DTLS-server answerer that cannot check first still gives out its candidates, and the pair connects", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = loopback();
  await using host = rtc.createPeerConnection({ iceServers: [] });
  await using viewer = rtc.createPeerConnection({ iceServers: [] });
  // The host's candidates never reach the viewer (as when both are behind NATs): the
  // viewer cannot connect first, and must give the host its candidates all the same.
  viewer.on("icecandidate", (c) => void host.addIceCandidate(c).catch(() => {}));
  await offerAnswer(host, viewer);
  await Promise.all(
    [host, viewer].map((pc) =>
      nextEvent((fn) => pc.on("connectionstatechange", fn), {
        signal,
        filter: (s) => s === "connected",
      })
    ),
  );
});

test("libdatachannel: relay-only ICE offers no host candidate", async () => {
  const rtc = loopback();
  await using all = rtc.createPeerConnection({ iceServers: [] });
  assert.ok((await gatherAll(all)).length > 0, "host candidates by default");
  await using relay = rtc.createPeerConnection({ iceServers: [], iceTransportPolicy: "relay" });
  assert.deepEqual(await gatherAll(relay), []);
});

test("libdatachannel: TURN credentials with a colon are taken as they are; a bad URL is refused", async () => {
  const rtc = loopback();
  const pc = rtc.createPeerConnection({
    iceServers: [
      { urls: ["stun:127.0.0.1:3478"] },
      { urls: "turn:127.0.0.1:3478?transport=udp", username: "1700000000:viewer", credential: "x" },
      { urls: "turns:[::1]", username: "u", credential: "p" },
    ],
  });
  await pc.close();
  assert.throws(
    () => rtc.createPeerConnection({ iceServers: [{ urls: "http://example.org" }] }),
    TypeError,
  );
});

Deno.test("libdatachannel: bad options are refused with a RangeError", () => {
  assert.throws(() => libdatachannel({ portRange: [5000, 4000] }), RangeError);
  assert.throws(() => libdatachannel({ iceUdpMuxPort: 70000 }), RangeError);
  assert.throws(() => libdatachannel({ delayedSackTimeMs: 200 }), RangeError);
});

test("libdatachannel: a message larger than the peer accepts is refused at send", async () => {
  const signal = AbortSignal.timeout(10_000);
  await using pair = await connectPair(
    loopback(),
    libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" }, maxMessageSize: 4096 }),
    { signal },
  );
  assert.throws(() => pair.hostChannel.send(new Uint8Array(4097)), TypeError);
  pair.hostChannel.send(new Uint8Array(4096));
});

// --- Host and Viewer over real signaling ------------------------------------------------

Deno.test("a libdatachannel host and 30 werift viewers in a second process: all ready, every broadcast arrives in order, the host forgets them when they leave", async () => {
  await swarmJoinsAndReceivesInOrder(ldc(), 30);
});

/** `count` viewers on `viewerRtc` join `hostRtc`'s session at once: all ready, each gets
 * every broadcast in order (one 64 KiB message among them, chunked), one talks back. */
async function joinAndTalk(hostRtc: RtcAdapter, viewerRtc: () => RtcAdapter, count: number) {
  await using server = testServer();
  await using host = await Host.start({ rtc: hostRtc, server: server.url });
  const viewers = await Promise.all(Array.from({ length: count }, (_, i) =>
    Viewer.join({
      rtc: viewerRtc(),
      server: server.url,
      sessionId: host.session.sessionId,
      joinCode: host.joinCode!,
      label: `v${i}`,
    })));
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(20_000) })));
    await eventually(() => host.readyCount === count, 5_000, `host sees ${count} ready`);
    const big = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    const inboxes = viewers.map((v) => v.messages());
    for (let seq = 0; seq < 50; seq++) host.broadcast(`${seq}`);
    host.broadcast(big);
    for (const [i, inbox] of inboxes.entries()) {
      for (let seq = 0; seq < 50; seq++) {
        const next = await inbox.next();
        assert.equal(new TextDecoder().decode(next.value), `${seq}`, `viewer ${i}`);
      }
      assert.deepEqual((await inbox.next()).value, big, `viewer ${i}: the 64 KiB message`);
    }
    const inbox = host.messages();
    await viewers[count - 1].send("hello from the last viewer");
    const got = await inbox.next();
    assert.equal(new TextDecoder().decode(got.value!.data), "hello from the last viewer");
    assert.equal(host.metrics().outcomes.failed ?? 0, 0);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
  await eventually(() => host.metrics().peers.length === 0, 10_000, "host forgets them");
}

Deno.test("a libdatachannel host and 20 libdatachannel viewers: all ready, every broadcast in order, one talks back", async () => {
  await joinAndTalk(ldc(), ldc, 20);
});

Deno.test("a werift host and 10 libdatachannel viewers: all ready, every broadcast in order, one talks back", async () => {
  await joinAndTalk(wrt(), ldc, 10);
});

browserTest(
  "a libdatachannel host in Deno and 20 viewers in Chromium with mDNS candidates: all ready, all receive every broadcast in order, one talks back",
  (browser) => chromiumViewersJoin(browser, ldc(), 20),
);
