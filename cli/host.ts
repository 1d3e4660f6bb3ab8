/**
 * `shoal host`: streams every line of stdin (or of a command's output) to every ready
 * viewer, and prints what viewers send back on stderr.
 *
 * @module
 */
import { abortable } from "../core/async.ts";
import { Host } from "../core/host.ts";
import type { PeerState } from "../core/supervisor.ts";
import {
  ICE_ADDRESS_FLAG,
  ICE_POLICY_FLAG,
  RTC_FLAG,
  rtcFor,
  SERVER_FLAG,
  serverUrl,
} from "./common.ts";
import { flagTable, HELP_FLAG, helpText, parseFlags, UsageError } from "./flags.ts";
import { readLines } from "./lines.ts";
import { logFormatFlag, logLevelFlag, setupLogging } from "./logging.ts";

/** Flags of `shoal host`. */
export const HOST_FLAGS = flagTable({
  ...SERVER_FLAG,
  session: {
    type: "string",
    help: "take over this session (with --token) instead of creating one",
  },
  token: { type: "string", help: "host token of --session" },
  exec: {
    type: "string",
    help: "broadcast the output lines of this shell command instead of stdin",
  },
  "max-viewers": {
    type: "int",
    help: "maxViewers of a created session",
    default: 256,
    min: 1,
    max: 10_000,
  },
  "max-peers": {
    type: "int",
    help: "most ready viewers at once",
    default: 128,
    min: 1,
    max: 100_000,
  },
  "drop-oldest": { type: "boolean", help: "when full, drop the oldest viewer instead of refusing" },
  "metrics-port": {
    type: "int",
    help: "serve Prometheus metrics on 127.0.0.1:PORT/metrics",
    max: 65535,
  },
  ...ICE_ADDRESS_FLAG,
  ...RTC_FLAG,
  "max-queued-bytes": {
    type: "int",
    help: "most bytes queued for broadcast (reading waits long before)",
    default: 32 << 20,
    min: 1 << 20,
  },
  ...ICE_POLICY_FLAG,
  "log-format": logFormatFlag("pretty"),
  "log-level": logLevelFlag("warning"),
  ...HELP_FLAG,
});

/** Runs `shoal host`; resolves with the exit code. */
export async function hostCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, HOST_FLAGS);
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
  await setupLogging(flags["log-format"], flags["log-level"]);
  const controller = new AbortController();
  const stop = () => controller.abort("interrupted");
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let metricsServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    await using host = await Host.start({
      rtc: await rtcFor(flags.rtc, server, flags["ice-address"]),
      server,
      sessionId: flags.session,
      token: flags.token,
      maxViewers: flags["max-viewers"],
      maxPeers: flags["max-peers"],
      whenFull: flags["drop-oldest"] ? "dropOldest" : "refuse",
      maxQueuedBytes: flags["max-queued-bytes"],
      iceTransportPolicy: flags["ice-transport-policy"],
      signal: controller.signal,
    });
    _announce(host, server);
    if (flags["metrics-port"] !== undefined) {
      const port = flags["metrics-port"];
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
    await _pump(host, flags.exec, controller.signal);
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

/**
 * Broadcasts each line of stdin, or of `exec`'s stdout, until EOF or abort. While the host
 * is congested it stops reading (`host.drain()`), so a source faster than the network is
 * held back by the pipe instead of filling memory.
 */
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
  try {
    while (!signal.aborted) {
      // abortable() lets go of the signal each time: a race against one pending "aborted"
      // promise would keep a reaction per line read, millions under a flood.
      const next = await abortable(lines.next(), signal);
      if (next.done) break;
      if (host.congested) await host.drain({ signal });
      host.broadcast(next.value);
    }
  } catch (error) {
    if (!signal.aborted) throw error;
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
