/**
 * The raw-werift baseline's viewers: plain werift answerers in one process, for
 * `shoal bench --compare-raw`. Same JSON lines as `cli/swarm.ts` (out: `ready`, `failed`,
 * `summary`; in: `report`, `report full`, `reset`, `quit`) and the same measurements
 * (order and one-way latency of `SEQ TS ` payloads). A viewer answers the host's offer,
 * trickles its candidates, and is ready when the data channel opens.
 *
 *   deno run -A bench/raw_swarm.ts --server URL --session ID --code CODE --count N
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type RTCDataChannel, RTCPeerConnection } from "werift";
import { sessionWsUrl } from "../core/session.ts";
import { SignalingClient } from "../core/signaling.ts";
import type { SignalData } from "../core/protocol.ts";
import { flagTable, parseFlags, UsageError } from "../cli/flags.ts";
import { readLines } from "../cli/lines.ts";
import {
  emitEvent,
  processCpuMs,
  recordMessage,
  summarizeStats,
  SWARM_JOIN_FLAGS,
  type SwarmStats,
} from "../cli/swarm.ts";
import { addRemoteCandidate, RAW_PEER_CONFIG, trickle, withoutStunFallback } from "./raw_host.ts";

/** Flags of the raw swarm. */
export const RAW_SWARM_FLAGS = flagTable({
  ...SWARM_JOIN_FLAGS,
  prefix: { type: "string", help: "label prefix", default: "raw" },
  naive: { type: "boolean", help: "leave werift's STUN fallback on" },
});

interface _Viewer extends SwarmStats {
  signaling?: SignalingClient;
  pc?: RTCPeerConnection;
  dc?: RTCDataChannel;
}

/** Runs the raw swarm until `quit` or stdin closes. */
export async function rawSwarmCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, RAW_SWARM_FLAGS);
  const { server, session, code, count, prefix } = flags;
  if (session === undefined || code === undefined) {
    throw new UsageError("--session and --code are required");
  }
  const url = sessionWsUrl(server, session);
  const viewers: _Viewer[] = [];
  for (let i = 0; i < count; i++) {
    const v: _Viewer = { i, state: "joining", received: 0, outOfOrder: 0, lat: [] };
    viewers.push(v);
    void _run(v, url, code, `${prefix}-${i}`, flags.naive);
  }
  const summary = (v: _Viewer, full: boolean) => {
    const { signaling: _s, pc: _p, dc: _d, ...stats } = v;
    const s = summarizeStats(stats, v.state);
    return full ? { ...s, lat: v.lat } : s;
  };
  for await (const line of readLines(Deno.stdin.readable)) {
    const [cmd, arg] = line.trim().split(" ");
    if (cmd === "report") {
      emitEvent({
        ev: "summary",
        cpuMs: processCpuMs(),
        viewers: viewers.map((v) => summary(v, arg === "full")),
      });
    } else if (cmd === "reset") {
      for (const v of viewers) {
        Object.assign(v, { lat: [], outOfOrder: 0, firstSeq: undefined, lastSeq: undefined });
      }
    } else if (cmd === "quit") break;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled(viewers.map(async (v) => {
      await v.pc?.close();
      await v.signaling?.close();
    })),
    new Promise((r) => timer = setTimeout(r, 5_000)),
  ]);
  clearTimeout(timer);
  emitEvent({ ev: "summary", final: true, viewers: viewers.map((v) => summary(v, false)) });
  return 0;
}

async function _run(
  v: _Viewer,
  url: string,
  joinCode: string,
  label: string,
  naive: boolean,
): Promise<void> {
  const started = performance.now();
  const fail = (error: unknown) => {
    if (v.state === "failed") return;
    v.state = "failed";
    v.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    emitEvent({ ev: "failed", i: v.i, error: v.error });
  };
  const timer = setTimeout(() => v.state !== "ready" && fail("no open channel in 30 s"), 30_000);
  try {
    const signaling = v.signaling = new SignalingClient({
      url,
      role: "viewer",
      joinCode,
      label,
      reconnect: false,
    });
    let remoteSet: Promise<void> | undefined;
    const early: SignalData[] = [];
    signaling.on("signal", (s) => {
      if (s.data.kind !== "offer") {
        if (!v.pc || !remoteSet) early.push(s.data);
        else addRemoteCandidate(v.pc, remoteSet, s.data).catch(() => {});
        return;
      }
      if (v.pc) return; // One handshake per viewer in this baseline.
      const pc = v.pc = new RTCPeerConnection(RAW_PEER_CONFIG);
      const release = trickle(pc, (data) => signaling.send(s.from, s.handshakeId, data));
      pc.connectionStateChange.subscribe((st) => st === "failed" && fail("connection failed"));
      pc.onDataChannel.subscribe((dc) => {
        v.dc = dc;
        const open = () => {
          if (v.state === "ready" || v.state === "failed") return;
          v.state = "ready";
          v.readies = 1;
          clearTimeout(timer);
          v.readyMs = Math.round(performance.now() - started);
          emitEvent({ ev: "ready", i: v.i, peerId: v.peerId, ms: v.readyMs });
        };
        if (dc.readyState === "open") open();
        dc.stateChanged.subscribe((st) => st === "open" && open());
        dc.onMessage.subscribe((m) => recordMessage(v, typeof m === "string" ? Buffer.from(m) : m));
      });
      remoteSet = pc.setRemoteDescription({ type: "offer", sdp: s.data.sdp });
      for (const data of early.splice(0)) addRemoteCandidate(pc, remoteSet, data).catch(() => {});
      (async () => {
        await remoteSet;
        if (!naive) withoutStunFallback(pc);
        await pc.setLocalDescription(await pc.createAnswer());
        signaling.send(s.from, s.handshakeId, { kind: "answer", sdp: pc.localDescription!.sdp });
        release();
      })().catch(fail);
    });
    const welcome = await signaling.connect();
    v.peerId = welcome.peerId;
    if (v.state === "joining") v.state = "connecting";
  } catch (error) {
    clearTimeout(timer);
    fail(error);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await rawSwarmCommand(Deno.args));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`raw swarm: ${error.message}`);
    Deno.exit(2);
  }
}
