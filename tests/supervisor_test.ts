import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { type NegotiationJob, Supervisor } from "../core/supervisor.ts";

/** A negotiate function whose handshakes the test settles by hand. */
function manual() {
  const running = new Map<
    string,
    { job: NegotiationJob; resolve(): void; reject(e: Error): void }
  >();
  const started: string[] = [];
  let maxInFlight = 0;
  const negotiate = (job: NegotiationJob) =>
    new Promise<string>((resolve, reject) => {
      assert.ok(!running.has(job.peerId), `two handshakes for ${job.peerId}`);
      started.push(`${job.peerId}#${job.attempt}`);
      const entry = {
        job,
        resolve: () => {
          running.delete(job.peerId);
          resolve(`${job.peerId}#${job.attempt}`);
        },
        reject: (e: Error) => {
          running.delete(job.peerId);
          reject(e);
        },
      };
      running.set(job.peerId, entry);
      maxInFlight = Math.max(maxInFlight, running.size);
      job.signal.addEventListener("abort", () => entry.reject(new Error("aborted")), {
        once: true,
      });
    });
  return { running, started, negotiate, maxInFlight: () => maxInFlight };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("Supervisor negotiates 3 viewers in parallel", async () => {
  const m = manual();
  await using sup = new Supervisor({ negotiate: m.negotiate, dispose: () => {} });
  const ready: string[] = [];
  const allReady = new Promise<void>((resolve) =>
    sup.on("ready", (p) => ready.push(p) === 3 && resolve())
  );
  for (const id of ["a", "b", "c"]) sup.add(id, "");
  await tick();
  assert.equal(m.running.size, 3);
  for (const r of [...m.running.values()]) r.resolve();
  await allReady;
  assert.deepEqual(ready.sort(), ["a#1", "b#1", "c#1"]);
  assert.deepEqual(sup.counts(), { queued: 0, negotiating: 0, open: 0, ready: 3, closed: 0 });
});

Deno.test("Supervisor caps handshakes in flight and starts the queued ones in join order", async () => {
  const m = manual();
  await using sup = new Supervisor({
    negotiate: m.negotiate,
    dispose: () => {},
    maxConcurrentHandshakes: 2,
  });
  for (let i = 0; i < 6; i++) sup.add(`v${i}`, "");
  await tick();
  assert.deepEqual(m.started, ["v0#1", "v1#1"]);
  while (m.running.size > 0) {
    [...m.running.values()][0].resolve();
    await tick();
  }
  assert.deepEqual(m.started, ["v0#1", "v1#1", "v2#1", "v3#1", "v4#1", "v5#1"]);
  assert.equal(m.maxInFlight(), 2);
});

Deno.test("Supervisor ignores a duplicate join and never runs two handshakes for one viewer", async () => {
  const m = manual();
  await using sup = new Supervisor({ negotiate: m.negotiate, dispose: () => {} });
  sup.add("a", "");
  sup.add("a", "");
  await tick();
  assert.deepEqual(m.started, ["a#1"]);
  assert.ok(sup.requestOffer("a"), "a request-offer restarts the handshake");
  await tick();
  assert.deepEqual(m.started, ["a#1", "a#1"], "the old one was aborted before the new began");
});

Deno.test("Supervisor retries a failed handshake with backoff, then gives up", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    const m = manual();
    const failures: boolean[] = [];
    const sup = new Supervisor({
      negotiate: m.negotiate,
      dispose: () => {},
      maxAttempts: 3,
      retryDelayMs: { initial: 100, max: 1000 },
      random: () => 1,
    });
    sup.on("failed", (f) => failures.push(f.willRetry));
    sup.add("a", "");
    await clock.tickAsync(0);
    m.running.get("a")!.reject(new Error("answer timeout"));
    await clock.tickAsync(99);
    assert.deepEqual(m.started, ["a#1"], "no retry before the backoff");
    await clock.tickAsync(1);
    assert.deepEqual(m.started, ["a#1", "a#2"]);
    m.running.get("a")!.reject(new Error("again"));
    await clock.tickAsync(200);
    assert.deepEqual(m.started, ["a#1", "a#2", "a#3"], "the second delay doubles");
    m.running.get("a")!.reject(new Error("and again"));
    await clock.tickAsync(10_000);
    assert.equal(m.started.length, 3);
    assert.deepEqual(failures, [true, true, false]);
    assert.equal(sup.state("a"), "closed");
    await sup.close();
  } finally {
    clock.uninstall();
  }
});

