// The server's limits: the counter stores (in memory, and in a real Redis shared by two
// "servers"), the Limiter on top of them, the client-address rule and the origin policy.
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { Registry } from "../core/metrics.ts";
import { type CounterStore, MemoryCounters } from "../server/counters.ts";
import { clientAddress } from "../server/client_address.ts";
import { Limiter, type Refusal, refusalResponse, type SocketLease } from "../server/limits.ts";
import { OriginPolicy } from "../server/origin.ts";
import { RedisCounters } from "../server/redis/counters.ts";
import { RedisLink } from "../server/redis/link.ts";
import { flushPrefix, REDIS_URL, redisTest } from "./_redis.ts";

function _isRefusal(x: SocketLease | Refusal | undefined): x is Refusal {
  return x !== undefined && "reason" in x;
}

/** One set of behaviours, run against every counter store. */
function _counterContract(
  name: string,
  open: () => Promise<{ a: CounterStore; b: CounterStore; close(): Promise<void> }>,
  test: (name: string, fn: () => Promise<void>) => void,
): void {
  test(`${name}: windows count events and the backoff doubles past the limit`, async () => {
    const s = await open();
    try {
      const o = { windowMs: 60_000, limit: 2, backoffMs: 100_000, maxBackoffMs: 250_000 };
      assert.equal((await s.a.hit("k", o)).count, 1);
      assert.equal((await s.b.hit("k", o)).count, 2, "the second store sees the first one's");
      assert.ok((await s.a.peek("k")).resetMs <= 60_000);
      assert.ok((await s.a.hit("k", o)).resetMs > 90_000, "first backoff 100 s");
      assert.ok((await s.b.hit("k", o)).resetMs > 190_000, "doubled to 200 s");
      const capped = await s.a.hit("k", o);
      assert.ok(capped.resetMs > 240_000 && capped.resetMs <= 250_000, "capped at 250 s");
      assert.deepEqual(await s.b.peek("other"), { count: 0, resetMs: 0 });
    } finally {
      await s.close();
    }
  });

  test(`${name}: windows end after windowMs`, async () => {
    const s = await open();
    try {
      await s.a.hit("short", { windowMs: 30, limit: 1 });
      await new Promise((r) => setTimeout(r, 60));
      assert.equal((await s.b.peek("short")).count, 0);
      assert.equal((await s.b.hit("short", { windowMs: 30, limit: 1 })).count, 1);
    } finally {
      await s.close();
    }
  });

  test(`${name}: leases count against a shared cap, and a lease not refreshed runs out`, async () => {
    const s = await open();
    try {
      assert.ok(await s.a.acquire("ws", "x", 2, 60_000));
      assert.ok(await s.b.acquire("ws", "y", 2, 60_000));
      assert.ok(!(await s.a.acquire("ws", "z", 2, 60_000)), "cap of 2 across both");
      assert.ok(await s.a.acquire("ws", "x", 2, 60_000), "a holder may acquire again");
      await s.b.release("ws", "y");
      assert.ok(await s.a.acquire("ws", "z", 2, 60_000));
      // Short leases: one refreshed, one left to run out (as a dead server's would).
      assert.ok(await s.a.acquire("short", "kept", 2, 80));
      assert.ok(await s.b.acquire("short", "lost", 2, 80));
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 40));
        await s.a.refresh([["short", "kept"]], 80);
      }
      assert.ok(await s.b.acquire("short", "new", 2, 80), "the lost lease ran out");
      assert.ok(!(await s.b.acquire("short", "more", 2, 80)), "the refreshed one holds");
    } finally {
      await s.close();
    }
  });
}

_counterContract("MemoryCounters", () => {
  const store = new MemoryCounters();
  return Promise.resolve({ a: store, b: store, close: () => store.close() });
}, (name, fn) => Deno.test(name, fn));

async function _redisPair(): Promise<{ a: CounterStore; b: CounterStore; close(): Promise<void> }> {
  const prefix = `shoal-test:${crypto.randomUUID().slice(0, 8)}:`;
  const log = getLogger(["shoal", "test"]);
  const links = await Promise.all(
    [1, 2].map(() => RedisLink.open({ url: REDIS_URL, prefix, log })),
  );
  return {
    a: new RedisCounters(links[0]),
    b: new RedisCounters(links[1]),
    close: async () => {
      await Promise.all(links.map((l) => l.close()));
      await flushPrefix(prefix);
    },
  };
}

