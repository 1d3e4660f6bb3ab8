import assert from "node:assert/strict";
import { abortable, backoff, delay } from "../core/async.ts";
import { Emitter } from "../core/emitter.ts";

Deno.test("delay rejects with the signal's reason when aborted, and leaves no timer", async () => {
  const c = new AbortController();
  const p = delay(10_000, { signal: c.signal });
  c.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  await assert.rejects(delay(1, { signal: AbortSignal.abort(new Error("early")) }), /early/);
});

Deno.test("abortable settles with the promise or the signal, whichever is first", async () => {
  assert.equal(await abortable(Promise.resolve(2), new AbortController().signal), 2);
  const c = new AbortController();
  const p = abortable(new Promise(() => {}), c.signal);
  c.abort(new Error("gone"));
  await assert.rejects(p, /gone/);
});

Deno.test("backoff doubles up to its cap with jitter in [1/2, 1]", () => {
  const o = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoff(0, { ...o, random: () => 1 }), 100);
  assert.equal(backoff(2, { ...o, random: () => 1 }), 400);
  assert.equal(backoff(10, { ...o, random: () => 1 }), 1000);
  assert.equal(backoff(10, { ...o, random: () => 0 }), 500);
});

Deno.test("Emitter delivers to listeners until unsubscribed and survives a throwing one", () => {
  const errors: unknown[] = [];
  const e = new Emitter<{ n: number }>((err) => errors.push(err));
  const seen: number[] = [];
  e.on("n", () => {
    throw new Error("bad listener");
  });
  const off = e.on("n", (n) => seen.push(n));
  e.emit("n", 1);
  off();
  e.emit("n", 2);
  assert.deepEqual(seen, [1]);
  // The throwing listener threw on both emits: it stays subscribed after throwing.
  assert.equal(errors.length, 2);
});
