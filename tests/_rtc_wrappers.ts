// Adapters that wrap another one, for tests: change or watch each peer connection it makes.
// Runtime-agnostic (bundled into a browser page too).
import type { RtcAdapter, RtcPeerConnection, RtcPeerConnectionConfig } from "../core/rtc.ts";

/** An adapter whose peer connections are of type `P` (a fake one, say). */
export interface AdapterOf<P extends RtcPeerConnection> extends RtcAdapter {
  createPeerConnection(config: RtcPeerConnectionConfig): P;
}

/** Wraps `base` so that `tweak(n, pc)` sees (and may change) the n-th peer connection. */
export function tweaked<P extends RtcPeerConnection>(
  base: AdapterOf<P>,
  tweak: (n: number, pc: P) => void,
): AdapterOf<P> {
  let n = 0;
  return {
    name: `${base.name}+tweaked`,
    createPeerConnection(config) {
      const pc = base.createPeerConnection(config);
      tweak(n++, pc);
      return pc;
    },
  };
}

/** Wraps `base` to count its peer connections not yet closed. */
export function counting(base: RtcAdapter): { adapter: RtcAdapter; open(): number; reset(): void } {
  let open = 0;
  const adapter = tweaked(base, (_, pc) => {
    open++;
    const close = pc.close.bind(pc);
    let closed = false;
    pc.close = () => {
      if (!closed) open--;
      closed = true;
      return close();
    };
  });
  return { adapter, open: () => open, reset: () => void (open = 0) };
}
