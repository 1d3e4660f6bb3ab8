/**
 * {@link SignalingError}: why a signaling connection failed. Re-exported by `signaling.ts`.
 *
 * @module
 */
import type { ErrorCode } from "./protocol.ts";

/**
 * A failure of the signaling connection: refused by the server (`code` is its error code),
 * unreachable (`connect-failed`), or closed (`closed`).
 *
 * @example
 * ```ts
 * import { SignalingError } from "./signaling.ts";
 * const e = new SignalingError("unauthorized", "wrong join code", 4401);
 * console.assert(e.name === "SignalingError");
 * ```
 */
export class SignalingError extends Error {
  /** Always `"SignalingError"`. */
  override name = "SignalingError";
  /** Makes the error from its code, a message, the close code and a `cause`. */
  constructor(
    /** The server's error code, or `connect-failed` / `closed` / `hello-timeout`. */
    readonly code: ErrorCode | "connect-failed" | "closed",
    message: string,
    /** The WebSocket close code, when there was one. */
    readonly closeCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
