/**
 * `deno task signal [--port 8787] [--hostname 127.0.0.1]`: runs the signaling server, with
 * the host page at `/` and the viewer page at `/view/:sessionId` (bundled at start), until
 * SIGINT or SIGTERM, then closes every socket with 1001 and exits.
 *
 * @module
 */
import { flagTable, HELP_FLAG, helpText, parseFlags, UsageError } from "./flags.ts";
import { logFormatFlag, setupLogging } from "./logging.ts";
import { REDIS_FLAGS, redisFromFlags } from "./redis_flags.ts";
import { startSignalingServer } from "../server/server.ts";
import { webRoutes } from "./web.ts";

/** Flags of the `signal` command. */
export const SIGNAL_FLAGS = flagTable({
  port: { type: "int", help: "port to listen on", default: 8787, max: 65535 },
  hostname: { type: "string", help: "address to listen on", default: "127.0.0.1" },
  "ice-servers": {
    type: "string",
    help: "JSON array of RTCIceServer handed to clients",
    default: "[]",
  },
  "max-viewers": {
    type: "int",
    help: "maxViewers of sessions created without one",
    default: 256,
    min: 1,
    max: 10_000,
  },
  "log-format": logFormatFlag("json"),
  ...REDIS_FLAGS,
  ...HELP_FLAG,
});

/** Runs the `signal` command with `args`; resolves when the server has stopped. */
export async function signalCommand(args: string[]): Promise<void> {
  const { values: flags } = parseFlags(args, SIGNAL_FLAGS);
  if (flags.help) {
    console.log(
      helpText("Usage: shoal signal [flags]\n\nRuns the signaling server.", SIGNAL_FLAGS),
    );
    return;
  }
  await setupLogging(flags["log-format"]);
  let iceServers = [];
  try {
    iceServers = JSON.parse(flags["ice-servers"]);
    if (!Array.isArray(iceServers)) throw new Error();
  } catch {
    throw new UsageError("--ice-servers must be a JSON array");
  }
  const redis = await redisFromFlags(flags);
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // The host and viewer pages; without them (no `deno` to bundle with) the API still runs.
  const routes = await webRoutes({ signal: controller.signal }).catch((error) => {
    console.error(`shoal signal: no web pages (${error.message}); serving the API only`);
    return undefined;
  });
  const server = startSignalingServer({
    routes,
    hostname: flags.hostname,
    port: flags.port,
    defaultMaxViewers: flags["max-viewers"],
    iceServers,
    signal: controller.signal,
    store: redis?.store,
    bus: redis?.bus,
  });
  console.error(`shoal signaling server on ${server.url}`);
  await new Promise((resolve) =>
    controller.signal.addEventListener("abort", resolve, { once: true })
  );
  await server.close();
  await redis?.close();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}
