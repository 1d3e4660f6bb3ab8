/**
 * Time-limited TURN credentials in coturn's `use-auth-secret` scheme (the "TURN REST API"
 * draft): the username is `<unix expiry>:<peerId>` and the credential is the base64 of
 * HMAC-SHA1(secret, username). coturn, configured with the same `static-auth-secret`,
 * recomputes the credential and refuses it once the expiry has passed, so the secret itself
 * never leaves the signaling server and a leaked credential dies on its own.
 *
 * @module
 */
import type { IceServer } from "../core/protocol.ts";
import type { IceServersFor } from "./relay.ts";

/**
 * Options of {@link turnIceServers}.
 *
 * @example
 * ```ts
 * import type { TurnOptions } from "@shoal/shoal/server";
 *
 * const options: TurnOptions = { urls: "turn:10.0.0.1:3478", secret: "s3cret", ttlSeconds: 600 };
 * console.assert(options.ttlSeconds === 600);
 * ```
 */
export interface TurnOptions {
  /** The TURN server's URLs (`turn:HOST:PORT`, `turns:HOST:PORT`, with `?transport=`). */
  urls: string | string[];
  /** coturn's `static-auth-secret`. Kept only as a non-extractable HMAC key. */
  secret: string;
  /** How long a credential is valid, seconds (default 86 400, a day). */
  ttlSeconds?: number;
  /** STUN URLs handed out beside the TURN server (`stun:HOST:PORT`). */
  stun?: string | string[];
  /** Fixed ICE servers handed out too (e.g. from `--ice-servers`), first. */
  iceServers?: IceServer[];
  /** Clock, ms since the epoch (default `Date.now`; tests pass their own). */
  now?: () => number;
}

/** Default lifetime of a minted credential, seconds. */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;

/**
 * Returns an {@link IceServersFor} (the signaling server's `iceServers` option) that mints
 * one TURN credential per connection, valid for `ttlSeconds`, beside the fixed and STUN
 * servers. Throws `TypeError`/`RangeError` at once for a malformed URL, an empty secret or
 * a bad lifetime.
 *
 * @example
 * ```ts
 * import { turnIceServers } from "@shoal/shoal/server";
 *
 * const mint = turnIceServers({ urls: "turn:10.0.0.1:3478", secret: "s3cret", now: () => 0 });
 * const [turn] = await mint({ sessionId: "s", peerId: "peer-1", role: "viewer" });
 * console.assert(turn.username === "86400:peer-1");
 * console.assert(typeof turn.credential === "string" && turn.credential.length === 28);
 * ```
 */
export function turnIceServers(options: TurnOptions): IceServersFor {
  const urls = _urls(options.urls, /^turns?:[^\s]+$/i, "a turn: or turns: URL");
  const stun = _urls(options.stun ?? [], /^stuns?:[^\s]+$/i, "a stun: or stuns: URL");
  if (urls.length === 0) throw new TypeError("TURN needs at least one turn: URL");
  if (typeof options.secret !== "string" || options.secret.length === 0) {
    throw new TypeError("the TURN secret must not be empty");
  }
  const ttl = options.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 31_536_000) {
    throw new RangeError("the TURN credential lifetime must be 1 s to a year, in whole seconds");
  }
  const now = options.now ?? Date.now;
  const fixed = [...(options.iceServers ?? []), ...stun.map((u) => ({ urls: u }))];
  // The secret lives on only inside this key: it cannot be read back, logged or serialized.
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  return async ({ peerId }) => {
    const username = `${Math.floor(now() / 1000) + ttl}:${peerId}`;
    const mac = await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(username));
    const credential = btoa(String.fromCharCode(...new Uint8Array(mac)));
    return [...fixed, { urls: urls.length === 1 ? urls[0] : urls, username, credential }];
  };
}

function _urls(value: string | string[], pattern: RegExp, what: string): string[] {
  const list = [value].flat();
  for (const u of list) {
    if (typeof u !== "string" || !pattern.test(u)) {
      throw new TypeError(`${JSON.stringify(u)} is not ${what}`);
    }
  }
  return list;
}
