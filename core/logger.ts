/**
 * The logger type of shoal's options, kept free of any logging library's own types.
 *
 * @module
 */

/**
 * Where shoal writes its lifecycle records: a `Logger` of `npm:@logtape/logtape` (the
 * default, under the categories `shoal.host`, `shoal.viewer` and `shoal.signaling`) or
 * anything else with these four methods. A message may name its properties in braces
 * (`"viewer dropped: {reason}"`), as LogTape renders them; the properties carry
 * `sessionId`, `peerId`, `handshakeId` and `attempt` where they apply.
 *
 * @example Send shoal's records to the console
 * ```ts
 * import type { Logger } from "@shoal/shoal";
 *
 * const log = (level: string) => (message: string, properties?: Record<string, unknown>) =>
 *   console.log(level, message, properties ?? {});
 * const logger: Logger = {
 *   debug: log("debug"),
 *   info: log("info"),
 *   warn: log("warn"),
 *   error: log("error"),
 * };
 * logger.info("ready in {ms} ms", { ms: 12 });
 * ```
 */
export interface Logger {
  /** A record for debugging. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** A lifecycle step. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Something went wrong and was handled. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Something went wrong that could not be handled. */
  error(message: string, properties?: Record<string, unknown>): void;
}
