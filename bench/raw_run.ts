/**
 * The raw-werift baseline of `shoal bench --compare-raw`: an embedded signaling server, a
 * {@link RawHost} and raw viewers (`bench/raw_swarm.ts`) spread over worker processes, all
 * joining at once, then a broadcast phase measured like shoal's ({@link measureBroadcast}).
 * Run as a program it does one run in a fresh process (so that its RSS is its own) and
 * prints the {@link RawRunResult} as one JSON line on stdout.
 *
 *   deno run -A bench/raw_run.ts --viewers 100 --processes 4 --rate 50 --duration 10
 *
 * @module
 */
import { flagTable, parseFlags } from "../cli/flags.ts";
import { LOAD_FLAGS } from "../cli/loadrun.ts";
import { HOST_V8_FLAGS } from "../cli/compile.ts";
import { type LoadServer, startLoadServer } from "../cli/server_proc.ts";
import { type BroadcastResult, measureBroadcast, SwarmProc } from "../cli/swarm_proc.ts";
import { RawHost } from "./raw_host.ts";

const RAW_SWARM = new URL("./raw_swarm.ts", import.meta.url).pathname;
const RAW_RUN = new URL("./raw_run.ts", import.meta.url).pathname;

/** What one raw baseline run measured. */
export interface RawRunResult {
  /** Viewers asked for. */
  viewers: number;
  /** Handshakes in flight at most (undefined: no cap). */
  cap?: number;
  /** From the host's first join to its latest open channel, ms. */
  allReadyMs: number;
  /** Peer connections that failed or did not open within 30 s. */
  failed: number;
  /** Viewers whose channel did not open (host side). */
  notReady: number;
  /** Host RSS before any viewer joined, bytes. */
  idleRss: number;
  /** The broadcast phase. */
  broadcast: BroadcastResult;
}

/** Options of a {@link RawLoadRun}. */
export interface RawLoadRunOptions {
  /** Viewers in all. */
  viewers: number;
  /** Worker processes they are spread over. */
  processes: number;
  /** Handshakes in flight at most (default: no cap). */
  cap?: number;
  /** The signaling server in a process of its own. */
  serverProcess?: boolean;
  /** Leave werift's STUN fallback on, host and viewers (see `withoutStunFallback`). */
  naive?: boolean;
}

/** A signaling server, a raw host and raw swarms, shaped like {@link LoadRun}. */
export class RawLoadRun implements AsyncDisposable {
  #server?: LoadServer;
  host!: RawHost;
  #swarms: SwarmProc[] = [];
  /** Host RSS before any viewer joined. */
  idleRss = 0;

  readonly viewers: number;
  #o: RawLoadRunOptions;

  constructor(options: RawLoadRunOptions) {
    this.#o = options;
    this.viewers = options.viewers;
  }

  /** Starts the server and the host. */
  async start(): Promise<void> {
    this.#server = await startLoadServer(this.#o.serverProcess);
    this.host = await RawHost.start({
      server: this.#server.url,
      maxViewers: Math.max(256, this.viewers),
      cap: this.#o.cap,
      naive: this.#o.naive,
    });
    this.idleRss = Deno.memoryUsage().rss;
  }

  /** Starts the swarm processes, all viewers joining at once. */
  join(): void {
    const { viewers, processes } = this.#o;
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(viewers / processes) + (p < viewers % processes ? 1 : 0);
      const args = ["--server", this.#server!.url, "--session", this.host.sessionId];
      args.push("--code", this.host.joinCode, "--count", String(count), "--prefix", `r${p}`);
      if (this.#o.naive) args.push("--naive");
      const command = { program: Deno.execPath(), args: ["run", "-A", RAW_SWARM, ...args] };
      this.#swarms.push(new SwarmProc(command, count));
    }
  }

  /** Waits until every viewer is ready or failed on both sides, or `timeoutMs` passes. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const settled = () => {
      const side = this.#swarms.reduce((n, s) => n + s.ready.length + s.failed, 0);
      return this.host.ready + this.host.failed >= this.viewers && side >= this.viewers;
    };
    while (performance.now() < deadline && !settled()) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.host.ready >= this.viewers;
  }

  /** Broadcasts stamped messages at `rate` per second for `seconds`, then measures. */
  broadcast(rate: number, seconds: number, size: number): Promise<BroadcastResult> {
    return measureBroadcast(this.#swarms, (p) => this.host.broadcast(p), rate, seconds, size);
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

/** Flags of `bench/raw_run.ts`. */
export const RAW_RUN_FLAGS = flagTable({
  ...LOAD_FLAGS,
  cap: { type: "int", help: "handshakes in flight (default: no cap)", min: 1, max: 10_000 },
  naive: { type: "boolean", help: "leave werift's STUN fallback on" },
});

/** One stampede run of the raw baseline with `args` (see {@link RAW_RUN_FLAGS}). */
export async function rawRun(args: string[]): Promise<RawRunResult> {
  const { values: flags } = parseFlags(args, RAW_RUN_FLAGS);
  const { viewers, cap } = flags;
  await using run = new RawLoadRun({
    viewers,
    processes: flags.processes,
    cap,
    serverProcess: flags["server-process"],
    naive: flags.naive,
  });
  await run.start();
  run.join();
  await run.waitReady(120_000);
  const broadcast = await run.broadcast(flags.rate, flags.duration, flags.size);
  return {
    viewers,
    cap,
    allReadyMs: Math.round((run.host.lastReadyAt ?? NaN) - (run.host.firstJoinAt ?? NaN)),
    failed: run.host.failed,
    notReady: viewers - run.host.ready,
    idleRss: run.idleRss,
    broadcast,
  };
}

/** Runs {@link rawRun} in a fresh `deno` process (bounded: killed after `timeoutMs`), with
 * the V8 flags the `bench` task gives shoal's host. */
export async function rawRunInProcess(args: string[], timeoutMs = 300_000): Promise<RawRunResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", HOST_V8_FLAGS, "-A", RAW_RUN, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout } = await child.output();
  clearTimeout(timer);
  const last = new TextDecoder().decode(stdout).trim().split("\n").at(-1);
  if (code !== 0 || !last) throw new Error(`the raw baseline exited with ${code}`);
  return JSON.parse(last);
}

if (import.meta.main) {
  const result = await rawRun(Deno.args);
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
