// A Redis-backed signaling server in a process of its own, so that a test can kill it the
// hard way (SIGKILL: no goodbye, no clean-up; only its heartbeat expiring tells the others).
// Run as a program it starts the server, prints `{"url"}` on stdout and stops cleanly when
// stdin closes.
import { readLines } from "../cli/lines.ts";
import { connectRedis, startSignalingServer } from "../server/mod.ts";

const SELF = new URL(import.meta.url).pathname;

/** A server child process. */
export class ServerProcess implements AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #rest: Promise<void>;

  private constructor(child: Deno.ChildProcess, url: string, rest: Promise<void>) {
    this.child = child;
    this.url = url;
    this.port = Number(new URL(url).port);
    this.#stdin = child.stdin.getWriter();
    this.#rest = rest;
  }

  /** Starts a server sharing `redisUrl` under `prefix`; resolves once it listens. */
  static async start(
    redisUrl: string,
    prefix: string,
    heartbeatTtlMs: number,
  ): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SELF, redisUrl, prefix, String(heartbeatTtlMs)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout)[Symbol.asyncIterator]();
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const first = await lines.next();
    clearTimeout(timer);
    if (first.done) throw new Error("the server process ended before listening");
    const rest = (async () => {
      while (!(await lines.next()).done) { /* drain */ }
    })();
    return new ServerProcess(child, JSON.parse(first.value).url, rest);
  }

  /** Kills it without warning and waits for the end. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await this.#end();
  }

  async #end(): Promise<void> {
    await this.child.status;
    await this.#stdin.close().catch(() => {});
    await this.#rest.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.#end();
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  const [url, prefix, heartbeat] = Deno.args;
  const redis = await connectRedis({ url, prefix, heartbeatTtlMs: Number(heartbeat) });
  const server = startSignalingServer({
    hostname: "127.0.0.1",
    port: 0,
    store: redis.store,
    bus: redis.bus,
    counters: redis.counters,
  });
  console.log(JSON.stringify({ url: server.url }));
  for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
  await server.close();
  await redis.close();
}
