/**
 * One ready viewer's data channel as the host drives it: a bounded send queue drained
 * while the channel's `bufferedAmount` is under a high-water mark, a frame decoder for what
 * the viewer sends back, heartbeats with RTT, and one `close` with a reason.
 *
 * @module
 */
import { delay } from "./async.ts";
import { FrameDecoder } from "./frame_decoder.ts";
import { FramingError, type FramingErrorCode } from "./framing.ts";
import { Heartbeat } from "./heartbeat.ts";
import { type ControlFrame, type KnownByeReason, parseControlFrame } from "./protocol.ts";
import type { RtcDataChannel, RtcMessage, RtcPeerConnection } from "./rtc.ts";

/** Bytes of a queued frame (a control frame's UTF-16 length stands in for its bytes). */
const _size = (m: RtcMessage) => typeof m === "string" ? m.length : m.byteLength;

/**
 * Why the host dropped a viewer: `slow` (backlog over its limits while far behind the
 * other viewers), `heartbeat-timeout`, `capacity`, `kicked`, `shutdown`, `closed` (the
 * channel closed), `left` (the viewer left the session), or bad input from the viewer
 * (docs/protocol.md): `bad-frame` (a binary frame of an unknown kind or malformed),
 * `bad-length` (a chunked message that lies about its length), `bad-control` (a text frame
 * that is not a valid control frame) or `flood` (more control frames than
 * `maxControlPerSecond`). The viewer is told the same reason in its `bye`;
 * `host.metrics().drops` counts them.
 *
 * @example
 * ```ts
 * import type { DropReason } from "@shoal/shoal";
 *
 * const viewersFault = (r: DropReason) => r === "slow" || r.startsWith("bad-") || r === "flood";
 * console.assert(viewersFault("bad-length"));
 * ```
 */
export type DropReason = KnownByeReason | "closed" | "left";

/**
 * Send-path settings of each viewer's link: water marks on the channel's
 * `bufferedAmount` (the low one on shoal's own queue also says when it is backed up),
 * and the backlog (bytes, or age of the oldest unsent frame) at which a viewer is dropped
 * as slow, if the other viewers keep up. A host takes any of them in `limits`.
 *
 * @example
 * ```ts
 * import { DEFAULT_LINK_LIMITS, type LinkLimits } from "@shoal/shoal";
 *
 * const strict: LinkLimits = { ...DEFAULT_LINK_LIMITS, maxLagMs: 1_000 };
 * console.assert(strict.highWaterMark === DEFAULT_LINK_LIMITS.highWaterMark);
 * ```
 */
export interface LinkLimits {
  /** Stop handing frames to the channel above this `bufferedAmount` (bytes). */
  highWaterMark: number;
  /**
   * Resume when `bufferedAmount` falls to this (bytes). The viewer is backed up once shoal's
   * own queue for it holds more than this too, until that queue is empty again.
   */
  lowWaterMark: number;
  /**
   * Queued plus buffered bytes above which the viewer is dropped as slow, if it has been
   * far behind the others for half of `maxLagMs` (at once when a broadcast needs the room).
   * When most viewers lag together the host is the bottleneck and nobody is dropped; a lone
   * viewer is never blamed.
   */
  maxBufferedBytes: number;
  /**
   * Age of the oldest unsent frame above which the viewer is dropped as slow (ms), likewise,
   * once it has been far behind the others for half of this.
   * A tenth of it, when also twice the others' 90th percentile, is how far behind a viewer may
   * fall before the producer stops waiting for it.
   */
  maxLagMs: number;
  /** Largest message the viewer may send (bytes). */
  maxMessageBytes: number;
  /** Control frames (pings and the like) the viewer may send per second before `flood`. */
  maxControlPerSecond: number;
}

/** Framing violations that mean a chunked message lied about its length (`bad-length`). */
const _LENGTH_LIES: ReadonlySet<FramingErrorCode> = new Set<FramingErrorCode>([
  "message-too-large",
  "length-mismatch",
  "overflow",
  "interleaved-chunk",
  "interrupted-message",
]);

