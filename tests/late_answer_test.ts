// A hand-driven viewer answers the first offer too late, then the retry in time.
import assert from "node:assert/strict";
import { Host } from "../core/host.ts";
import type { RtcDataChannel } from "../core/rtc.ts";
import { type IncomingSignal, SignalingClient } from "../core/signaling.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";

Deno.test("an answer that arrives after its timeout is ignored; the retry under a new handshakeId succeeds", async () => {
  await using server = testServer();
  const net = new FakeRtcNetwork();
  await using host = await Host.start({
    rtc: net.adapter(),
    server: server.url,
    timeouts: { answerMs: 300 },
  });
  await using viewer = new SignalingClient({
    url: host.session.wsUrl,
    role: "viewer",
    joinCode: host.joinCode!,
    reconnect: false,
  });
  const rtc = net.adapter();
  const offers: IncomingSignal[] = [];
  const aborts: string[] = [];
  const pcs: Array<ReturnType<typeof rtc.createPeerConnection>> = [];
  let channel: RtcDataChannel | undefined;
  viewer.on("signal", (s) => {
    if (s.data.kind === "offer") offers.push(s);
    if (s.data.kind === "abort") aborts.push(s.handshakeId);
  });
  const answer = async (offer: IncomingSignal) => {
    const pc = rtc.createPeerConnection({ iceServers: [] });
    pcs.push(pc);
    pc.on("icecandidate", (c) => {
      viewer.send(
        "",
        offer.handshakeId,
        c ? { kind: "candidate", ...c } : { kind: "end-of-candidates" },
      );
    });
    pc.on("datachannel", (ch) => {
      channel = ch;
      const ready = () => ch.send(JSON.stringify({ t: "ready" }));
      if (ch.readyState === "open") ready();
      else ch.on("open", ready);
    });
    await pc.setRemoteDescription({ type: "offer", sdp: (offer.data as { sdp: string }).sdp });
    const a = await pc.createAnswer();
    await pc.setLocalDescription(a);
    viewer.send("", offer.handshakeId, { kind: "answer", sdp: a.sdp });
  };
  await viewer.connect();
  await eventually(() => offers.length === 1, 5_000, "first offer");
  const firstId = offers[0].handshakeId;
  await eventually(() => aborts.includes(firstId), 5_000, "the host gives the first up");
  await eventually(() => offers.length === 2, 5_000, "a retry");
  await answer(offers[0]); // too late: its handshake is void
  await answer(offers[1]);
  await eventually(() => host.readyCount === 1, 5_000, "ready through the retry");
  const m = host.metrics();
  assert.notEqual(offers[1].handshakeId, firstId);
  assert.equal(m.outcomes.timeout, 1);
  assert.equal(m.outcomes.ready, 1);
  assert.equal(m.signaling.answers, 1, "the late answer was never taken");
  const relayed = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(relayed, /reason="stale"/, "the server dropped the stale answer");
  assert.ok(channel);
  await Promise.all(pcs.map((pc) => pc.close()));
});
