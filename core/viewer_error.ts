/**
 * {@link ViewerError}: why a viewer cannot go on. Re-exported by `viewer.ts`.
 *
 * @module
 */

/**
 * The viewer cannot go on: `kicked` or `capacity` (the host said so), `gave-up` (no ready
 * after the allowed offer requests), `refused` (the server refused it), or `closed`.
 *
 * @example
 * ```ts
 * import { ViewerError } from "./viewer.ts";
 * console.assert(new ViewerError("gave-up", "no offer").code === "gave-up");
 * ```
 */
export class ViewerError extends Error {
  /** Always `"ViewerError"`. */
  override name = "ViewerError";
  /** Makes an error with its `code`, a message, and optionally a `cause`. */
  constructor(
    /** Why. */
    readonly code: "kicked" | "capacity" | "gave-up" | "refused" | "closed",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