_counterContract("RedisCounters (two servers on one Redis)", _redisPair, redisTest);

Deno.test("MemoryCounters forgets what ran out", async () => {
  let t = 0;
  await using store = new MemoryCounters({ now: () => t });
  for (let i = 0; i < 300; i++) await store.hit(`k${i}`, { windowMs: 10, limit: 1 });
  assert.ok(await store.acquire("ws", "h", 1, 10));
  assert.equal(store.size, 301);
  t = 11;
  assert.equal(store.size, 0);
});

Deno.test("Limiter refuses the session creation past the per-minute limit, with its code and a metric", async () => {
  const registry = new Registry();
  const refused = registry.counter("limited_total", "refusals");
  await using limiter = new Limiter({ limits: { sessionsPerMinute: 2 }, refused });
  assert.equal(await limiter.createSession("192.0.2.1"), undefined);
  assert.equal(await limiter.createSession("192.0.2.1"), undefined);
  const third = await limiter.createSession("192.0.2.1");
  assert.equal(third?.code, "too-many-session-creations");
  assert.equal(await limiter.createSession("192.0.2.2"), undefined, "another address");
  assert.equal(refused.get({ reason: "session-rate" }), 1);
  const res = refusalResponse(third!);
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) > 0);
  assert.deepEqual((await res.json()).error.code, "too-many-session-creations");
  assert.equal(limiter.sessionCap(5).code, "too-many-sessions");
  assert.equal(refused.get({ reason: "sessions" }), 1);
});

Deno.test("Limiter holds the open WebSockets of an address to its cap until one is released", async () => {
  await using limiter = new Limiter({ limits: { socketsPerAddress: 2 } });
  const first = await limiter.openSocket("192.0.2.1");
  const second = await limiter.openSocket("192.0.2.1");
  assert.ok(!_isRefusal(first) && !_isRefusal(second));
  const third = await limiter.openSocket("192.0.2.1");
  assert.ok(_isRefusal(third) && third.code === "too-many-sockets");
  assert.ok(!_isRefusal(await limiter.openSocket("192.0.2.9")), "another address");
  await first.release();
  await first.release(); // idempotent
  assert.ok(!_isRefusal(await limiter.openSocket("192.0.2.1")));
  assert.equal(limiter.leaseCount, 3);
});

Deno.test("Limiter backs an address off after failed hellos, and the backoff grows with each try", async () => {
  await using limiter = new Limiter({
    limits: { failedHellosPerAddress: 3, failedHelloBackoffMs: 120_000, maxBackoffMs: 3_600_000 },
  });
  for (let i = 0; i < 3; i++) {
    assert.equal(await limiter.checkHello("192.0.2.1", "S", "viewer"), undefined);
    await limiter.helloFailed("192.0.2.1", "S");
  }
  const a = await limiter.openSocket("192.0.2.1");
  assert.ok(_isRefusal(a) && a.code === "too-many-failed-hellos");
  const b = await limiter.checkHello("192.0.2.1", "S", "viewer");
  assert.ok(b !== undefined && b.code === "too-many-failed-hellos");
  assert.ok(b.retryAfterMs > a.retryAfterMs, `${b.retryAfterMs} > ${a.retryAfterMs}`);
  assert.ok(!_isRefusal(await limiter.openSocket("192.0.2.2")), "other addresses pass");
});

Deno.test("Limiter locks a session against viewers after failed hellos from many addresses, never its host", async () => {
  await using limiter = new Limiter({ limits: { failedHellosPerSession: 4 } });
  for (let i = 0; i < 4; i++) await limiter.helloFailed(`192.0.2.${i}`, "S");
  const viewer = await limiter.checkHello("198.51.100.1", "S", "viewer");
  assert.equal(viewer?.code, "session-locked");
  assert.equal(await limiter.checkHello("198.51.100.1", "S", "host"), undefined);
  assert.equal(await limiter.checkHello("198.51.100.1", "T", "viewer"), undefined);
});

Deno.test("Limiter with every limit at 0 refuses nothing", async () => {
  await using limiter = new Limiter({
    limits: {
      sessionsPerMinute: 0,
      socketsPerAddress: 0,
      failedHellosPerAddress: 0,
      failedHellosPerSession: 0,
    },
  });
  for (let i = 0; i < 50; i++) {
    assert.equal(await limiter.createSession("a"), undefined);
    assert.ok(!_isRefusal(await limiter.openSocket("a")));
    await limiter.helloFailed("a", "S");
    assert.equal(await limiter.checkHello("a", "S", "viewer"), undefined);
  }
  assert.throws(() => new Limiter({ limits: { sessionsPerMinute: -1 } }), RangeError);
});

