/**
 * Resume as a property (fast-check): a host's ReplayBuffer and a viewer's ResumeCursor
 * through generated runs of broadcasts, messages to the viewer alone, partial deliveries,
 * broken connections (whatever was in flight is lost), reconnects and the passing of time,
 * with generated buffer bounds. Whatever happens, the viewer gets each broadcast at most
 * once and in order, every broadcast since it first joined is either delivered or inside a
 * gap it was told of, no gap covers a delivered message, and every direct message that was
 * not in flight at a break arrives.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameDecoder } from "../core/frame_decoder.ts";
import { MessageIdAllocator } from "../core/framing.ts";
import { parseControlFrame } from "../core/protocol.ts";
import { ReplayBuffer, ResumeCursor, type ResumeGap } from "../core/replay.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

type Op =
  | { op: "broadcast"; size: number }
  | { op: "direct" }
  | { op: "deliver"; k: number }
  | { op: "drop" }
  | { op: "connect" }
  | { op: "tick"; ms: number };

const _op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("broadcast"), size: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("direct") }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("deliver"), k: fc.nat(12) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("drop") }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("connect") }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("tick"), ms: fc.nat(500) }) },
) as fc.Arbitrary<Op>;

type Item = { ctl: string } | { msg: string };

/** Runs `ops` between a buffer with these bounds and one viewer; what the viewer saw. */
function simulate(ops: Op[], maxBytes: number, maxAgeMs: number) {
  let now = 0;
  const buffer = new ReplayBuffer({ maxBytes, maxAgeMs }, () => now);
  const ids = new MessageIdAllocator();
  const cursor = new ResumeCursor();
  let queue: Item[] = [];
  let connected = false;
  let firstExpected: number | undefined;
  const delivered: number[] = [];
  const directs = { sent: 0, lost: 0, got: 0 };
  const gaps: ResumeGap[] = [];
  const deliver = (k: number) => {
    for (const item of queue.splice(0, k)) {
      if ("ctl" in item) {
        const c = parseControlFrame(item.ctl);
        assert.ok(c.ok, item.ctl);
        const gap = cursor.control(c.value);
        if (gap) gaps.push(gap);
        if (c.value.t === "seq") firstExpected ??= c.value.next;
      } else if (cursor.message()) {
        if (item.msg === "direct") directs.got++;
        else delivered.push(Number(item.msg));
      }
    }
  };
  const connect = () => {
    if (connected) return;
    connected = true;
    const decoder = new FrameDecoder();
    for (const f of buffer.start(cursor.ready(), ids)) {
      if (typeof f === "string") queue.push({ ctl: f });
      else for (const m of decoder.push(f)) queue.push({ msg: dec.decode(m) });
    }
  };
  for (const o of ops) {
    if (o.op === "broadcast") {
      const n = buffer.last + 1;
      // The payload is its number, padded to the generated size.
      const text = String(n).padEnd(o.size, " ");
      assert.equal(buffer.push(enc.encode(text)), n);
      if (connected) queue.push({ msg: text });
    } else if (o.op === "direct" && connected) {
      directs.sent++;
      queue.push({ ctl: buffer.direct }, { msg: "direct" });
    } else if (o.op === "deliver") deliver(o.k);
    else if (o.op === "drop" && connected) {
      directs.lost += queue.filter((i) => "msg" in i && i.msg === "direct").length;
      queue = [];
      connected = false;
    } else if (o.op === "connect") connect();
    else if (o.op === "tick") now += o.ms;
  }
  connect();
  deliver(Infinity);
  return { delivered, gaps, directs, firstExpected, last: buffer.last };
}

Deno.test("a viewer that breaks and resumes at random gets every broadcast once, in order, or is told of its gap", () => {
  fc.assert(
    fc.property(
      fc.array(_op, { maxLength: 120 }),
      fc.nat(300),
      fc.integer({ min: 1, max: 2_000 }),
      (ops, maxBytes, maxAgeMs) => {
        const { delivered, gaps, directs, firstExpected, last } = simulate(ops, maxBytes, maxAgeMs);
        // At most once, in order.
        for (let i = 1; i < delivered.length; i++) assert.ok(delivered[i] > delivered[i - 1]);
        assert.equal(directs.got, directs.sent - directs.lost);
        assert.ok(gaps.every((g) => g.reason === "evicted"));
        // Every broadcast since the first join: delivered, or in a gap; never both.
        const inGap = (n: number) => gaps.some((g) => g.from! <= n && n <= g.to!);
        const got = new Set(delivered);
        for (let n = firstExpected ?? last + 1; n <= last; n++) {
          assert.ok(got.has(n) !== inGap(n), `message ${n}: delivered ${got.has(n)}`);
        }
      },
    ),
    { numRuns: 5_000, seed: 19 },
  );
});

Deno.test("with a buffer that forgets nothing, a viewer that breaks and resumes at random misses nothing and sees no gap", () => {
  fc.assert(
    fc.property(fc.array(_op, { maxLength: 120 }), (ops) => {
      const { delivered, gaps, firstExpected, last } = simulate(ops, 1e9, 1e9);
      assert.deepEqual(gaps, []);
      const from = firstExpected ?? last + 1;
      assert.deepEqual(delivered, Array.from({ length: last - from + 1 }, (_, i) => from + i));
    }),
    { numRuns: 5_000, seed: 20 },
  );
});
