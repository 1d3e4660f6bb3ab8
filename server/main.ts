/**
 * `deno task signal [--port 8787] [--hostname 127.0.0.1]`: runs the signaling server, with
 * the host page at `/` and the viewer page at `/view/:sessionId` (bundled at start), until
 * SIGINT or SIGTERM, then closes every socket with 1001 and exits. With `--turn URL
 * --turn-secret SECRET` every `welcome` carries a TURN credential minted for that
 * connection (server/turn.ts); the secret is never sent or logged.
 *
 * @module
 */
import type { IceServer } from "../core/protocol.ts";
import { type FlagSpec, helpText, intFlag, parseFlags, UsageError } from "../cli/flags.ts";
import { type LogFormat, setupLogging } from "../cli/logging.ts";
import { REDIS_FLAGS, redisFromFlags } from "./redis_flags.ts";
import { startSignalingServer } from "./server.ts";
import { type IceServerSource, turnIceServers } from "./turn.ts";
import { webRoutes } from "./web.ts";

/** Flags of the `signal` command. */
export const SIGNAL_FLAGS: FlagSpec[] = [
  { name: "port", type: "string", description: "port to listen on", default: "8787" },
  { name: "hostname", type: "string", description: "address to listen on", default: "127.0.0.1" },
  {
    name: "ice-servers",
    type: "string",
    description: "JSON array of RTCIceServer handed to clients",
    default: "[]",
  },
  {
    name: "turn",
    type: "string",
    description: "TURN URL (turn:HOST:PORT) to mint credentials for",
  },
  {
    name: "turn-secret",
    type: "string",
    description: "coturn's static-auth-secret (use-auth-secret); never logged",
  },
  {
    name: "turn-ttl",
    type: "string",
    description: "TURN credential lifetime, s",
    default: "86400",
  },
  { name: "stun", type: "string", description: "STUN URL (stun:HOST:PORT) handed to clients" },
  {
    name: "max-viewers",
    type: "string",
    description: "maxViewers of sessions created without one",
    default: "256",
  },
  { name: "log-format", type: "string", description: "json or pretty", default: "json" },
  ...REDIS_FLAGS,
  { name: "help", type: "boolean", description: "show this help" },
];

/** Runs the `signal` command with `args`; resolves when the server has stopped. */
export async function signalCommand(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, SIGNAL_FLAGS);
  if (flags.help) {
    console.log(
      helpText("Usage: shoal signal [flags]\n\nRuns the signaling server.", SIGNAL_FLAGS),
    );
    return;
  }
  const format = (flags["log-format"] ?? "json") as string;
  if (format !== "json" && format !== "pretty") {
    throw new UsageError("--log-format must be json or pretty");
  }
  await setupLogging(format as LogFormat);
  let iceServers: IceServer[] = [];
  try {
    iceServers = JSON.parse((flags["ice-servers"] as string | undefined) ?? "[]");
    if (!Array.isArray(iceServers)) throw new Error();
  } catch {
    throw new UsageError("--ice-servers must be a JSON array");
  }
  const turn = _turnFromFlags(flags, iceServers);
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
    hostname: (flags.hostname as string | undefined) ?? "127.0.0.1",
    port: intFlag(flags.port, "port", 8787, 0, 65535),
    defaultMaxViewers: intFlag(flags["max-viewers"], "max-viewers", 256, 1, 10_000),
    iceServers: turn ?? iceServers,
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

/** `--turn`, `--turn-secret`, `--turn-ttl`, `--stun` as an {@link IceServerSource}, if given. */
function _turnFromFlags(
  flags: Record<string, string | boolean | undefined>,
  iceServers: IceServer[],
): IceServerSource | undefined {
  const [turn, secret, stun] = [flags.turn, flags["turn-secret"], flags.stun] as Array<
    string | undefined
  >;
  if ((turn === undefined) !== (secret === undefined)) {
    throw new UsageError("--turn and --turn-secret go together");
  }
  if (turn === undefined) {
    if (flags["turn-ttl"] !== undefined) throw new UsageError("--turn-ttl needs --turn");
    if (stun === undefined) return undefined;
    if (!/^stuns?:\S+$/i.test(stun)) throw new UsageError("--stun must be a stun: URL");
    return [...iceServers, { urls: stun }];
  }
  const ttlSeconds = intFlag(flags["turn-ttl"], "turn-ttl", 86_400, 1, 31_536_000);
  try {
    return turnIceServers({ urls: turn, secret: secret!, ttlSeconds, stun, iceServers });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
