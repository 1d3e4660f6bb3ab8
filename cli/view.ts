/**
 * `shoal view`: joins a session, prints every message on stdout (one line each), and sends
 * each line typed on stdin back to the host.
 *
 * @module
 */
import { Viewer, type ViewerError } from "../core/viewer.ts";
import { ICE_ADDRESS_FLAG, SERVER_FLAG, serverUrl, weriftFor } from "./common.ts";
import { flagTable, HELP_FLAG, parseCommand, UsageError } from "./flags.ts";
import { readLines } from "./lines.ts";
import { logFormatFlag, setupLogging } from "./logging.ts";

const USAGE = "Usage: shoal view --session ID --code CODE [flags]\n\nPrints what the host streams.";

/** Flags of `shoal view`. */
export const VIEW_FLAGS = flagTable({
  ...SERVER_FLAG,
  session: { type: "string", help: "the session id (required)" },
  code: { type: "string", help: "the join code (required)" },
  label: { type: "string", help: "a name the host sees" },
  ...ICE_ADDRESS_FLAG,
  "log-format": logFormatFlag("pretty"),
  ...HELP_FLAG,
});

/** Runs `shoal view`; resolves with the exit code. */
export async function viewCommand(args: string[]): Promise<number> {
  const flags = parseCommand(args, VIEW_FLAGS, USAGE);
  if (!flags) return 0;
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
      rtc: weriftFor(server, flags["ice-address"]),
      server,
      sessionId: flags.session,
      joinCode: flags.code,
      label: flags.label,
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
    // Stopped by the server for good (the session ended, say): its reason, in one sentence.
    const stopped = await viewer.ready().then(() => undefined, (error: ViewerError) => error);
    if (ended === undefined && stopped && stopped.code !== "closed") {
      console.error(`shoal view: ${stopped.message}`);
      return 1;
    }
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}
