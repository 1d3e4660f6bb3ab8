// Bundled into a page (see browser_viewers_test.ts): many `Viewer`s with the browser's own
// WebRTC in one page, driven from the Deno test through `globalThis.shoalViewers`.
import { browser } from "../adapters/browser.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { Viewer } from "../core/viewer.ts";
import { diagnoseStuck, trackNativePeers } from "./_native_peers.ts";

/** One viewer as the test sees it. */
export interface PageViewer {
  state: string;
  received: string[];
  /** Ms the join call took (signaling: session lookup, WebSocket, welcome). */
  joinMs?: number;
  error?: string;
}

/** What the page exposes as `globalThis.shoalViewers`. */
export interface ViewersPage {
  /** Joins `count` viewers at once; resolves when every join call has settled. */
  start(o: { sessionId: string; joinCode: string; count: number }): Promise<void>;
  /** Every viewer's state, messages and error; candidates the page's peers offered. */
  status(): { viewers: PageViewer[]; candidates: { mdns: number; address: number } };
  /** Sends `text` to the host from viewer `i`; false when it is not ready. */
  send(i: number, text: string): boolean;
  /** Closes every viewer. */
  close(): Promise<void>;
  /** What Chromium says of each native peer connection that is not connected (or closed). */
  diagnose(): Promise<string[]>;
}

/** Every native peer connection the page made, for `diagnose()`. */
const natives = trackNativePeers();

const decoder = new TextDecoder();
const viewers: Viewer[] = [];
const slots: PageViewer[] = [];
const candidates = { mdns: 0, address: 0 };
const base = browser();

/** The browser adapter, counting the candidates its peers offer by kind. */
const counting: RtcAdapter = {
  name: "browser",
  createPeerConnection(config) {
    const pc = base.createPeerConnection(config);
    pc.on("icecandidate", (c) => {
      if (!c) return;
      if (/\.local$/i.test(c.candidate.split(" ")[4] ?? "")) candidates.mdns++;
      else candidates.address++;
    });
    return pc;
  },
};

async function _one(i: number, sessionId: string, joinCode: string): Promise<void> {
  const slot: PageViewer = { state: "joining", received: [] };
  slots[i] = slot;
  const started = performance.now();
  try {
    const viewer = await Viewer.join({
      rtc: counting,
      server: location.origin,
      sessionId,
      joinCode,
      label: `chromium-${i}`,
    });
    viewers[i] = viewer;
    slot.joinMs = Math.round(performance.now() - started);
    slot.state = viewer.state;
    viewer.on("state", (s) => slot.state = s.state);
    void (async () => {
      for await (const m of viewer.messages()) slot.received.push(decoder.decode(m));
    })();
  } catch (error) {
    slot.state = "failed";
    slot.error = String(error);
  }
}

const page: ViewersPage = {
  async start({ sessionId, joinCode, count }) {
    const first = slots.length;
    await Promise.all(
      Array.from({ length: count }, (_, k) => _one(first + k, sessionId, joinCode)),
    );
  },
  status: () => ({ viewers: slots, candidates }),
  send: (i, text) => viewers[i]?.send(text) ?? false,
  async close() {
    await Promise.all(viewers.map((v) => v?.close()));
  },
  diagnose: () => diagnoseStuck(natives),
};
Object.assign(globalThis, { shoalViewers: page });
