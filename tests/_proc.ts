// A `deno run -A` child process with its stdout and stderr collected line by line.
import { readLines } from "../cli/lines.ts";

const root = new URL("..", import.meta.url).pathname;

/** A command's process with its output lines collected. */
export class Proc implements AsyncDisposable {
  readonly out: string[] = [];
  readonly err: string[] = [];
  /** Everything on stdout so far, the unfinished last line included. */
  stdout = "";
  readonly child: Deno.ChildProcess;
  readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly done: Promise<Deno.CommandStatus>;
  #reading: Promise<unknown>;

  constructor(script: string, args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}${script}`, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.stdin = this.child.stdin.getWriter();
    const collect = async (s: ReadableStream<Uint8Array>, into: string[]) => {
      for await (const line of readLines(s)) into.push(line);
    };
    const [lines, raw] = this.child.stdout.tee();
    this.#reading = Promise.all([
      collect(lines, this.out),
      (async () => {
        for await (const text of raw.pipeThrough(new TextDecoderStream())) this.stdout += text;
      })(),
      collect(this.child.stderr, this.err),
    ]);
    this.done = this.child.status;
  }

  write(line: string): Promise<void> {
    return this.stdin.write(new TextEncoder().encode(line + "\n"));
  }

  async end(): Promise<Deno.CommandStatus> {
    await this.stdin.close().catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    const status = await this.done;
    clearTimeout(timer);
    await this.#reading;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await this.end();
  }
}
