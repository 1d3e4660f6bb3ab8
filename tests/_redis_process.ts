// A private redis-server for tests that take Redis away and bring it back: its own port and
// directory, with an append-only file fsynced on every write so that a SIGKILL loses nothing
// and a restart on the same port finds the data (and the key expiry times) as they were.

/** Whether `redis-server` can be run here. */
export const REDIS_SERVER_INSTALLED: boolean = (() => {
  try {
    return new Deno.Command("redis-server", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
})();

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** One redis-server process that can be killed and restarted. */
export class RedisProcess implements AsyncDisposable {
  readonly port: number = _freePort();
  readonly url: string = `redis://127.0.0.1:${this.port}`;
  #dir: string;
  #child?: Deno.ChildProcess;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Starts it and waits until it answers. */
  static async start(): Promise<RedisProcess> {
    const p = new RedisProcess(await Deno.makeTempDir({ prefix: "shoal-redis-" }));
    await p.restart();
    return p;
  }

  /** Kills it without warning (SIGKILL) and waits for the end. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await child.status;
  }

  /** Starts it again on the same port with the same data. */
  async restart(): Promise<void> {
    await this.kill();
    this.#child = new Deno.Command("redis-server", {
      args: [
        ...["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.#dir],
        ...["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    while (!(await this.#answers())) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #answers(): Promise<boolean> {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buf = new Uint8Array(16);
        const n = await conn.read(buf);
        return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
      } finally {
        conn.close();
      }
    } catch {
      return false;
    }
  }
}
