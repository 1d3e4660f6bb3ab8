/**
 * The constants of the shoal wire protocol, version 1: its version number, the limits on a
 * signaling frame, a `handshakeId` and a `label`, and which signal kinds only one side may
 * send. Re-exported by `protocol.ts`.
 *
 * @module
 */
import type { SignalKind } from "./protocol_types.ts";

/**
 * The protocol version this module speaks: the `protocol` of every `hello`.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "@shoal/shoal";
 *
 * const hello = { type: "hello", role: "viewer", protocol: PROTOCOL_VERSION, joinCode: "ABCD" };
 * console.assert(hello.protocol === 1);
 * ```
 */
export const PROTOCOL_VERSION = 1;
/**
 * The largest signaling frame, in bytes of UTF-8, that either side accepts (64 KiB);
 * a larger one is answered `too-large`.
 *
 * @example
 * ```ts
 * import { MAX_SIGNAL_FRAME_BYTES, parseClientMessage } from "@shoal/shoal";
 *
 * const big = JSON.stringify({ type: "ping", pad: "x".repeat(MAX_SIGNAL_FRAME_BYTES) });
 * const r = parseClientMessage(big);
 * console.assert(!r.ok && r.code === "too-large");
 * ```
 */
export const MAX_SIGNAL_FRAME_BYTES = 65_536;
/**
 * The longest `handshakeId`, in characters.
 *
 * @example
 * ```ts
 * import { MAX_HANDSHAKE_ID_LENGTH, parseClientMessage } from "@shoal/shoal";
 *
 * const handshakeId = "h".repeat(MAX_HANDSHAKE_ID_LENGTH + 1);
 * const data = { kind: "end-of-candidates" };
 * console.assert(!parseClientMessage(JSON.stringify({ type: "signal", handshakeId, data })).ok);
 * ```
 */
export const MAX_HANDSHAKE_ID_LENGTH = 64;
/**
 * The longest viewer `label`, in characters.
 *
 * @example
 * ```ts
 * import { MAX_LABEL_LENGTH } from "@shoal/shoal";
 *
 * const label = "a very long name".slice(0, MAX_LABEL_LENGTH);
 * console.assert(label.length <= 64);
 * ```
 */
export const MAX_LABEL_LENGTH = 64;

/**
 * Signal kinds only a host may send (`offer`); from a viewer they are a bad frame.
 *
 * @example
 * ```ts
 * import { HOST_ONLY_KINDS } from "@shoal/shoal";
 *
 * console.assert(HOST_ONLY_KINDS.has("offer") && !HOST_ONLY_KINDS.has("candidate"));
 * ```
 */
export const HOST_ONLY_KINDS: ReadonlySet<SignalKind> = new Set(["offer"]);
/**
 * Signal kinds only a viewer may send (`answer`, `request-offer`); from a host they are a
 * bad frame.
 *
 * @example
 * ```ts
 * import { VIEWER_ONLY_KINDS } from "@shoal/shoal";
 *
 * console.assert(VIEWER_ONLY_KINDS.has("answer") && VIEWER_ONLY_KINDS.has("request-offer"));
 * ```
 */
export const VIEWER_ONLY_KINDS: ReadonlySet<SignalKind> = new Set(["answer", "request-offer"]);
