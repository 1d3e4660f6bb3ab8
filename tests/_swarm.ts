// Runs `cli/swarm.ts` (many werift viewers in one process) and talks to it.
import type { SwarmViewerSummary } from "../cli/swarm.ts";
import { readLines } from "../cli/lines.ts";
import { eventually } from "./_signal_helpers.ts";

const SWARM = new URL("../cli/swarm.ts", import.meta.url).pathname;

/** A swarm child process. */
export class Swarm implements AsyncDisposable {
  readonly events: Array<Record<string, unknown>> = [];
  readonly child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;
  #summaries: SwarmViewerSummary[][] = [];
  #exited = false;

  constructor(
    o: { server: string; session: string; code: string; count: number; prefix?: string },
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SWARM,
        "--server",
        o.server,
        "--session",
        o.session,
        "--code",
        o.code,
        "--count",
        String(o.count),
        "--prefix",
        o.prefix ?? "swarm",
        "--ice-address",
        "127.0.0.1",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const child = this.child;
    this.#stdin = child.stdin.getWriter();
    this.#reading = (async () => {
      for await (const line of readLines(child.stdout)) {
        const ev = JSON.parse(line);
        if (ev.ev === "summary") this.#summaries.push(ev.viewers);
        else this.events.push(ev);
      }
    })();
    this.child.status.then(() => this.#exited = true);
  }

  /** A swarm of `count` viewers joining `host`'s session through the server at `server`. */
  static of(
    host: { session: { sessionId: string }; joinCode?: string },
    server: string,
    count: number,
    prefix?: string,
  ): Swarm {
    return new Swarm({
      server,
      session: host.session.sessionId,
      code: host.joinCode!,
      count,
      prefix,
    });
  }

  count(ev: string): number {
    return this.events.filter((e) => e.ev === ev).length;
  }

  async waitFor(ev: string, n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(ev) < n) {
      if (Date.now() > deadline || this.#exited) {
        throw new Error(
          `swarm: ${this.count(ev)} of ${n} ${ev} within ${timeoutMs} ms; failures: ${
            JSON.stringify(this.events.filter((e) => e.ev === "failed").slice(0, 3))
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async command(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Asks for a summary and waits for it. */
  async report(timeoutMs = 5_000): Promise<SwarmViewerSummary[]> {
    const before = this.#summaries.length;
    await this.command("report");
    const deadline = Date.now() + timeoutMs;
    while (this.#summaries.length === before) {
      if (Date.now() > deadline) throw new Error("swarm: no summary");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.#summaries.at(-1)!;
  }

  /** Closes every viewer and waits for the process to end. */
  async quit(): Promise<void> {
    if (this.#exited) return;
    try {
      await this.command("quit");
      await this.#stdin.close();
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => this.kill("SIGKILL"), 10_000);
    await this.child.status;
    clearTimeout(timer);
    await this.#reading;
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
    try {
      await this.#stdin.close();
    } catch {
      // Closed.
    }
    await this.#reading.catch(() => {});
  }
}

/** 5 healthy viewers and 1 frozen with SIGSTOP (thawed on dispose), all ready first. */
export async function frozenAmongHealthy(
  host: { session: { sessionId: string }; joinCode?: string; readyCount: number },
  server: string,
): Promise<{ healthy: Swarm; frozen: Swarm } & AsyncDisposable> {
  const opts = { server, session: host.session.sessionId, code: host.joinCode! };
  const healthy = new Swarm({ ...opts, count: 5, prefix: "ok" });
  const frozen = new Swarm({ ...opts, count: 1, prefix: "frozen" });
  const swarms = {
    healthy,
    frozen,
    async [Symbol.asyncDispose]() {
      frozen.kill("SIGCONT");
      await frozen[Symbol.asyncDispose]();
      await healthy[Symbol.asyncDispose]();
    },
  };
  try {
    await healthy.waitFor("ready", 5, 20_000);
    await frozen.waitFor("ready", 1, 20_000);
    await eventually(() => host.readyCount === 6, 5_000);
  } catch (error) {
    await swarms[Symbol.asyncDispose]();
    throw error;
  }
  frozen.kill("SIGSTOP");
  return swarms;
}
