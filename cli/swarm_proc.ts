/**
 * A swarm child process driven over JSON lines (see `cli/swarm.ts`), and the broadcast
 * measurement over a set of them: shared by {@link LoadRun} and the raw-werift baseline of
 * `shoal bench --compare-raw`.
 *
 * @module
 */
import process from "node:process";
import { readLines } from "./lines.ts";
import type { SwarmViewerSummary } from "./swarm.ts";
import { type CommandLine, swarmCommandLine } from "./swarm_spawn.ts";

/** A swarm child process: its `ready`/`failed` events, and its commands. */
export class SwarmProc {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Each viewer's ms from join to ready, as reported. */
  readonly ready: number[] = [];
  /** Viewers reported failed. */
  failed = 0;
  /** CPU the process had used at its latest report, ms. */
  cpuMs = 0;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #summary?: PromiseWithResolvers<SwarmViewerSummary[]>;
  /** Ends when its stdout does. */
  readonly reading: Promise<void>;

  /** Indices of viewers that joined and were not told to leave. */
  readonly alive: Set<number> = new Set();
  /** Index the next joining viewer gets. */
  next: number;

  /** Spawns `command`, which starts `count` viewers. */
  constructor(command: CommandLine, count: number) {
    this.next = count;
    for (let i = 0; i < count; i++) this.alive.add(i);
    const child = new Deno.Command(command.program, {
      args: command.args,
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
        else if (ev.ev === "summary") {
          if (typeof ev.cpuMs === "number") this.cpuMs = ev.cpuMs;
          this.#summary?.resolve(ev.viewers);
        }
      }
    })();
  }

  /** Writes one command line. */
  async command(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Asks for every viewer's summary (`full`: with every latency). */
  async report(full: boolean): Promise<SwarmViewerSummary[]> {
    this.#summary = Promise.withResolvers();
    await this.command(full ? "report full" : "report");
    return await this.#summary.promise;
  }

  /** Says `quit` and waits for the process (killed after 10 s). */
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
  /** CPU of all viewer processes together over the phase, percent of one core. */
  viewersCpuPercent: number;
  /** Host RSS at the end of the phase, bytes. */
  hostRss: number;
}

function _swarmsCpuMs(swarms: SwarmProc[]): number {
  return swarms.reduce((sum, s) => sum + s.cpuMs, 0);
}

/** Every viewer's summary from every swarm (`full`: with every latency). */
export async function swarmReports(
  swarms: SwarmProc[],
  full: boolean,
): Promise<SwarmViewerSummary[]> {
  return (await Promise.all(swarms.map((s) => s.report(full)))).flat();
}

/**
 * Starts `processes` swarm processes of `countOf(p)` viewers each, joining `sessionId` on
 * `server` over loopback ICE; labels are `p<process>-<index>`.
 */
export function spawnSwarms(o: {
  server: string;
  sessionId: string;
  joinCode: string;
  processes: number;
  countOf: (process: number) => number;
  /** More flags for every swarm process. */
  args?: string[];
}): SwarmProc[] {
  return Array.from({ length: o.processes }, (_, p) => {
    const count = o.countOf(p);
    const args = ["--server", o.server, "--session", o.sessionId, "--code", o.joinCode];
    args.push("--count", String(count), "--prefix", `p${p}`, "--ice-address", "127.0.0.1");
    args.push(...o.args ?? []);
    return new SwarmProc(swarmCommandLine(args), count);
  });
}

/**
 * Sends `SEQ TS ` stamped messages of `size` bytes through `send` at `rate` per second for
 * `seconds`, waits (at most 10 s) for them to land, then measures over `swarms`.
 */
export async function measureBroadcast(
  swarms: SwarmProc[],
  send: (payload: string) => void,
  rate: number,
  seconds: number,
  size: number,
): Promise<BroadcastResult> {
  const base = await _baseline(swarms);
  const pad = "x".repeat(Math.max(0, size - 40));
  const viewersCpu0 = _swarmsCpuMs(swarms);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const stamp = `${sent} ${(performance.timeOrigin + performance.now()).toFixed(3)} `;
      send(stamp + pad.slice(0, Math.max(0, size - stamp.length)));
    }
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(10, 1000 / rate))));
  }
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const hostCpuPercent = ((cpu.user + cpu.system) / 1000 / elapsed) * 100;
  const after = await _landed(swarms, base, sent);
  const viewersCpuPercent = (_swarmsCpuMs(swarms) - viewersCpu0) / (performance.now() - t0) * 100;
  return {
    ..._tally(after, base, sent),
    rate,
    size,
    hostCpuPercent: Math.round(hostCpuPercent * 10) / 10,
    viewersCpuPercent: Math.round(viewersCpuPercent * 10) / 10,
    hostRss: Deno.memoryUsage().rss,
  };
}

