/**
 * `shoal swarm`: many viewers (werift or libdatachannel, `--rtc`) in one process, for the demo, the benchmarks and the
 * tests. It reports JSON lines on stdout and takes commands on stdin:
 *
 * - out: `{"ev":"ready","i","peerId","ms"}`, `{"ev":"failed","i","error"}`,
 *   `{"ev":"state","i","state","reason"}`, `{"ev":"summary","viewers":[…]}`
 * - in: `report` (`report full` adds every latency), `reset` (starts a new measurement), `quit`,
 *   `leave I`, `send I TEXT`, `join N` (N more viewers)
 *
 * Broadcast payloads that start with `SEQ TS ` (a sequence number and `Date.now()` at
 * send) are checked for order and timed; others are only counted. In a shared terminal
 * (`shoal share`), the bytes of `screen` and `output` messages are counted, and each
 * `@@TS@@` in the output is timed (the share benchmark types them and `cat` echoes them).
 *
 * @module
 */
import process from "node:process";
import type { RtcAdapter, RtcIceTransportPolicy } from "../core/rtc.ts";
import { decodeTerminalMessage, TERMINAL_KIND } from "../core/terminal_messages.ts";
import { Viewer } from "../core/viewer.ts";
import { ICE_ADDRESS_FLAG, ICE_POLICY_FLAG, RTC_FLAG, rtcFor, SERVER_FLAG } from "./common.ts";
import { flagTable, parseFlags, UsageError } from "./flags.ts";
import { readLines } from "./lines.ts";
import { logLevelFlag, setupLogging } from "./logging.ts";

/** What a swarm of viewers joins: the flags it shares with the raw baseline's swarm. */
export const SWARM_JOIN_FLAGS = flagTable({
  ...SERVER_FLAG,
  session: { type: "string", help: "session id (required)" },
  code: { type: "string", help: "join code (required)" },
  count: { type: "int", help: "viewers to start at once", default: 10, max: 10_000 },
});

/** Flags of `shoal swarm`. */
export const SWARM_FLAGS = flagTable({
  ...SWARM_JOIN_FLAGS,
  prefix: { type: "string", help: "label prefix", default: "swarm" },
  ...ICE_ADDRESS_FLAG,
  ...ICE_POLICY_FLAG,
  "heartbeat-ms": { type: "int", help: "viewer heartbeat interval, ms", max: 600_000 },
  "max-offer-requests": {
    type: "int",
    help: "offer requests before giving up",
    default: 8,
    max: 1_000,
  },
  "werift-recovery": {
    type: "choice",
    choices: ["quick", "stock"],
    help: "quick (the adapter's loss shims) or stock (werift's timers)",
    default: "quick",
  },
  ...RTC_FLAG,
  "log-level": logLevelFlag("error"),
});

/** What the swarm knows of one viewer. */
export interface SwarmViewerSummary {
  /** Index in the swarm. */
  i: number;
  /** Peer id, once joined. */
  peerId?: string;
  /** Viewer state. */
  state: string;
  /** Messages received. */
  received: number;
  /** Times it became ready (a reconnect makes it ready again). */
  readies?: number;
  /** First sequence number seen since the latest ready. */
  firstSeq?: number;
  /** Last sequence number seen since the latest ready. */
  lastSeq?: number;
  /** Messages whose sequence number was not the previous one plus one, within a ready. */
  outOfOrder: number;
  /** One-way latency, ms: p50, p99, max. */
  latency?: { p50: number; p99: number; max: number };
  /** Ms from the join call to ready (first time). */
  readyMs?: number;
  /** Why it failed, if it did. */
  error?: string;
  /** In a terminal session: bytes of `screen` and `output` received, and `screen`s. */
  terminal?: { bytes: number; screens: number };
  /** Messages over 64 KiB: their size and FNV-1a hash. */
  large?: Array<{ bytes: number; fnv: number }>;
}

/** A viewer's running figures: its summary so far and every latency. */
export interface SwarmStats extends SwarmViewerSummary {
  /** One-way latencies since the latest `reset`, ms. */
  lat: number[];
}

interface _Slot extends SwarmStats {
  viewer?: Viewer;
}

const decoder = new TextDecoder();

/** Writes one JSON line on stdout, whole: a pipe takes at most its free space per write. */
export function emitEvent(event: Record<string, unknown>): void {
  const bytes = new TextEncoder().encode(JSON.stringify(event) + "\n");
  for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
}

function _pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** CPU this process has used so far, user and system, in ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function _summary(s: _Slot): SwarmViewerSummary {
  const { viewer, ...stats } = s;
  return summarizeStats(stats, viewer?.state ?? s.state);
}

/** `s` as reported: its fields without the latencies but with their percentiles. */
export function summarizeStats(s: SwarmStats, state: string): SwarmViewerSummary {
  const sorted = [...s.lat].sort((a, b) => a - b);
  const { lat: _l, ...rest } = s;
  return {
    ...rest,
    state,
    latency: sorted.length
      ? { p50: _pct(sorted, 0.5), p99: _pct(sorted, 0.99), max: sorted.at(-1)! }
      : undefined,
  };
}

