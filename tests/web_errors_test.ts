// The sentences the pages show for what the core throws (web/errors.ts).
import assert from "node:assert/strict";
import { SessionError } from "../core/session.ts";
import { SignalingError } from "../core/signaling.ts";
import { ViewerError } from "../core/viewer.ts";
import { describeViewerState, explainError } from "../web/errors.ts";

Deno.test("explainError gives one sentence for each refusal a person can act on", () => {
  const cases: [unknown, RegExp][] = [
    [new SignalingError("unauthorized", "wrong join code", 4401), /^That join code is not right/],
    [new SignalingError("session-full", "full", 4429), /^This session is full/],
    [new SessionError("unknown-session", "no such session", 404), /^This session does not exist/],
    [new SessionError("unreachable", "cannot reach"), /^The server cannot be reached/],
    [new ViewerError("kicked", "removed"), /^The host removed you/],
    [new ViewerError("gave-up", "no offer"), /^No connection to the host/],
    [new SignalingError("replaced", "taken over", 4409), /^This session was taken over/],
    [new SignalingError("unauthorized", "the session has ended", 4401), /^The host ended this/],
    [new SignalingError("rate-limited", "too many failed hellos", 1013), /^Too many wrong join/],
    [new SessionError("too-many-session-creations", "more than 30", 429), /^Too many sessions/],
    [new SessionError("origin-not-allowed", "origin x may not", 403), /^This server does not/],
  ];
  for (const [error, sentence] of cases) {
    const text = explainError(error);
    assert.match(text, sentence);
    assert.match(text, /^[A-Z][^.;]*(;[^.]*)?\.$/, `one sentence: ${text}`);
  }
});

Deno.test("explainError looks through a viewer refused by the server to the server's reason", () => {
  const cause = new SignalingError("session-full", "full", 4429);
  const refused = new ViewerError("refused", "full", { cause });
  assert.match(explainError(refused), /^This session is full/);
  assert.equal(explainError(new Error("boom")), "Something went wrong: boom.");
});

Deno.test("describeViewerState tells a host that left from a lost connection", () => {
  assert.equal(describeViewerState("ready"), "Connected to the host.");
  assert.equal(describeViewerState("waiting"), "Waiting for the host…");
  assert.match(describeViewerState("waiting", "bye:shutdown"), /^The host has left/);
  assert.match(describeViewerState("waiting", "connection failed"), /lost; reconnecting/);
});
