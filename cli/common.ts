/**
 * What the commands share: the WebRTC adapter choice, turning errors into one sentence.
 *
 * @module
 */
import { SessionError } from "../core/session.ts";
import { SignalingError } from "../core/signaling.ts";
import { ViewerError } from "../core/viewer.ts";
import { werift, type WeriftOptions } from "../adapters/werift.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { flagTable, UsageError } from "./flags.ts";

/** The signaling server URL, a row of every command that connects to one. */
export const SERVER_FLAG = flagTable({
  server: {
    type: "string",
    help: "signaling server URL (http:// or https://)",
    default: "http://127.0.0.1:8787",
  },
});

/** Where werift gathers ICE candidates, a row of every command that runs werift peers. */
export const ICE_ADDRESS_FLAG = flagTable({
  "ice-address": {
    type: "string",
    help: "local IPv4 address for ICE (default: loopback for a local server)",
  },
});

/** Which candidates ICE may use, a row of `host`, `view` and `swarm`. */
export const ICE_POLICY_FLAG = flagTable({
  "ice-transport-policy": {
    type: "choice",
    choices: ["all", "relay"],
    help: "all, or relay to connect through the server's TURN only",
    default: "all",
  },
});

/**
 * The werift adapter for a server URL: ICE on `address` if given, on loopback when the
 * signaling server is on this machine's loopback, else on every interface.
 */
export function weriftFor(
  server: string,
  address?: string,
  options: WeriftOptions = {},
): RtcAdapter {
  const host = new URL(server).hostname;
  const loopback = host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  const udp4 = address ?? (loopback ? "127.0.0.1" : undefined);
  return werift(udp4 ? { ...options, interfaceAddresses: { udp4 } } : options);
}

/** Checks `--server` is an http(s) URL. */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server ${raw} is not a URL (try http://127.0.0.1:8787)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--server must be an http:// or https:// URL, not ${url.protocol}`);
  }
  return url.origin;
}

/** One sentence for an error a user can act on, or undefined for a bug. */
export function explain(error: unknown): string | undefined {
  if (error instanceof UsageError) return error.message;
  if (error instanceof SessionError) {
    if (error.code === "unknown-session") return "no such session on this server (check --session)";
    if (error.code === "unreachable") return error.message;
    return `the server refused: ${error.message}`;
  }
  if (error instanceof SignalingError) {
    switch (error.code) {
      case "unauthorized":
        return `refused: ${error.message} (check --code or --token)`;
      case "session-full":
        return `the session is full: ${error.message}`;
      case "connect-failed":
        return `cannot connect to the signaling server: ${error.message}`;
      default:
        return `signaling failed (${error.code}): ${error.message}`;
    }
  }
  if (error instanceof ViewerError) return error.message;
  return undefined;
}