/** Counters of one link. */
export interface LinkStats {
  /** Application bytes (frames) handed to the channel. */
  bytesSent: number;
  /** Frames handed to the channel. */
  framesSent: number;
  /** Application messages received. */
  messagesReceived: number;
  /** Bytes received (frames). */
  bytesReceived: number;
  /** Control frames of a type this version does not know, ignored (PROTOCOL.md §2). */
  unknownControl: number;
  /** Last measured round-trip time, ms. */
  rttMs?: number;
}

/** What a link reports to its owner. */
export interface LinkEvents {
  /** A whole application message from the viewer. */
  message(payload: Uint8Array): void;
  /** The link closed (by either side); called once. */
  closed(reason: DropReason, detail: string): void;
  /** It became backed up (`true`: shoal's queue past the low-water mark) or not (empty). */
  backlog(backedUp: boolean): void;
}

/**
 * One viewer's channel.
 */
export class PeerLink {
  /** Counters. */
  readonly stats: LinkStats = {
    bytesSent: 0,
    framesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    unknownControl: 0,
  };
  #queue: RtcMessage[] = [];
  #times: number[] = [];
  #head = 0;
  #queuedBytes = 0;
  #decoder: FrameDecoder;
  #offs: Array<() => void> = [];
  #closed = false;
  #heartbeat: Heartbeat;
  #controlWindow = { start: -Infinity, count: 0 };
  #done: Promise<void> = Promise.resolve();
  #backedUp = false;

