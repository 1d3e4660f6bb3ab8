/**
 * The phases of a handshake, the time each may take ({@link HandshakeTimeouts}, with
 * {@link DEFAULT_HANDSHAKE_TIMEOUTS}) and the time each took ({@link PhaseTimings}).
 * Re-exported by `negotiator.ts`.
 *
 * @module
 */

/**
 * The phases of a handshake, in order: `offer` (made and sent), `answer` (awaited),
 * `connected` (ICE and DTLS), `open` (the data channel), `ready` (the viewer's word).
 *
 * @example
 * ```ts
 * import { HandshakeError, type HandshakePhase } from "@shoal/shoal";
 *
 * const phaseOf = (e: unknown): HandshakePhase | undefined =>
 *   e instanceof HandshakeError ? e.phase : undefined;
 * console.assert(phaseOf(new Error("other")) === undefined);
 * ```
 */
export type HandshakePhase = "offer" | "answer" | "connected" | "open" | "ready";

/**
 * Time allowed for each phase of a handshake, ms; a phase that overruns fails the attempt
 * with a {@link HandshakeTimeoutError}. A host takes any of them in `timeouts`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUTS, type HandshakeTimeouts } from "@shoal/shoal";
 *
 * const patient: HandshakeTimeouts = { ...DEFAULT_HANDSHAKE_TIMEOUTS, answerMs: 30_000 };
 * console.assert(patient.openMs === DEFAULT_HANDSHAKE_TIMEOUTS.openMs);
 * ```
 */
export interface HandshakeTimeouts {
  /** From the offer sent to the answer received (default 10 000). */
  answerMs: number;
  /** From the answer to the connection being up: ICE and DTLS (default 10 000). */
  connectedMs: number;
  /** From connected to the data channel open (default 5 000). */
  openMs: number;
  /** From open to the viewer's `ready` (default 5 000). */
  readyMs: number;
}

/**
 * The defaults of {@link HandshakeTimeouts}: 10 s for the answer, 10 s to connect, 5 s for
 * the channel to open and 5 s for the viewer's `ready`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUTS } from "@shoal/shoal";
 *
 * console.assert(DEFAULT_HANDSHAKE_TIMEOUTS.answerMs === 10_000);
 * ```
 */
export const DEFAULT_HANDSHAKE_TIMEOUTS: HandshakeTimeouts = {
  answerMs: 10_000,
  connectedMs: 10_000,
  openMs: 5_000,
  readyMs: 5_000,
};

/** Milliseconds each phase took, and the total. */
export interface PhaseTimings {
  /** Creating and sending the offer. */
  offer?: number;
  /** Waiting for the answer. */
  answer?: number;
  /** ICE and DTLS. */
  connected?: number;
  /** The data channel opening. */
  open?: number;
  /** The viewer's `ready`. */
  ready?: number;
  /** From start to ready. */
  total?: number;
}