/** What a flood phase measured: a {@link BroadcastResult} and the rates it ran at. */
export interface FloodResult extends BroadcastResult {
  /** Seconds the source wrote for. */
  seconds: number;
  /** Messages delivered per second over the window, all viewers together. */
  deliveredPerSecond: number;
  /** Payload bytes delivered per second over the window, all viewers together. */
  deliveredBytesPerSecond: number;
  /** Highest host RSS seen during the window (sampled every 100 ms), bytes. */
  peakHostRss: number;
}

/**
 * A source writing `SEQ TS ` stamped messages of `size` bytes into `sink` as fast as the
 * sink takes them, for `seconds`; then (bounded) waits for them to land and measures.
 * Latency: p50 is the median of the viewers' p50s, p99 the highest of their p99s (each
 * viewer times its first 100 000 messages).
 */
export async function measureFlood(
  swarms: SwarmProc[],
  sink: WritableStream<string>,
  seconds: number,
  size: number,
): Promise<FloodResult> {
  const base = await _baseline(swarms);
  const pad = "x".repeat(Math.max(0, size - 40));
  let peakHostRss = Deno.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakHostRss = Math.max(peakHostRss, Deno.memoryUsage().rss);
  }, 100);
  const viewersCpu0 = _swarmsCpuMs(swarms);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  let sent = 0;
  const source = new ReadableStream<string>({
    pull(controller) {
      if (performance.now() >= until) return controller.close();
      const stamp = `${sent++} ${(performance.timeOrigin + performance.now()).toFixed(3)} `;
      controller.enqueue(stamp + pad.slice(0, Math.max(0, size - stamp.length)));
    },
  }, { highWaterMark: 0 });
  let window: SwarmViewerSummary[];
  try {
    await source.pipeTo(sink);
    window = await swarmReports(swarms, false);
  } finally {
    clearInterval(sampler);
  }
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const viewersCpuPercent = (_swarmsCpuMs(swarms) - viewersCpu0) / elapsed * 100;
  const inWindow = window.reduce((n, v) => n + v.received - (base.get(`${v.peerId}`) ?? 0), 0);
  // Per-viewer percentiles only: a flood's every latency would be millions of numbers.
  const after = await _landed(swarms, base, sent, false);
  const each = (k: "p50" | "p99") =>
    after.flatMap((v) => v.latency ? [v.latency[k]] : []).sort((a, b) => a - b);
  const p50s = each("p50");
  const p99s = each("p99");
  return {
    ..._tally(after, base, sent),
    latencyMs: {
      p50: p50s[Math.floor(p50s.length / 2)] ?? NaN,
      p99: p99s.at(-1) ?? NaN,
      max: Math.max(...after.map((v) => v.latency?.max ?? NaN)),
    },
    rate: Math.round(sent / (elapsed / 1000)),
    size,
    seconds,
    deliveredPerSecond: Math.round(inWindow / (elapsed / 1000)),
    deliveredBytesPerSecond: Math.round((inWindow * size) / (elapsed / 1000)),
    hostCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 10,
    viewersCpuPercent: Math.round(viewersCpuPercent * 10) / 10,
    hostRss: Deno.memoryUsage().rss,
    peakHostRss,
  };
}

/** Starts a new measurement: what each viewer had received so far, by peer id. */
async function _baseline(swarms: SwarmProc[]): Promise<Map<string, number>> {
  await Promise.all(swarms.map((s) => s.command("reset")));
  const before = await swarmReports(swarms, false);
  return new Map(before.map((v) => [`${v.peerId}`, v.received]));
}

/** Reports (`full`: with every latency) once every viewer got `sent` since `base`, or after 10 s. */
async function _landed(
  swarms: SwarmProc[],
  base: Map<string, number>,
  sent: number,
  full = true,
): Promise<SwarmViewerSummary[]> {
  let after = await swarmReports(swarms, full);
  const deadline = performance.now() + 10_000;
  while (
    after.some((v) => v.received - (base.get(`${v.peerId}`) ?? 0) < sent) &&
    performance.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 200));
    after = await swarmReports(swarms, full);
  }
  return after;
}

/** Delivery, completeness and latency over the viewers' reports. */
function _tally(
  after: SwarmViewerSummary[],
  base: Map<string, number>,
  sent: number,
): Pick<
  BroadcastResult,
  "sent" | "complete" | "survivors" | "survivorsComplete" | "deliveryRatio" | "latencyMs"
> {
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
    complete,
    survivors: survivors.length,
    survivorsComplete,
    deliveryRatio: after.length ? received / (sent * after.length) : 0,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: lat.at(-1) ?? NaN },
  };
}
