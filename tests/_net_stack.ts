/**
 * shoal inside a {@link NetLab}: the signaling server (and coturn) in the services
 * namespace, a werift host (tests/_net_host.ts) in the host namespace, swarms of werift
 * viewers (cli/swarm.ts) in the viewers' namespace. Every process belongs to the lab, which
 * stops them when it closes.
 *
 * @module
 */
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";
import { LAB, type NetLab, type NetProcess } from "./_netns.ts";
import type { SwarmViewerSummary } from "../cli/swarm.ts";
import { Swarm } from "./_swarm.ts";
export { bigMessage } from "./_net_host.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const NET_HOST = new URL("./_net_host.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

/** The signaling server's port inside the services namespace. */
export const SIGNAL_PORT = 8787;

/**
 * Waits until `test()` holds, polling (after `refresh()` each round when given); throws
 * `what` after `timeoutMs`.
 */
export async function waitUntil(
  test: () => boolean,
  timeoutMs: number,
  what: () => string,
  refresh?: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await refresh?.(), !test())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts the signaling server in the services namespace (with `--turn` and its secret when
 * given) and resolves with its URL once it listens.
 */
export async function startSignal(
  lab: NetLab,
  o: { turn?: string; secret?: string; port?: number } = {},
): Promise<{ url: string; proc: NetProcess }> {
  const port = o.port ?? SIGNAL_PORT;
  const turn = o.turn ? ["--turn", o.turn, "--turn-secret", o.secret!, "--turn-ttl", "600"] : [];
  const proc = lab.spawn("services", [
    DENO,
    "run",
    "-A",
    MAIN,
    "signal",
    "--hostname",
    LAB.services,
    "--port",
    String(port),
    "--log-format",
    "json",
    ...turn,
  ], { stderr: "collect" });
  await waitUntil(
    () => proc.errLines.some((l) => l.startsWith("shoal signaling server on")),
    60_000,
    () => `signaling server: ${proc.errLines.slice(-5).join(" | ")}`,
  );
  return { url: `http://${LAB.services}:${port}`, proc };
}

/** An event of the host process. */
export type HostEvent = Record<string, unknown> & { ev: string };

/** The host in the host namespace (werift unless its flags say `--rtc libdatachannel`). */
export class NetHost {
  readonly proc: NetProcess;
  sessionId = "";
  joinCode = "";

  private constructor(proc: NetProcess) {
    this.proc = proc;
  }

  /** Starts it against `server` and waits for its session. */
  static async start(
    lab: NetLab,
    server: string,
    flags: string[] = [],
  ): Promise<NetHost> {
    const proc = lab.spawn("host", [DENO, "run", "-A", NET_HOST, "--server", server, ...flags], {
      stdin: true,
    });
    const host = new NetHost(proc);
    await waitUntil(() => host.events("session").length > 0, 30_000, () => "host session");
    const s = host.events("session")[0];
    host.sessionId = String(s.sessionId);
    host.joinCode = String(s.joinCode);
    return host;
  }

  /** Events of kind `ev` so far. */
  events(ev: string): HostEvent[] {
    return this.proc.lines.map((l) => JSON.parse(l) as HostEvent).filter((e) => e.ev === ev);
  }

  /** The `log` events whose message is `message`. */
  logs(message: string): HostEvent[] {
    return this.events("log").filter((e) => e.message === message);
  }

  /** Broadcasts `count` sequenced messages at `rate` per second; resolves when all are out. */
  async stream(count: number, rate: number): Promise<void> {
    const before = this.events("streamed").length;
    await this.proc.send(`stream ${count} ${rate}`);
    await waitUntil(
      () => this.events("streamed").length > before,
      count / rate * 1000 + 120_000,
      () => "stream",
    );
  }

  /** Stops the host process (its viewers see `bye`), waiting at most 10 s before killing it. */
  async close(): Promise<void> {
    await this.proc.send("quit");
    const timer = setTimeout(() => this.proc.child.kill("SIGKILL"), 10_000);
    await this.proc.child.status;
    clearTimeout(timer);
  }

  /** Waits until the host has admitted `n` viewers (its `ready` records). */
  async waitReady(n: number, timeoutMs = 60_000): Promise<void> {
    await waitUntil(() => this.logs("ready").length >= n, timeoutMs, () => {
      return `${this.logs("ready").length} of ${n} ready at the host`;
    });
  }

  /** Broadcasts one `bigMessage` of `bytes` from `seed`; resolves when it is out. */
  async big(bytes: number, seed: number): Promise<void> {
    const before = this.events("streamed").length;
    await this.proc.send(`big ${bytes} ${seed}`);
    await waitUntil(() => this.events("streamed").length > before, 30_000, () => "big");
  }

  /** The host's metrics snapshot (and `cpuMs`, `readyCount`). */
  async metrics(): Promise<HostMetricsSnapshot & { cpuMs: number; readyCount: number }> {
    const before = this.events("metrics").length;
    await this.proc.send("metrics");
    await waitUntil(() => this.events("metrics").length > before, 10_000, () => "metrics");
    return this.events("metrics").at(-1)! as unknown as HostMetricsSnapshot & {
      cpuMs: number;
      readyCount: number;
    };
  }
}

/** A swarm of `count` viewers (werift unless `rtc` says) in the viewers' namespace joining
 * `host`'s session. */
export function netSwarm(
  lab: NetLab,
  server: string,
  host: NetHost,
  count: number,
  flags: string[] = [],
  rtc: "werift" | "libdatachannel" = "werift",
): Swarm {
  return new Swarm({
    server,
    session: host.sessionId,
    code: host.joinCode,
    count,
    wrap: ["ip", "netns", "exec", lab.ns.viewers],
    iceAddress: null,
    rtc,
    flags,
  });
}

/** Waits (at most `timeoutMs`) until every viewer of `swarm` has `count` messages; its report. */
export async function waitDelivered(
  swarm: Swarm,
  count: number,
  timeoutMs = 15_000,
): Promise<SwarmViewerSummary[]> {
  let viewers = await swarm.report();
  const deadline = Date.now() + timeoutMs;
  while (viewers.some((v) => v.received < count) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    viewers = await swarm.report();
  }
  return viewers;
}
