/**
 * Property-based tests of the protocol parsers (`core/protocol.ts`) with fast-check: 100,000
 * generated inputs each for the client, server and control-frame parsers, mixing random
 * text, random JSON, and messages of every known type with fields of any shape. Whatever
 * comes in, the parser answers a result (never throws), its error codes are the ones the
 * protocol names, and a value it accepts is canonical: re-encoded, it parses to itself.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  parseClientMessage,
  parseControlFrame,
  parseServerMessage,
  utf8Length,
} from "../core/protocol.ts";

const RUNS = 100_000;

/** Every field name any message uses, so that generated objects often hit real fields. */
const _fieldNames = [
  "type",
  "t",
  "role",
  "protocol",
  "token",
  "joinCode",
  "label",
  "to",
  "from",
  "handshakeId",
  "data",
  "kind",
  "sdp",
  "candidate",
  "sdpMid",
  "sdpMLineIndex",
  "reason",
  "ts",
  "n",
  "peerId",
  "sessionId",
  "iceServers",
  "peers",
  "online",
  "code",
  "message",
  "urls",
];

/** A field value that is usually of a plausible type and sometimes anything JSON. */
const _fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "host",
    "viewer",
    1,
    2,
    0,
    -1,
    1.5,
    null,
    true,
    "",
    "offer",
    "answer",
    "candidate",
    "end-of-candidates",
    "abort",
    "request-offer",
    "left",
    "bad-message",
    [],
    {},
  ),
  fc.string({ maxLength: 80 }),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }),
);

/** An object with a known discriminator and fields of any shape, one level of nesting. */
function _message(tag: "type" | "t", values: readonly string[]): fc.Arbitrary<unknown> {
  const fields = fc.dictionary(fc.constantFrom(..._fieldNames), _fieldValue, { maxKeys: 6 });
  return fc.tuple(fc.constantFrom(...values, "nope"), fields, fields).map(
    ([tagValue, rest, data]) => ({ ...rest, [tag]: tagValue, data: { kind: "offer", ...data } }),
  );
}

/** A valid message with one field overwritten, removed or added (or none), at any depth 1. */
function _mutated(valid: readonly Record<string, unknown>[]): fc.Arbitrary<unknown> {
  return fc.tuple(
    fc.constantFrom(...valid),
    fc.constantFrom("keep", "set", "delete"),
    fc.constantFrom(..._fieldNames),
    _fieldValue,
  ).map(([template, how, field, value]) => {
    const m: Record<string, unknown> = structuredClone(template);
    if (how === "set") m[field] = value;
    if (how === "delete") delete m[field];
    return m;
  });
}

const _signalData = { kind: "candidate", candidate: "c", sdpMid: "0", sdpMLineIndex: 0 };

/** Raw frames: text, JSON text, known-shaped messages, and values that are not strings. */
function _raw(
  message: fc.Arbitrary<unknown>,
  valid: readonly Record<string, unknown>[],
): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: _mutated(valid).map((m) => JSON.stringify(m)) },
    { weight: 3, arbitrary: message.map((m) => JSON.stringify(m)) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 64 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => `{"t":"ping","x":"${s}`),
    },
  );
}

type _Parse = (raw: unknown, maxBytes?: number) => {
  ok: boolean;
  code?: string;
  message?: string;
  value?: unknown;
};

function _checkParser(parse: _Parse, raw: fc.Arbitrary<unknown>, codes: string[], seed: number) {
  fc.assert(
    fc.property(raw, fc.option(fc.integer({ min: 0, max: 400 }), { freq: 5 }), (input, max) => {
      const r = max === null ? parse(input) : parse(input, max);
      if (r.ok) {
        if (max !== null) assert.ok(utf8Length(input as string) <= max, "accepted within max");
        // Canonical: what was accepted re-parses to the same value.
        const again = parse(JSON.stringify(r.value));
        assert.ok(again.ok);
        assert.deepEqual(again.value, r.value);
      } else {
        assert.ok(codes.includes(r.code!), `code ${r.code}`);
        assert.equal(typeof r.message, "string");
        if (typeof input !== "string") assert.equal(r.code, "bad-message");
        if (r.code === "too-large") assert.ok(utf8Length(input as string) > (max ?? 65_536));
      }
    }),
    { numRuns: RUNS, seed },
  );
}

Deno.test("parseClientMessage answers 100,000 generated frames with a result, never an exception", () => {
  _checkParser(
    parseClientMessage,
    _raw(_message("type", ["hello", "signal", "ping", "leave"]), [
      { type: "hello", role: "viewer", protocol: 1, joinCode: "AB-CD", label: "me" },
      { type: "hello", role: "host", protocol: 1, token: "t" },
      { type: "signal", to: "v1", handshakeId: "h1", data: _signalData },
      { type: "signal", handshakeId: "h1", data: { kind: "answer", sdp: "v=0" } },
      { type: "ping", ts: 1 },
      { type: "leave" },
    ]),
    ["bad-message", "too-large", "protocol-version"],
    191,
  );
});

Deno.test("parseServerMessage answers 100,000 generated frames with a result, never an exception", () => {
  _checkParser(
    parseServerMessage,
    _raw(
      _message("type", [
        "welcome",
        "peer-joined",
        "peer-left",
        "host-status",
        "signal",
        "pong",
        "error",
      ]),
      [
        { type: "welcome", peerId: "p", sessionId: "s", role: "host", iceServers: [], peers: [] },
        { type: "peer-joined", peerId: "p", label: "" },
        { type: "peer-left", peerId: "p", reason: "left" },
        { type: "host-status", online: true },
        { type: "signal", from: "h", handshakeId: "h1", data: _signalData },
        { type: "pong", ts: 3 },
        { type: "error", code: "unauthorized", message: "no" },
      ],
    ),
    ["bad-message", "too-large"],
    192,
  );
});

Deno.test("parseControlFrame answers 100,000 generated frames with a result, never an exception", () => {
  _checkParser(
    parseControlFrame,
    _raw(_message("t", ["ready", "ping", "pong", "bye"]), [
      { t: "ready" },
      { t: "ping", n: 1, ts: 2 },
      { t: "pong", n: 1, ts: 2 },
      { t: "bye", reason: "slow" },
    ]),
    ["bad-message", "too-large", "unknown-control"],
    193,
  );
});

Deno.test('parseControlFrame calls a JSON object with any unknown string "t" unknown-control, never a violation', () => {
  const known = new Set(["ready", "ping", "pong", "bye", "seq", "direct"]);
  fc.assert(
    fc.property(
      fc.string({ maxLength: 30 }).filter((t) => !known.has(t)),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      (t, rest) => {
        const r = parseControlFrame(JSON.stringify({ ...rest, t }));
        assert.ok(!r.ok && r.code === "unknown-control" && r.t === t);
      },
    ),
    { numRuns: 20_000, seed: 194 },
  );
});

Deno.test("utf8Length agrees with TextEncoder on 100,000 generated strings", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.option(fc.nat({ max: 200 })),
      (text, limit) => {
        const bytes = encoder.encode(text).byteLength;
        const counted = limit === null ? utf8Length(text) : utf8Length(text, limit);
        // Below the limit the count is exact; above, it only has to exceed the limit.
        if (limit === null || bytes <= limit) assert.equal(counted, bytes);
        else assert.ok(counted > limit);
      },
    ),
    { numRuns: RUNS, seed: 195 },
  );
});
