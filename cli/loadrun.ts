/**
 * The machinery behind `shoal demo` and `shoal bench`: an embedded signaling server, a
 * host in this process (werift or libdatachannel), viewers spread over swarm processes, a broadcast phase,
 * and the figures that come out of it.
 *
 * @module
 */
import { Host, type HostOptions } from "../core/host.ts";
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";
import type { SignalingServer } from "../server/mod.ts";
import { DEFAULT_RTC_STACK, RTC_FLAG, rtcAdapter, type RtcStack } from "./common.ts";
import { type LoadServer, startLoadServer } from "./server_proc.ts";
import {
  type BroadcastResult,
  type FloodResult,
  measureBroadcast,
  measureFlood,
  spawnSwarms,
  type SwarmProc,
} from "./swarm_proc.ts";

import { flagTable } from "./flags.ts";

export type { BroadcastResult, FloodResult } from "./swarm_proc.ts";

/** The flags of a load run that `demo`, `bench` and the benchmarks share. */
export const LOAD_FLAGS = flagTable({
  viewers: { type: "int", help: "viewers to start", default: 100, min: 1, max: 10_000 },
  processes: {
    type: "int",
    help: "processes the viewers are spread over",
    default: 4,
    min: 1,
    max: 64,
  },
  duration: { type: "int", help: "seconds of broadcast", default: 10, min: 1, max: 3600 },
  rate: { type: "int", help: "messages per second", default: 50, min: 1, max: 100_000 },
  size: { type: "int", help: "bytes per message", default: 1024, min: 48, max: 1 << 20 },
  json: { type: "string", help: "also write the results as JSON to this file" },
  "server-process": {
    type: "boolean",
    help: "run the signaling server in its own process (host figures without it)",
  },
  ...RTC_FLAG,
});

/** Options of a load run. */
export interface LoadRunOptions {
  /** Viewers in all. */
  viewers: number;
  /** Swarm processes they are spread over. */
  processes: number;
  /** Host options beyond the RTC adapter and the server. */
  host?: Partial<HostOptions>;
  /**
   * Run the signaling server in a process of its own, so that the host process (its RSS and
   * CPU) holds the host alone. Default: embedded in this process.
   */
  serverProcess?: boolean;
  /** The host's WebRTC stack. Default: the CLI's default. */
  rtc?: RtcStack;
  /** The viewers' WebRTC stack. Default: the host's. */
  viewerRtc?: RtcStack;
}

/** A signaling server, a host and swarms of viewers on this machine. */
export class LoadRun implements AsyncDisposable {
  #server?: LoadServer;
  host!: Host;
  #swarms: SwarmProc[] = [];
  #o: LoadRunOptions;
  /** When the viewers were told to join (performance.now()). */
  joinStarted = 0;
  /** Host RSS before any viewer joined. */
  idleRss = 0;

  constructor(options: LoadRunOptions) {
    this.#o = options;
  }

