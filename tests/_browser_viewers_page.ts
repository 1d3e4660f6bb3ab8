// Bundled into a page (see browser_viewers_test.ts): many `Viewer`s with the browser's own
// WebRTC in one page, driven from the Deno test through `globalThis.shoalViewers`.
import { browser } from "../adapters/browser.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { Viewer } from "../core/viewer.ts";

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

type _Native = {
  connectionState: string;
  iceConnectionState: string;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
};

/** Every native peer connection the page made, for `diagnose()`. */
const natives: _Native[] = [];
const g = globalThis as unknown as { RTCPeerConnection: new (c: unknown) => _Native };
const Native = g.RTCPeerConnection;
g.RTCPeerConnection = function (config: unknown) {
  const pc = new Native(config);
  natives.push(pc);
  return pc;
} as unknown as typeof Native;

async function _diagnose(pc: _Native, i: number): Promise<string> {
  const parts = [`pc ${i}: ${pc.connectionState}/${pc.iceConnectionState}`];
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "transport") parts.push(`dtls ${s.dtlsState} role ${s.dtlsRole}`);
    if (s.type === "candidate-pair" && (s.nominated || s.state === "succeeded")) {
      parts.push(`pair ${s.state} sent ${s.bytesSent} received ${s.bytesReceived}`);
    }
    if (s.type === "data-channel") parts.push(`channel ${s.state}`);
  }
  return parts.join(", ");
}

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
  async diagnose() {
    const stuck = natives.map((pc, i) => [pc, i] as const)
      .filter(([pc]) => pc.connectionState !== "connected" && pc.connectionState !== "closed");
    return await Promise.all(stuck.map(([pc, i]) => _diagnose(pc, i)));
  },
};
Object.assign(globalThis, { shoalViewers: page });
