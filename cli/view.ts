/**
 * `shoal view`: joins a session, prints every message on stdout (one line each), and sends
 * each line typed on stdin back to the host.
 *
 * @module
 */
import { Viewer } from "../core/viewer.ts";
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
import { logFormatFlag, setupLogging } from "./logging.ts";
import { decodeTerminalMessage, encodeTerminalMessage } from "../core/terminal_messages.ts";

/** Clears the screen and scrollback and homes the cursor before a fresh screen. */
const RESET = new TextEncoder().encode("\x1b[H\x1b[2J\x1b[3J\x1b[0m");
/** Ctrl-] leaves a shared terminal (as in telnet); Ctrl-C too while read-only. */
const LEAVE = 0x1d;
const CTRL_C = 0x03;

function _concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/**
 * Keystrokes into a shared terminal: sent as they come (raw mode when stdin is a
 * terminal) while the host allows input; Ctrl-] leaves.
 */
async function _typeIntoTerminal(
  viewer: Viewer,
  terminal: { input: boolean },
  controller: AbortController,
): Promise<void> {
  const raw = Deno.stdin.isTerminal();
  if (raw) Deno.stdin.setRaw(true);
  try {
    for await (const chunk of Deno.stdin.readable) {
      if (raw && (chunk.includes(LEAVE) || (!terminal.input && chunk.includes(CTRL_C)))) {
        controller.abort("left");
        return;
      }
      if (!terminal.input) continue;
      if (viewer.state !== "ready") await viewer.ready();
      viewer.send(encodeTerminalMessage({ kind: "input", data: chunk }));
    }
  } finally {
    if (raw) Deno.stdin.setRaw(false);
  }
}

/** Flags of `shoal view`. */
export const VIEW_FLAGS = flagTable({
  ...SERVER_FLAG,
  session: { type: "string", help: "the session id (required)" },
  code: { type: "string", help: "the join code (required)" },
  label: { type: "string", help: "a name the host sees" },
  ...ICE_ADDRESS_FLAG,
  ...ICE_POLICY_FLAG,
  ...RTC_FLAG,
  "log-format": logFormatFlag("pretty"),
  ...HELP_FLAG,
});

/** Runs `shoal view`; resolves with the exit code. */
export async function viewCommand(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(args, VIEW_FLAGS);
  if (flags.help) {
    console.log(
      helpText(
        "Usage: shoal view --session ID --code CODE [flags]\n\nPrints what the host streams.",
        VIEW_FLAGS,
      ),
    );
    return 0;
  }
  const server = serverUrl(flags.server);
  if (typeof flags.session !== "string") throw new UsageError("--session is required");
  if (typeof flags.code !== "string") throw new UsageError("--code is required");
  await setupLogging(flags["log-format"], "warning");
  const controller = new AbortController();
  const stop = () => controller.abort("interrupted");
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await using viewer = await Viewer.join({
      rtc: await rtcFor(flags.rtc, server, flags["ice-address"]),
      server,
      sessionId: flags.session,
      joinCode: flags.code,
      label: flags.label,
      iceTransportPolicy: flags["ice-transport-policy"],
      signal: controller.signal,
    });
    let ended: "host" | undefined;
    viewer.on("state", (s) => {
      if (s.reason === "bye:shutdown" && s.state === "waiting") {
        ended = "host";
        controller.abort("the host ended the session");
      }
    });
    // The first message says what this session is: a shared terminal starts with a
    // terminal `hello`; anything else is a stream of text messages, one per line.
    const terminal = { on: false, input: false, exitCode: undefined as number | undefined };
    let first!: (terminal: boolean) => void;
    const kind = new Promise<boolean>((resolve) => first = resolve);
    const typed = (async () => {
      if (await kind) return await _typeIntoTerminal(viewer, terminal, controller);
      for await (const line of readLines(Deno.stdin.readable)) {
        // Lines typed before the channel is up wait for it (the viewer gives up on its own).
        if (viewer.state !== "ready") await viewer.ready();
        if (!viewer.send(line)) console.error("shoal view: not connected; line dropped");
      }
    })();
    typed.catch(() => {});
    viewer.on("gap", (g) => {
      const what = g.reason === "evicted" ? `messages ${g.from}–${g.to}` : "what the old host sent";
      console.error(`shoal view: reconnected; ${what} could not be replayed`);
    });
    const out = Deno.stdout.writable.getWriter();
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    let count = 0;
    for await (const m of viewer.messages()) {
      const message = count++ === 0 || terminal.on ? decodeTerminalMessage(m) : undefined;
      if (count === 1) first(terminal.on = message?.kind === "hello");
      if (message && terminal.on) {
        // Write what the sharer's terminal shows to this one (a screen starts afresh).
        if (message.kind === "hello") terminal.input = message.hello.input;
        else if (message.kind === "screen") await out.write(_concat(RESET, message.data));
        else if (message.kind === "output") await out.write(message.data);
        else if (message.kind === "exit") terminal.exitCode = message.exitCode;
        continue;
      }
      await out.write(encoder.encode(decoder.decode(m) + "\n"));
    }
    out.releaseLock();
    if (terminal.exitCode !== undefined) {
      console.error(`\r\nshoal view: the shared program exited (status ${terminal.exitCode})`);
    }
    if (ended === "host") console.error("shoal view: the host ended the session");
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}
