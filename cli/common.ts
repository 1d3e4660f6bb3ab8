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

/** Where ICE gathers candidates, a row of every command that makes peer connections. */
export const ICE_ADDRESS_FLAG = flagTable({
  "ice-address": {
    type: "string",
    help: "local IPv4 address for ICE (default: loopback for a local server)",
  },
});

/** The WebRTC stacks `--rtc` names. */
export type RtcStack = "libdatachannel" | "werift";

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
 * The stack a command uses without `--rtc`: libdatachannel from the sources (a fraction of
 * werift's CPU per packet and per handshake, see bench/RESULTS.md), werift in a `deno
 * compile` binary, which cannot load a native addon.
 */
export const DEFAULT_RTC_STACK: RtcStack = Deno.build.standalone ? "werift" : "libdatachannel";

/** The WebRTC stack, a row of every command that makes peer connections. */
export const RTC_FLAG = flagTable({
  rtc: {
    type: "choice",
    choices: ["libdatachannel", "werift"],
    help: "WebRTC stack: libdatachannel (native, needs --allow-ffi; the default from the " +
      "sources) or werift (TypeScript; the default of a compiled binary)",
    default: DEFAULT_RTC_STACK,
  },
});

/**
 * The adapter of `stack`, ICE on `udp4` if given (`weriftOptions` for werift). libdatachannel
 * is imported only when asked for, so werift runs need no --allow-ffi.
 */
export async function rtcAdapter(
  stack: string,
  udp4?: string,
  weriftOptions: WeriftOptions = {},
): Promise<RtcAdapter> {
  const interfaceAddresses = udp4 ? { interfaceAddresses: { udp4 } } : {};
  if (stack === "werift") return werift({ ...weriftOptions, ...interfaceAddresses });
  if (stack !== "libdatachannel") {
    throw new UsageError(`--rtc must be libdatachannel or werift, not ${stack}`);
  }
  let module;
  try {
    module = await import("../adapters/libdatachannel.ts");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new UsageError(
      "--rtc libdatachannel loads a native addon: run with --allow-ffi --allow-read " +
        "--allow-sys (or use --rtc werift)",
      { cause: error },
    );
  }
  return module.libdatachannel(interfaceAddresses);
}

/**
 * The adapter of `stack` for a server URL: ICE on `address` if given, on loopback when the
 * signaling server is on this machine's loopback, else on every interface.
 */
export function rtcFor(
  stack: string,
  server: string,
  address?: string,
  weriftOptions: WeriftOptions = {},
): Promise<RtcAdapter> {
  const host = new URL(server).hostname;
  const loopback = host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  return rtcAdapter(stack, address ?? (loopback ? "127.0.0.1" : undefined), weriftOptions);
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
