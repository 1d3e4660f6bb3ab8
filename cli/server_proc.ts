/**
 * A signaling server in a process of its own, for load runs that measure the host alone:
 * with the server embedded, the host process would also carry every viewer's signaling
 * WebSocket and the relaying work.
 *
 * @module
 */
import { type SignalingServer, startSignalingServer } from "../server/mod.ts";
import { readLines } from "./lines.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
// Every viewer of a load run comes from 127.0.0.1: no cap on its WebSockets.
const FLAGS = ["--port", "0", "--hostname", "127.0.0.1", "--max-sockets-per-address", "0"];

/** `shoal signal` on 127.0.0.1 and a free port, as a child process. */
export class ServerProc implements LoadServer, AsyncDisposable {
  #child: Deno.ChildProcess;
  #closed?: Promise<void>;
  /** The server's URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;

  private constructor(child: Deno.ChildProcess, url: string) {
    this.#child = child;
    this.url = url;
  }

  /** Starts the server and waits (at most `timeoutMs`) until it listens. */
  static async start(timeoutMs = 30_000): Promise<ServerProc> {
    // Inside a compiled binary there is no `deno run`: the binary's own command runs it.
    const args = Deno.build.standalone ? ["signal", ...FLAGS] : [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-run",
      MAIN,
      "signal",
      ...FLAGS,
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines = readLines(child.stderr);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      // next() rather than for-await: leaving the loop would cancel the pipe.
      for (let line = await lines.next(); !line.done; line = await lines.next()) {
        const url = /shoal signaling server on (\S+)/.exec(line.value)?.[1];
        if (!url) continue;
        void _drain(lines);
        return new ServerProc(child, url);
      }
      throw new Error("the signaling server process ended before it listened");
    } catch (error) {
      await child.status;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Signaling messages the server relayed so far (from its `/metrics`). */
  async relayed(): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    return text.split("\n")
      .filter((line) => line.startsWith("shoal_signal_messages_relayed_total"))
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  }

  /** Stops the server (SIGTERM, then waits for it). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
      await this.#child.status;
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function _drain(lines: AsyncGenerator<string>): Promise<void> {
  try {
    for await (const _ of lines) { /* the server's later lines are not needed */ }
  } catch { /* the process ended */ }
}

/** A load run's signaling server: embedded in this process, or a {@link ServerProc}. */
export interface LoadServer {
  /** The server's URL. */
  readonly url: string;
  /** The embedded server; undefined when it runs in a process of its own. */
  readonly embedded?: SignalingServer;
  /** Signaling messages relayed so far. */
  relayed(): Promise<number>;
  /** Stops the server. Idempotent. */
  close(): Promise<void>;
}

/** Starts a signaling server on 127.0.0.1 and a free port, in this process or its own. */
export async function startLoadServer(ownProcess = false): Promise<LoadServer> {
  if (ownProcess) return await ServerProc.start();
  const embedded = startSignalingServer({
    hostname: "127.0.0.1",
    port: 0,
    addressLimits: { socketsPerAddress: 0 },
  });
  return {
    url: embedded.url,
    embedded,
    relayed: () => Promise.resolve(embedded.metrics.relayed.total()),
    close: () => embedded.close(),
  };
}
