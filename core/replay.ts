/**
 * Resume after a reconnect (docs/protocol.md, "Resume"): the host numbers its broadcast
 * messages in a stream and keeps the latest in a {@link ReplayBuffer}, bounded by bytes and
 * by age; a viewer's {@link ResumeCursor} follows the numbers and says in its next `ready`
 * where it stopped, so that the host sends what it missed, in order, exactly once, or tells
 * it there is a gap. Viewers that did not ask for it (version 1 as written) get nothing new.
 *
 * @module
 */
import { Coalescer, type MessageIdAllocator } from "./framing.ts";
import type { Counter } from "./metrics.ts";
import { type ControlFrame, type ResumeRequest, resumeRequest } from "./protocol.ts";
import type { RtcMessage } from "./rtc.ts";

/**
 * Bounds of a host's replay buffer (`replay` in {@link HostOptions}): a message leaves it
 * once the newer ones hold `maxBytes` of payload, or once it is `maxAgeMs` old. `maxBytes`
 * 0 keeps nothing: viewers that come back are told of their gap at once.
 *
 * @example
 * ```ts
 * import { DEFAULT_REPLAY_OPTIONS, type ReplayOptions } from "@shoal/shoal";
 *
 * const longer: ReplayOptions = { ...DEFAULT_REPLAY_OPTIONS, maxAgeMs: 5 * 60_000 };
 * console.assert(longer.maxBytes === 4 * 1024 * 1024);
 * ```
 */
export interface ReplayOptions {
  /** Payload bytes kept at most (default 4 MiB). */
  maxBytes: number;
  /** Age at which a message is forgotten, ms (default 60 000). */
  maxAgeMs: number;
}

/**
 * Defaults of {@link ReplayOptions}: 4 MiB and one minute.
 *
 * @example
 * ```ts
 * import { DEFAULT_REPLAY_OPTIONS } from "@shoal/shoal";
 *
 * console.assert(DEFAULT_REPLAY_OPTIONS.maxAgeMs === 60_000);
 * ```
 */
export const DEFAULT_REPLAY_OPTIONS: ReplayOptions = {
  maxBytes: 4 * 1024 * 1024,
  maxAgeMs: 60_000,
};

/** Where a replay buffer counts: resumes by `outcome` (`hit`, `miss`), messages replayed. */
export interface ReplayCounters {
  /** Viewers that came back with a position, by `outcome`: `hit` or `miss` (a gap). */
  replays?: Counter;
  /** Messages sent again from the buffer. */
  replayed?: Counter;
}

/** The `direct` control frame of one message, as sent before each. */
const _DIRECT_ONE = JSON.stringify({ t: "direct", count: 1 } satisfies ControlFrame);

/**
 * The host's side: numbers every broadcast message of its stream (from 1), keeps the latest
 * within its bounds, and starts each viewer that asked for it at the right number.
 *
 * @example
 * ```ts
 * import { MessageIdAllocator, ReplayBuffer } from "@shoal/shoal";
 *
 * const replay = new ReplayBuffer();
 * for (const m of ["a", "b", "c"]) replay.push(new TextEncoder().encode(m));
 * // A viewer that last got message 1 of this stream gets the seq frame and 2 and 3 again.
 * const start = replay.start({ stream: replay.stream, last: 1 }, new MessageIdAllocator());
 * console.assert(start[0] === JSON.stringify({ t: "seq", stream: replay.stream, next: 2 }));
 * ```
 */
export class ReplayBuffer {
  /** This host's stream: random, so that a restarted host is never taken for this one. */
  readonly stream: string = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  /** The options in force. */
  readonly options: ReplayOptions;
  #now: () => number;
  #counters: ReplayCounters;
  #last = 0;
  #payloads: Uint8Array[] = [];
  #times: number[] = [];
  #head = 0;
  #bytes = 0;

  /** Makes an empty buffer with `options`, the clock `now` (ms) and where to count resumes. */
  constructor(
    options: Partial<ReplayOptions> = {},
    now: () => number = () => performance.now(),
    counters: ReplayCounters = {},
  ) {
    this.options = { ...DEFAULT_REPLAY_OPTIONS, ...options };
    this.#now = now;
    this.#counters = counters;
  }

  /** The number of the latest message (0 before the first). */
  get last(): number {
    return this.#last;
  }