/** Runs the swarm until `quit` or stdin closes. */
export async function swarmCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, SWARM_FLAGS);
  const { server, session, code } = flags;
  if (session === undefined || code === undefined) {
    throw new UsageError("--session and --code are required");
  }
  await setupLogging("json", flags["log-level"]);
  const rtc = await rtcFor(flags.rtc, server, flags["ice-address"], {
    quickRecovery: flags["werift-recovery"] === "quick",
  });
  const slots: _Slot[] = [];
  const join = (n: number) => {
    for (let k = 0; k < n; k++) {
      const slot: _Slot = {
        i: slots.length,
        state: "joining",
        received: 0,
        outOfOrder: 0,
        lat: [],
      };
      slots.push(slot);
      void _run(slot, {
        rtc,
        server,
        session,
        code,
        prefix: flags.prefix,
        iceTransportPolicy: flags["ice-transport-policy"],
        heartbeatIntervalMs: flags["heartbeat-ms"],
        maxOfferRequests: flags["max-offer-requests"],
      });
    }
  };
  join(flags.count);
  for await (const line of readLines(Deno.stdin.readable)) {
    const [cmd, arg, ...rest] = line.trim().split(" ");
    if (cmd === "report") {
      const full = arg === "full";
      emitEvent({
        ev: "summary",
        cpuMs: processCpuMs(),
        viewers: slots.map((s) => full ? { ..._summary(s), lat: s.lat } : _summary(s)),
      });
    } else if (cmd === "reset") {
      for (const s of slots) {
        Object.assign(s, { lat: [], outOfOrder: 0, firstSeq: undefined, lastSeq: undefined });
        if (s.terminal) s.terminal = { bytes: 0, screens: 0 };
      }
    } else if (cmd === "leave") await slots[Number(arg)]?.viewer?.close();
    else if (cmd === "send") slots[Number(arg)]?.viewer?.send(rest.join(" "));
    else if (cmd === "join") join(Number(arg) || 1);
    else if (cmd === "quit") break;
  }
  await Promise.all(slots.map((s) => s.viewer?.close()));
  emitEvent({ ev: "summary", final: true, viewers: slots.map(_summary) });
  return 0;
}

async function _run(
  slot: _Slot,
  o: {
    rtc: RtcAdapter;
    server: string;
    session: string;
    code: string;
    prefix: string;
    iceTransportPolicy: RtcIceTransportPolicy;
    heartbeatIntervalMs?: number;
    maxOfferRequests: number;
  },
): Promise<void> {
  const started = performance.now();
  try {
    const viewer = await Viewer.join({
      rtc: o.rtc,
      server: o.server,
      sessionId: o.session,
      joinCode: o.code,
      label: `${o.prefix}-${slot.i}`,
      iceTransportPolicy: o.iceTransportPolicy,
      maxOfferRequests: o.maxOfferRequests,
      ...(o.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: o.heartbeatIntervalMs }),
    });
    slot.viewer = viewer;
    slot.peerId = viewer.peerId;
    viewer.on("state", (s) => {
      slot.state = s.state;
      emitEvent({ ev: "state", i: slot.i, state: s.state, reason: s.reason });
      if (s.state !== "ready") return;
      // Each ready starts a new segment: what must arrive complete and in order.
      slot.readies = (slot.readies ?? 0) + 1;
      slot.peerId = viewer.peerId;
      slot.firstSeq = slot.lastSeq = undefined;
      if (slot.readyMs === undefined) {
        slot.readyMs = Math.round(performance.now() - started);
        emitEvent({ ev: "ready", i: slot.i, peerId: viewer.peerId, ms: slot.readyMs });
      }
    });
    for await (const m of viewer.messages()) recordMessage(slot, m);
  } catch (error) {
    slot.state = "failed";
    slot.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    emitEvent({ ev: "failed", i: slot.i, error: slot.error });
  }
}

/** FNV-1a over the bytes: enough to tell that a large message arrived intact. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/**
 * Counts a message: a `SEQ TS ` prefix is checked for order and timed, one over 64 KiB is
 * hashed.
 */
export function recordMessage(slot: SwarmStats, m: Uint8Array): void {
  slot.received++;
  if (slot.terminal || (m[0] === TERMINAL_KIND.hello && decodeTerminalMessage(m))) {
    return _recordTerminal(slot, m);
  }
  if (m.byteLength > 65_536) {
    (slot.large ??= []).push({ bytes: m.byteLength, fnv: fnv1a(m) });
    return;
  }
  const head = decoder.decode(m.subarray(0, 40));
  const match = head.match(/^(\d+) (\d+(?:\.\d+)?) /);
  if (!match) return;
  const seq = Number(match[1]);
  if (slot.lastSeq !== undefined && seq !== slot.lastSeq + 1) slot.outOfOrder++;
  slot.firstSeq ??= seq;
  slot.lastSeq = seq;
  const now = performance.timeOrigin + performance.now();
  if (slot.lat.length < 100_000) slot.lat.push(Math.round((now - Number(match[2])) * 10) / 10);
}

const MARK = /@@(\d+(?:\.\d+)?)@@/g;

function _recordTerminal(slot: SwarmStats, m: Uint8Array): void {
  const t = slot.terminal ??= { bytes: 0, screens: 0 };
  if (m[0] === TERMINAL_KIND.screen) t.screens++;
  if (m[0] !== TERMINAL_KIND.screen && m[0] !== TERMINAL_KIND.output) return;
  t.bytes += m.byteLength - 1;
  if (m[0] !== TERMINAL_KIND.output || m.byteLength > 4096) return; // a flood has no marks
  const now = performance.timeOrigin + performance.now();
  for (const [, ts] of decoder.decode(m.subarray(1)).matchAll(MARK)) {
    if (slot.lat.length < 100_000) slot.lat.push(Math.round((now - Number(ts)) * 10) / 10);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await swarmCommand(Deno.args));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`shoal swarm: ${error.message}`);
    Deno.exit(2);
  }
}
