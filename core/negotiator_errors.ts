/**
 * The errors of a failed handshake: {@link HandshakeError} and its timeout subclass
 * {@link HandshakeTimeoutError}. Re-exported by `negotiator.ts`.
 *
 * @module
 */
import type { HandshakePhase } from "./negotiator_phases.ts";

/**
 * A failed handshake: the phase it failed in and why.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "./negotiator.ts";
 * const e = new HandshakeError("answer", "timeout", { peerId: "v", handshakeId: "h", attempt: 1 });
 * console.assert(e.message.includes("answer"));
 * ```
 */
export class HandshakeError extends Error {
  /** `"HandshakeError"`, or the subclass's name. */
  override name = "HandshakeError";
  /** The viewer. */
  readonly peerId: string;
  /** The handshake. */
  readonly handshakeId: string;
  /** Which attempt it was. */
  readonly attempt: number;
  /** Makes the error from the phase, the reason, the viewer's ids and an optional `cause`. */
  constructor(
    /** The phase that failed. */
    readonly phase: HandshakePhase,
    /** `timeout`, `failed` (connection failed), `viewer-abort`, `aborted`, or `error`. */
    readonly reason: string,
    data: { peerId: string; handshakeId: string; attempt: number },
    options?: ErrorOptions,
  ) {
    super(
      `handshake ${data.handshakeId} with ${data.peerId} failed in ${phase}: ${reason}`,
      options,
    );
    this.peerId = data.peerId;
    this.handshakeId = data.handshakeId;
    this.attempt = data.attempt;
  }
}

/**
 * A handshake that timed out: its `phase` overran its {@link HandshakeTimeouts} entry.
 *
 * @example
 * ```ts
 * import { HandshakeError, HandshakeTimeoutError } from "@shoal/shoal";
 *
 * const e = new HandshakeTimeoutError("answer", "timeout", {
 *   peerId: "p1",
 *   handshakeId: "h1",
 *   attempt: 2,
 * });
 * console.assert(e instanceof HandshakeError && e.phase === "answer");
 * ```
 */
export class HandshakeTimeoutError extends HandshakeError {
  /** Always `"HandshakeTimeoutError"`. */
  override name = "HandshakeTimeoutError";
}
