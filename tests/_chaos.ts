// Shared machinery of the chaos tests: a broadcasting host that remembers when each viewer
// became ready, and the checks every chaos test ends with.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import type { SwarmViewerSummary } from "../cli/swarm.ts";
import { Host, type HostOptions } from "../core/host.ts";
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";
import type { RtcAdapter } from "../core/rtc.ts";

export const loopback = (): RtcAdapter => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

/** A host that broadcasts `SEQ TS payload` messages and notes the seq at each ready. */
export class ChaosHost implements AsyncDisposable {
  seq = 0;
  readonly readyAt = new Map<string, number>();
  #timer?: ReturnType<typeof setInterval>;

  private constructor(readonly host: Host) {
    host.on("peer", (p) => {
      if (p.state === "ready") this.readyAt.set(p.peerId, this.seq);
    });
  }

  static async start(server: string, options: Partial<HostOptions> = {}): Promise<ChaosHost> {
    return new ChaosHost(await Host.start({ rtc: loopback(), server, ...options }));
  }

  /** Broadcasts one message every `everyMs` until stopped. */
  broadcast(everyMs = 10): void {
    this.#timer ??= setInterval(() => {
      this.host.broadcast(`${this.seq++} ${performance.timeOrigin + performance.now()} chaos`);
    }, everyMs);
  }

  /** Stops broadcasting; returns the last seq sent. */
  stop(): number {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return this.seq - 1;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    await this.host.close();
  }
}

/**
 * Every surviving viewer (ready now) got every message broadcast since its latest ready,
 * in order, through `last`. `readyAt` maps peer ids to the seq at the host's ready.
 */
export function assertSurvivorsComplete(
  viewers: SwarmViewerSummary[],
  last: number,
  readyAt?: Map<string, number>,
): void {
  for (const v of viewers.filter((v) => v.state === "ready")) {
    const where = `viewer ${v.i} (${v.peerId})`;
    assert.equal(v.outOfOrder, 0, `${where}: out of order`);
    assert.equal(v.lastSeq, last, `${where}: last message`);
    const at = readyAt?.get(v.peerId!);
    if (at !== undefined) {
      assert.ok(v.firstSeq! <= at, `${where}: first ${v.firstSeq} > ready at ${at}`);
    }
  }
}

/** Every offer was answered, aborted, failed or timed out while awaiting its answer. */
export function assertCountersAddUp(m: HostMetricsSnapshot): void {
  const unanswered = Object.entries(m.outcomesByPhase)
    .filter(([k]) => k.endsWith("/answer"))
    .reduce((n, [, v]) => n + v, 0);
  assert.equal(
    m.signaling.offers,
    m.signaling.answers + unanswered,
    `offers ${m.signaling.offers} ≠ answers ${m.signaling.answers} + unanswered ${unanswered} (${
      JSON.stringify(m.outcomesByPhase)
    })`,
  );
  assert.equal(m.handshakes.inFlight, 0, "no handshake left in flight");
}

/** The host holds state only for `alive` viewers, every one of them ready. */
export function assertHostHolds(m: HostMetricsSnapshot, alive: number): void {
  assert.equal(m.peers.length, alive, `host knows ${m.peers.map((p) => `${p.peerId}:${p.state}`)}`);
  assert.ok(m.peers.every((p) => p.state === "ready"), JSON.stringify(m.states));
}