  constructor(
    readonly peerId: string,
    readonly label: string,
    readonly pc: RtcPeerConnection,
    readonly channel: RtcDataChannel,
    readonly limits: LinkLimits,
    readonly events: LinkEvents,
    readonly now: () => number = () => performance.now(),
  ) {
    this.#decoder = new FrameDecoder({ maxMessageBytes: limits.maxMessageBytes });
    this.#heartbeat = new Heartbeat(now);
    channel.bufferedAmountLowThreshold = limits.lowWaterMark;
    this.#offs.push(
      channel.on("bufferedamountlow", () => this.flush()),
      channel.on("close", () => this.close("closed", "the data channel closed", false)),
      pc.on("connectionstatechange", (s) => {
        if (s === "failed" || s === "closed") this.close("closed", `connection ${s}`, false);
      }),
    );
  }

  /** Whether the link is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued here and not yet handed to the channel. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Frames queued here. */
  get queuedFrames(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Whether it is backed up: its channel is at the high-water mark and shoal's queue for it
   * went over the low-water mark, until that queue is empty again.
   */
  get backedUp(): boolean {
    return this.#backedUp;
  }

  /** The channel's own buffer, bytes. */
  get bufferedAmount(): number {
    return this.#closed ? 0 : this.channel.bufferedAmount;
  }

  /** Age of the oldest queued frame (0 when none), ms. */
  lag(now: number = this.now()): number {
    return this.queuedFrames > 0 ? now - this.#times[this.#head] : 0;
  }

  /** Handles one message from the channel. */
  receive(message: RtcMessage): void {
    if (this.#closed) return;
    if (typeof message === "string") return this.#control(message);
    this.stats.bytesReceived += message.byteLength;
    let messages: Uint8Array[];
    try {
      messages = this.#decoder.push(message);
    } catch (error) {
      if (!(error instanceof FramingError)) return this.close("bad-frame", String(error));
      const reason = _LENGTH_LIES.has(error.code) ? "bad-length" : "bad-frame";
      return this.close(reason, `${error.code}: ${error.message}`);
    }
    for (const m of messages) {
      this.stats.messagesReceived++;
      this.events.message(m);
    }
  }

  /**
   * Queues frames (already encoded, shared with other links; text is a control frame that
   * must keep its place among them) and sends what the channel takes. Returns false when
   * the link is closed. Whether it is slow is the fan-out's call, made
   * against the other viewers.
   */
  enqueue(frames: readonly RtcMessage[], at: number = this.now()): boolean {
    if (this.#closed) return false;
    for (const f of frames) {
      this.#queue.push(f);
      this.#times.push(at);
      this.#queuedBytes += _size(f);
    }
    this.flush();
    if (!this.#backedUp && this.#queuedBytes > this.limits.lowWaterMark) {
      this.#backedUp = true;
      this.events.backlog(true);
    }
    return true;
  }

  /** Hands queued frames to the channel while it is under the high-water mark. */
  flush(): void {
    if (this.#closed || this.channel.readyState !== "open") return;
    const high = this.limits.highWaterMark;
    try {
      while (this.#head < this.#queue.length && this.channel.bufferedAmount < high) {
        const frame = this.#queue[this.#head];
        this.channel.send(frame);
        this.#queue[this.#head] = undefined!;
        this.#head++;
        this.#queuedBytes -= _size(frame);
        this.stats.bytesSent += _size(frame);
        this.stats.framesSent++;
      }
    } catch (error) {
      this.close("closed", `send failed: ${error instanceof Error ? error.message : error}`, false);
      return;
    }
    if (this.#head > 256 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#times = [];
      this.#head = 0;
    }
    if (this.#backedUp && this.#queuedBytes === 0) {
      this.#backedUp = false;
      this.events.backlog(false);
    }
  }

  /** Sends a heartbeat ping; returns false (and closes) after `maxMissed` unanswered. */
  ping(maxMissed: number): boolean {
    if (this.#closed) return false;
    const ping = this.#heartbeat.next(maxMissed);
    if (!ping) {
      this.close("heartbeat-timeout", `${this.#heartbeat.missed} pings unanswered`);
      return false;
    }
    this.#sendControl(ping);
    return true;
  }

  /**
   * Says `bye` with `reason` (when `tell`), closes the peer connection and reports the
   * close once. Idempotent.
   */
  close(reason: DropReason, detail: string, tell = true): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#offs.splice(0)) off();
    if (this.#backedUp) {
      this.#backedUp = false;
      this.events.backlog(false);
    }
    this.#queue = [];
    this.#times = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#done = tell ? sayBye(this.channel, this.pc, reason) : this.pc.close().catch(() => {});
    this.events.closed(reason, detail);
  }

  /** Resolves once the peer connection is closed (immediately if the link is open). */
  get done(): Promise<void> {
    return this.#done;
  }

  #control(text: string): void {
    const now = this.now();
    const w = this.#controlWindow;
    if (now - w.start >= 1_000) Object.assign(w, { start: now, count: 0 });
    if (++w.count > this.limits.maxControlPerSecond) {
      const max = this.limits.maxControlPerSecond;
      return this.close("flood", `over ${max} control frames in one second`);
    }
    const parsed = parseControlFrame(text);
    if (!parsed.ok && parsed.code === "unknown-control") {
      // An addition to the protocol this version does not know: ignored, never a violation.
      this.stats.unknownControl++;
      return;
    }
    if (!parsed.ok) return this.close("bad-control", `bad control frame: ${parsed.message}`);
    const c = parsed.value;
    switch (c.t) {
      case "ping":
        return this.#sendControl({ t: "pong", n: c.n, ts: c.ts });
      case "pong": {
        const rtt = this.#heartbeat.pong(c.n);
        if (rtt !== undefined) this.stats.rttMs = rtt;
        return;
      }
      case "bye":
        return this.close("left", `viewer said bye${c.reason ? ` (${c.reason})` : ""}`, false);
      case "ready":
        return; // a repeated ready is harmless
    }
  }

  #sendControl(frame: ControlFrame): void {
    try {
      if (this.channel.readyState === "open") this.channel.send(JSON.stringify(frame));
    } catch {
      // The close event follows.
    }
  }
}

/** How long a `bye` gets to leave before its connection closes, ms. */
const _BYE_GRACE_MS = 50;

/**
 * Tells the viewer `bye` with `reason` (if its channel is open), lets it leave, then closes
 * the connection. Resolves once closed; never rejects.
 */
export async function sayBye(
  channel: RtcDataChannel,
  pc: RtcPeerConnection,
  reason: string,
): Promise<void> {
  try {
    if (channel.readyState === "open") channel.send(JSON.stringify({ t: "bye", reason }));
  } catch {
    // The close event follows.
  }
  await delay(_BYE_GRACE_MS);
  await pc.close().catch(() => {});
}
