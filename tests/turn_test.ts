import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { turnIceServers } from "../server/turn.ts";

const now = () => 1_700_000_000_000;
const _peer = (peerId: string) => ({ sessionId: "s", peerId, role: "viewer" as const });

Deno.test("turnIceServers mints coturn use-auth-secret credentials: expiry:peerId and base64 HMAC-SHA1", async () => {
  const mint = turnIceServers({
    urls: "turn:10.1.2.3:3478",
    secret: "hunter2",
    ttlSeconds: 600,
    now,
  });
  const servers = await mint(_peer("peer-7"));
  assert.equal(servers.length, 1);
  const [turn] = servers;
  assert.equal(turn.urls, "turn:10.1.2.3:3478");
  assert.equal(turn.username, "1700000600:peer-7");
  const expected = createHmac("sha1", "hunter2").update("1700000600:peer-7").digest("base64");
  assert.equal(turn.credential, expected);
});

Deno.test("turnIceServers gives each peer its own credential and follows the clock", async () => {
  let t = now();
  const mint = turnIceServers({ urls: "turn:10.1.2.3:3478", secret: "s", now: () => t });
  const [a] = await mint(_peer("a"));
  const [b] = await mint(_peer("b"));
  assert.notEqual(a.credential, b.credential);
  assert.equal(a.username, `${t / 1000 + 86_400}:a`);
  t += 5_000;
  const [a2] = await mint(_peer("a"));
  assert.equal(a2.username, `${t / 1000 + 86_400}:a`);
  assert.notEqual(a2.credential, a.credential);
});

Deno.test("turnIceServers puts fixed servers and STUN before the TURN server", async () => {
  const mint = turnIceServers({
    urls: ["turn:10.1.2.3:3478", "turn:10.1.2.3:3478?transport=tcp"],
    secret: "s",
    stun: "stun:10.1.2.3:3478",
    iceServers: [{ urls: "stun:10.4.4.4:3478" }],
    now,
  });
  const servers = await mint(_peer("p"));
  assert.deepEqual(servers.slice(0, 2), [{ urls: "stun:10.4.4.4:3478" }, {
    urls: "stun:10.1.2.3:3478",
  }]);
  assert.deepEqual(servers[2].urls, ["turn:10.1.2.3:3478", "turn:10.1.2.3:3478?transport=tcp"]);
});

Deno.test("turnIceServers refuses a bad URL, an empty secret or a bad lifetime at once", () => {
  const ok = { urls: "turn:10.1.2.3:3478", secret: "s" };
  assert.throws(() => turnIceServers({ ...ok, urls: "http://10.1.2.3" }), TypeError);
  assert.throws(() => turnIceServers({ ...ok, urls: [] }), TypeError);
  assert.throws(() => turnIceServers({ ...ok, secret: "" }), TypeError);
  assert.throws(() => turnIceServers({ ...ok, stun: "turn:10.1.2.3" }), TypeError);
  assert.throws(() => turnIceServers({ ...ok, ttlSeconds: 0 }), RangeError);
  assert.throws(() => turnIceServers({ ...ok, ttlSeconds: 1.5 }), RangeError);
});

Deno.test("turnIceServers keeps the secret out of anything it returns or can be printed", async () => {
  const secret = "do-not-print-me";
  const mint = turnIceServers({ urls: "turn:10.1.2.3:3478", secret, now });
  assert.ok(!JSON.stringify(await mint(_peer("p"))).includes(secret));
  assert.ok(!Deno.inspect(mint, { depth: 10, showHidden: true }).includes(secret));
});
