/**
 * Command-line flags on `node:util`'s `parseArgs`: each command declares one table that
 * gives every flag's type, default and help at once; {@link parseFlags} returns typed
 * values and {@link helpText} renders `--help` from the same table. Unknown flags, missing
 * values and values out of range are a {@link UsageError} (one sentence; the CLI exits 2).
 *
 * @example
 * ```ts
 * import { flagTable, parseFlags } from "./flags.ts";
 * const FLAGS = flagTable({
 *   port: { type: "int", help: "port to listen on", default: 8787, min: 0, max: 65535 },
 *   verbose: { type: "boolean", help: "say more" },
 * });
 * const { values } = parseFlags(["--port", "80"], FLAGS);
 * values.port; // 80 (a number)
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A flag that takes any text. */
export interface StringFlag {
  /** Takes a value. */
  type: "string";
  /** One line for `--help`. */
  help: string;
  /** The value when the flag is not given. */
  default?: string;
}

/** A flag that takes a whole number within bounds. */
export interface IntFlag {
  /** Takes a whole number. */
  type: "int";
  /** One line for `--help`. */
  help: string;
  /** The value when the flag is not given. */
  default?: number;
  /** Smallest accepted value (default 0). */
  min?: number;
  /** Largest accepted value (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
}

/** A flag that takes one of a few words. */
export interface ChoiceFlag {
  /** Takes one of `choices`. */
  type: "choice";
  /** One line for `--help`. */
  help: string;
  /** The accepted values. */
  choices: readonly string[];
  /** The value when the flag is not given. */
  default?: string;
}

/** A flag without a value: `true` when given. */
export interface BooleanFlag {
  /** Takes no value. */
  type: "boolean";
  /** One line for `--help`. */
  help: string;
}

/** One flag of a command. */
export type Flag = StringFlag | IntFlag | ChoiceFlag | BooleanFlag;

/** A command's flags by name (without dashes). */
export type FlagTable = Record<string, Flag>;

/** The value a flag parses to. */
export type FlagValue<F> = F extends BooleanFlag ? boolean
  : F extends { type: "int"; default: number } ? number
  : F extends IntFlag ? number | undefined
  : F extends { type: "choice"; choices: readonly (infer C)[]; default: string } ? C
  : F extends { type: "choice"; choices: readonly (infer C)[] } ? C | undefined
  : F extends { default: string } ? string
  : string | undefined;

/** The values of a table's flags. */
export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]: FlagValue<T[K]> };

/** Bad command-line usage: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Declares a flag table, keeping its literal types (choices, defaults) for {@link parseFlags}. */
export function flagTable<const T extends FlagTable>(table: T): T {
  return table;
}

/** `--help`, a row of every command's table. */
export const HELP_FLAG: { help: BooleanFlag } = {
  help: { type: "boolean", help: "show this help" },
};

/**
 * Parses `args` against `table`: `--name value`, `--name=value`, boolean `--name`; `--`
 * ends the flags. Returns every flag's value (its default when not given) and the
 * positional arguments.
 */
export function parseFlags<T extends FlagTable>(
  args: readonly string[],
  table: T,
): { values: FlagValues<T>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(table).map(([name, f]) => [
      name,
      { type: f.type === "boolean" ? "boolean" as const : "string" as const },
    ]),
  );
  // Not strict: unknown flags and missing values are reported here, in our words.
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const raw = new Map<string, string | boolean>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue; // the `--` terminator
    const flag = Object.hasOwn(table, token.name) ? table[token.name] : undefined;
    if (!flag || !token.rawName.startsWith("--")) {
      throw new UsageError(`unknown flag ${token.rawName} (see --help)`);
    }
    if (flag.type === "boolean") {
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
      raw.set(token.name, true);
      continue;
    }
    // `--server --session x`: the next flag is not --server's value.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith("--"))) {
      throw new UsageError(`${token.rawName} needs a value`);
    }
    raw.set(token.name, token.value);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    values[name] = _value(name, flag, raw.get(name));
  }
  return { values: values as FlagValues<T>, positionals };
}

function _value(name: string, flag: Flag, given: string | boolean | undefined): unknown {
  switch (flag.type) {
    case "boolean":
      return given === true;
    case "string":
      return given ?? flag.default;
    case "choice": {
      if (given === undefined) return flag.default;
      if (!flag.choices.includes(given as string)) {
        throw new UsageError(`--${name} must be ${_words(flag.choices)}`);
      }
      return given;
    }
    case "int":
      return given === undefined
        ? flag.default
        : intValue(given as string, name, flag.min, flag.max);
  }
}

/** Parses a whole number `value` of flag `--name` within bounds, or throws a {@link UsageError}. */
export function intValue(
  value: string,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function _words(words: readonly string[]): string {
  return words.length < 2
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** Renders a help text from a usage line and the command's flag table. */
export function helpText(usage: string, table: FlagTable): string {
  const left = Object.entries(table).map(([name, f]) => {
    const arg = f.type === "boolean"
      ? ""
      : f.type === "int"
      ? " N"
      : f.type === "choice"
      ? ` ${f.choices.join("|")}`
      : " VALUE";
    return `--${name}${arg}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  const lines = Object.values(table).map((f, i) => {
    const def = "default" in f && f.default !== undefined ? ` (default: ${f.default})` : "";
    return `  ${left[i].padEnd(width + 2)}${f.help}${def}`;
  });
  return `${usage}\n\nFlags:\n${lines.join("\n")}\n`;
}
