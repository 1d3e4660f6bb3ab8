/**
 * A child process for tests/libdatachannel_test.ts: `exit` opens a pair, talks, closes it
 * and returns without `Deno.exit` (the process must end by itself); `gc` (run with
 * `--v8-flags=--expose-gc`) drops the caller's channel objects, collects garbage and checks
 * that the channels still carry messages. Prints one JSON line.
 *
 * @module
 */
import { libdatachannel } from "../adapters/libdatachannel.ts";
import type { RtcDataChannel, RtcMessage, RtcPeerConnection } from "../core/rtc.ts";
import { channelOpen, collect, connectPair, nextEvent } from "./rtc_contract.ts";

const rtc = libdatachannel({ interfaceAddresses: { udp4: "127.0.0.1" } });
const signal = AbortSignal.timeout(15_000);

if (Deno.args[0] === "exit") {
  const pair = await connectPair(rtc, rtc, { signal });
  const got = collect(pair.viewerChannel, 1, signal);
  pair.hostChannel.send("bye");
  const [message] = await got;
  await pair.close();
  console.log(JSON.stringify({ message }));
} else if (Deno.args[0] === "gc") {
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const received: Record<string, RtcMessage[]> = { a: [], b: [] };
  // Channel "a": only the host keeps its object. Channel "b": only the viewer does.
  const { host, viewer, a, b } = await (async () => {
    const pair = await connectPair(rtc, rtc, { signal, label: "a" });
    const second = nextEvent<RtcDataChannel>((fn) => pair.viewer.on("datachannel", fn), {
      signal,
    });
    const hostB = pair.host.createDataChannel("b");
    hostB.on("message", (m) => received.b.push(m));
    pair.viewerChannel.on("message", (m) => received.a.push(m));
    const viewerB = await second;
    await Promise.all([channelOpen(hostB, signal), channelOpen(viewerB, signal)]);
    return { host: pair.host, viewer: pair.viewer, a: pair.hostChannel, b: viewerB };
  })();
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (let i = 0; i < 10; i++) {
    a.send(`a${i}`);
    b.send(`b${i}`);
  }
  while (received.a.length + received.b.length < 20 && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const close = (pc: RtcPeerConnection) => pc.close();
  await Promise.all([close(host), close(viewer)]);
  console.log(JSON.stringify({ a: received.a.length, b: received.b.length }));
}
