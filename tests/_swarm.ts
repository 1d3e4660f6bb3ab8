// Runs `cli/swarm.ts` (many viewers in one process, werift unless told) and talks to it.
import assert from "node:assert/strict";
import type { SwarmViewerSummary } from "../cli/swarm.ts";
import { readLines } from "../cli/lines.ts";
import { Host } from "../core/host.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { eventually, testServer } from "./_signal_helpers.ts";

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
    o: {
      server: string;
      session: string;
      code: string;
      count: number;
      prefix?: string;
      /** The viewers' stack; default werift (these tests are werift's). */
      rtc?: "libdatachannel" | "werift";
      /** Runs it through this command, e.g. `["ip", "netns", "exec", NS]`. */
      wrap?: string[];
      /** Local ICE address (default 127.0.0.1; `null`: every interface). */
      iceAddress?: string | null;
      /** Extra `shoal swarm` flags. */
      flags?: string[];
      /** Extra environment (such as `DENO_CERT` to trust a test's authority). */
      env?: Record<string, string>;
    },
  ) {
    const wrap = o.wrap ?? [];
    const ice = o.iceAddress === null ? [] : ["--ice-address", o.iceAddress ?? "127.0.0.1"];
    this.child = new Deno.Command(wrap[0] ?? Deno.execPath(), {
      args: [
        ...wrap.slice(1),
        ...(wrap.length ? [Deno.execPath()] : []),
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
        "--rtc",
        o.rtc ?? "werift",
        ...ice,
        ...(o.flags ?? []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: o.env,
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
  async report(timeoutMs = 5_000, full = false): Promise<SwarmViewerSummary[]> {
    const before = this.#summaries.length;
    await this.command(full ? "report full" : "report");
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

const _stamp = (seq: number) => `${seq} ${performance.timeOrigin + performance.now()} payload`;

/** A host on `rtc` and `count` werift viewers in a swarm process join at once: all ready with
 * no failed handshake, every one of 200 broadcasts arrives in order, and the host forgets them
 * when they leave. */
export async function swarmJoinsAndReceivesInOrder(rtc: RtcAdapter, count: number): Promise<void> {
  await using server = testServer();
  await using host = await Host.start({ rtc, server: server.url });
  await using swarm = Swarm.of(host, server.url, count);
  await swarm.waitFor("ready", count, 30_000);
  await eventually(() => host.readyCount === count, 5_000, `host sees ${count} ready`);
  for (let seq = 0; seq < 200; seq++) {
    host.broadcast(_stamp(seq));
    if (seq % 20 === 19) await new Promise((r) => setTimeout(r, 10));
  }
  await eventually(async () => (await swarm.report()).every((v) => v.received >= 200), 15_000);
  for (const v of await swarm.report()) {
    assert.equal(v.received, 200, `viewer ${v.i}`);
    assert.equal(v.firstSeq, 0);
    assert.equal(v.lastSeq, 199);
    assert.equal(v.outOfOrder, 0);
  }
  const m = host.metrics();
  assert.equal(m.outcomes.ready, count);
  assert.equal(m.outcomes.failed ?? 0, 0);
  assert.equal(m.outcomes.timeout ?? 0, 0);
  await swarm.quit();
  await eventually(
    () => host.metrics().states.ready === 0,
    10_000,
    "host forgets departed viewers",
  );
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
