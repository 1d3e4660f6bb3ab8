/**
 * A small command-line flag parser: `--name value`, `--name=value`, boolean `--flag`.
 * Unknown flags and missing values are a {@link UsageError}.
 *
 * @module
 */

/** A flag a command accepts. */
export interface FlagSpec {
  /** Its name without dashes. */
  name: string;
  /** `string` takes a value; `boolean` does not. */
  type: "string" | "boolean";
  /** Shown in `--help`. */
  description: string;
  /** Shown in `--help` as the default. */
  default?: string;
}

/** Bad command-line usage: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses `args` against `specs`; returns flag values and the remaining positionals. */
export function parseFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
): { flags: Record<string, string | boolean | undefined>; rest: string[] } {
  const flags: Record<string, string | boolean | undefined> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    if (spec.type === "boolean") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || (eq === -1 && value.startsWith("--"))) {
      throw new UsageError(`--${name} needs a value`);
    }
    flags[name] = value;
  }
  return { flags, rest };
}

/** Parses a whole number flag value within bounds. */
export function intFlag(
  value: string | boolean | undefined,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Renders a help text from a usage line and the flag specs. */
export function helpText(usage: string, specs: readonly FlagSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length + (s.type === "string" ? 6 : 0)));
  const lines = specs.map((s) => {
    const left = `--${s.name}${s.type === "string" ? " VALUE" : ""}`.padEnd(width + 4);
    const def = s.default !== undefined ? ` (default: ${s.default})` : "";
    return `  ${left}${s.description}${def}`;
  });
  return `${usage}\n\nFlags:\n${lines.join("\n")}\n`;
}
