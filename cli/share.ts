/**
 * `shoal share [flags] [-- COMMAND ARGS...]`: runs a command (default: `$SHELL`) in a
 * pseudo-terminal, keeps the sharer's terminal fully interactive, and streams the
 * terminal to every viewer (see `terminal_stream.ts`). Exits with the command's status.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Emitter } from "../core/emitter.ts";
import { Host, type HostOptions } from "../core/host.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { decodeTerminalMessage } from "../core/terminal_messages.ts";
import {
  ICE_ADDRESS_FLAG,
  ICE_POLICY_FLAG,
  RTC_FLAG,
  rtcFor,
  SERVER_FLAG,
  serverUrl,
} from "./common.ts";
import { flagTable, HELP_FLAG, helpText, parseFlags } from "./flags.ts";
import { logLevelFlag, setupLogging } from "./logging.ts";
import { Pty } from "./pty.ts";
import { type SharePage, startSharePage } from "./share_page.ts";
import { TerminalStream, type TerminalStreamOptions } from "./terminal_stream.ts";

/** Flags of `shoal share`. */
export const SHARE_FLAGS = flagTable({
  ...SERVER_FLAG,
  "allow-input": {
    type: "boolean",
    help: "let viewers type into the program (default: read-only)",
  },
  cols: {
    type: "int",
    help: "columns when stdout is not a terminal",
    default: 80,
    min: 1,
    max: 1000,
  },
  rows: { type: "int", help: "rows when stdout is not a terminal", default: 24, min: 1, max: 1000 },
  "page-port": {
    type: "int",
    help: "serve the host page (terminal, viewers, input grants) on 127.0.0.1:PORT (0: any)",
    max: 65535,
  },
  "max-viewers": {
    type: "int",
    help: "maxViewers of the session",
    default: 256,
    min: 1,
    max: 10_000,
  },
  ...RTC_FLAG,
  ...ICE_ADDRESS_FLAG,
  ...ICE_POLICY_FLAG,
  "log-level": {
    ...logLevelFlag("info"),
    help: "the lowest level written (stderr, only when it is not a terminal)",
  },
  ...HELP_FLAG,
});

const USAGE = `Usage: shoal share [flags] [-- COMMAND ARGS...]

Runs COMMAND (default: $SHELL) in a pseudo-terminal and shares it with every viewer.`;

/** Runs `shoal share`; resolves with the command's exit status. */
export async function shareCommand(args: string[]): Promise<number> {
  const { values: flags, positionals: rest } = parseFlags(args, SHARE_FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, SHARE_FLAGS));
    return 0;
  }
  const server = serverUrl(flags.server);
  const command = rest.length > 0 ? rest : [Deno.env.get("SHELL") || "/bin/sh"];
  const level = flags["log-level"];
  const tty = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  // Log lines would scribble over the shared screen: on a terminal, only errors are kept.
  await setupLogging("json", Deno.stderr.isTerminal() ? "error" : level);
  const size = tty ? Deno.consoleSize() : {
    columns: flags.cols,
    rows: flags.rows,
  };
  let page: SharePage | undefined;
  const onWinch = () => {
    const { columns, rows } = Deno.consoleSize();
    void share.resize(columns, rows).catch(() => {});
  };
  const stdout = Deno.stdout.writable.getWriter();
  const share = await Share.start({
    rtc: await rtcFor(flags.rtc, server, flags["ice-address"]),
    host: { iceTransportPolicy: flags["ice-transport-policy"] },
    server,
    command,
    cols: size.columns,
    rows: size.rows,
    allowInput: flags["allow-input"],
    maxViewers: flags["max-viewers"],
    output: (chunk) => stdout.write(chunk),
  });
  try {
    if (flags["page-port"] !== undefined) {
      page = await startSharePage({
        port: flags["page-port"],
        share,
        server,
      });
    }
    _announce(share.host, server, page);
    if (tty) {
      Deno.stdin.setRaw(true);
      Deno.addSignalListener("SIGWINCH", onWinch);
    }
    void _sharerInput(share);
    return await share.exited;
  } finally {
    if (tty) {
      Deno.removeSignalListener("SIGWINCH", onWinch);
      Deno.stdin.setRaw(false);
    }
    await page?.close();
    await share.close();
    stdout.releaseLock();
  }
}

