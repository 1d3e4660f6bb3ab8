/**
 * Which web pages may use the server ({@link OriginPolicy}): the `Origin` of a WebSocket
 * upgrade or of `POST /v1/sessions` is checked against `--allowed-origins`. Clients that
 * send no `Origin` (the CLI, Deno, Python) and the server's own pages always pass.
 *
 * @module
 */

/**
 * Decides whether a request's `Origin` may use the server: none at all (not a browser),
 * the server's own (same host as the request), or one of `allowed` (`*` for any).
 *
 * @example
 * ```ts
 * import { OriginPolicy } from "@shoal/shoal/server";
 *
 * const policy = new OriginPolicy(["https://app.example"]);
 * const from = (origin: string) =>
 *   new Request("https://signal.example/v1/sessions", { method: "POST", headers: { origin } });
 * console.assert(policy.allows(from("https://app.example")));
 * console.assert(policy.allows(from("https://signal.example")));
 * console.assert(!policy.allows(from("https://evil.example")));
 * console.assert(policy.allows(new Request("https://signal.example/v1/sessions")));
 * ```
 */
export class OriginPolicy {
  /** The origins allowed besides the server's own (normalized), or `*`. */
  readonly allowed: readonly string[];
  #allowed: ReadonlySet<string>;
  #any: boolean;

  /**
   * Makes a policy that allows `allowed` besides the server's own pages.
   *
   * @param allowed origins such as `https://app.example` (scheme, host and port; a path is
   *   ignored), `null` for opaque origins, or `*` for any
   * @throws {TypeError} if an entry is not an origin
   *
   * @example
   * ```ts
   * import { OriginPolicy } from "@shoal/shoal/server";
   *
   * console.assert(new OriginPolicy(["https://app.example/path"]).allowed[0] === "https://app.example");
   * ```
   */
  constructor(allowed: readonly string[] = []) {
    this.allowed = allowed.map(_normalizeOrigin);
    this.#allowed = new Set(this.allowed);
    this.#any = this.#allowed.has("*");
  }

  /** Whether `request` passes: no `Origin`, the server's own, or an allowed one. */
  allows(request: Request): boolean {
    const origin = request.headers.get("origin");
    if (origin === null || this.#any) return true;
    if (this.#allowed.has(origin.toLowerCase())) return true;
    try {
      const from = new URL(origin);
      // The server's own pages: the same host the request was sent to (a TLS-ending proxy
      // may change the scheme in between).
      return from.host === new URL(request.url).host || this.#allowed.has(from.origin);
    } catch {
      return false;
    }
  }

  /**
   * The 403 answer for a request that does not pass (`{"error":{"code":"origin-not-allowed"}}`).
   *
   * @example
   * ```ts
   * import { OriginPolicy } from "@shoal/shoal/server";
   *
   * const res = new OriginPolicy().refusal(new Request("http://a/", { headers: { origin: "http://b" } }));
   * console.assert(res.status === 403 && (await res.json()).error.code === "origin-not-allowed");
   * ```
   */
  refusal(request: Request): Response {
    const origin = (request.headers.get("origin") ?? "").slice(0, 200);
    const body = {
      error: { code: "origin-not-allowed", message: `origin ${origin} may not use this server` },
    };
    return new Response(JSON.stringify(body), {
      status: 403,
      headers: { "content-type": "application/json" },
    });
  }
}

function _normalizeOrigin(entry: string): string {
  const text = entry.trim();
  if (text === "*" || text === "null") return text;
  try {
    const origin = new URL(text).origin;
    if (origin !== "null") return origin;
  } catch {
    // Reported below.
  }
  throw new TypeError(`"${entry}" is not an origin (like https://app.example:8443)`);
}
