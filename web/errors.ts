/**
 * Turns what the core throws into the one sentence a page shows. DOM-free, so that it is
 * unit-tested in Deno (`tests/web_errors_test.ts`).
 *
 * @module
 */

type _Coded = { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };

/** What the server says (`error` `unauthorized`) when the host ended the session. */
const SESSION_ENDED = "the session has ended";

/** Sentences by error name, then by code (`*` when no code matches). */
const SENTENCES: Record<string, Record<string, string>> = {
  SessionError: {
    "unknown-session": "This session does not exist, or it has ended.",
    unreachable: "The server cannot be reached; check the connection and reload the page.",
    "too-many-sessions": "The server cannot hold another session right now; try again later.",
    "too-many-session-creations":
      "Too many sessions were started from this address; try again in a minute.",
    "origin-not-allowed": "This server does not accept sessions from this page's site.",
    "*": "The server refused the request; reload the page to try again.",
  },
  SignalingError: {
    unauthorized: "That join code is not right for this session; check it and try again.",
    "session-full": "This session is full; try again when a viewer has left.",
    "protocol-version": "This page is out of date; reload it.",
    replaced: "This session was taken over by another tab or window.",
    "connect-failed": "The server cannot be reached; check the connection and reload the page.",
    shutdown: "The server shut down; reload the page when it is back.",
    "rate-limited": "Too many wrong join codes were tried; wait a while and try again.",
    "*": "The connection to the server was lost; reload the page to try again.",
  },
  ViewerError: {
    kicked: "The host removed you from this session.",
    capacity: "The host has no room for more viewers; try again later.",
    "gave-up": "No connection to the host could be made; reload the page to try again.",
    closed: "You have left the session.",
  },
};

/**
 * One clear sentence for `error`, for a person: a wrong join code, a full session, an
 * unknown session, an unreachable server, a host that removed the viewer, and so on.
 *
 * @example
 * ```ts
 * import { explainError } from "./errors.ts";
 * const wrong = Object.assign(new Error("bad code"), { name: "SignalingError", code: "unauthorized" });
 * console.assert(explainError(wrong).startsWith("That join code is not right"));
 * ```
 */
export function explainError(error: unknown): string {
  for (let e = error as _Coded | undefined, depth = 0; e && depth < 4; depth++) {
    const byCode = typeof e.name === "string" ? SENTENCES[e.name] : undefined;
    // A viewer "refused" by the server carries the server's reason as its cause.
    const refused = e.name === "ViewerError" && e.code === "refused" && e.cause;
    // `unauthorized` after the host ended the session (DELETE), not a wrong code.
    if (e.name === "SignalingError" && e.message === SESSION_ENDED) {
      return "The host ended this session.";
    }
    if (byCode && !refused) {
      const sentence = byCode[String(e.code)] ?? byCode["*"];
      if (sentence) return sentence;
    }
    e = e.cause as _Coded | undefined;
  }
  const message = (error as _Coded | undefined)?.message;
  return `Something went wrong: ${typeof message === "string" ? message : String(error)}.`;
}

/** What a viewer page says about its connection, for a `Viewer` state and its reason. */
export function describeViewerState(state: string, reason?: string): string {
  switch (state) {
    case "ready":
      return "Connected to the host.";
    case "connecting":
      return "Connecting to the host…";
    case "closed":
      return "Disconnected.";
  }
  if (reason === "bye:shutdown") return "The host has left; this page reconnects when it is back.";
  if (reason === undefined) return "Waiting for the host…";
  return "The connection to the host was lost; reconnecting…";
}