/** Options of {@linkcode Share.start}. */
export interface ShareOptions {
  /** The WebRTC stack. */
  rtc: RtcAdapter;
  /** The signaling server. */
  server: string;
  /** The program and its arguments. */
  command: string[];
  /** Columns (default 80). */
  cols?: number;
  /** Rows (default 24). */
  rows?: number;
  /** Viewers may type by default (default false). */
  allowInput?: boolean;
  /** `maxViewers` of the session. */
  maxViewers?: number;
  /** The sharer's own terminal: every output chunk, before viewers get it. */
  output?: (chunk: Uint8Array) => Promise<void>;
  /** Tuning of the terminal stream (tick, resync threshold, scrollback). */
  stream?: Omit<TerminalStreamOptions, "outlet" | "cols" | "rows" | "allowInput">;
  /** Extra host options (tests). */
  host?: Partial<HostOptions>;
}

/** What a {@linkcode Share} tells: each viewer keystroke message, accepted or dropped. */
export interface ShareEvents extends Record<string, unknown> {
  /** A viewer typed. */
  input: { peerId: string; data: Uint8Array; accepted: boolean };
}

/**
 * A shared terminal: the program in its pty, the host its viewers join, and the stream
 * between them. {@link Share.exited} resolves with the program's exit status once every
 * viewer has been told.
 *
 * @example
 * ```ts ignore
 * await using share = await Share.start({ rtc, server, command: ["top"] });
 * console.log(share.host.joinCode, await share.exited);
 * ```
 */
export class Share implements AsyncDisposable {
  /** The host viewers join. */
  readonly host: Host;
  /** The terminal stream (its model is the host's copy of the screen). */
  readonly stream: TerminalStream;
  /** The program's pseudo-terminal. */
  readonly pty: Pty;
  /** The program's exit status, once viewers have been told it ended. */
  readonly exited: Promise<number>;
  #events = new Emitter<ShareEvents>();
  #closed?: Promise<void>;

  private constructor(host: Host, stream: TerminalStream, pty: Pty, o: ShareOptions) {
    this.host = host;
    this.stream = stream;
    this.pty = pty;
    host.on("peer", (e) => e.state === "closed" && stream.remove(e.peerId));
    const inputs = this.#viewerInput();
    this.exited = (async () => {
      for await (const chunk of pty.output) {
        await o.output?.(chunk);
        await stream.write(chunk);
      }
      const status = await pty.status;
      await stream.end(status);
      await host.close();
      await inputs;
      return status;
    })();
  }

  /** Creates the session, starts the program, and streams it. */
  static async start(o: ShareOptions): Promise<Share> {
    let host: Host | undefined;
    const stream = new TerminalStream({
      ...o.stream,
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
      cols: o.cols,
      rows: o.rows,
      allowInput: o.allowInput,
    });
    try {
      host = await Host.start({
        ...o.host,
        rtc: o.rtc,
        server: o.server,
        maxViewers: o.maxViewers,
        // A viewer that falls behind is resynchronised by the stream, not dropped for lag.
        limits: { maxLagMs: 60_000, ...o.host?.limits },
        onPeerReady: (peer) => stream.admit({ ...peer, send: (d) => peer.send(d) }),
      });
      const pty = await Pty.spawn(o.command, { cols: o.cols, rows: o.rows });
      return new Share(host, stream, pty, o);
    } catch (error) {
      await host?.close();
      await stream.close();
      throw error;
    }
  }

  /** Listens to `type`; returns the unsubscribe function. */
  on<K extends keyof ShareEvents>(type: K, listener: (value: ShareEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** The sharer types `data` into the program. */
  type(data: Uint8Array | string): Promise<void> {
    return this.pty.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** Resizes: viewers first (see `TerminalStream.resize`), then the program (SIGWINCH). */
  async resize(cols: number, rows: number): Promise<void> {
    await this.stream.resize(cols, rows);
    await this.pty.resize(cols, rows);
  }

  /** Ends the program (SIGHUP), tells viewers, leaves the session. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.pty.close();
      await this.exited.catch(() => {});
      await this.host.close();
      await this.stream.close();
      this.#events.clear();
    })();
    return this.#closed;
  }

  /** Closes the share (see {@link Share.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Viewers' keystrokes reach the program when the stream allows them. */
  async #viewerInput(): Promise<void> {
    const log = getLogger(["shoal", "share"]);
    for await (const m of this.host.messages()) {
      const message = decodeTerminalMessage(m.data);
      if (message?.kind !== "input") {
        log.info("viewer {peerId} says {text}", {
          peerId: m.peerId,
          text: new TextDecoder().decode(m.data),
        });
        continue;
      }
      const allowed = this.stream.input(m.peerId, message.data);
      this.#events.emit("input", { peerId: m.peerId, data: message.data, accepted: !!allowed });
      if (allowed) await this.pty.write(allowed).catch(() => {});
    }
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
async function _sharerInput(share: Share): Promise<void> {
  try {
    for await (const chunk of Deno.stdin.readable) await share.type(chunk);
  } catch {
    // The program ended (its stdin closed) or stdin failed: nothing left to type into.
  }
}