Deno.test("Supervisor aborts a departed viewer's handshake and frees its slot", async () => {
  const m = manual();
  const disposed: string[] = [];
  await using sup = new Supervisor({
    negotiate: m.negotiate,
    dispose: (p) => disposed.push(p),
    maxConcurrentHandshakes: 1,
  });
  sup.add("a", "");
  sup.add("b", "");
  await tick();
  const job = m.running.get("a")!.job;
  sup.remove("a", "left");
  assert.ok(job.signal.aborted);
  await tick();
  assert.deepEqual(m.started, ["a#1", "b#1"], "the queue moved on at once");
  assert.equal(sup.state("a"), undefined, "nothing is kept for a departed viewer");
});

Deno.test("Supervisor disposes of a peer that became ready after its viewer left", async () => {
  const disposed: string[] = [];
  let finish!: () => void;
  await using sup = new Supervisor<string>({
    negotiate: (job) => new Promise((resolve) => finish = () => resolve(job.peerId)),
    dispose: (p, why) => disposed.push(`${p}:${why}`),
  });
  sup.add("a", "");
  await tick();
  sup.remove("a", "left");
  finish();
  await tick();
  assert.deepEqual(disposed, ["a:left"]);
});

Deno.test("Supervisor honours request-offer at most once per interval", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    const m = manual();
    const sup = new Supervisor({
      negotiate: m.negotiate,
      dispose: () => {},
      requestOfferIntervalMs: 1000,
    });
    sup.add("a", "");
    await clock.tickAsync(0);
    assert.equal(sup.requestOffer("a"), true);
    assert.equal(sup.requestOffer("a"), false);
    await clock.tickAsync(999);
    assert.equal(sup.requestOffer("a"), false);
    await clock.tickAsync(1);
    assert.equal(sup.requestOffer("a"), true);
    await clock.tickAsync(0);
    assert.equal(m.started.length, 3);
    await sup.close();
  } finally {
    clock.uninstall();
  }
});

Deno.test("Supervisor adapts its cap: up on success, halved on failure", async () => {
  const m = manual();
  await using sup = new Supervisor({
    negotiate: m.negotiate,
    dispose: () => {},
    maxConcurrentHandshakes: 8,
    maxConcurrentHandshakesCeiling: 10,
    maxAttempts: 1,
  });
  for (let i = 0; i < 4; i++) sup.add(`v${i}`, "");
  await tick();
  for (const r of [...m.running.values()]) r.resolve();
  await tick();
  assert.equal(sup.concurrency, 10);
  sup.add("x", "");
  await tick();
  m.running.get("x")!.reject(new Error("dtls"));
  await tick();
  assert.equal(sup.concurrency, 5);
});

Deno.test("Supervisor close aborts every handshake and makes nobody ready", async () => {
  const m = manual();
  const sup = new Supervisor({ negotiate: m.negotiate, dispose: () => {} });
  sup.add("a", "");
  sup.add("b", "");
  await tick();
  const jobs = [...m.running.values()].map((r) => r.job);
  const got: string[] = [];
  sup.on("ready", (p) => got.push(p));
  await sup.close();
  await sup.close();
  assert.ok(jobs.every((j) => j.signal.aborted));
  for (const r of [...m.running.values()]) r.resolve();
  await tick();
  assert.deepEqual(got, []);
});
