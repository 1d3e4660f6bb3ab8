/**
 * `deno task signal [--port 8787] [--hostname 127.0.0.1]`: runs the signaling server, with
 * the host page at `/` and the viewer page at `/view/:sessionId` (bundled at start), until
 * SIGINT or SIGTERM, then closes every socket with 1001 and exits. With `--turn URL
 * --turn-secret SECRET` every `welcome` carries a TURN credential minted for that
 * connection (server/turn.ts); the secret is never sent or logged.
 *
 * @module
 */
import { flagTable, HELP_FLAG, helpText, parseFlags, UsageError } from "./flags.ts";
import { logFormatFlag, setupLogging } from "./logging.ts";
import { REDIS_FLAGS, redisFromFlags } from "./redis_flags.ts";
import { startSignalingServer } from "../server/server.ts";
import type { IceServersFor } from "../server/relay.ts";
import { turnIceServers } from "../server/turn.ts";
import type { IceServer } from "../core/protocol.ts";
import { DEFAULT_ADDRESS_LIMITS } from "../server/limits.ts";
import { OriginPolicy } from "../server/origin.ts";
import { webRoutes } from "./web.ts";

const _L = DEFAULT_ADDRESS_LIMITS;

/** Who may use the server, and how much: the limits and the origin policy. */
export const LIMIT_FLAGS = flagTable({
  "max-sessions": {
    type: "int",
    help: "most sessions held at once (429 too-many-sessions past it)",
    default: 10_000,
    min: 1,
  },
  "max-sessions-per-minute": {
    type: "int",
    help: "session creations per client address per minute (0: no limit)",
    default: _L.sessionsPerMinute,
  },
  "max-sockets-per-address": {
    type: "int",
    help: "open WebSockets per client address (0: no limit)",
    default: _L.socketsPerAddress,
  },
  "max-failed-hellos": {
    type: "int",
    help: "failed hellos per address per minute before it backs off (0: no limit)",
    default: _L.failedHellosPerAddress,
  },
  "max-failed-hellos-per-session": {
    type: "int",
    help: "failed hellos per session per minute before its viewers back off (0: no limit)",
    default: _L.failedHellosPerSession,
  },
  "trust-proxy": {
    type: "boolean",
    help: "count clients by the first hop of X-Forwarded-For (only behind a proxy that sets it)",
  },
  "allowed-origins": {
    type: "string",
    help: "comma-separated web origins allowed besides the server's own pages (* for any)",
  },
});

/** Flags of the `signal` command. */
export const SIGNAL_FLAGS = flagTable({
  port: { type: "int", help: "port to listen on", default: 8787, max: 65535 },
  hostname: { type: "string", help: "address to listen on", default: "127.0.0.1" },
  "ice-servers": {
    type: "string",
    help: "JSON array of RTCIceServer handed to clients",
    default: "[]",
  },
  turn: { type: "string", help: "TURN URL (turn:HOST:PORT) to mint credentials for" },
  "turn-secret": {
    type: "string",
    help: "coturn's static-auth-secret (use-auth-secret); never logged",
  },
  "turn-ttl": {
    type: "int",
    help: "TURN credential lifetime, s",
    min: 1,
    max: 31_536_000,
  },
  stun: { type: "string", help: "STUN URL (stun:HOST:PORT) handed to clients" },
  "max-viewers": {
    type: "int",
    help: "maxViewers of sessions created without one",
    default: 256,
    min: 1,
    max: 10_000,
  },
  "log-format": logFormatFlag("json"),
  ...LIMIT_FLAGS,
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
  let iceServers: IceServer[] = [];
  try {
    iceServers = JSON.parse(flags["ice-servers"]);
    if (!Array.isArray(iceServers)) throw new Error();
  } catch {
    throw new UsageError("--ice-servers must be a JSON array");
  }
  const turn = _turnFromFlags(flags, iceServers);
  const allowedOrigins = _origins(flags["allowed-origins"]);
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
    iceServers: turn ?? iceServers,
    signal: controller.signal,
    store: redis?.store,
    bus: redis?.bus,
    counters: redis?.counters,
    maxSessions: flags["max-sessions"],
    addressLimits: {
      sessionsPerMinute: flags["max-sessions-per-minute"],
      socketsPerAddress: flags["max-sockets-per-address"],
      failedHellosPerAddress: flags["max-failed-hellos"],
      failedHellosPerSession: flags["max-failed-hellos-per-session"],
    },
    trustProxy: flags["trust-proxy"],
    allowedOrigins,
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

/** The origins of `--allowed-origins`, each checked to be one. */
function _origins(list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const origins = list.split(",").map((o) => o.trim()).filter((o) => o !== "");
  try {
    new OriginPolicy(origins);
  } catch (error) {
    throw new UsageError(`--allowed-origins: ${(error as Error).message}`);
  }
  return origins;
}

/** `--turn`, `--turn-secret`, `--turn-ttl` and `--stun` as the server's `iceServers`, if given. */
function _turnFromFlags(
  flags: { turn?: string; "turn-secret"?: string; "turn-ttl"?: number; stun?: string },
  iceServers: IceServer[],
): IceServer[] | IceServersFor | undefined {
  const { turn, "turn-secret": secret, "turn-ttl": ttlSeconds, stun } = flags;
  if ((turn === undefined) !== (secret === undefined)) {
    throw new UsageError("--turn and --turn-secret go together");
  }
  if (turn === undefined) {
    if (ttlSeconds !== undefined) throw new UsageError("--turn-ttl needs --turn");
    if (stun === undefined) return undefined;
    if (!/^stuns?:\S+$/i.test(stun)) throw new UsageError("--stun must be a stun: URL");
    return [...iceServers, { urls: stun }];
  }
  try {
    return turnIceServers({ urls: turn, secret: secret!, ttlSeconds, stun, iceServers });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