  /** Messages held. */
  get size(): number {
    return this.#payloads.length - this.#head;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The `direct` frame that goes before a message to one viewer that follows numbers. */
  get direct(): string {
    return _DIRECT_ONE;
  }

  /** Numbers `payload` (a copy is kept, so the caller may reuse it); returns its number. */
  push(payload: Uint8Array): number {
    const seq = ++this.#last;
    const now = this.#now();
    if (payload.byteLength > this.options.maxBytes) {
      this.#clear(); // the run of held messages must stay unbroken
    } else {
      this.#payloads.push(payload.slice());
      this.#times.push(now);
      this.#bytes += payload.byteLength;
    }
    this.#evict(now);
    return seq;
  }

  /**
   * What goes first on the channel of a viewer whose `ready` carried `resume` (any value;
   * `[]` when it is absent or malformed: a version-1 viewer): the `seq` frame, then, when
   * the viewer comes back to this stream, the messages after its `last`, encoded with
   * `ids`: all of them (a hit), or those still held (a miss: the viewer sees its gap in the
   * `seq` frame). Counts a hit or a miss when it came back.
   */
  start(resume: unknown, ids: MessageIdAllocator): RtcMessage[] {
    const r: ResumeRequest | undefined = resumeRequest(resume);
    if (!r) return [];
    this.#evict(this.#now());
    const first = this.#last - this.size + 1;
    const from = r.last === undefined ? undefined : r.last + 1;
    const hit = r.stream === this.stream && from !== undefined && from >= first &&
      from <= this.#last + 1;
    if (r.stream !== undefined && from !== undefined) {
      this.#counters.replays?.inc({ outcome: hit ? "hit" : "miss" });
    }
    // A viewer of this stream that needs more than is held gets what is held: its gap is
    // only what was forgotten. Any other starts with the next message.
    const next = hit
      ? from!
      : r.stream === this.stream && from !== undefined && from < first
      ? first
      : this.#last + 1;
    const out: RtcMessage[] = [
      JSON.stringify({ t: "seq", stream: this.stream, next } satisfies ControlFrame),
    ];
    if (next > this.#last) return out;
    const coalescer = new Coalescer(ids);
    for (let i = this.#head + (next - first); i < this.#payloads.length; i++) {
      out.push(...coalescer.push(this.#payloads[i]));
    }
    out.push(...coalescer.flush());
    this.#counters.replayed?.inc(undefined, this.#last - next + 1);
    return out;
  }

  #evict(now: number): void {
    const { maxBytes, maxAgeMs } = this.options;
    while (
      this.#head < this.#payloads.length &&
      (this.#bytes > maxBytes || now - this.#times[this.#head] > maxAgeMs)
    ) {
      this.#bytes -= this.#payloads[this.#head].byteLength;
      this.#payloads[this.#head] = undefined!;
      this.#head++;
    }
    if (this.#head === this.#payloads.length) this.#clear();
    else if (this.#head > 1024 && this.#head * 2 > this.#payloads.length) {
      this.#payloads = this.#payloads.slice(this.#head);
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }

  #clear(): void {
    this.#payloads = [];
    this.#times = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}

/**
 * A hole in what a viewer received (the `gap` event of a {@link Viewer}): `evicted` when
 * the host no longer held messages `from`..`to` of `stream`; `new-stream` when the host it
 * came back to is another one (restarted), so that what it missed cannot be known. Either
 * way the application should fetch a snapshot.
 *
 * @example
 * ```ts
 * import type { ResumeGap } from "@shoal/shoal";
 *
 * const gap: ResumeGap = { reason: "evicted", stream: "3f9a0c1d2e4b5a69", from: 42, to: 97 };
 * console.assert(gap.to! - gap.from! + 1 === 56);
 * ```
 */
export interface ResumeGap {
  /** Why. */
  reason: "evicted" | "new-stream";
  /** The stream the viewer receives now. */
  stream: string;
  /** First missed number (`evicted`). */
  from?: number;
  /** Last missed number (`evicted`). */
  to?: number;
}

/**
 * The viewer's side: follows the host's `seq` and `direct` frames, says where it stopped in
 * each `ready`, finds gaps, and drops a message it already delivered.
 *
 * @example
 * ```ts
 * import { ResumeCursor } from "@shoal/shoal";
 *
 * const cursor = new ResumeCursor();
 * console.assert(JSON.stringify(cursor.ready()) === "{}");
 * cursor.control({ t: "seq", stream: "s1", next: 1 });
 * console.assert(cursor.message() && cursor.message()); // messages 1 and 2
 * // The channel broke; the next ready asks for what follows message 2.
 * console.assert(JSON.stringify(cursor.ready()) === '{"stream":"s1","last":2}');
 * const gap = cursor.control({ t: "seq", stream: "s1", next: 9 });
 * console.assert(gap?.reason === "evicted" && gap.from === 3 && gap.to === 8);
 * ```
 */
export class ResumeCursor {
  #stream?: string;
  /** The first number not delivered yet. */
  #next = 0;
  /** The number of the next sequenced message on this connection (undefined: unnumbered). */
  #at?: number;
  #direct = 0;

  /** Starts from a position saved earlier (see {@link ResumeCursor.position}). */
  constructor(from?: { stream: string; last: number }) {
    if (from) {
      this.#stream = from.stream;
      this.#next = from.last + 1;
    }
  }

  /** Where the viewer stands: its stream and the last number received, once it has one. */
  get position(): { stream: string; last: number } | undefined {
    return this.#stream === undefined ? undefined : { stream: this.#stream, last: this.#next - 1 };
  }

  /** The `resume` of the `ready` of a new connection (until its `seq`, nothing is numbered). */
  ready(): ResumeRequest {
    this.#at = undefined;
    this.#direct = 0;
    return this.position ?? {};
  }

  /** Takes a `seq` or `direct` frame; returns the gap it reveals, if any. */
  control(frame: ControlFrame): ResumeGap | undefined {
    if (frame.t === "direct") {
      this.#direct += frame.count;
      return;
    }
    if (frame.t !== "seq") return;
    const { stream, next } = frame;
    let gap: ResumeGap | undefined;
    if (this.#stream !== undefined && stream !== this.#stream) {
      gap = { reason: "new-stream", stream };
    } else if (this.#stream !== undefined && next > this.#next) {
      gap = { reason: "evicted", stream, from: this.#next, to: next - 1 };
    }
    if (stream !== this.#stream || next > this.#next) this.#next = next;
    this.#stream = stream;
    this.#at = next;
    this.#direct = 0;
    return gap;
  }

  /** Counts one application message; false when it is one delivered before (drop it). */
  message(): boolean {
    if (this.#direct > 0) {
      this.#direct--;
      return true;
    }
    if (this.#at === undefined) return true;
    const n = this.#at++;
    if (n < this.#next) return false;
    this.#next = n + 1;
    return true;
  }
}
