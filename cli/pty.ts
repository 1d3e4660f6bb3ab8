/**
 * A program in a pseudo-terminal, without native code: util-linux `script` (Debian's
 * `bsdutils`) owns the pty and relays its stdin and stdout through pipes.
 *
 * `script` only copies its own terminal's size to the pty, and only when its stdin is a
 * terminal; here stdin is a pipe (so that viewers' keystrokes can be mixed in), so a small
 * `sh` wrapper inside the pty sets the size with `stty` and writes the pty's name to a
 * temporary file before it `exec`s the program. A resize runs `stty -F /dev/pts/N cols C
 * rows R`: the kernel's TIOCSWINSZ then sends SIGWINCH to the program, as a terminal
 * emulator's resize would, except that stty sets the columns and the rows one after the
 * other, so a program may see two SIGWINCHs and, after the first, a size with only the
 * columns changed; it reads the final size after the second.
 *
 * @module
 */

/** Options of {@linkcode Pty.spawn}. */
export interface PtyOptions {
  /** Columns (default 80). */
  cols?: number;
  /** Rows (default 24). */
  rows?: number;
  /** Extra environment of the program. */
  env?: Record<string, string>;
  /** Kills the program when aborted. */
  signal?: AbortSignal;
}

/** `script` could not be started, or the pty did not come up. */
export class PtyError extends Error {
  override name = "PtyError";
}

/** Quotes `arg` for `sh`. */
function _quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function _checkSize(cols: number, rows: number): void {
  for (const [name, n] of [["cols", cols], ["rows", rows]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      throw new RangeError(`${name} must be a whole number from 1 to 1000, not ${n}`);
    }
  }
}

/**
 * A program running in a pseudo-terminal.
 *
 * @example
 * ```ts ignore
 * await using pty = await Pty.spawn(["top"], { cols: 100, rows: 30 });
 * for await (const chunk of pty.output) await Deno.stdout.write(chunk);
 * console.log("exit", await pty.status);
 * ```
 */
export class Pty implements AsyncDisposable {
  /** The program's output, as the terminal would show it. */
  readonly output: ReadableStream<Uint8Array>;
  /** Resolves with the program's exit status (128 + N when killed by signal N). */
  readonly status: Promise<number>;
  #child: Deno.ChildProcess;
  #input: WritableStreamDefaultWriter<Uint8Array>;
  #tty: string;
  #cols: number;
  #rows: number;
  #closed?: Promise<void>;

  private constructor(child: Deno.ChildProcess, tty: string, cols: number, rows: number) {
    this.#child = child;
    this.#tty = tty;
    this.#cols = cols;
    this.#rows = rows;
    this.output = child.stdout;
    this.#input = child.stdin.getWriter();
    this.status = child.status.then((s) => s.code);
  }

  /** Starts `command` (program and arguments) in a new pty of the given size. */
  static async spawn(command: readonly string[], options: PtyOptions = {}): Promise<Pty> {
    if (command.length === 0) throw new TypeError("no command to run");
    const cols = options.cols ?? 80;
    const rows = options.rows ?? 24;
    _checkSize(cols, rows);
    const ttyFile = await Deno.makeTempFile({ prefix: "shoal-pty-" });
    const wrapper = [
      `stty cols ${cols} rows ${rows}`,
      `tty > "$SHOAL_TTY_FILE"`,
      `export SHELL="$SHOAL_SHELL"`,
      `unset SHOAL_TTY_FILE SHOAL_SHELL`,
      `exec ${command.map(_quote).join(" ")}`,
    ].join("; ");
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("script", {
        args: ["--quiet", "--return", "--flush", "--command", wrapper, "/dev/null"],
        env: {
          // What the program may assume of the terminal: xterm.js's, unless told otherwise.
          TERM: Deno.env.get("TERM") || "xterm-256color",
          ...options.env,
          SHELL: "/bin/sh", // script runs `$SHELL -c wrapper`; the program gets the real one
          SHOAL_SHELL: Deno.env.get("SHELL") ?? "/bin/sh",
          SHOAL_TTY_FILE: ttyFile,
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
        signal: options.signal,
      }).spawn();
    } catch (cause) {
      await Deno.remove(ttyFile).catch(() => {});
      const why = cause instanceof Deno.errors.NotFound
        ? "util-linux `script` is not installed (Debian: apt-get install bsdutils)"
        : String(cause);
      throw new PtyError(`cannot start a pseudo-terminal: ${why}`, { cause });
    }
    try {
      const tty = await _readTty(ttyFile, child);
      return new Pty(child, tty, cols, rows);
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stdin.close().catch(() => {});
      throw error;
    } finally {
      await Deno.remove(ttyFile).catch(() => {});
    }
  }

  /** The pty's current size. */
  get size(): { cols: number; rows: number } {
    return { cols: this.#cols, rows: this.#rows };
  }

  /** The pty device, e.g. `/dev/pts/3`. */
  get tty(): string {
    return this.#tty;
  }

  /** Types `data` into the program. */
  async write(data: Uint8Array): Promise<void> {
    await this.#input.write(data);
  }

  /** Resizes the pty; the program gets SIGWINCH. */
  async resize(cols: number, rows: number): Promise<void> {
    _checkSize(cols, rows);
    if (cols === this.#cols && rows === this.#rows) return;
    this.#cols = cols;
    this.#rows = rows;
    const out = await new Deno.Command("stty", {
      args: ["-F", this.#tty, "cols", String(cols), "rows", String(rows)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new PtyError(
        `stty could not resize ${this.#tty}: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
  }

  /** Hangs up: the program gets SIGHUP (via `script`) and ends; resolves when it has. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#input.close().catch(() => {});
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await this.status;
    })();
    return this.#closed;
  }

  /** Closes the pty (see {@link Pty.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Waits (at most 5 s) for the wrapper to write the pty's name. */
async function _readTty(file: string, child: Deno.ChildProcess): Promise<string> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const name = (await Deno.readTextFile(file)).trim();
    if (name.startsWith("/dev/")) return name;
    if (exited) throw new PtyError("script exited before the pseudo-terminal was ready");
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new PtyError("the pseudo-terminal did not come up within 5 s");
}
