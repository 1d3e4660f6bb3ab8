/**
 * Who a request comes from, as the server's limits count it ({@link clientAddress}): the
 * socket's address, or the first hop of `X-Forwarded-For` when the server is told to trust
 * the proxy in front of it (`--trust-proxy`). IPv6 addresses count by their /64, the block
 * one subscriber is usually given.
 *
 * @module
 */

/**
 * Options of {@link clientAddress}.
 *
 * @example
 * ```ts
 * import type { ClientAddressOptions } from "@shoal/shoal/server";
 *
 * const behindProxy: ClientAddressOptions = { trustProxy: true };
 * console.assert(behindProxy.trustProxy);
 * ```
 */
export interface ClientAddressOptions {
  /** Take the first hop of `X-Forwarded-For` (only behind a proxy that sets it; false). */
  trustProxy?: boolean;
}

/**
 * The address a request is counted against: `remote` (the socket's peer address), or with
 * `trustProxy` the first valid hop of `X-Forwarded-For`. IPv4-mapped IPv6 becomes IPv4; other
 * IPv6 addresses become their /64 prefix (`2001:db8:1:2::/64`).
 *
 * @example
 * ```ts
 * import { clientAddress } from "@shoal/shoal/server";
 *
 * const request = new Request("http://x/", { headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.1" } });
 * console.assert(clientAddress(request, "10.0.0.1") === "10.0.0.1");
 * console.assert(clientAddress(request, "10.0.0.1", { trustProxy: true }) === "203.0.113.7");
 * console.assert(clientAddress(request, "2001:db8:0:1:2:3:4:5") === "2001:db8:0:1::/64");
 * ```
 */
export function clientAddress(
  request: Request,
  remote: string,
  options: ClientAddressOptions = {},
): string {
  if (options.trustProxy) {
    const first = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    const forwarded = first ? _normalize(_stripPort(first)) : undefined;
    if (forwarded !== undefined) return forwarded;
  }
  return _normalize(remote) ?? remote;
}

/** `[v6]:port` → `v6`, `v4:port` → `v4`; anything else as it is. */
function _stripPort(hop: string): string {
  const bracketed = hop.match(/^\[([^\]]+)\](?::\d+)?$/);
  if (bracketed) return bracketed[1];
  const v4 = hop.match(/^(\d+\.\d+\.\d+\.\d+):\d+$/);
  return v4 ? v4[1] : hop;
}

/** A canonical key for an IPv4 or IPv6 address; undefined when `text` is neither. */
function _normalize(text: string): string | undefined {
  if (_isV4(text)) return text.split(".").map(Number).join(".");
  const groups = _expandV6(text);
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  const prefix = groups.slice(0, 4);
  while (prefix.length > 1 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((g) => g.toString(16)).join(":")}::/64`;
}

function _isV4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** The eight 16-bit groups of an IPv6 address (zone and embedded IPv4 allowed). */
function _expandV6(text: string): number[] | undefined {
  let address = text.replace(/%.*$/, "").toLowerCase();
  const v4 = address.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    if (!_isV4(v4[2])) return undefined;
    const [a, b, c, d] = v4[2].split(".").map(Number);
    address = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}
