import assert from "node:assert/strict";
import { Registry } from "../core/metrics.ts";

Deno.test("Registry renders counters, gauges and histograms in Prometheus text format", () => {
  const r = new Registry();
  const c = r.counter("shoal_msgs_total", "Messages.");
  c.inc({ kind: "offer" });
  c.inc({ kind: "offer" }, 2);
  c.inc({ kind: 'we"ird\n' });
  r.gauge("shoal_peers", "Peers.").set(4);
  const h = r.histogram("shoal_ms", "Durations.", [10, 100]);
  h.observe(5);
  h.observe(50);
  h.observe(500);
  const text = r.render();
  assert.match(text, /# TYPE shoal_msgs_total counter\n/);
  assert.match(text, /shoal_msgs_total\{kind="offer"\} 3\n/);
  assert.match(text, /shoal_msgs_total\{kind="we\\"ird\\n"\} 1\n/);
  assert.match(text, /shoal_peers 4\n/);
  assert.match(text, /shoal_ms_bucket\{le="10"\} 1\n/);
  assert.match(text, /shoal_ms_bucket\{le="100"\} 2\n/);
  assert.match(text, /shoal_ms_bucket\{le="\+Inf"\} 3\n/);
  assert.match(text, /shoal_ms_sum 555\n/);
  assert.match(text, /shoal_ms_count 3\n/);
  assert.ok(text.endsWith("\n"));
});

Deno.test("Registry returns the same metric for the same name and refuses a type clash", () => {
  const r = new Registry();
  assert.equal(r.counter("a", "A."), r.counter("a", "A."));
  assert.throws(() => r.gauge("a", "A."), TypeError);
  assert.throws(() => r.histogram("h", "H.", [2, 1]), RangeError);
});

Deno.test("Histogram estimates quantiles by bucket", () => {
  const h = new Registry().histogram("h", "H.", [1, 2, 4, 8]);
  for (const v of [1, 1, 2, 3, 7]) h.observe(v);
  assert.equal(h.quantile(0.5), 2);
  assert.equal(h.quantile(0.99), 8);
  assert.ok(Number.isNaN(new Registry().histogram("e", "E.", [1]).quantile(0.5)));
});
