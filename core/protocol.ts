/**
 * The shoal wire protocol, version 1: zod schemas and types for every signaling message
 * (PROTOCOL.md §1, both directions) and every data-channel control frame (§2), with one
 * parse function per direction. Nothing that comes from the network is used unparsed.
 *
 * @module
 */
import { z } from "zod";

/** The protocol version this module speaks. */
export const PROTOCOL_VERSION = 1;
/** The largest signaling frame, in bytes of UTF-8, that either side accepts. */
export const MAX_SIGNAL_FRAME_BYTES = 65_536;
/** The longest `handshakeId`, in characters. */
export const MAX_HANDSHAKE_ID_LENGTH = 64;
/** The longest viewer `label`, in characters. */
export const MAX_LABEL_LENGTH = 64;

const reason = z.string().optional();

/** Schema of `signal.data`: one of the six handshake payloads. */
export const SignalDataSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("offer"), sdp: z.string() }),
  z.object({ kind: z.literal("answer"), sdp: z.string() }),
  z.object({
    kind: z.literal("candidate"),
    candidate: z.string(),
    sdpMid: z.string().nullable(),
    sdpMLineIndex: z.number().int().nullable(),
  }),
  z.object({ kind: z.literal("end-of-candidates") }),
  z.object({ kind: z.literal("abort"), reason }),
  z.object({ kind: z.literal("request-offer"), reason }),
]);
/** The payload of a `signal` message. */
export type SignalData = z.infer<typeof SignalDataSchema>;
/** The `kind` of a signal payload. */
export type SignalKind = SignalData["kind"];

/** Signal kinds only a host may send. */
export const HOST_ONLY_KINDS: ReadonlySet<SignalKind> = new Set(["offer"]);
/** Signal kinds only a viewer may send. */
export const VIEWER_ONLY_KINDS: ReadonlySet<SignalKind> = new Set(["answer", "request-offer"]);

const handshakeId = z.string().max(MAX_HANDSHAKE_ID_LENGTH);

/** Schema of every message a client (host or viewer) sends to the server. */
export const ClientMessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    role: z.enum(["host", "viewer"]),
    protocol: z.literal(PROTOCOL_VERSION),
    token: z.string().optional(),
    joinCode: z.string().optional(),
    label: z.string().max(MAX_LABEL_LENGTH).optional(),
  }),
  z.object({
    type: z.literal("signal"),
    to: z.string().optional(),
    handshakeId,
    data: SignalDataSchema,
  }),
  z.object({ type: z.literal("ping"), ts: z.number().optional() }),
  z.object({ type: z.literal("leave") }),
]);
/** A message from a client to the signaling server. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
/** The `hello` message. */
export type HelloMessage = Extract<ClientMessage, { type: "hello" }>;

/** Reasons a `peer-left` may give. */
export const PeerLeftReasonSchema = z.enum(["left", "closed", "timeout", "replaced", "shutdown"]);
/** Why a peer left. */
export type PeerLeftReason = z.infer<typeof PeerLeftReasonSchema>;

/** Codes the server's `error` message may carry. */
export const ErrorCodeSchema = z.enum([
  "bad-message",
  "too-large",
  "rate-limited",
  "protocol-version",
  "unauthorized",
  "session-full",
  "replaced",
  "hello-timeout",
  "timeout",
  "unknown-peer",
  "shutdown",
]);
/** A server error code. */
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** Schema of an ICE server as the server hands it out in `welcome`. */
export const IceServerSchema = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
/** An ICE server (the plain-object form of `RTCIceServer`). */
export type IceServer = z.infer<typeof IceServerSchema>;

/** Schema of every message the server sends to a client. */
export const ServerMessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    peerId: z.string(),
    sessionId: z.string(),
    role: z.enum(["host", "viewer"]),
    iceServers: z.array(IceServerSchema),
    peers: z.array(z.object({ peerId: z.string(), label: z.string() })).optional(),
  }),
  z.object({ type: z.literal("peer-joined"), peerId: z.string(), label: z.string() }),
  z.object({ type: z.literal("peer-left"), peerId: z.string(), reason: PeerLeftReasonSchema }),
  z.object({ type: z.literal("host-status"), online: z.boolean() }),
  z.object({
    type: z.literal("signal"),
    from: z.string(),
    handshakeId,
    data: SignalDataSchema,
  }),
  z.object({ type: z.literal("pong"), ts: z.number().optional() }),
  z.object({ type: z.literal("error"), code: ErrorCodeSchema, message: z.string() }),
]);
/** A message from the signaling server to a client. */
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
/** The `welcome` message. */
export type WelcomeMessage = Extract<ServerMessage, { type: "welcome" }>;

/** Reasons a `bye` control frame may give (other strings are tolerated on receipt). */
export type ByeReason = "slow" | "shutdown" | "kicked" | "heartbeat-timeout" | "capacity" | string;

/** Schema of the data channel's text control frames (PROTOCOL.md §2). */
export const ControlFrameSchema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("ready") }),
  z.object({ t: z.literal("ping"), n: z.number().int(), ts: z.number() }),
  z.object({ t: z.literal("pong"), n: z.number().int(), ts: z.number() }),
  z.object({ t: z.literal("bye"), reason: z.string().optional() }),
]);
/** A control frame on the data channel. */
export type ControlFrame = z.infer<typeof ControlFrameSchema>;

