/**
 * The signaling server's HTTP API from a client's side: create a session, look one up.
 *
 * @module
 */

/**
 * A session as a host knows it: what `POST /v1/sessions` answered (`joinCode` only when
 * this client created it).
 *
 * @example
 * ```ts
 * import { createSession, type SessionInfo } from "@shoal/shoal";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const session: SessionInfo = await createSession(server.url);
 * console.assert(session.wsUrl.startsWith("ws://"));
 * ```
 */
export interface SessionInfo {
  /** The session's id. */
  sessionId: string;
  /** The host's secret. */
  hostToken: string;
  /** Where to open the WebSocket. */
  wsUrl: string;
  /** What viewers type to join (known when this client created the session). */
  joinCode?: string;
}

/**
 * What `GET /v1/sessions/:id` says: whether a host is on line, how many viewers are
 * connected and how many the session admits.
 *
 * @example
 * ```ts
 * import { createSession, getSession, type SessionStatus } from "@shoal/shoal";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const { sessionId } = await createSession(server.url, { maxViewers: 10 });
 * const status: SessionStatus = await getSession(server.url, sessionId);
 * console.assert(!status.hostOnline && status.viewers === 0 && status.maxViewers === 10);
 * ```
 */
export interface SessionStatus {
  /** The session's id. */
  sessionId: string;
  /** Whether a host is connected. */
  hostOnline: boolean;
  /** Viewers connected. */
  viewers: number;
  /** The most viewers it admits. */
  maxViewers: number;
}

/**
 * The server refused or could not be reached: `code` is the server's error code
 * (`unknown-session`, `too-many-sessions`, …) or `unreachable`.
 *
 * @example
 * ```ts
 * import { SessionError } from "./session.ts";
 * console.assert(new SessionError("unknown-session", "no such session", 404).status === 404);
 * ```
 */
export class SessionError extends Error {
  /** Always `"SessionError"`. */
  override name = "SessionError";
  /** Makes the error from the server's code, a message, the HTTP status and a `cause`. */
  constructor(
    /** The server's error code, or `unreachable`. */
    readonly code: string,
    message: string,
    /** The HTTP status, when there was one. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

async function _request(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (cause) {
    throw new SessionError(
      "unreachable",
      `cannot reach the signaling server at ${url.origin}`,
      undefined,
      { cause },
    );
  }
}

async function _fail(res: Response): Promise<never> {
  let code = "http-error";
  let message = `the server answered ${res.status}`;
  try {
    const body = await res.json();
    code = body?.error?.code ?? code;
    message = body?.error?.message ?? message;
  } catch {
    // Not JSON: keep the status.
  }
  throw new SessionError(code, message, res.status);
}

/**
 * Creates a session on the signaling server at `server` (its base URL).
 *
 * @example
 * ```ts
 * import { createSession } from "@shoal/shoal";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const s = await createSession(server.url, { maxViewers: 50 });
 * console.log(`session ${s.sessionId}, join code ${s.joinCode}`);
 * ```
 */
export async function createSession(
  server: string,
  options: { maxViewers?: number; signal?: AbortSignal } = {},
): Promise<SessionInfo & { joinCode: string }> {
  const url = new URL("/v1/sessions", server);
  const body = options.maxViewers === undefined
    ? undefined
    : JSON.stringify({ maxViewers: options.maxViewers });
  const res = await _request(url, { method: "POST", body, signal: options.signal });
  if (res.status !== 201) return await _fail(res);
  return await res.json();
}

/**
 * Looks a session up; rejects with a {@link SessionError} (`unknown-session`) when there
 * is none.
 *
 * @example
 * ```ts
 * import { getSession, SessionError } from "@shoal/shoal";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * const error = await getSession(server.url, "no-such-session").catch((e) => e);
 * console.assert(error instanceof SessionError && error.code === "unknown-session");
 * ```
 */
export async function getSession(
  server: string,
  sessionId: string,
  options: { signal?: AbortSignal } = {},
): Promise<SessionStatus> {
  const url = new URL(`/v1/sessions/${encodeURIComponent(sessionId)}`, server);
  const res = await _request(url, { signal: options.signal });
  if (res.status !== 200) return await _fail(res);
  return await res.json();
}

/**
 * The WebSocket URL of `sessionId` on the server at `server` (its base URL): `ws:` for
 * `http:`, `wss:` for `https:`.
 *
 * @example
 * ```ts
 * import { sessionWsUrl } from "@shoal/shoal";
 *
 * const url = sessionWsUrl("https://signal.example.org", "abc");
 * console.assert(url === "wss://signal.example.org/v1/sessions/abc/ws");
 * ```
 */
export function sessionWsUrl(server: string, sessionId: string): string {
  const url = new URL(`/v1/sessions/${encodeURIComponent(sessionId)}/ws`, server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
