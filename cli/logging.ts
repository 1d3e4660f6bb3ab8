/**
 * Log set-up for the commands: JSON lines or readable text, on stderr.
 *
 * @module
 */
import {
  configure,
  getTextFormatter,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";
import type { ChoiceFlag } from "./flags.ts";

/** How log records are written. */
export type LogFormat = "json" | "pretty";

/** The `--log-format` row of a command's flag table, with the command's default. */
export function logFormatFlag<const D extends LogFormat>(
  defaultFormat: D,
): { type: "choice"; help: string; choices: readonly LogFormat[]; default: D } {
  return {
    type: "choice",
    help: "how log records are written",
    choices: ["json", "pretty"],
    default: defaultFormat,
  };
}

/** The levels `--log-level` accepts. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** The `--log-level` row of a command's flag table, with the command's default. */
export function logLevelFlag<const D extends (typeof LOG_LEVELS)[number]>(
  defaultLevel: D,
): ChoiceFlag & { choices: typeof LOG_LEVELS; default: D } {
  return {
    type: "choice",
    help: "the lowest level written",
    choices: LOG_LEVELS,
    default: defaultLevel,
  };
}

/** Sends records of category `shoal` at `level` or above to stderr in `format`. */
export async function setupLogging(
  format: LogFormat = "json",
  level: LogLevel = "info",
): Promise<void> {
  const text = getTextFormatter({ timestamp: "time" });
  const encoder = new TextEncoder();
  const sink = (record: LogRecord) => {
    const line = format === "json" ? jsonLinesFormatter(record) : text(record);
    Deno.stderr.writeSync(encoder.encode(line));
  };
  await configure({
    reset: true,
    sinks: { stderr: sink },
    loggers: [
      { category: ["shoal"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
