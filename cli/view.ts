/**
 * `shoal view`: joins a session, prints every message on stdout (one line each), and sends
 * each line typed on stdin back to the host.
 *
 * @module
 */
import { Viewer } from "../core/viewer.ts";
import { RTC_FLAG, rtcFor, rtcStack, serverUrl } from "./common.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./flags.ts";
import { readLines } from "./lines.ts";
import { setupLogging } from "./logging.ts";

/** Flags of `shoal view`. */
export const VIEW_FLAGS: FlagSpec[] = [
  {
    name: "server",
    type: "string",
    description: "signaling server URL",
    default: "http://127.0.0.1:8787",
  },
  { name: "session", type: "string", description: "the session id (required)" },
  { name: "code", type: "string", description: "the join code (required)" },
  { name: "label", type: "string", description: "a name the host sees" },
  {
    name: "ice-address",
    type: "string",
    description: "local IPv4 address for ICE (default: loopback for a local server)",
  },
  RTC_FLAG,
  { name: "log-format", type: "string", description: "json or pretty", default: "pretty" },
  { name: "help", type: "boolean", description: "show this help" },
];

/** Runs `shoal view`; resolves with the exit code. */
export async function viewCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, VIEW_FLAGS);
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
  const format = flags["log-format"] ?? "pretty";
  if (format !== "json" && format !== "pretty") {
    throw new UsageError("--log-format must be json or pretty");
  }
  await setupLogging(format, "warning");
  const controller = new AbortController();
  const stop = () => controller.abort("interrupted");
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await using viewer = await Viewer.join({
      rtc: await rtcFor(rtcStack(flags.rtc), server, flags["ice-address"] as string | undefined),
      server,
      sessionId: flags.session,
      joinCode: flags.code,
      label: flags.label as string | undefined,
      signal: controller.signal,
    });
    let ended: "host" | undefined;
    viewer.on("state", (s) => {
      if (s.reason === "bye:shutdown" && s.state === "waiting") {
        ended = "host";
        controller.abort("the host ended the session");
      }
    });
    const typed = (async () => {
      for await (const line of readLines(Deno.stdin.readable)) {
        // Lines typed before the channel is up wait for it (the viewer gives up on its own).
        if (viewer.state !== "ready") await viewer.ready();
        if (!viewer.send(line)) console.error("shoal view: not connected; line dropped");
      }
    })();
    typed.catch(() => {});
    const out = Deno.stdout.writable.getWriter();
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    for await (const m of viewer.messages()) {
      await out.write(encoder.encode(decoder.decode(m) + "\n"));
    }
    out.releaseLock();
    if (ended === "host") console.error("shoal view: the host ended the session");
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}
