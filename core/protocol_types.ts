/**
 * The shoal wire protocol's types, version 1, written out: every signaling message
 * (PROTOCOL.md §1, both directions) and every data-channel control frame (§2).
 * `protocol.ts` holds the schemas that parse them and checks that each schema and its type
 * here agree.
 *
 * @module
 */

/**
 * A validator for values from the network: a zod schema, seen through the two methods
 * shoal uses (so that the public types do not depend on zod's).
 *
 * @example
 * ```ts
 * import { ControlFrameSchema } from "@shoal/shoal";
 *
 * const result = ControlFrameSchema.safeParse({ t: "ping", n: 1, ts: 5 });
 * console.assert(result.success && result.data.t === "ping");
 * ```
 */
export interface Schema<T> {
  /** Returns the value typed, or throws when it does not match. */
  parse(value: unknown): T;
  /** Returns the value typed, or the issues found, without throwing. */
  safeParse(value: unknown): { success: true; data: T } | {
    success: false;
    error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> };
  };
}

/**
 * The payload of a `signal` message: one of the six handshake payloads (PROTOCOL.md §1).
 *
 * @example
 * ```ts
 * import type { SignalData } from "@shoal/shoal";
 *
 * const data: SignalData = { kind: "candidate", candidate: "", sdpMid: "0", sdpMLineIndex: 0 };
 * console.assert(data.kind === "candidate");
 * ```
 */
export type SignalData =
  | { kind: "offer"; sdp: string }
  | { kind: "answer"; sdp: string }
  | { kind: "candidate"; candidate: string; sdpMid: string | null; sdpMLineIndex: number | null }
  | { kind: "end-of-candidates" }
  | { kind: "abort"; reason?: string }
  | { kind: "request-offer"; reason?: string };
/**
 * The `kind` of a signal payload.
 *
 * @example
 * ```ts
 * import type { SignalKind } from "@shoal/shoal";
 *
 * const kind: SignalKind = "offer";
 * console.assert(kind === "offer");
 * ```
 */
export type SignalKind = SignalData["kind"];

/**
 * Why a peer left: the `reason` of `peer-left`.
 *
 * @example
 * ```ts
 * import type { PeerLeftReason } from "@shoal/shoal";
 *
 * const reason: PeerLeftReason = "timeout";
 * console.assert(reason === "timeout");
 * ```
 */
export type PeerLeftReason = "left" | "closed" | "timeout" | "replaced" | "shutdown";

/**
 * A code the server's `error` message may carry.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "@shoal/shoal";
 *
 * const code: ErrorCode = "session-full";
 * console.assert(code === "session-full");
 * ```
 */
export type ErrorCode =
  | "bad-message"
  | "too-large"
  | "rate-limited"
  | "protocol-version"
  | "unauthorized"
  | "session-full"
  | "replaced"
  | "hello-timeout"
  | "timeout"
  | "unknown-peer"
  | "shutdown";

/**
 * An ICE server as the signaling server hands it out in `welcome` (the plain-object form
 * of `RTCIceServer`).
 *
 * @example
 * ```ts
 * import type { IceServer } from "@shoal/shoal";
 *
 * const stun: IceServer = { urls: "stun:stun.example.org:3478" };
 * console.assert(typeof stun.urls === "string");
 * ```
 */
export interface IceServer {
  /** One URL or several. */
  urls: string | string[];
  /** For a TURN server. */
  username?: string;
  /** For a TURN server. */
  credential?: string;
}

/**
 * A message from a client (host or viewer) to the signaling server.
 *
 * @example
 * ```ts
 * import type { ClientMessage } from "@shoal/shoal";
 *
 * const hello: ClientMessage = { type: "hello", role: "viewer", protocol: 1, joinCode: "ABCD" };
 * console.assert(hello.type === "hello");
 * ```
 */
export type ClientMessage =
  | {
    type: "hello";
    role: "host" | "viewer";
    protocol: 1;
    token?: string;
    joinCode?: string;
    label?: string;
  }
  | { type: "signal"; to?: string; handshakeId: string; data: SignalData }
  | { type: "ping"; ts?: number }
  | { type: "leave" };