Deno.test("Limiter refreshes its leases while sockets stay open and stops when the last closes", async () => {
  const store = new MemoryCounters();
  await using limiter = new Limiter({
    counters: store,
    limits: { socketsPerAddress: 1 },
    leaseTtlMs: 60,
  });
  const lease = await limiter.openSocket("192.0.2.1");
  assert.ok(!_isRefusal(lease));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!(await store.acquire("ws:192.0.2.1", "other", 1, 60)), "still held after 3 TTLs");
  await lease.release();
  assert.ok(await store.acquire("ws:192.0.2.1", "other", 1, 60));
  await store.close();
});

redisTest("Limiter on Redis counts an address's creations across two servers", async () => {
  const pair = await _redisPair();
  try {
    const one = new Limiter({ counters: pair.a, limits: { sessionsPerMinute: 3 } });
    const two = new Limiter({ counters: pair.b, limits: { sessionsPerMinute: 3 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await (i % 2 ? two : one).createSession("192.0.2.1"));
    assert.deepEqual(answers.map((a) => a?.code), [
      undefined,
      undefined,
      undefined,
      "too-many-session-creations",
    ]);
    await one.close();
    await two.close();
  } finally {
    await pair.close();
  }
});

Deno.test("clientAddress takes the socket's address unless told to trust X-Forwarded-For", () => {
  const r = (xff?: string) =>
    new Request("http://s/", { headers: xff ? { "x-forwarded-for": xff } : {} });
  assert.equal(clientAddress(r("203.0.113.5"), "127.0.0.1"), "127.0.0.1");
  const trust = { trustProxy: true };
  assert.equal(clientAddress(r("203.0.113.5, 10.0.0.2"), "127.0.0.1", trust), "203.0.113.5");
  assert.equal(clientAddress(r(" 203.0.113.5:4711 "), "127.0.0.1", trust), "203.0.113.5");
  assert.equal(clientAddress(r("[2001:db8::1]:443"), "127.0.0.1", trust), "2001:db8::/64");
  assert.equal(clientAddress(r("unknown"), "127.0.0.1", trust), "127.0.0.1", "not an address");
  assert.equal(clientAddress(r(), "127.0.0.1", trust), "127.0.0.1");
  assert.equal(clientAddress(r(), "::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(clientAddress(r(), "2001:db8:aa:bb:1:2:3:4"), "2001:db8:aa:bb::/64");
  assert.equal(
    clientAddress(r(), "2001:db8:aa:bb:ffff::1"),
    clientAddress(r(), "2001:db8:aa:bb::9"),
    "one /64, one key",
  );
  assert.equal(clientAddress(r(), "::1"), "0::/64");
});

Deno.test("OriginPolicy allows no Origin, the server's own and the listed ones, and refuses others with 403", async () => {
  const req = (origin?: string) =>
    new Request("http://127.0.0.1:9000/v1/sessions", {
      method: "POST",
      headers: origin ? { origin } : {},
    });
  const none = new OriginPolicy();
  assert.ok(none.allows(req()));
  assert.ok(none.allows(req("http://127.0.0.1:9000")));
  assert.ok(none.allows(req("https://127.0.0.1:9000")), "a TLS-ending proxy changes the scheme");
  assert.ok(!none.allows(req("http://127.0.0.1:9001")));
  assert.ok(!none.allows(req("null")));
  assert.ok(!none.allows(req("not a url")));
  const listed = new OriginPolicy(["https://app.example/", "http://localhost:3000"]);
  assert.deepEqual(listed.allowed, ["https://app.example", "http://localhost:3000"]);
  assert.ok(listed.allows(req("https://app.example")));
  assert.ok(listed.allows(req("HTTPS://APP.EXAMPLE")));
  assert.ok(!listed.allows(req("https://app.example.evil")));
  assert.ok(new OriginPolicy(["*"]).allows(req("https://anything.example")));
  assert.ok(new OriginPolicy(["null"]).allows(req("null")));
  assert.throws(() => new OriginPolicy(["app.example"]), TypeError);
  const res = none.refusal(req("https://evil.example"));
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.code, "origin-not-allowed");
});
