/**
 * `shoal`: the one entry point. `shoal <command> [flags]` runs `signal`, `host`, `share`, `view`,
 * `demo` or `bench`; `shoal <command> --help` lists the command's flags with their
 * defaults; `shoal --version` prints the version from `deno.json`. Bad usage (an unknown
 * command or flag, a missing value) prints one sentence and exits 2; an error a user can
 * act on prints one sentence and exits 1.
 *
 * `swarm` is a hidden command: the demo and the benchmarks start viewers in child
 * processes, and a compiled `shoal` binary is its own child (see `cli/swarm_spawn.ts`).
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };
import { UsageError } from "./flags.ts";

/** The version of this build of shoal (from `deno.json`). */
export const VERSION: string = config.version;

/** A subcommand of `shoal`. */
interface _Command {
  /** One line for the top-level help. */
  summary: string;
  /** Runs it; resolves with the exit code. */
  run(args: string[]): Promise<number>;
  /** Left out of the top-level help. */
  hidden?: boolean;
}

// Each command is imported only when it runs: `--help` and `--version` load nothing else,
// and `signal` does not load werift. (`deno compile` still embeds every one of them.)
const COMMANDS: Record<string, _Command> = {
  signal: {
    summary: "run the signaling server",
    run: async (args) => (await (await import("./signal.ts")).signalCommand(args), 0),
  },
  host: {
    summary: "stream stdin (or a command's output) to every viewer",
    run: async (args) => (await import("./host.ts")).hostCommand(args),
  },
  share: {
    summary: "share a terminal: a command in a pseudo-terminal, live in every viewer",
    run: async (args) => (await import("./share.ts")).shareCommand(args),
  },
  view: {
    summary: "join a session and print what the host streams",
    run: async (args) => (await import("./view.ts")).viewCommand(args),
  },
  demo: {
    summary: "a server, a host and 100 viewers on this machine",
    run: async (args) => (await import("./demo.ts")).demoCommand(args),
  },
  bench: {
    summary: "join patterns and broadcast under load",
    run: async (args) => (await import("../bench/main.ts")).benchCommand(args),
  },
  swarm: {
    summary: "many viewers in one process",
    run: async (args) => (await import("./swarm.ts")).swarmCommand(args),
    hidden: true,
  },
};

/** The top-level help text. */
export function mainHelp(): string {
  const shown = Object.entries(COMMANDS).filter(([, c]) => !c.hidden);
  const width = Math.max(...shown.map(([name]) => name.length));
  return [
    `shoal ${VERSION}: one host streaming to hundreds of WebRTC data-channel viewers`,
    "",
    "Usage: shoal <command> [flags]",
    "",
    "Commands:",
    ...shown.map(([name, c]) => `  ${name.padEnd(width + 2)}${c.summary}`),
    "",
    "Flags:",
    "  --help       show this help; `shoal <command> --help` lists a command's flags",
    "  --version    print the version",
    "",
  ].join("\n");
}

/** Turns a thrown error into one sentence and an exit code, or undefined for a bug. */
async function _explain(
  error: unknown,
): Promise<{ sentence: string; code: number } | undefined> {
  if (error instanceof UsageError) return { sentence: error.message, code: 2 };
  if (error instanceof Deno.errors.AddrInUse) {
    return { sentence: `the address is already in use (${error.message})`, code: 1 };
  }
  if (error instanceof Error && error.name === "StoreUnavailableError") {
    return { sentence: error.message, code: 1 }; // `signal --redis` cannot reach Redis
  }
  if (error instanceof Error && error.name === "PtyError") {
    return { sentence: error.message, code: 1 }; // `share` without util-linux `script`
  }
  const sentence = (await import("./common.ts")).explain(error);
  return sentence === undefined ? undefined : { sentence, code: 1 };
}

/**
 * Runs `shoal` with `args` (without the program name); resolves with the exit code.
 * Errors that are not the user's to fix (bugs) are rethrown.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(mainHelp());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return 0;
  }
  if (name === "--version" || name === "-V") {
    console.log(`shoal ${VERSION}`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    const what = name.startsWith("-") ? `unknown flag ${name}` : `unknown command "${name}"`;
    console.error(`shoal: ${what} (see shoal --help)`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const explained = await _explain(error);
    if (!explained) throw error;
    const sentence = explained.sentence.replace("(see --help)", `(see shoal ${name} --help)`);
    console.error(`shoal ${name}: ${sentence}`);
    return explained.code;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
