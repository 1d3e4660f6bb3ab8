// The replay buffer and the resume cursor alone (core/replay.ts).
import assert from "node:assert/strict";
import { FrameDecoder } from "../core/frame_decoder.ts";
import { MessageIdAllocator } from "../core/framing.ts";
import { Counter } from "../core/metrics.ts";
import { ReplayBuffer, ResumeCursor } from "../core/replay.ts";
import type { RtcMessage } from "../core/rtc.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The seq frame and the messages a start yields, decoded. */
function decode(start: RtcMessage[]): { seq?: unknown; messages: string[] } {
  const decoder = new FrameDecoder();
  const messages: string[] = [];
  let seq: unknown;
  for (const f of start) {
    if (typeof f === "string") seq = JSON.parse(f);
    else for (const m of decoder.push(f)) messages.push(dec.decode(m));
  }
  return { seq, messages };
}

Deno.test("ReplayBuffer numbers messages from 1 and replays what follows a viewer's last, coalesced", () => {
  const replays = new Counter("r", "r");
  const replayed = new Counter("m", "m");
  const buffer = new ReplayBuffer({}, () => 0, { replays, replayed });
  for (let i = 1; i <= 500; i++) assert.equal(buffer.push(enc.encode(`m${i}`)), i);
  const start = buffer.start({ stream: buffer.stream, last: 200 }, new MessageIdAllocator());
  const { seq, messages } = decode(start);
  assert.deepEqual(seq, { t: "seq", stream: buffer.stream, next: 201 });
  assert.deepEqual(messages, Array.from({ length: 300 }, (_, i) => `m${i + 201}`));
  assert.ok(start.length < 10, `300 small messages in ${start.length - 1} frames`);
  assert.equal(replays.series().find((s) => s.labels.outcome === "hit")?.value, 1);
  assert.equal(replayed.total(), 300);
});

Deno.test("ReplayBuffer keeps a copy, so a broadcaster may reuse its buffer", () => {
  const buffer = new ReplayBuffer({}, () => 0);
  const scratch = enc.encode("first");
  buffer.push(scratch);
  scratch.set(enc.encode("XXXXX"));
  const { messages } = decode(
    buffer.start({ stream: buffer.stream, last: 0 }, new MessageIdAllocator()),
  );
  assert.deepEqual(messages, ["first"]);
});

Deno.test("ReplayBuffer forgets by bytes and by age, and a viewer that needs the forgotten gets what is left", () => {
  let now = 0;
  const replays = new Counter("r", "r");
  const buffer = new ReplayBuffer({ maxBytes: 100, maxAgeMs: 1_000 }, () => now, { replays });
  for (let i = 0; i < 20; i++) buffer.push(new Uint8Array(10)); // 200 bytes: the first 10 go
  assert.equal(buffer.size, 10);
  assert.equal(buffer.bytes, 100);
  const ids = new MessageIdAllocator();
  assert.equal(decode(buffer.start({ stream: buffer.stream, last: 10 }, ids)).messages.length, 10);
  // Message 10 is forgotten: the viewer gets what is held, 11..20, and sees its gap.
  const late = decode(buffer.start({ stream: buffer.stream, last: 8 }, ids));
  assert.deepEqual(late.seq, { t: "seq", stream: buffer.stream, next: 11 });
  assert.equal(late.messages.length, 10);
  now = 1_001;
  buffer.push(new Uint8Array(1));
  assert.equal(buffer.size, 1, "everything older than maxAgeMs is gone");
  now = 2_500;
  assert.equal(decode(buffer.start({ stream: buffer.stream, last: 20 }, ids)).messages.length, 0);
  assert.equal(buffer.size, 0);
  const by = (o: string) => replays.series().find((s) => s.labels.outcome === o)?.value;
  assert.equal(by("hit"), 1);
  assert.equal(by("miss"), 2);
});

Deno.test("ReplayBuffer: a message over maxBytes empties it, and a caught-up viewer still resumes", () => {
  const buffer = new ReplayBuffer({ maxBytes: 50 }, () => 0);
  buffer.push(new Uint8Array(10));
  buffer.push(new Uint8Array(60));
  assert.equal(buffer.size, 0);
  const ids = new MessageIdAllocator();
  const start = decode(buffer.start({ stream: buffer.stream, last: 2 }, ids));
  assert.deepEqual(start.seq, { t: "seq", stream: buffer.stream, next: 3 });
});

Deno.test("ReplayBuffer serves a version-1 viewer (no resume, or a malformed one) nothing new", () => {
  const buffer = new ReplayBuffer({}, () => 0);
  buffer.push(enc.encode("x"));
  const ids = new MessageIdAllocator();
  for (const resume of [undefined, true, "s", { last: -1 }, { stream: 5 }]) {
    assert.deepEqual(buffer.start(resume, ids), [], JSON.stringify(resume));
  }
  assert.equal(decode(buffer.start({}, ids)).messages.length, 0, "a fresh viewer: seq only");
  const other = decode(buffer.start({ stream: "another-host", last: 0 }, ids));
  assert.deepEqual(other.seq, { t: "seq", stream: buffer.stream, next: 2 });
});

Deno.test("ResumeCursor delivers each numbered message once, lets direct ones through, and finds gaps", () => {
  const cursor = new ResumeCursor();
  assert.deepEqual(cursor.ready(), {});
  assert.ok(cursor.message(), "before any seq frame, messages are not numbered");
  assert.equal(cursor.control({ t: "seq", stream: "s", next: 5 }), undefined);
  assert.ok(cursor.message() && cursor.message()); // 5, 6
  cursor.control({ t: "direct", count: 2 });
  assert.ok(cursor.message() && cursor.message()); // two direct ones
  assert.ok(cursor.message()); // 7
  assert.deepEqual(cursor.position, { stream: "s", last: 7 });
  assert.deepEqual(cursor.ready(), { stream: "s", last: 7 });
  // An overlapping replay: 6 and 7 again are dropped, 8 is new.
  assert.equal(cursor.control({ t: "seq", stream: "s", next: 6 }), undefined);
  assert.deepEqual([cursor.message(), cursor.message(), cursor.message()], [false, false, true]);
  cursor.ready();
  assert.deepEqual(cursor.control({ t: "seq", stream: "s", next: 12 }), {
    reason: "evicted",
    stream: "s",
    from: 9,
    to: 11,
  });
  assert.ok(cursor.message());
  assert.deepEqual(cursor.position, { stream: "s", last: 12 });
  cursor.ready();
  assert.deepEqual(cursor.control({ t: "seq", stream: "t", next: 3 }), {
    reason: "new-stream",
    stream: "t",
  });
  assert.deepEqual(cursor.position, { stream: "t", last: 2 });
  assert.deepEqual(new ResumeCursor({ stream: "t", last: 40 }).ready(), { stream: "t", last: 40 });
});
