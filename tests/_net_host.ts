/**
 * A `Host` (werift unless `--rtc libdatachannel`) in a child process (the network tests and
 * `bench:net` start it inside a network namespace). JSON lines on stdout, commands on stdin:
 *
 * - out: `{"ev":"session","sessionId","joinCode"}`, `{"ev":"peer","peerId","state","reason"}`,
 *   `{"ev":"log","level","message","props"}` (the host's info records: `ready` carries the
 *   selected `candidatePair`), `{"ev":"streamed","count"}`, `{"ev":"metrics",…}`
 * - in: `stream COUNT RATE` (COUNT broadcasts of `SEQ TS payload` at RATE per second),
 *   `big BYTES SEED` (one {@link bigMessage}), `metrics`, `quit`
 *
 * Flags: `--server URL` (required), `--ice-transport-policy all|relay`,
 * `--heartbeat-ms N`, `--max-attempts N`, `--connected-ms N`, `--werift-recovery quick|stock`,
 * `--rtc werift|libdatachannel`.
 *
 * @module
 */
import { configure, type LogRecord } from "@logtape/logtape";
import { parseArgs } from "node:util";
import { rtcAdapter } from "../cli/common.ts";
import { Host } from "../core/host.ts";
import { emitEvent, processCpuMs } from "../cli/swarm.ts";
import { readLines } from "../cli/lines.ts";

/** `bytes` pseudo-random bytes from `seed` (the test recomputes them to check them). */
export function bigMessage(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function _main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      server: { type: "string" },
      "ice-transport-policy": { type: "string", default: "all" },
      "heartbeat-ms": { type: "string" },
      "max-attempts": { type: "string" },
      "connected-ms": { type: "string" },
      "werift-recovery": { type: "string", default: "stock" },
      rtc: { type: "string", default: "werift" },
    },
  });
  if (!values.server) throw new TypeError("--server is required");
  const policy = values["ice-transport-policy"];
  if (policy !== "all" && policy !== "relay") throw new TypeError("bad --ice-transport-policy");

  await configure({
    reset: true,
    sinks: {
      events: (r: LogRecord) =>
        emitEvent({ ev: "log", level: r.level, message: r.rawMessage, props: r.properties }),
    },
    loggers: [
      { category: ["shoal"], lowestLevel: "info", sinks: ["events"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });

  const heartbeat = values["heartbeat-ms"] === undefined
    ? undefined
    : Number(values["heartbeat-ms"]);
  await using host = await Host.start({
    // Every interface: the namespace's own addresses are the candidates.
    rtc: await rtcAdapter(values.rtc, undefined, {
      quickRecovery: values["werift-recovery"] === "quick",
    }),
    server: values.server,
    iceTransportPolicy: policy,
    ...(heartbeat === undefined ? {} : { heartbeatIntervalMs: heartbeat }),
    ...(values["max-attempts"] ? { maxAttempts: Number(values["max-attempts"]) } : {}),
    ...(values["connected-ms"]
      ? { timeouts: { connectedMs: Number(values["connected-ms"]) } }
      : {}),
  });
  host.on("peer", (p) => emitEvent({ ev: "peer", ...p }));
  emitEvent({ ev: "session", sessionId: host.session.sessionId, joinCode: host.joinCode });

  const pad = "x".repeat(64);

  let streaming: Promise<void> = Promise.resolve();
  for await (const line of readLines(Deno.stdin.readable)) {
    const [cmd, a, b] = line.trim().split(" ");
    if (cmd === "stream") {
      const count = Number(a);
      const interval = 1000 / Number(b);
      streaming = streaming.then(async () => {
        const start = performance.now();
        for (let seq = 0; seq < count; seq++) {
          const due = start + seq * interval;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          host.broadcast(`${seq} ${performance.timeOrigin + performance.now()} ${pad}`);
        }
        emitEvent({ ev: "streamed", count });
      });
    } else if (cmd === "big") {
      const bytes = bigMessage(Number(a), Number(b));
      streaming = streaming.then(() => {
        host.broadcast(bytes);
        emitEvent({ ev: "streamed", count: 1 });
      });
    } else if (cmd === "metrics") {
      emitEvent({
        ev: "metrics",
        cpuMs: processCpuMs(),
        readyCount: host.readyCount,
        ...host.metrics(),
      });
    } else if (cmd === "quit") break;
  }
  await streaming;
}

if (import.meta.main) await _main();
