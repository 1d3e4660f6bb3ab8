/**
 * libdatachannel's own floor (`deno run -A bench/ldc_floor.ts`): what a host process pays
 * to broadcast through node-datachannel's low-level API alone, with no shoal code: N peer
 * connections in this process, N in a child process, one SDP exchange each (candidates in
 * the descriptions), then 1 KiB messages at R a second to every channel for D seconds.
 * Prints this process's CPU over the broadcast (every thread: getrusage), the child's, and
 * what arrived. Compare with `deno task bench --rtc libdatachannel` on the same settings:
 * the difference is shoal's own cost.
 *
 *   deno run -A bench/ldc_floor.ts --viewers 100 --rate 50 --duration 10 [--sack 50] [--mux 45000]
 *
 * @module
 */
import process from "node:process";
import nodeDataChannel from "node-datachannel";
import { flagTable, parseFlags } from "../cli/flags.ts";
import { readLines } from "../cli/lines.ts";
import { emitEvent } from "../cli/swarm.ts";
import { processCpuMs } from "./_proc.ts";

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    viewers: { type: "int", help: "connections", default: 100, min: 1, max: 2_000 },
    rate: { type: "int", help: "messages a second to each", default: 50, min: 1 },
    duration: { type: "int", help: "seconds of broadcast", default: 10, min: 1 },
    size: { type: "int", help: "bytes a message", default: 1024, min: 1 },
    sack: { type: "int", help: "usrsctp delayed SACK, ms", default: 50, max: 199 },
    mux: { type: "int", help: "the host's ICE UDP mux port (default: a socket each)", max: 65535 },
    child: { type: "boolean", help: "(internal) the viewers' side" },
  }),
);

nodeDataChannel.setSctpSettings({ sendBufferSize: 64 * 1024, delayedSackTime: flags.sack });
const config = { iceServers: [], bindAddress: "127.0.0.1" };
const encoder = new TextEncoder();

/** A description once gathering is complete, so that it carries every candidate. */
function described(pc: nodeDataChannel.PeerConnection): Promise<{ sdp: string; type: string }> {
  return new Promise((resolve) => {
    const done = () => resolve(pc.localDescription()! as { sdp: string; type: string });
    if (pc.gatheringState() === "complete") return done();
    pc.onGatheringStateChange((s) => s === "complete" && done());
  });
}

if (flags.child) {
  // The viewers: answer each offer, count what arrives, report when told.
  const pcs: nodeDataChannel.PeerConnection[] = [];
  const channels: nodeDataChannel.DataChannel[] = [];
  let received = 0;
  for await (const line of readLines(Deno.stdin.readable)) {
    const msg = JSON.parse(line);
    if (msg.offer) {
      const pc = new nodeDataChannel.PeerConnection(`v${msg.i}`, config);
      pcs.push(pc);
      pc.onDataChannel((dc) => {
        channels.push(dc);
        dc.onMessage(() => received++);
      });
      pc.setRemoteDescription(msg.offer.sdp, msg.offer.type);
      emitEvent({ i: msg.i, answer: await described(pc) });
    } else if (msg.report) {
      emitEvent({ received, cpuMs: processCpuMs(Deno.pid) });
    } else if (msg.quit) break;
  }
  for (const dc of channels) dc.close();
  for (const pc of pcs) pc.close();
  nodeDataChannel.cleanup();
} else {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", "--sack", `${flags.sack}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const send = (line: unknown) => writer.write(encoder.encode(JSON.stringify(line) + "\n"));
  const replies = readLines(child.stdout)[Symbol.asyncIterator]();
  const pcs: nodeDataChannel.PeerConnection[] = [];
  const channels: nodeDataChannel.DataChannel[] = [];
  const opened: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < flags.viewers; i++) {
    const pc = new nodeDataChannel.PeerConnection(
      `h${i}`,
      flags.mux
        ? { ...config, enableIceUdpMux: true, portRangeBegin: flags.mux, portRangeEnd: flags.mux }
        : config,
    );
    pcs.push(pc);
    const dc = pc.createDataChannel("shoal");
    channels.push(dc);
    opened.push(new Promise((resolve) => dc.onOpen(() => resolve())));
    await send({ i, offer: await described(pc) });
  }
  for (let i = 0; i < flags.viewers; i++) {
    const { value } = await replies.next();
    const { i: at, answer } = JSON.parse(value!);
    pcs[at].setRemoteDescription(answer.sdp, answer.type);
  }
  await Promise.all(opened);
  const openMs = Math.round(performance.now() - started);
  const payload = new Uint8Array(flags.size).fill(7);
  const total = flags.rate * flags.duration;
  await new Promise((r) => setTimeout(r, 500));
  await send({ report: true });
  const childBefore = JSON.parse((await replies.next()).value!);
  const before = process.cpuUsage();
  const t0 = performance.now();
  for (let n = 0; n < total; n++) {
    for (const dc of channels) dc.sendMessageBinary(payload);
    const next = t0 + ((n + 1) * 1000) / flags.rate;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  const used = process.cpuUsage(before);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  await send({ report: true });
  const childAfter = JSON.parse((await replies.next()).value!);
  await send({ quit: true });
  await writer.close();
  await child.status;
  for (const dc of channels) dc.close();
  for (const pc of pcs) pc.close();
  nodeDataChannel.cleanup();
  const hostCpu = (used.user + used.system) / 1000 / seconds / 10;
  const messages = total * flags.viewers;
  console.log(JSON.stringify({
    viewers: flags.viewers,
    rate: flags.rate,
    size: flags.size,
    sack: flags.sack,
    mux: flags.mux ?? null,
    openMs,
    delivered: (childAfter.received - childBefore.received) / messages,
    hostCpuPercent: Math.round(hostCpu * 10) / 10,
    hostUsPerMessage: Math.round((used.user + used.system) / messages * 10) / 10,
    viewersCpuPercent: Math.round((childAfter.cpuMs - childBefore.cpuMs) / seconds / 10 * 10) / 10,
  }));
}
