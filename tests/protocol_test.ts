import assert from "node:assert/strict";
import {
  kindAllowedFrom,
  parseClientMessage,
  parseControlFrame,
  parseServerMessage,
  utf8Length,
} from "../core/protocol.ts";

Deno.test("parseClientMessage accepts every client message and ignores unknown fields", () => {
  const valid = [
    { type: "hello", role: "host", protocol: 1, token: "t", extra: 1 },
    { type: "hello", role: "viewer", protocol: 1, joinCode: "c", label: "me" },
    { type: "signal", to: "v_1", handshakeId: "h", data: { kind: "offer", sdp: "s" } },
    { type: "signal", handshakeId: "h", data: { kind: "answer", sdp: "s" } },
    {
      type: "signal",
      handshakeId: "h",
      data: { kind: "candidate", candidate: "c", sdpMid: null, sdpMLineIndex: 0 },
    },
    { type: "signal", handshakeId: "", data: { kind: "request-offer", reason: "failed" } },
    { type: "signal", handshakeId: "h", data: { kind: "end-of-candidates" } },
    { type: "signal", to: "v", handshakeId: "h", data: { kind: "abort" } },
    { type: "ping", ts: 5 },
    { type: "ping" },
    { type: "leave" },
  ];
  for (const m of valid) {
    const r = parseClientMessage(JSON.stringify(m));
    assert.ok(r.ok, JSON.stringify(m));
    assert.ok(!("extra" in r.value), "unknown fields are stripped");
  }
});

Deno.test("parseClientMessage names what is wrong with a bad frame", () => {
  const cases: Array<[unknown, string]> = [
    [new Uint8Array(1), "bad-message"],
    ["{", "bad-message"],
    ['"string"', "bad-message"],
    ['{"type":"dance"}', "bad-message"],
    ['{"type":"signal","handshakeId":"h","data":{"kind":"offer"}}', "bad-message"],
    [
      JSON.stringify({ type: "signal", handshakeId: "x".repeat(65), data: { kind: "abort" } }),
      "bad-message",
    ],
    [
      JSON.stringify({
        type: "signal",
        handshakeId: "h",
        data: { kind: "candidate", candidate: "c", sdpMid: null, sdpMLineIndex: 0.5 },
      }),
      "bad-message",
    ],
    ['{"type":"hello","role":"host","protocol":2}', "protocol-version"],
    ['{"type":"hello","role":"host"}', "protocol-version"],
    [JSON.stringify({ type: "ping", pad: "é".repeat(40_000) }), "too-large"],
  ];
  for (const [raw, code] of cases) {
    const r = parseClientMessage(raw);
    assert.ok(!r.ok);
    assert.equal(r.code, code, String(raw).slice(0, 60));
    assert.ok(r.message.length > 0);
  }
});

Deno.test("parseServerMessage accepts every server message", () => {
  const valid = [
    { type: "welcome", peerId: "p", sessionId: "s", role: "host", iceServers: [], peers: [] },
    { type: "peer-joined", peerId: "p", label: "" },
    { type: "peer-left", peerId: "p", reason: "timeout" },
    { type: "host-status", online: false },
    { type: "signal", from: "h", handshakeId: "x", data: { kind: "abort", reason: "t" } },
    { type: "pong" },
    { type: "error", code: "session-full", message: "m" },
  ];
  for (const m of valid) assert.ok(parseServerMessage(JSON.stringify(m)).ok, m.type);
  assert.ok(!parseServerMessage('{"type":"peer-left","peerId":"p","reason":"bored"}').ok);
});

Deno.test("parseControlFrame accepts ready, ping, pong and bye and refuses the rest", () => {
  for (
    const f of [
      '{"t":"ready"}',
      '{"t":"ping","n":1,"ts":2}',
      '{"t":"pong","n":1,"ts":2}',
      '{"t":"bye","reason":"slow"}',
      '{"t":"bye"}',
    ]
  ) {
    assert.ok(parseControlFrame(f).ok, f);
  }
  for (const f of ['{"t":"ping","n":1.5,"ts":2}', '{"t":5}', '{"n":1}', "[]", "nope"]) {
    const r = parseControlFrame(f);
    assert.ok(!r.ok && r.code === "bad-message", f);
  }
});

Deno.test('parseControlFrame tells an unknown "t" (to be ignored) from a violation', () => {
  const r = parseControlFrame('{"t":"hug","x":1}');
  assert.ok(!r.ok);
  assert.equal(r.code, "unknown-control");
  assert.equal(r.code === "unknown-control" && r.t, "hug");
  // A known "t" with a bad field stays a violation.
  const bad = parseControlFrame('{"t":"pong","n":"one","ts":2}');
  assert.ok(!bad.ok && bad.code === "bad-message");
});

Deno.test("utf8Length counts bytes like TextEncoder", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a😀é€".repeat(100)]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).byteLength, s);
  }
});

Deno.test("kindAllowedFrom keeps offers to hosts and answers to viewers", () => {
  assert.ok(kindAllowedFrom("host", "offer"));
  assert.ok(!kindAllowedFrom("host", "answer"));
  assert.ok(!kindAllowedFrom("host", "request-offer"));
  assert.ok(kindAllowedFrom("viewer", "answer"));
  assert.ok(kindAllowedFrom("viewer", "candidate"));
  assert.ok(kindAllowedFrom("viewer", "abort"));
  assert.ok(!kindAllowedFrom("viewer", "offer"));
});