  /** Starts the server and the host. */
  async start(): Promise<void> {
    this.#server = await startLoadServer(this.#o.serverProcess);
    this.host = await Host.start({
      rtc: await rtcAdapter(this.#o.rtc ?? DEFAULT_RTC_STACK, "127.0.0.1"),
      server: this.serverUrl,
      maxViewers: Math.max(256, this.#o.viewers),
      maxPeers: Math.max(128, this.#o.viewers),
      ...this.#o.host,
    });
    this.idleRss = Deno.memoryUsage().rss;
    this.host.on("peer", (p) => {
      const now = performance.now();
      if (p.state === "queued") this.firstJoinAt ??= now;
      if (p.state === "ready") this.lastReadyAt = now;
    });
  }

  /** When the host first saw a viewer join (performance.now()). */
  firstJoinAt?: number;
  /** When the host last saw a viewer become ready. */
  lastReadyAt?: number;

  /** From the host's first join to its latest ready, ms: the join time without process start-up. */
  get hostAllReadyMs(): number {
    return Math.round((this.lastReadyAt ?? NaN) - (this.firstJoinAt ?? NaN));
  }

  /** Starts the swarm processes, all viewers joining at once. */
  join(): void {
    const { viewers, processes } = this.#o;
    this.#spawn((p) => Math.floor(viewers / processes) + (p < viewers % processes ? 1 : 0));
  }

  /** Starts empty swarm processes, then adds `perSecond` viewers a second until all joined. */
  async ramp(perSecond: number): Promise<void> {
    this.#spawn(() => 0);
    const every = 1000 / perSecond;
    for (let i = 0; i < this.#o.viewers; i++) {
      const swarm = this.#swarms[i % this.#swarms.length];
      swarm.alive.add(swarm.next++);
      await swarm.command("join 1");
      await new Promise((r) => setTimeout(r, every));
    }
  }

  /**
   * For `seconds`, `perSecond` times a second a random viewer leaves or a new one joins
   * (never below half the viewers). Returns how many left and joined.
   */
  async churn(
    seconds: number,
    perSecond: number,
    random: () => number,
  ): Promise<{ left: number; joined: number }> {
    let left = 0;
    let joined = 0;
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const swarm = this.#swarms[Math.floor(random() * this.#swarms.length)];
      if (random() < 0.5 && this.alive > this.#o.viewers / 2 && swarm.alive.size > 0) {
        const i = [...swarm.alive][Math.floor(random() * swarm.alive.size)];
        swarm.alive.delete(i);
        await swarm.command(`leave ${i}`);
        left++;
      } else {
        swarm.alive.add(swarm.next++);
        await swarm.command("join 1");
        joined++;
      }
      await new Promise((r) => setTimeout(r, 1000 / perSecond));
    }
    return { left, joined };
  }

  /** Viewers that should be present now (joined and not told to leave). */
  get alive(): number {
    return this.#swarms.reduce((n, s) => n + s.alive.size, 0);
  }

  #spawn(countOf: (p: number) => number): void {
    this.joinStarted = performance.now();
    this.#swarms.push(...spawnSwarms({
      server: this.serverUrl,
      sessionId: this.host.session.sessionId,
      joinCode: this.host.joinCode!,
      processes: this.#o.processes,
      countOf,
      args: ["--rtc", this.#o.viewerRtc ?? this.#o.rtc ?? DEFAULT_RTC_STACK],
    }));
  }

  /** Viewers the swarms report ready, and failed. */
  progress(): { ready: number; failed: number } {
    return {
      ready: this.#swarms.reduce((n, s) => n + s.ready.length, 0),
      failed: this.#swarms.reduce((n, s) => n + s.failed, 0),
    };
  }

  /** Each viewer's time from its join call to ready, ms. */
  progressTimes(): number[] {
    return this.#swarms.flatMap((s) => s.ready);
  }

  /** Waits until every viewer is ready on both sides, or `timeoutMs` passes. */
  async waitReady(timeoutMs: number, onTick?: (m: HostMetricsSnapshot) => void): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const m = this.host.metrics();
      onTick?.(m);
      if (m.states.ready >= this.#o.viewers && this.progress().ready >= this.#o.viewers) {
        return true;
      }
      if (m.states.closed > 0 && m.states.ready + m.states.closed >= this.#o.viewers) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** Broadcasts stamped messages at `rate` per second for `seconds`, then measures. */
  broadcast(rate: number, seconds: number, size: number): Promise<BroadcastResult> {
    return measureBroadcast(this.#swarms, (p) => this.host.broadcast(p), rate, seconds, size);
  }

  /**
   * A source writes stamped messages as fast as `host.writable` takes them for `seconds`,
   * then measures.
   */
  flood(seconds: number, size: number): Promise<FloodResult> {
    return measureFlood(this.#swarms, this.host.writable, seconds, size);
  }

  /** Signaling messages the server relayed so far. */
  relayed(): Promise<number> {
    return this.#server?.relayed() ?? Promise.resolve(0);
  }

  /** The embedded server (undefined with `serverProcess`, or before `start()`). */
  get server(): SignalingServer | undefined {
    return this.#server?.embedded;
  }

  /** The signaling server's URL (empty before `start()`). */
  get serverUrl(): string {
    return this.#server?.url ?? "";
  }

  /** Stops the swarms, the host and the server. */
  async close(): Promise<void> {
    await Promise.all(this.#swarms.map((s) => s.quit()));
    await this.host?.close();
    await this.#server?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
