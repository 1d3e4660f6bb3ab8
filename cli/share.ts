/**
 * `shoal share [flags] [-- COMMAND ARGS...]`: runs a command (default: `$SHELL`) in a
 * pseudo-terminal, keeps the sharer's terminal fully interactive, and streams the
 * terminal to every viewer (see `terminal_stream.ts`). Exits with the command's status.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Host } from "../core/host.ts";
import { decodeTerminalMessage } from "../core/terminal_messages.ts";
import { serverUrl, weriftFor } from "./common.ts";
import { type FlagSpec, helpText, intFlag, parseFlags, UsageError } from "./flags.ts";
import { setupLogging } from "./logging.ts";
import { Pty } from "./pty.ts";
import { type SharePage, startSharePage } from "./share_page.ts";
import { TerminalStream } from "./terminal_stream.ts";

/** Flags of `shoal share`. */
export const SHARE_FLAGS: FlagSpec[] = [
  {
    name: "server",
    type: "string",
    description: "signaling server URL",
    default: "http://127.0.0.1:8787",
  },
  {
    name: "allow-input",
    type: "boolean",
    description: "let viewers type into the program (default: read-only)",
  },
  {
    name: "cols",
    type: "string",
    description: "columns when stdout is not a terminal",
    default: "80",
  },
  {
    name: "rows",
    type: "string",
    description: "rows when stdout is not a terminal",
    default: "24",
  },
  {
    name: "page-port",
    type: "string",
    description: "serve the host page (terminal, viewers, input grants) on 127.0.0.1:PORT (0: any)",
  },
  {
    name: "max-viewers",
    type: "string",
    description: "maxViewers of the session",
    default: "256",
  },
  {
    name: "ice-address",
    type: "string",
    description: "local IPv4 address for ICE (default: loopback for a local server)",
  },
  {
    name: "log-level",
    type: "string",
    description: "debug, info, warning or error (stderr, only when it is not a terminal)",
    default: "info",
  },
  { name: "help", type: "boolean", description: "show this help" },
];

const USAGE = `Usage: shoal share [flags] [-- COMMAND ARGS...]

Runs COMMAND (default: $SHELL) in a pseudo-terminal and shares it with every viewer.`;

/** Runs `shoal share`; resolves with the command's exit status. */
export async function shareCommand(args: string[]): Promise<number> {
  const { flags, rest } = parseFlags(args, SHARE_FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, SHARE_FLAGS));
    return 0;
  }
  const server = serverUrl(flags.server);
  const command = rest.length > 0 ? rest : [Deno.env.get("SHELL") || "/bin/sh"];
  const level = flags["log-level"] ?? "info";
  if (level !== "debug" && level !== "info" && level !== "warning" && level !== "error") {
    throw new UsageError("--log-level must be debug, info, warning or error");
  }
  const tty = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  // Log lines would scribble over the shared screen: on a terminal, only errors are kept.
  await setupLogging("json", Deno.stderr.isTerminal() ? "error" : level);
  const size = tty ? Deno.consoleSize() : {
    columns: intFlag(flags.cols, "cols", 80, 1, 1000),
    rows: intFlag(flags.rows, "rows", 24, 1, 1000),
  };
  const controller = new AbortController();
  let host: Host | undefined;
  const stream = new TerminalStream({
    outlet: {
      send: (peerId, payload) => host?.send(peerId, payload) ?? false,
      backlogs: () => {
        const out = new Map<string, number>();
        for (const p of host?.metrics().peers ?? []) {
          out.set(p.peerId, p.queuedBytes + p.bufferedAmount);
        }
        return out;
      },
    },
    cols: size.columns,
    rows: size.rows,
    allowInput: flags["allow-input"] === true,
  });
  let page: SharePage | undefined;
  let pty: Pty | undefined;
  const onWinch = () => {
    const { columns, rows } = Deno.consoleSize();
    void stream.resize(columns, rows).then(() => pty?.resize(columns, rows)).catch(() => {});
  };
  try {
    host = await Host.start({
      rtc: weriftFor(server, flags["ice-address"] as string | undefined),
      server,
      maxViewers: intFlag(flags["max-viewers"], "max-viewers", 256, 1, 10_000),
      // A viewer that falls behind is resynchronised by the stream, not dropped for lag.
      limits: { maxLagMs: 60_000 },
      onPeerReady: (peer) =>
        stream.admit({
          ...peer,
          send: (d) => peer.send(d),
        }),
      signal: controller.signal,
    });
    host.on("peer", (e) => e.state === "closed" && stream.remove(e.peerId));
    if (flags["page-port"] !== undefined) {
      page = await startSharePage({
        port: intFlag(flags["page-port"], "page-port", 0, 0, 65535),
        host,
        stream,
        server,
      });
    }
    _announce(host, server, page);
    pty = await Pty.spawn(command, { cols: size.columns, rows: size.rows });
    if (tty) {
      Deno.stdin.setRaw(true);
      Deno.addSignalListener("SIGWINCH", onWinch);
    }
    void _sharerInput(pty);
    void _viewerInput(host, stream, pty, page);
    const out = Deno.stdout.writable.getWriter();
    for await (const chunk of pty.output) {
      await out.write(chunk);
      await stream.write(chunk);
    }
    out.releaseLock();
    const status = await pty.status;
    await stream.end(status);
    return status;
  } finally {
    if (tty) {
      Deno.removeSignalListener("SIGWINCH", onWinch);
      Deno.stdin.setRaw(false);
    }
    await pty?.close();
    await page?.close();
    await host?.close();
    await stream.close();
  }
}

function _announce(host: Host, server: string, page: SharePage | undefined): void {
  const { sessionId } = host.session;
  const code = host.joinCode!;
  const lines = [
    `shoal: sharing a terminal in session ${sessionId}`,
    `  join code: ${code}`,
    `  viewer link: ${server}/view/${encodeURIComponent(sessionId)}#code=${code}`,
    `  or run: deno task view --server ${server} --session ${sessionId} --code ${code}`,
  ];
  if (page) lines.push(`  host page: ${page.url}`);
  console.error(lines.join("\r\n") + "\r\n");
}

/** The sharer's keystrokes go to the program as they are typed. */
async function _sharerInput(pty: Pty): Promise<void> {
  try {
    for await (const chunk of Deno.stdin.readable) await pty.write(chunk);
  } catch {
    // The program ended (its stdin closed) or stdin failed: nothing left to type into.
  }
}

/** Viewers' keystrokes reach the program when the stream allows them. */
async function _viewerInput(
  host: Host,
  stream: TerminalStream,
  pty: Pty,
  page: SharePage | undefined,
): Promise<void> {
  const log = getLogger(["shoal", "share"]);
  for await (const m of host.messages()) {
    const message = decodeTerminalMessage(m.data);
    if (message?.kind !== "input") {
      log.info("viewer {peerId} says {text}", {
        peerId: m.peerId,
        text: new TextDecoder().decode(m.data),
      });
      continue;
    }
    const allowed = stream.input(m.peerId, message.data);
    page?.logInput(m.peerId, message.data, allowed !== undefined);
    if (allowed) await pty.write(allowed).catch(() => {});
  }
}
