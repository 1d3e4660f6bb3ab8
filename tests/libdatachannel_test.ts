import assert from "node:assert/strict";
import { libdatachannel } from "../adapters/libdatachannel.ts";
import type { RTCIceCandidateLike, RtcPeerConnection } from "../core/rtc.ts";
import {
  channelOpen,
  collect,
  connectPair,
  nextEvent,
  type RtcTestRegistrar,
} from "./rtc_contract.ts";

/** As in rtc_contract_test.ts: the "nothing left running" checks need the sanitizers on. */
const test: RtcTestRegistrar = (name, fn) =>
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });

const loopback = () => libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" } });

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
  const rtc = loopback();
  const stages = ["created", "offered", "answered", "checking", "open"] as const;
  for (const stage of stages) {
    const host = rtc.createPeerConnection({ iceServers: [] });
    const viewer = rtc.createPeerConnection({ iceServers: [] });
    host.on("icecandidate", (c) => void viewer.addIceCandidate(c).catch(() => {}));
    viewer.on("icecandidate", (c) => void host.addIceCandidate(c).catch(() => {}));
    const channel = host.createDataChannel("shoal");
    const open = channelOpen(channel, AbortSignal.timeout(10_000)).catch(() => {});
    try {
      if (stage === "created") continue;
      const offer = await host.createOffer();
      await host.setLocalDescription(offer);
      await viewer.setRemoteDescription(offer);
      if (stage === "offered") continue;
      const answer = await viewer.createAnswer();
      await viewer.setLocalDescription(answer);
      if (stage === "answered") continue;
      // ICE is checking from here: the answer reaches the host and both close at once.
      await host.setRemoteDescription(answer);
      if (stage === "open") await open;
    } finally {
      await Promise.all([host.close(), viewer.close()]);
    }
    assert.equal(channel.readyState, "closed", stage);
  }
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

test("libdatachannel: an offer makes the offerer the DTLS client (setup:active)", async () => {
  await using pc = loopback().createPeerConnection({ iceServers: [] });
  pc.createDataChannel("shoal");
  const offer = await pc.createOffer();
  assert.match(offer.sdp, /^a=setup:active\r?$/m);
  assert.doesNotMatch(offer.sdp, /a=setup:actpass/);
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
