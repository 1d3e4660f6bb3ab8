// The signaling server as a fetch handler: its HTTP routes answered without a socket, and
// a WebSocket upgrade injected (here an in-memory socket) instead of Deno's.
import assert from "node:assert/strict";
import { createSignalingHandler, type SignalingHandlerOptions } from "../server/mod.ts";
import type { ServerMessage } from "../core/protocol.ts";
import { CloseCode, PROTOCOL_VERSION } from "../core/protocol.ts";

const BASE = "http://signal.test";

function post(body?: string, path = "/v1/sessions"): Request {
  return new Request(`${BASE}${path}`, { method: "POST", body });
}

/** A server-side WebSocket in memory: what the client would receive, and its close. */
class _MemorySocket extends EventTarget {
  readyState: number = WebSocket.OPEN;
  readonly sent: ServerMessage[] = [];
  closeCode?: number;

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(code?: number): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.closeCode = code;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }

  /** The client sends `message`. */
  receive(message: unknown): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
}

function memoryUpgrades(): {
  sockets: _MemorySocket[];
  upgradeWebSocket: NonNullable<SignalingHandlerOptions["upgradeWebSocket"]>;
} {
  const sockets: _MemorySocket[] = [];
  return {
    sockets,
    upgradeWebSocket: () => {
      const socket = new _MemorySocket();
      sockets.push(socket);
      return { socket: socket as unknown as WebSocket, response: new Response(null) };
    },
  };
}

async function eventuallyTrue(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check());
}

Deno.test("signaling handler creates a session over fetch alone, its wsUrl on the request's host", async () => {
  await using handler = createSignalingHandler();
  const res = await handler.fetch(post(JSON.stringify({ maxViewers: 7 })));
  assert.equal(res.status, 201);
  const created = await res.json();
  assert.equal(created.wsUrl, `ws://signal.test/v1/sessions/${created.sessionId}/ws`);
  const info = await handler.fetch(new Request(`${BASE}/v1/sessions/${created.sessionId}`));
  assert.deepEqual(await info.json(), {
    sessionId: created.sessionId,
    hostOnline: false,
    viewers: 0,
    maxViewers: 7,
  });
  const tls = await (await handler.fetch(
    new Request("https://signal.test/v1/sessions", {
      method: "POST",
    }),
  )).json();
  assert.match(tls.wsUrl, /^wss:\/\/signal\.test\/v1\/sessions\//);
  assert.equal(handler.metrics.sessionsCreated.total(), 2);
});

Deno.test("signaling handler checks the POST /v1/sessions body against its schema", async () => {
  await using handler = createSignalingHandler({ defaultMaxViewers: 3 });
  const cases: Array<[string | undefined, number, string, RegExp?]> = [
    [undefined, 201, ""],
    ["  ", 201, ""],
    ["{}", 201, ""],
    ['{"maxViewers":10000,"other":true}', 201, ""],
    ["{", 400, "bad-request", /not valid JSON/],
    ["[]", 400, "bad-request", /must be a JSON object/],
    ["null", 400, "bad-request", /must be a JSON object/],
    ['{"maxViewers":0}', 400, "bad-request", /maxViewers must be an integer from 1 to 10000/],
    ['{"maxViewers":10001}', 400, "bad-request", /maxViewers must be an integer/],
    ['{"maxViewers":1.5}', 400, "bad-request", /maxViewers must be an integer/],
    ['{"maxViewers":"5"}', 400, "bad-request", /maxViewers must be an integer/],
    ["x".repeat(5000), 413, "too-large"],
  ];
  for (const [body, status, code, message] of cases) {
    const res = await handler.fetch(post(body));
    assert.equal(res.status, status, body);
    const json = await res.json();
    if (status !== 201) {
      assert.equal(json.error.code, code, body);
      if (message) assert.match(json.error.message, message, body);
    }
  }
});

Deno.test("signaling handler answers its other routes and refuses after close", async () => {
  const handler = createSignalingHandler();
  const { sessionId } = await (await handler.fetch(post())).json();
  const cases: Array<[Request, number, string]> = [
    [new Request(`${BASE}/v1/sessions`), 405, "method-not-allowed"],
    [new Request(`${BASE}/v1/sessions/nope`), 404, "unknown-session"],
    [new Request(`${BASE}/nowhere`), 404, "not-found"],
    [new Request(`${BASE}/v1/sessions/${sessionId}/ws`), 400, "upgrade-required"],
    [
      new Request(`${BASE}/v1/sessions/${sessionId}/ws`, { headers: { upgrade: "websocket" } }),
      501,
      "no-websocket",
    ],
  ];
  for (const [request, status, code] of cases) {
    const res = await handler.fetch(request);
    assert.equal(res.status, status, request.url);
    assert.equal((await res.json()).error.code, code, request.url);
  }
  assert.equal(await (await handler.fetch(new Request(`${BASE}/healthz`))).text(), "ok");
  const metrics = await (await handler.fetch(new Request(`${BASE}/metrics`))).text();
  assert.match(metrics, /shoal_signal_sessions 1/);
  await handler.close();
  await handler.close();
  const late = await handler.fetch(post());
  assert.equal(late.status, 503);
  assert.equal((await late.json()).error.code, "shutdown");
});

Deno.test("signaling handler speaks the protocol over an injected WebSocket upgrade", async () => {
  const { sockets, upgradeWebSocket } = memoryUpgrades();
  const asked: string[] = [];
  await using handler = createSignalingHandler({
    upgradeWebSocket,
    iceServers: ({ role, peerId }) => {
      asked.push(role);
      return [{ urls: "turn:turn.test:3478", username: peerId, credential: "c" }];
    },
  });
  const { sessionId, hostToken, joinCode } = await (await handler.fetch(post())).json();
  const upgrade = () =>
    handler.fetch(
      new Request(`${BASE}/v1/sessions/${sessionId}/ws`, { headers: { upgrade: "websocket" } }),
    );
  assert.equal((await upgrade()).status, 200);
  const host = sockets[0];
  host.receive({ type: "hello", role: "host", protocol: PROTOCOL_VERSION, token: hostToken });
  await eventuallyTrue(() => host.sent.length > 0);
  const welcome = host.sent[0];
  assert.equal(welcome.type, "welcome");
  assert.ok(welcome.type === "welcome" && welcome.role === "host");
  assert.deepEqual(welcome.iceServers, [
    { urls: "turn:turn.test:3478", username: welcome.peerId, credential: "c" },
  ]);
  await upgrade();
  const viewer = sockets[1];
  viewer.receive({ type: "hello", role: "viewer", protocol: PROTOCOL_VERSION, joinCode });
  await eventuallyTrue(() => host.sent.some((m) => m.type === "peer-joined"));
  assert.deepEqual(asked, ["host", "viewer"]);
  assert.equal(handler.connectionCount, 2);
  await handler.close();
  assert.equal(host.closeCode, CloseCode.goingAway);
  assert.equal(viewer.closeCode, CloseCode.goingAway);
  assert.equal(handler.connectionCount, 0);
});
