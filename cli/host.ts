/**
 * `shoal host`: streams every line of stdin (or of a command's output) to every ready
 * viewer, and prints what viewers send back on stderr.
 *
 * @module
 */
import { Host } from "../core/host.ts";
import type { PeerState } from "../core/supervisor.ts";
import { RTC_FLAG, rtcFor, rtcStack, serverUrl } from "./common.ts";
import { type FlagSpec, helpText, intFlag, parseFlags, UsageError } from "./flags.ts";
import { readLines } from "./lines.ts";
import { type LogFormat, setupLogging } from "./logging.ts";

/** Flags of `shoal host`. */
export const HOST_FLAGS: FlagSpec[] = [
  {
    name: "server",
    type: "string",
    description: "signaling server URL",
    default: "http://127.0.0.1:8787",
  },
  {
    name: "session",
    type: "string",
    description: "take over this session (with --token) instead of creating one",
  },
  { name: "token", type: "string", description: "host token of --session" },
  {
    name: "exec",
    type: "string",
    description: "broadcast the output lines of this shell command instead of stdin",
  },
  {
    name: "max-viewers",
    type: "string",
    description: "maxViewers of a created session",
    default: "256",
  },
  { name: "max-peers", type: "string", description: "most ready viewers at once", default: "128" },
  {
    name: "drop-oldest",
    type: "boolean",
    description: "when full, drop the oldest viewer instead of refusing",
  },
  {
    name: "metrics-port",
    type: "string",
    description: "serve Prometheus metrics on 127.0.0.1:PORT/metrics",
  },
  {
    name: "ice-address",
    type: "string",
    description: "local IPv4 address for ICE (default: loopback for a local server)",
  },
  RTC_FLAG,
  { name: "log-format", type: "string", description: "json or pretty", default: "pretty" },
  {
    name: "log-level",
    type: "string",
    description: "debug, info, warning or error",
    default: "warning",
  },
  { name: "help", type: "boolean", description: "show this help" },
];

/** Runs `shoal host`; resolves with the exit code. */
export async function hostCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, HOST_FLAGS);
  if (flags.help) {
    console.log(
      helpText("Usage: shoal host [flags]\n\nStreams stdin lines to every viewer.", HOST_FLAGS),
    );
    return 0;
  }
  const server = serverUrl(flags.server);
  if ((flags.session === undefined) !== (flags.token === undefined)) {
    throw new UsageError("--session and --token go together");
  }
  await setupLogging(_format(flags["log-format"]), _level(flags["log-level"]));
  const controller = new AbortController();
  const stop = () => controller.abort("interrupted");
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let metricsServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    await using host = await Host.start({
      rtc: await rtcFor(rtcStack(flags.rtc), server, flags["ice-address"] as string | undefined),
      server,
      sessionId: flags.session as string | undefined,
      token: flags.token as string | undefined,
      maxViewers: intFlag(flags["max-viewers"], "max-viewers", 256, 1, 10_000),
      maxPeers: intFlag(flags["max-peers"], "max-peers", 128, 1, 100_000),
      whenFull: flags["drop-oldest"] ? "dropOldest" : "refuse",
      signal: controller.signal,
    });
    _announce(host, server);
    if (flags["metrics-port"] !== undefined) {
      const port = intFlag(flags["metrics-port"], "metrics-port", 0, 0, 65535);
      metricsServer = Deno.serve(
        { hostname: "127.0.0.1", port, onListen: () => {} },
        () =>
          new Response(host.metricsText(), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          }),
      );
      console.error(`metrics: http://127.0.0.1:${metricsServer.addr.port}/metrics`);
    }
    const status = _statusLine(host);
    const inbox = _printInbox(host);
    await _pump(host, flags.exec as string | undefined, controller.signal);
    status.stop();
    await host.close();
    await inbox;
    return 0;
  } finally {
    await metricsServer?.shutdown();
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

function _format(v: string | boolean | undefined): LogFormat {
  const f = v ?? "pretty";
  if (f !== "json" && f !== "pretty") throw new UsageError("--log-format must be json or pretty");
  return f;
}

function _level(v: string | boolean | undefined): "debug" | "info" | "warning" | "error" {
  const l = v ?? "warning";
  if (l !== "debug" && l !== "info" && l !== "warning" && l !== "error") {
    throw new UsageError("--log-level must be debug, info, warning or error");
  }
  return l;
}

function _announce(host: Host, server: string): void {
  const { sessionId, hostToken } = host.session;
  const lines = [`shoal: hosting session ${sessionId}`];
  if (host.joinCode) {
    lines.push(`  join code: ${host.joinCode}`);
    lines.push(
      `  viewers run: deno task view --server ${server} --session ${sessionId} --code ${host.joinCode}`,
    );
  }
  lines.push(`  to take over later: --session ${sessionId} --token ${hostToken}`);
  console.error(lines.join("\n"));
}

/** Broadcasts each line of stdin, or of `exec`'s stdout, until EOF or abort. */
async function _pump(host: Host, exec: string | undefined, signal: AbortSignal): Promise<void> {
  let child: Deno.ChildProcess | undefined;
  let source: ReadableStream<Uint8Array> = Deno.stdin.readable;
  if (exec) {
    child = new Deno.Command("sh", { args: ["-c", exec], stdout: "piped", stdin: "null" }).spawn();
    source = child.stdout;
  }
  const onAbort = () => {
    try {
      child?.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const lines = readLines(source);
  const aborted = new Promise<IteratorResult<string>>((r) => {
    if (signal.aborted) r({ done: true, value: undefined });
    signal.addEventListener("abort", () => r({ done: true, value: undefined }), { once: true });
  });
  try {
    while (!signal.aborted) {
      const next = await Promise.race([lines.next(), aborted]);
      if (next.done) break;
      host.broadcast(next.value);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await child?.status;
  }
}

async function _printInbox(host: Host): Promise<void> {
  const decoder = new TextDecoder();
  const labels = new Map<string, string>();
  host.on("peer", (p) => labels.set(p.peerId, p.label));
  for await (const m of host.messages()) {
    const label = labels.get(m.peerId);
    console.error(`[${m.peerId}${label ? ` ${label}` : ""}] ${decoder.decode(m.data)}`);
  }
}

/** Keeps one status line of viewers by state on stderr (only when it changes). */
function _statusLine(host: Host): { stop(): void } {
  let last = "";
  const tty = Deno.stderr.isTerminal();
  const show = () => {
    const c = host.metrics().states;
    const order: PeerState[] = ["queued", "negotiating", "open", "ready", "closed"];
    const line = `viewers: ${order.map((s) => `${c[s]} ${s}`).join(", ")}`;
    if (line === last) return;
    last = line;
    Deno.stderr.writeSync(new TextEncoder().encode(tty ? `\r\x1b[K${line}` : `${line}\n`));
  };
  const timer = setInterval(show, 500);
  return {
    stop() {
      clearInterval(timer);
      show();
      if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    },
  };
}
