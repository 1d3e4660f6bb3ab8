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

/** How log records are written. */
export type LogFormat = "json" | "pretty";

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
