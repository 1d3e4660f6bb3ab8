/**
 * How to start a swarm child process (`cli/swarm.ts`): with `deno run` from the sources,
 * or, inside a binary made by `deno compile` (where `Deno.execPath()` is that binary and
 * there is no `deno` to run scripts with), as the binary's own hidden `swarm` command.
 *
 * @module
 */

const SWARM = new URL("./swarm.ts", import.meta.url).pathname;

/** A program and its arguments. */
export interface CommandLine {
  /** The executable. */
  program: string;
  /** Its arguments. */
  args: string[];
}

/**
 * The command line that starts a swarm with `args`. `standalone` (default: whether this
 * runs as a compiled binary) picks `[execPath, "swarm", ...args]` over
 * `[execPath, "run", "-A", swarm.ts, ...args]`.
 */
export function swarmCommandLine(
  args: readonly string[],
  standalone: boolean = Deno.build.standalone,
): CommandLine {
  const program = Deno.execPath();
  return standalone
    ? { program, args: ["swarm", ...args] }
    : { program, args: ["run", "-A", SWARM, ...args] };
}
