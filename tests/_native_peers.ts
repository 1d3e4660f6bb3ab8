// Bundled into browser pages (tests/_browser_viewers_page.ts, bench/_chromium_viewers_page.ts):
// keeps every native RTCPeerConnection the page makes and says what Chromium knows of the
// ones that did not connect.

/** The part of a native peer connection the diagnosis reads. */
export type NativePeer = {
  connectionState: string;
  iceConnectionState: string;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
};

/** Wraps the page's `RTCPeerConnection` constructor; returns the list it fills. */
export function trackNativePeers(): NativePeer[] {
  const natives: NativePeer[] = [];
  const g = globalThis as unknown as { RTCPeerConnection: new (c: unknown) => NativePeer };
  const Native = g.RTCPeerConnection;
  g.RTCPeerConnection = function (config: unknown) {
    const pc = new Native(config);
    natives.push(pc);
    return pc;
  } as unknown as typeof Native;
  return natives;
}

/** One line per peer connection that is neither connected nor closed: states, DTLS, pair. */
export function diagnoseStuck(natives: NativePeer[]): Promise<string[]> {
  const stuck = natives.map((pc, i) => [pc, i] as const)
    .filter(([pc]) => pc.connectionState !== "connected" && pc.connectionState !== "closed");
  return Promise.all(stuck.map(([pc, i]) => _diagnose(pc, i)));
}

async function _diagnose(pc: NativePeer, i: number): Promise<string> {
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