/**
 * The `hello` message.
 *
 * @example
 * ```ts
 * import type { HelloMessage } from "@shoal/shoal";
 *
 * const hello: HelloMessage = { type: "hello", role: "host", protocol: 1, token: "SECRET" };
 * console.assert(hello.role === "host");
 * ```
 */
export type HelloMessage = Extract<ClientMessage, { type: "hello" }>;

/**
 * A message from the signaling server to a client.
 *
 * @example
 * ```ts
 * import type { ServerMessage } from "@shoal/shoal";
 *
 * const joined: ServerMessage = { type: "peer-joined", peerId: "p1", label: "alice" };
 * console.assert(joined.type === "peer-joined");
 * ```
 */
export type ServerMessage =
  | {
    type: "welcome";
    peerId: string;
    sessionId: string;
    role: "host" | "viewer";
    iceServers: IceServer[];
    peers?: Array<{ peerId: string; label: string }>;
  }
  | { type: "peer-joined"; peerId: string; label: string }
  | { type: "peer-left"; peerId: string; reason: PeerLeftReason }
  | { type: "host-status"; online: boolean }
  | { type: "signal"; from: string; handshakeId: string; data: SignalData }
  | { type: "pong"; ts?: number }
  | { type: "error"; code: ErrorCode; message: string };
/**
 * The `welcome` message.
 *
 * @example
 * ```ts
 * import type { WelcomeMessage } from "@shoal/shoal";
 *
 * const w: WelcomeMessage = {
 *   type: "welcome",
 *   peerId: "p1",
 *   sessionId: "s1",
 *   role: "viewer",
 *   iceServers: [],
 * };
 * console.assert(w.peers === undefined);
 * ```
 */
export type WelcomeMessage = Extract<ServerMessage, { type: "welcome" }>;

/**
 * Reasons a `bye` control frame may give (other strings are tolerated on receipt, see
 * {@link ByeReason}): those of PROTOCOL.md §2, and those shoal adds for bad input from a
 * viewer (docs/protocol.md).
 *
 * @example
 * ```ts
 * import type { KnownByeReason } from "@shoal/shoal";
 *
 * const reason: KnownByeReason = "bad-length";
 * console.assert(reason.startsWith("bad-"));
 * ```
 */
export type KnownByeReason =
  | "slow"
  | "shutdown"
  | "kicked"
  | "heartbeat-timeout"
  | "capacity"
  | "bad-frame"
  | "bad-length"
  | "bad-control"
  | "flood";

/**
 * What a `bye` control frame may say: a {@link KnownByeReason} or any other string, which
 * a receiver tolerates.
 *
 * @example
 * ```ts
 * import type { ByeReason } from "@shoal/shoal";
 *
 * const reason: ByeReason = "slow";
 * console.assert(reason === "slow");
 * ```
 */
export type ByeReason = KnownByeReason | string;

/**
 * A control frame on the data channel (PROTOCOL.md §2).
 *
 * @example
 * ```ts
 * import type { ControlFrame } from "@shoal/shoal";
 *
 * const ping: ControlFrame = { t: "ping", n: 1, ts: Date.now() };
 * console.assert(ping.t === "ping");
 * ```
 */
export type ControlFrame =
  | { t: "ready"; resume?: unknown }
  | { t: "ping"; n: number; ts: number }
  | { t: "pong"; n: number; ts: number }
  | { t: "bye"; reason?: string }
  | { t: "seq"; stream: string; next: number }
  | { t: "direct"; count: number };

/**
 * What a viewer that supports resume puts in its `ready` as `resume` (docs/protocol.md):
 * `{}` when it has nothing to resume, else the `stream` it was receiving and the number of
 * the `last` sequenced message it received (or the one before the first it expected).
 *
 * @example
 * ```ts
 * import type { ResumeRequest } from "@shoal/shoal";
 *
 * const again: ResumeRequest = { stream: "3f9a0c1d2e4b5a69", last: 41 };
 * console.assert(again.last === 41);
 * ```
 */
export interface ResumeRequest {
  /** The host's stream the viewer was receiving. */
  stream?: string;
  /** The number of the last sequenced message it received. */
  last?: number;
}
