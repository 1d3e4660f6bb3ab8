// The signaling server's contract (PROTOCOL.md §1, docs/protocol.md) as one suite, run
// against every SessionStore/Bus: in memory (signal_server_test.ts) and Redis
// (redis_server_test.ts).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  type SignalingServer,
  type SignalingServerOptions,
  turnIceServers,
} from "../server/mod.ts";
import { createSession, eventually, RawClient } from "./_signal_helpers.ts";

/** Starts a server for one test; closing it releases whatever it was given. */
export type ServerFactory = (options?: SignalingServerOptions) => Promise<SignalingServer>;

const CASES: Record<string, (make: ServerFactory) => Promise<void>> = {
  "server creates a session with a long token and a typable join code": async (make) => {
    await using server = await make();
    const s = await createSession(server, { maxViewers: 5 });
    assert.match(s.sessionId, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(s.hostToken.length >= 22, "at least 128 bits of base64url");
    assert.match(s.hostToken, /^[A-Za-z0-9_-]+$/);
    assert.match(s.joinCode, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.equal(s.wsUrl, `ws://127.0.0.1:${server.port}/v1/sessions/${s.sessionId}/ws`);
    const info = await (await fetch(`${server.url}/v1/sessions/${s.sessionId}`)).json();
    assert.deepEqual(info, {
      sessionId: s.sessionId,
      hostOnline: false,
      viewers: 0,
      maxViewers: 5,
    });
  },

  "server answers HTTP errors as JSON with fitting statuses": async (make) => {
    await using server = await make();
    const cases: Array<[string, RequestInit, number, string]> = [
      ["/v1/sessions/nope", {}, 404, "unknown-session"],
      ["/v1/sessions", { method: "POST", body: "{" }, 400, "bad-request"],
      ["/v1/sessions", { method: "POST", body: '{"maxViewers":10001}' }, 400, "bad-request"],
      ["/v1/sessions", { method: "POST", body: "x".repeat(5000) }, 413, "too-large"],
      ["/v1/sessions", { method: "GET" }, 405, "method-not-allowed"],
      ["/nowhere", {}, 404, "not-found"],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await fetch(`${server.url}${path}`, init);
      assert.equal(res.status, status, path);
      assert.equal((await res.json()).error.code, code, path);
    }
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(await health.text(), "ok");
  },

  "server refuses sessions past maxSessions with 429": async (make) => {
    await using server = await make({ maxSessions: 1 });
    await createSession(server);
    const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
    assert.equal(res.status, 429);
    assert.equal((await res.json()).error.code, "too-many-sessions");
  },

  "server answers an upgrade to an unknown session with 404": async (make) => {
    await using server = await make();
    const res = await fetch(`${server.url}/v1/sessions/unknown/ws`, {
      headers: { upgrade: "websocket" },
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  },

  "server answers each kind of bad frame with an error and keeps the socket": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    const frames: Array<[string | Uint8Array, string]> = [
      ["{not json", "bad-message"],
      [JSON.stringify({ type: "dance" }), "bad-message"],
      [JSON.stringify({ noType: true }), "bad-message"],
      [JSON.stringify({ type: "hello", role: "king", protocol: 1 }), "bad-message"],
      [JSON.stringify({ type: "ping" }), "bad-message"], // before hello
      [new Uint8Array([1, 2, 3]), "bad-message"],
      [JSON.stringify({ type: "ping", pad: "x".repeat(65_536) }), "too-large"],
    ];
    for (const [frame, code] of frames) {
      c.socket.send(frame);
      const error = await c.next("error");
      assert.equal(error.code, code, String(frame).slice(0, 40));
    }
    assert.equal(c.socket.readyState, WebSocket.OPEN);
    c.send({ type: "hello", role: "host", protocol: 1, token: s.hostToken });
    await c.next("welcome");
    const counted = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(counted, /shoal_signal_bad_frames_total\{code="bad-message"\} 6/);
    assert.match(counted, /shoal_signal_bad_frames_total\{code="too-large"\} 1/);
  },

  "server closes with 4400 on the eleventh bad frame": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    for (let i = 0; i < 11; i++) c.send("garbage");
    const closed = await c.closed;
    assert.equal(closed.code, 4400);
    const errors = c.messages.filter((m) => m.type === "error");
    assert.equal(errors.length, 11, "ten answers and one naming the reason for the close");
  },

  "server closes with 4408 when no hello comes in time": async (make) => {
    await using server = await make({ limits: { helloTimeoutMs: 150 } });
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    assert.equal((await c.closed).code, 4408);
    assert.equal(c.messages[0]?.type === "error" && c.messages[0].code, "hello-timeout");
  },

  "server closes with 4400 on a hello of another protocol version": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    c.send({ type: "hello", role: "host", protocol: 2, token: s.hostToken });
    assert.equal((await c.next("error")).code, "protocol-version");
    assert.equal((await c.closed).code, 4400);
  },

  "server closes with 4401 on a wrong token or a wrong join code": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    for (
      const hello of [
        { type: "hello", role: "host", protocol: 1, token: "nope" },
        { type: "hello", role: "host", protocol: 1 },
        { type: "hello", role: "viewer", protocol: 1, joinCode: "AAAA-AAAA-AAAA" },
      ]
    ) {
      await using c = await RawClient.open(s.wsUrl);
      c.send(hello);
      assert.equal((await c.next("error")).code, "unauthorized");
      assert.equal((await c.closed).code, 4401);
    }
  },

  "server matches join codes ignoring case, spaces and dashes": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    const sloppy = s.joinCode.toLowerCase().replace(/-/g, " ");
    c.send({ type: "hello", role: "viewer", protocol: 1, joinCode: ` ${sloppy} ` });
    const welcome = await c.next("welcome");
    assert.equal(welcome.role, "viewer");
    assert.deepEqual(await c.next("host-status"), { type: "host-status", online: false });
  },

  "server refuses a viewer label over 64 characters as a bad frame": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using c = await RawClient.open(s.wsUrl);
    c.send({
      type: "hello",
      role: "viewer",
      protocol: 1,
      joinCode: s.joinCode,
      label: "x".repeat(65),
    });
    assert.equal((await c.next("error")).code, "bad-message");
    assert.equal(c.socket.readyState, WebSocket.OPEN);
  },

  "server lets a second host take over and closes the first with 4409": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using first = await RawClient.host(s);
    await using viewer = await RawClient.viewer(s);
    await using second = await RawClient.host(s);
    assert.equal((await first.next("error")).code, "replaced");
    assert.equal((await first.closed).code, 4409);
    // The viewer never saw the host go away, and the new host lists it.
    assert.ok(!viewer.messages.some((m) => m.type === "host-status" && !m.online));
    const info = await (await fetch(`${server.url}/v1/sessions/${s.sessionId}`)).json();
    assert.equal(info.hostOnline, true);
    second.send({ type: "ping", ts: 7 });
    assert.deepEqual(await second.next("pong"), { type: "pong", ts: 7 });
  },

  "server closes with 4429 when the session is full": async (make) => {
    await using server = await make();
    const s = await createSession(server, { maxViewers: 2 });
    await using a = await RawClient.viewer(s);
    await using b = await RawClient.viewer(s);
    await using c = await RawClient.open(s.wsUrl);
    c.send({ type: "hello", role: "viewer", protocol: 1, joinCode: s.joinCode });
    assert.equal((await c.next("error")).code, "session-full");
    assert.equal((await c.closed).code, 4429);
    assert.equal(a.socket.readyState + b.socket.readyState, 2 * WebSocket.OPEN);
  },

  "server answers a second hello as a bad frame": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using h = await RawClient.host(s);
    h.send({ type: "hello", role: "host", protocol: 1, token: s.hostToken });
    assert.equal((await h.next("error")).code, "bad-message");
  },

  "server echoes ping timestamps and omits an absent one": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using h = await RawClient.host(s);
    h.send({ type: "ping", ts: 123.5 });
    assert.deepEqual(await h.next("pong"), { type: "pong", ts: 123.5 });
    h.send({ type: "ping" });
    assert.deepEqual(await h.next("pong"), { type: "pong" });
  },

  "server announces joins, leaves and host status": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    const early = await RawClient.viewer(s, "early");
    assert.deepEqual(await early.next("host-status"), { type: "host-status", online: false });
    const host = await RawClient.host(s);
    assert.deepEqual(await early.next("host-status"), { type: "host-status", online: true });
    await using late = await RawClient.viewer(s, "late");
    const joined = await host.next("peer-joined");
    assert.equal(joined.label, "late");
    early.send({ type: "leave" });
    assert.equal((await early.closed).code, 1000);
    const left = await host.next("peer-left");
    assert.equal(left.reason, "left");
    await host.close();
    assert.deepEqual(await late.next("host-status"), { type: "host-status", online: true });
    assert.deepEqual(await late.next("host-status"), { type: "host-status", online: false });
  },

  "server lists waiting viewers in the host's welcome": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using a = await RawClient.viewer(s, "a");
    await using b = await RawClient.viewer(s, "b");
    await using h = await RawClient.open(s.wsUrl);
    h.send({ type: "hello", role: "host", protocol: 1, token: s.hostToken });
    const welcome = await h.next("welcome");
    assert.deepEqual(welcome.peers?.map((p) => p.label), ["a", "b"]);
    assert.equal(welcome.iceServers.length, 0);
    assert.ok(a && b);
  },

  "server mints each connection its own time-limited TURN credential": async (make) => {
    const secret = "suite-secret";
    const now = Date.now();
    await using server = await make({
      iceServers: turnIceServers({ urls: "turn:10.9.0.1:3478", secret, ttlSeconds: 600 }),
    });
    const s = await createSession(server);
    await using v = await RawClient.open(s.wsUrl);
    v.send({ type: "hello", role: "viewer", protocol: 1, joinCode: s.joinCode });
    await using h = await RawClient.open(s.wsUrl);
    h.send({ type: "hello", role: "host", protocol: 1, token: s.hostToken });
    const welcomes = [await v.next("welcome"), await h.next("welcome")];
    for (const welcome of welcomes) {
      const [turn] = welcome.iceServers;
      assert.equal(turn.urls, "turn:10.9.0.1:3478");
      const [expiry, peerId] = String(turn.username).split(":");
      assert.equal(peerId, welcome.peerId);
      assert.ok(Math.abs(Number(expiry) - (now / 1000 + 600)) < 30, `expiry ${expiry}`);
      const mac = createHmac("sha1", secret).update(String(turn.username)).digest("base64");
      assert.equal(turn.credential, mac);
      assert.ok(!JSON.stringify(welcome).includes(secret));
    }
    assert.notEqual(welcomes[0].iceServers[0].username, welcomes[1].iceServers[0].username);
  },

  "server closes a silent connection with 4408 and announces it left by timeout": async (make) => {
    await using server = await make({ limits: { silenceTimeoutMs: 300 } });
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    const keepAlive = setInterval(() => host.send({ type: "ping" }), 100);
    try {
      await using viewer = await RawClient.viewer(s);
      assert.equal((await viewer.closed).code, 4408);
      assert.ok(viewer.messages.some((m) => m.type === "error" && m.code === "timeout"));
      assert.equal((await host.next("peer-left")).reason, "timeout");
    } finally {
      clearInterval(keepAlive);
    }
  },

  "server routes signals only between the host and each viewer": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    await using v1 = await RawClient.viewer(s);
    await using v2 = await RawClient.viewer(s);
    const id1 = (await host.next("peer-joined")).peerId;
    const id2 = (await host.next("peer-joined")).peerId;
    host.send({ type: "signal", to: id1, handshakeId: "h1", data: { kind: "offer", sdp: "o1" } });
    const offer = await v1.next("signal");
    assert.equal(offer.data.kind, "offer");
    assert.equal(offer.handshakeId, "h1");
    // A viewer that names another viewer still only reaches the host.
    v1.send({ type: "signal", to: id2, handshakeId: "h1", data: { kind: "answer", sdp: "a1" } });
    const answer = await host.next("signal");
    assert.equal(answer.from, id1);
    assert.equal(answer.data.kind, "answer");
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!v2.messages.some((m) => m.type === "signal"), "v2 never receives v1's signal");
  },

  "server drops signals of a stale handshake and counts them": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    await using v = await RawClient.viewer(s);
    const id = (await host.next("peer-joined")).peerId;
    host.send({ type: "signal", to: id, handshakeId: "old", data: { kind: "offer", sdp: "1" } });
    host.send({ type: "signal", to: id, handshakeId: "new", data: { kind: "offer", sdp: "2" } });
    await v.waitFor("signal", 2);
    v.send({ type: "signal", handshakeId: "old", data: { kind: "answer", sdp: "stale" } });
    v.send({ type: "signal", handshakeId: "old", data: { kind: "request-offer" } });
    v.send({ type: "signal", handshakeId: "new", data: { kind: "answer", sdp: "fresh" } });
    const first = await host.next("signal");
    assert.equal(first.data.kind, "request-offer", "request-offer is never dropped as stale");
    const second = await host.next("signal");
    assert.equal(second.data.kind === "answer" && second.data.sdp, "fresh");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /shoal_signal_messages_dropped_total\{reason="stale"\} 1/);
  },

  "server answers signals to nobody with unknown-peer": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using v = await RawClient.viewer(s);
    v.send({ type: "signal", handshakeId: "h", data: { kind: "request-offer" } });
    assert.equal((await v.next("error")).code, "unknown-peer");
    await using host = await RawClient.host(s);
    host.send({
      type: "signal",
      to: "v_nobody",
      handshakeId: "h",
      data: { kind: "offer", sdp: "" },
    });
    assert.equal((await host.next("error")).code, "unknown-peer");
  },

  "server treats a signal kind in the wrong direction as a bad frame": async (make) => {
    await using server = await make();
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    await using v = await RawClient.viewer(s);
    const id = (await host.next("peer-joined")).peerId;
    v.send({ type: "signal", handshakeId: "h", data: { kind: "offer", sdp: "" } });
    assert.equal((await v.next("error")).code, "bad-message");
    host.send({ type: "signal", to: id, handshakeId: "h", data: { kind: "answer", sdp: "" } });
    assert.equal((await host.next("error")).code, "bad-message");
    host.send({ type: "signal", handshakeId: "h", data: { kind: "abort" } });
    assert.equal((await host.next("error")).code, "bad-message", "a host signal needs `to`");
  },

  "server rate-limits a flooding client, then closes it": async (make) => {
    await using server = await make({ limits: { viewerRate: 5, rateWindowMs: 60_000 } });
    const s = await createSession(server);
    await using v = await RawClient.viewer(s);
    for (let i = 0; i < 4; i++) v.send({ type: "ping" });
    await v.waitFor("pong", 4);
    v.send({ type: "ping" });
    assert.equal((await v.next("error")).code, "rate-limited");
    for (let i = 0; i < 11; i++) v.send({ type: "ping" });
    assert.equal((await v.closed).code, 4400);
  },

  "server closes every socket with 1001 on shutdown": async (make) => {
    const server = await make();
    const s = await createSession(server);
    const host = await RawClient.host(s);
    const viewer = await RawClient.viewer(s);
    await server.close();
    assert.equal((await host.closed).code, 1001);
    assert.equal((await viewer.closed).code, 1001);
    assert.ok(host.messages.some((m) => m.type === "error" && m.code === "shutdown"));
    await server.close(); // idempotent
  },

  "server refuses session creations past an address's limit a minute with 429 and counts them":
    async (
      make,
    ) => {
      await using server = await make({ addressLimits: { sessionsPerMinute: 2 } });
      await createSession(server);
      await createSession(server);
      const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get("retry-after")) > 0);
      assert.equal((await res.json()).error.code, "too-many-session-creations");
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(text, /shoal_signal_refused_total\{reason="session-rate"\} 1/);
    },

  "server refuses a WebSocket past an address's open sockets; a closed one frees its place": async (
    make,
  ) => {
    await using server = await make({ addressLimits: { socketsPerAddress: 2 } });
    const s = await createSession(server);
    await using host = await RawClient.host(s);
    const viewer = await RawClient.viewer(s);
    const res = await fetch(s.wsUrl.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
    assert.equal(res.status, 429);
    assert.equal((await res.json()).error.code, "too-many-sockets");
    assert.equal(server.metrics.refused.get({ reason: "sockets" }), 1);
    await viewer.close();
    await eventually(() => server.connectionCount === 1, 3_000, "the viewer's socket closed");
    await using again = await RawClient.viewer(s);
    assert.equal(server.connectionCount, 2);
    assert.ok(host && again);
  },

  "server backs an address off after failed hellos, even with the right code": async (make) => {
    await using server = await make({
      addressLimits: { failedHellosPerAddress: 2, failedHelloBackoffMs: 60_000 },
    });
    const s = await createSession(server);
    for (let i = 0; i < 2; i++) {
      await using c = await RawClient.open(s.wsUrl);
      c.send({ type: "hello", role: "viewer", protocol: 1, joinCode: "0000-0000-0000" });
      assert.equal((await c.next("error")).code, "unauthorized");
      assert.equal((await c.closed).code, 4401);
    }
    const res = await fetch(s.wsUrl.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get("retry-after")) >= 60);
    assert.equal((await res.json()).error.code, "too-many-failed-hellos");
    assert.equal(server.metrics.refused.get({ reason: "failed-hellos-address" }), 1);
  },

  "server locks a session against viewers after failed hellos, never against its host": async (
    make,
  ) => {
    await using server = await make({
      addressLimits: {
        failedHellosPerAddress: 0,
        failedHellosPerSession: 2,
        failedHelloBackoffMs: 60_000,
      },
    });
    const s = await createSession(server);
    for (let i = 0; i < 2; i++) {
      await using c = await RawClient.open(s.wsUrl);
      c.send({ type: "hello", role: "viewer", protocol: 1, joinCode: "0000-0000-0000" });
      assert.equal((await c.closed).code, 4401);
    }
    await using right = await RawClient.open(s.wsUrl);
    right.send({ type: "hello", role: "viewer", protocol: 1, joinCode: s.joinCode });
    const error = await right.next("error");
    assert.equal(error.code, "rate-limited");
    assert.match(error.message, /too many failed hellos to this session/);
    assert.equal((await right.closed).code, 1013, "try again later");
    assert.equal(server.metrics.refused.get({ reason: "failed-hellos-session" }), 1);
    await using host = await RawClient.host(s);
    assert.ok(host, "the host is never locked out");
  },

  "server checks Origin on session creation and WebSocket upgrades against its allowed list":
    async (
      make,
    ) => {
      await using server = await make({ allowedOrigins: ["https://app.example"] });
      const post = (origin?: string) =>
        fetch(`${server.url}/v1/sessions`, {
          method: "POST",
          headers: origin ? { origin } : {},
        });
      const cases: Array<[string | undefined, number]> = [
        [undefined, 201], // not a browser
        ["https://app.example", 201],
        [server.url, 201], // the server's own pages
        ["https://evil.example", 403],
        ["null", 403],
      ];
      let created: { wsUrl: string } | undefined;
      for (const [origin, status] of cases) {
        const res = await post(origin);
        assert.equal(res.status, status, origin);
        const body = await res.json();
        if (status === 403) assert.equal(body.error.code, "origin-not-allowed", origin);
        else created = body;
      }
      const upgrade = (origin: string) =>
        fetch(created!.wsUrl.replace(/^ws/, "http"), {
          headers: { upgrade: "websocket", origin },
        });
      const refused = await upgrade("https://evil.example");
      assert.equal(refused.status, 403);
      assert.equal((await refused.json()).error.code, "origin-not-allowed");
      assert.equal(server.metrics.refused.get({ reason: "origin" }), 3);
    },

  "server forgets a session once it has been idle for its lifetime": async (make) => {
    await using server = await make({ sessionIdleTtlMs: 200 });
    const s = await createSession(server);
    const host = await RawClient.host(s);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await server.store.count(), 1, "alive while connected");
    await host.close();
    await eventually(async () => (await server.store.count()) === 0, 3_000, "expiry");
    const res = await fetch(`${server.url}/v1/sessions/${s.sessionId}`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  },
};

/**
 * Registers every server contract test, named `${prefix}server …`, with servers from
 * `make`; `ignore` skips them all (no Redis, say).
 */
export function signalServerSuite(
  prefix: string,
  make: ServerFactory,
  options: { ignore?: boolean } = {},
): void {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test({ name: `${prefix}${name}`, ignore: options.ignore, fn: () => fn(make) });
  }
}
