/**
 * The signaling server's HTTP API from a client's side: create a session, look one up.
 *
 * @module
 */

/** A session as a host knows it. */
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

/** What `GET /v1/sessions/:id` says. */
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
  override name = "SessionError";
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
 * ```ts ignore
 * import { createSession } from "./session.ts";
 * const s = await createSession("http://127.0.0.1:8787");
 * console.log(s.joinCode);
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
 * ```ts ignore
 * import { getSession } from "./session.ts";
 * const { hostOnline } = await getSession("http://127.0.0.1:8787", "SESSION_ID");
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

/** The WebSocket URL of `sessionId` on the server at `server`. */
export function sessionWsUrl(server: string, sessionId: string): string {
  const url = new URL(`/v1/sessions/${encodeURIComponent(sessionId)}/ws`, server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