/** Why a frame failed to parse: the error code a server answers it with. */
export type ParseErrorCode = "bad-message" | "too-large" | "protocol-version";

/** The outcome of parsing one frame: a typed value or a typed error. */
export type ParseResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: ParseErrorCode; message: string };

const encoder = new TextEncoder();

/**
 * Returns the length in bytes of `text` encoded as UTF-8, without allocating when the
 * string is short enough that it cannot exceed `limit`.
 *
 * @example
 * ```ts
 * import { utf8Length } from "./protocol.ts";
 * console.assert(utf8Length("é", 10) === 2);
 * ```
 */
export function utf8Length(text: string, limit: number = Infinity): number {
  if (text.length * 3 <= limit) {
    let bytes = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c < 0xdc00) {
        bytes += 4;
        i++;
      } else bytes += 3;
    }
    return bytes;
  }
  return encoder.encode(text).byteLength;
}

function _parseJson(
  raw: unknown,
  maxBytes: number,
): { ok: true; value: unknown } | { ok: false; code: ParseErrorCode; message: string } {
  if (typeof raw !== "string") {
    return { ok: false, code: "bad-message", message: "binary frames are not accepted" };
  }
  if (utf8Length(raw, maxBytes) > maxBytes) {
    return { ok: false, code: "too-large", message: `frame exceeds ${maxBytes} bytes` };
  }
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, code: "bad-message", message: "frame is not valid JSON" };
  }
}

function _schemaError<T>(
  schema: z.ZodType<T>,
  value: unknown,
  what: string,
  tag: string,
): ParseResult<T> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const known = typeof value === "object" && value !== null && tag in value
    ? String((value as Record<string, unknown>)[tag])
    : undefined;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
  const message = known === undefined
    ? `${what} lacks a "${tag}" field`
    : `invalid ${what} "${known}"${where}: ${issue?.message ?? "schema mismatch"}`;
  return { ok: false, code: "bad-message", message };
}

/**
 * Parses one WebSocket frame a client sent to the server. A `hello` whose `protocol` is not
 * {@link PROTOCOL_VERSION} yields the `protocol-version` error; a non-string (binary) frame,
 * invalid JSON, an unknown `type` or a schema failure yields `bad-message`; a frame over
 * 64 KiB yields `too-large`.
 *
 * @example
 * ```ts
 * import { parseClientMessage } from "./protocol.ts";
 * const r = parseClientMessage('{"type":"ping","ts":1}');
 * console.assert(r.ok && r.value.type === "ping");
 * ```
 */
export function parseClientMessage(
  raw: unknown,
  maxBytes: number = MAX_SIGNAL_FRAME_BYTES,
): ParseResult<ClientMessage> {
  const json = _parseJson(raw, maxBytes);
  if (!json.ok) return json;
  const value = json.value as Record<string, unknown> | null;
  if (
    typeof value === "object" && value !== null && value.type === "hello" &&
    value.protocol !== PROTOCOL_VERSION
  ) {
    return {
      ok: false,
      code: "protocol-version",
      message: `protocol ${
        JSON.stringify(value.protocol)
      } is not supported (want ${PROTOCOL_VERSION})`,
    };
  }
  return _schemaError(ClientMessageSchema, value, "message", "type");
}

/**
 * Parses one WebSocket frame the server sent to a client.
 *
 * @example
 * ```ts
 * import { parseServerMessage } from "./protocol.ts";
 * const r = parseServerMessage('{"type":"host-status","online":true}');
 * console.assert(r.ok && r.value.type === "host-status");
 * ```
 */
export function parseServerMessage(
  raw: unknown,
  maxBytes: number = MAX_SIGNAL_FRAME_BYTES,
): ParseResult<ServerMessage> {
  const json = _parseJson(raw, maxBytes);
  if (!json.ok) return json;
  return _schemaError(ServerMessageSchema, json.value, "message", "type");
}

/**
 * Parses one text frame from the data channel as a control frame (PROTOCOL.md §2).
 *
 * @example
 * ```ts
 * import { parseControlFrame } from "./protocol.ts";
 * const r = parseControlFrame('{"t":"ping","n":1,"ts":5}');
 * console.assert(r.ok && r.value.t === "ping");
 * ```
 */
export function parseControlFrame(
  raw: unknown,
  maxBytes: number = MAX_SIGNAL_FRAME_BYTES,
): ParseResult<ControlFrame> {
  const json = _parseJson(raw, maxBytes);
  if (!json.ok) return json;
  return _schemaError(ControlFrameSchema, json.value, "control frame", "t");
}

/**
 * Whether a signal of `kind` may travel from a client of `role`. `offer` comes only from a
 * host, `answer` and `request-offer` only from a viewer; the rest go either way.
 *
 * @example
 * ```ts
 * import { kindAllowedFrom } from "./protocol.ts";
 * console.assert(!kindAllowedFrom("viewer", "offer"));
 * ```
 */
export function kindAllowedFrom(role: "host" | "viewer", kind: SignalKind): boolean {
  return role === "host" ? !VIEWER_ONLY_KINDS.has(kind) : !HOST_ONLY_KINDS.has(kind);
}
