/**
 * Bundled into a page for bench/chromium_join.ts (modelled on
 * tests/_browser_viewers_page.ts): any number of `Viewer`s with the browser's own WebRTC in
 * one page, driven through `globalThis.shoalBench`, with per-viewer timings and without
 * keeping messages.
 *
 * @module
 */
import { browser } from "../adapters/browser.ts";
import { Viewer } from "../core/viewer.ts";
import { diagnoseStuck, trackNativePeers } from "../tests/_native_peers.ts";

/** Where the page's viewers stand, and how long they took. */
export interface BenchPageStatus {
  /** Viewers started. */
  count: number;
  /** Viewers by state (`joining`, `failed`, or a `ViewerState`). */
  states: Record<string, number>;
  /** Viewers that reached `ready` at least once. */
  ready: number;
  /** Ms from `start()` to the last viewer's first `ready` (undefined until all are ready). */
  allReadyMs?: number;
  /** Ms each viewer took from its join call to its first `ready`, sorted. */
  readyMs: number[];
  /** Ms each join call took (signaling only), sorted. */
  joinMs: number[];
  /** The first few join errors. */
  errors: string[];
  /** Native peer connections the page made (retries make more than one per viewer). */
  peerConnections: number;
  /** HTTP requests (the session lookup) since `start()`: ms each took, and the last one's end. */
  fetches: Span;
  /** WebSockets since `start()`: ms from `new WebSocket` to `open`, and the last `open`. */
  sockets: Span;
}

/** Durations of some operations: how many, p50, max, and when the last one ended (ms since `start()`). */
export interface Span {
  n: number;
  p50?: number;
  max?: number;
  lastEnd?: number;
}

/** What the page exposes as `globalThis.shoalBench`. */
export interface BenchPage {
  /** Joins `count` viewers at once, labelled `<prefix><i>`; resolves when every join call settled. */
  start(o: { sessionId: string; joinCode: string; count: number; prefix: string }): Promise<void>;
  /** Where the viewers stand. */
  status(): BenchPageStatus;
  /** Closes every viewer. */
  close(): Promise<void>;
  /** What Chromium says of each native peer connection that is not connected (or closed). */
  diagnose(): Promise<string[]>;
  /** Each of `labels`: its states with ms since `start()`, e.g. `joined 40, connecting 52, ready 610`. */
  timelines(labels: string[]): Record<string, string>;
}

// Time the session lookups and the WebSocket opens (Chromium throttles WebSockets that are
// connecting at once in one renderer process).
const spans = { fetches: [] as Array<[number, number]>, sockets: [] as Array<[number, number]> };
const _fetch = globalThis.fetch;
globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
  const t = performance.now();
  try {
    return await _fetch(...args);
  } finally {
    spans.fetches.push([t - startedAt, performance.now() - t]);
  }
};
const _WebSocket = globalThis.WebSocket;
globalThis.WebSocket = class extends _WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    const t = performance.now();
    this.addEventListener(
      "open",
      () => spans.sockets.push([t - startedAt, performance.now() - t]),
      { once: true },
    );
  }
};

function _span(xs: Array<[number, number]>): Span {
  const d = xs.map(([, ms]) => ms).sort((a, b) => a - b);
  return {
    n: d.length,
    p50: d.length ? Math.round(d[d.length >> 1]) : undefined,
    max: d.length ? Math.round(d.at(-1)!) : undefined,
    lastEnd: d.length ? Math.round(Math.max(...xs.map(([at, ms]) => at + ms))) : undefined,
  };
}

/** Every native peer connection the page made, for `diagnose()`. */
const natives = trackNativePeers();

interface _Slot {
  label: string;
  state: string;
  /** `state ms` since start() for each change. */
  timeline: string[];
  joinMs?: number;
  readyMs?: number;
  readyAt?: number;
  error?: string;
}

const rtc = browser();
const viewers: Viewer[] = [];
const slots: _Slot[] = [];
let startedAt = 0;

async function _one(slot: _Slot, sessionId: string, joinCode: string) {
  const started = performance.now();
  try {
    const viewer = await Viewer.join({
      rtc,
      server: location.origin,
      sessionId,
      joinCode,
      label: slot.label,
    });
    viewers.push(viewer);
    slot.joinMs = performance.now() - started;
    slot.timeline.push(`joined ${Math.round(performance.now() - startedAt)}`);
    const seen = (state: string) => {
      slot.state = state;
      slot.timeline.push(`${state} ${Math.round(performance.now() - startedAt)}`);
      if (state === "ready" && slot.readyAt === undefined) {
        slot.readyAt = performance.now();
        slot.readyMs = slot.readyAt - started;
      }
    };
    seen(viewer.state);
    viewer.on("state", (s) => seen(s.state));
  } catch (error) {
    slot.state = "failed";
    slot.error = String(error);
  }
}

const page: BenchPage = {
  async start({ sessionId, joinCode, count, prefix }) {
    startedAt = performance.now();
    const mine = Array.from(
      { length: count },
      (_, i): _Slot => ({ label: `${prefix}${i}`, state: "joining", timeline: [] }),
    );
    slots.push(...mine);
    await Promise.all(mine.map((slot) => _one(slot, sessionId, joinCode)));
  },
  status() {
    const states: Record<string, number> = {};
    for (const s of slots) states[s.state] = (states[s.state] ?? 0) + 1;
    const ready = slots.filter((s) => s.readyAt !== undefined);
    const sorted = (xs: number[]) => xs.map(Math.round).sort((a, b) => a - b);
    return {
      count: slots.length,
      states,
      ready: ready.length,
      allReadyMs: slots.length && ready.length === slots.length
        ? Math.round(Math.max(...ready.map((s) => s.readyAt!)) - startedAt)
        : undefined,
      readyMs: sorted(ready.map((s) => s.readyMs!)),
      joinMs: sorted(slots.flatMap((s) => s.joinMs === undefined ? [] : [s.joinMs])),
      errors: slots.flatMap((s) => s.error ? [s.error] : []).slice(0, 5),
      peerConnections: natives.length,
      fetches: _span(spans.fetches),
      sockets: _span(spans.sockets),
    };
  },
  timelines(labels) {
    const out: Record<string, string> = {};
    for (const s of slots) if (labels.includes(s.label)) out[s.label] = s.timeline.join(", ");
    return out;
  },
  async close() {
    await Promise.all(viewers.map((v) => v.close()));
  },
  diagnose: () => diagnoseStuck(natives),
};
Object.assign(globalThis, { shoalBench: page });
