/**
 * The machinery behind `shoal demo` and `shoal bench`: an embedded signaling server, a
 * werift host in this process, viewers spread over swarm processes, a broadcast phase,
 * and the figures that come out of it.
 *
 * @module
 */
import process from "node:process";
import { werift } from "../adapters/werift.ts";
import { Host, type HostOptions } from "../core/host.ts";
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";
import { type SignalingServer, startSignalingServer } from "../server/mod.ts";
import { readLines } from "./lines.ts";
import type { SwarmViewerSummary } from "./swarm.ts";
import { swarmCommandLine } from "./swarm_spawn.ts";

/** A swarm child process of a load run. */
class _SwarmProc {
  readonly child: Deno.ChildProcess;
  readonly ready: number[] = [];
  failed = 0;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #summary?: PromiseWithResolvers<SwarmViewerSummary[]>;
  readonly reading: Promise<void>;

  /** Indices of viewers that joined and were not told to leave. */
  readonly alive: Set<number> = new Set();
  /** Index the next joining viewer gets. */
  next: number;

  constructor(args: string[], count: number) {
    this.next = count;
    for (let i = 0; i < count; i++) this.alive.add(i);
    const { program, args: argv } = swarmCommandLine(args);
    const child = new Deno.Command(program, {
      args: argv,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.child = child;
    this.#stdin = child.stdin.getWriter();
    this.reading = (async () => {
      for await (const line of readLines(child.stdout)) {
        const ev = JSON.parse(line);
        if (ev.ev === "ready") this.ready.push(ev.ms);
        else if (ev.ev === "failed") this.failed++;
        else if (ev.ev === "summary") this.#summary?.resolve(ev.viewers);
      }
    })();
  }

  async command(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  async report(full: boolean): Promise<SwarmViewerSummary[]> {
    this.#summary = Promise.withResolvers();
    await this.command(full ? "report full" : "report");
    return await this.#summary.promise;
  }

  async quit(): Promise<void> {
    try {
      await this.command("quit");
      await this.#stdin.close();
    } catch {
      // Gone already.
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.child.status;
    clearTimeout(timer);
    await this.reading.catch(() => {});
  }
}

/** Options of a load run. */
export interface LoadRunOptions {
  /** Viewers in all. */
  viewers: number;
  /** Swarm processes they are spread over. */
  processes: number;
  /** Host options beyond the RTC adapter and the server. */
  host?: Partial<HostOptions>;
}

/** What a broadcast phase measured. */
export interface BroadcastResult {
  /** Messages broadcast. */
  sent: number;
  /** Messages per second asked for. */
  rate: number;
  /** Payload bytes per message. */
  size: number;
  /** Viewers that received all of them, in order. */
  complete: number;
  /** Viewers ready at the end that got every message since their latest ready, in order. */
  survivorsComplete: number;
  /** Viewers ready at the end. */
  survivors: number;
  /** Received / (sent × viewers). */
  deliveryRatio: number;
  /** One-way latency over every delivery, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Host CPU over the phase, percent of one core. */
  hostCpuPercent: number;
  /** Host RSS at the end of the phase, bytes. */
  hostRss: number;
}

/** A signaling server, a host and swarms of viewers on this machine. */
export class LoadRun implements AsyncDisposable {
  server!: SignalingServer;
  host!: Host;
  #swarms: _SwarmProc[] = [];
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
    this.server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
    this.host = await Host.start({
      rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
      server: this.server.url,
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
    for (let p = 0; p < this.#o.processes; p++) {
      const count = countOf(p);
      this.#swarms.push(
        new _SwarmProc([
          "--server",
          this.server.url,
          "--session",
          this.host.session.sessionId,
          "--code",
          this.host.joinCode!,
          "--count",
          String(count),
          "--prefix",
          `p${p}`,
          "--ice-address",
          "127.0.0.1",
        ], count),
      );
    }
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
  async broadcast(rate: number, seconds: number, size: number): Promise<BroadcastResult> {
    await Promise.all(this.#swarms.map((s) => s.command("reset")));
    const before = await this.#reports(false);
    const base = new Map(before.map((v) => [`${v.peerId}`, v.received]));
    const pad = "x".repeat(Math.max(0, size - 40));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const total = Math.round(rate * seconds);
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const stamp = `${sent} ${(performance.timeOrigin + performance.now()).toFixed(3)} `;
        this.host.broadcast(stamp + pad.slice(0, Math.max(0, size - stamp.length)));
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(10, 1000 / rate))));
    }
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const hostCpuPercent = ((cpu.user + cpu.system) / 1000 / elapsed) * 100;
    // Let the last messages land (bounded).
    let after = await this.#reports(true);
    const deadline = performance.now() + 10_000;
    while (
      after.some((v) => v.received - (base.get(`${v.peerId}`) ?? 0) < sent) &&
      performance.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 200));
      after = await this.#reports(true);
    }
    const survivors = after.filter((v) => v.state === "ready");
    const survivorsComplete =
      survivors.filter((v) => v.outOfOrder === 0 && v.lastSeq === sent - 1).length;
    let received = 0;
    let complete = 0;
    const lat: number[] = [];
    for (const v of after) {
      const got = v.received - (base.get(`${v.peerId}`) ?? 0);
      received += Math.min(got, sent);
      if (got >= sent && v.outOfOrder === 0) complete++;
      for (const l of (v as { lat?: number[] }).lat ?? []) lat.push(l);
    }
    lat.sort((a, b) => a - b);
    const pct = (p: number) =>
      lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
    return {
      sent,
      rate,
      size,
      complete,
      survivors: survivors.length,
      survivorsComplete,
      deliveryRatio: after.length ? received / (sent * after.length) : 0,
      latencyMs: { p50: pct(0.5), p99: pct(0.99), max: lat.at(-1) ?? NaN },
      hostCpuPercent: Math.round(hostCpuPercent * 10) / 10,
      hostRss: Deno.memoryUsage().rss,
    };
  }

  /** Every viewer's summary from every swarm. */
  async #reports(full: boolean): Promise<SwarmViewerSummary[]> {
    return (await Promise.all(this.#swarms.map((s) => s.report(full)))).flat();
  }

  /** Signaling messages the server relayed so far. */
  relayed(): number {
    return this.server.metrics.relayed.total();
  }

  /** Stops the swarms, the host and the server. */
  async close(): Promise<void> {
    await Promise.all(this.#swarms.map((s) => s.quit()));
    await this.host?.close();
    await this.server?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
