/**
 * The shoal wire protocol, version 1: zod schemas and types for every signaling message
 * (PROTOCOL.md §1, both directions) and every data-channel control frame (§2), with one
 * parse function per direction. Nothing that comes from the network is used unparsed.
 *
 * @module
 */
import { z } from "zod";
import type {
  ClientMessage,
  ControlFrame,
  ErrorCode,
  IceServer,
  PeerLeftReason,
  ResumeRequest,
  Schema,
  ServerMessage,
  SignalData,
  SignalKind,
} from "./protocol_types.ts";

export type * from "./protocol_types.ts";

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
 * The label of the one data channel between a host and a viewer (PROTOCOL.md §2): the host
 * creates it, and a viewer ignores a channel with any other label.
 *
 * @example
 * ```ts
 * import { DATA_CHANNEL_LABEL } from "@shoal/shoal";
 *
 * console.assert(DATA_CHANNEL_LABEL === "shoal");
 * ```
 */
export const DATA_CHANNEL_LABEL = "shoal";

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

/**
 * Why a frame failed to parse: the error code a server answers it with.
 *
 * @example
 * ```ts
 * import { parseClientMessage, type ParseErrorCode } from "@shoal/shoal";
 *
 * const r = parseClientMessage("not json");
 * const code: ParseErrorCode | undefined = r.ok ? undefined : r.code;
 * console.assert(code === "bad-message");
 * ```
 */
export type ParseErrorCode = "bad-message" | "too-large" | "protocol-version";

/**
 * The outcome of parsing one frame: a typed value, or a typed error with a message.
 *
 * @example
 * ```ts
 * import { type ClientMessage, parseClientMessage, type ParseResult } from "@shoal/shoal";
 *
 * const r: ParseResult<ClientMessage> = parseClientMessage('{"type":"ping"}');
 * if (r.ok) console.log(r.value.type);
 * else console.log(r.code, r.message);
 * ```
 */
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

/** Checks `raw` is a string of at most `maxBytes` bytes of UTF-8 and parses it as JSON. */
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

/**
 * Parses `value` with `schema`; on a mismatch, a `bad-message` that names the `what` by its
 * `tag` field and the first issue.
 */
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

// The schemas. Each is checked below to accept exactly its type in protocol_types.ts.
const reason = z.string().optional();
const handshakeId = z.string().max(MAX_HANDSHAKE_ID_LENGTH);

const _signalData = z.discriminatedUnion("kind", [
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

const _clientMessage = z.discriminatedUnion("type", [
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
    data: _signalData,
  }),
  z.object({ type: z.literal("ping"), ts: z.number().optional() }),
  z.object({ type: z.literal("leave") }),
]);

const _peerLeftReason = z.enum(["left", "closed", "timeout", "replaced", "shutdown"]);

const _errorCode = z.enum([
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

const _iceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

const _serverMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    peerId: z.string(),
    sessionId: z.string(),
    role: z.enum(["host", "viewer"]),
    iceServers: z.array(_iceServer),
    peers: z.array(z.object({ peerId: z.string(), label: z.string() })).optional(),
  }),
  z.object({ type: z.literal("peer-joined"), peerId: z.string(), label: z.string() }),
  z.object({ type: z.literal("peer-left"), peerId: z.string(), reason: _peerLeftReason }),
  z.object({ type: z.literal("host-status"), online: z.boolean() }),
  z.object({
    type: z.literal("signal"),
    from: z.string(),
    handshakeId,
    data: _signalData,
  }),
  z.object({ type: z.literal("pong"), ts: z.number().optional() }),
  z.object({ type: z.literal("error"), code: _errorCode, message: z.string() }),
]);

/** A stream id: what a host's `seq` frames and a viewer's `resume` carry. */
const _stream = z.string().min(1).max(64);
const _seqNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const _controlFrame = z.discriminatedUnion("t", [
  // `resume` is read by resumeRequest(); any value is tolerated here, as extra fields are.
  z.object({ t: z.literal("ready"), resume: z.unknown().optional() }),
  z.object({ t: z.literal("ping"), n: z.number().int(), ts: z.number() }),
  z.object({ t: z.literal("pong"), n: z.number().int(), ts: z.number() }),
  z.object({ t: z.literal("bye"), reason: z.string().optional() }),
  z.object({ t: z.literal("seq"), stream: _stream, next: _seqNumber }),
  z.object({ t: z.literal("direct"), count: z.number().int().min(1).max(1_000_000) }),
]);
const _resumeRequest = z.object({ stream: _stream.optional(), last: _seqNumber.optional() });

/** True when `A` and `B` are assignable to each other. */
type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails to type-check when a schema and its hand-written type drift apart. */
const _inSync: [
  _Same<z.infer<typeof _signalData>, SignalData>,
  _Same<z.infer<typeof _clientMessage>, ClientMessage>,
  _Same<z.infer<typeof _peerLeftReason>, PeerLeftReason>,
  _Same<z.infer<typeof _errorCode>, ErrorCode>,
  _Same<z.infer<typeof _iceServer>, IceServer>,
  _Same<z.infer<typeof _serverMessage>, ServerMessage>,
  _Same<z.infer<typeof _controlFrame>, ControlFrame>,
  _Same<z.infer<typeof _resumeRequest>, ResumeRequest>,
] = [true, true, true, true, true, true, true, true];
void _inSync;

/**
 * Schema of `signal.data`: one of the six handshake payloads.
 *
 * @example
 * ```ts
 * import { SignalDataSchema } from "@shoal/shoal";
 *
 * console.assert(SignalDataSchema.safeParse({ kind: "offer", sdp: "v=0" }).success);
 * console.assert(!SignalDataSchema.safeParse({ kind: "offer" }).success);
 * ```
 */
export const SignalDataSchema: Schema<SignalData> = _signalData;
/**
 * Schema of every message a client (host or viewer) sends to the server.
 *
 * @example
 * ```ts
 * import { ClientMessageSchema } from "@shoal/shoal";
 *
 * const leave = ClientMessageSchema.parse({ type: "leave" });
 * console.assert(leave.type === "leave");
 * ```
 */
export const ClientMessageSchema: Schema<ClientMessage> = _clientMessage;
/**
 * Schema of the reasons a `peer-left` may give.
 *
 * @example
 * ```ts
 * import { PeerLeftReasonSchema } from "@shoal/shoal";
 *
 * console.assert(PeerLeftReasonSchema.safeParse("timeout").success);
 * console.assert(!PeerLeftReasonSchema.safeParse("bored").success);
 * ```
 */
export const PeerLeftReasonSchema: Schema<PeerLeftReason> = _peerLeftReason;
/**
 * Schema of the codes the server's `error` message may carry.
 *
 * @example
 * ```ts
 * import { ErrorCodeSchema } from "@shoal/shoal";
 *
 * console.assert(ErrorCodeSchema.parse("session-full") === "session-full");
 * ```
 */
export const ErrorCodeSchema: Schema<ErrorCode> = _errorCode;
/**
 * Schema of an ICE server as the server hands it out in `welcome`.
 *
 * @example
 * ```ts
 * import { IceServerSchema } from "@shoal/shoal";
 *
 * const turn = { urls: ["turn:turn.example.org"], username: "u", credential: "p" };
 * console.assert(IceServerSchema.safeParse(turn).success);
 * ```
 */
export const IceServerSchema: Schema<IceServer> = _iceServer;
/**
 * Schema of every message the server sends to a client.
 *
 * @example
 * ```ts
 * import { ServerMessageSchema } from "@shoal/shoal";
 *
 * const m = ServerMessageSchema.parse({ type: "host-status", online: true });
 * console.assert(m.type === "host-status" && m.online);
 * ```
 */
export const ServerMessageSchema: Schema<ServerMessage> = _serverMessage;
/**
 * Schema of the data channel's text control frames (PROTOCOL.md §2).
 *
 * @example
 * ```ts
 * import { ControlFrameSchema } from "@shoal/shoal";
 *
 * console.assert(ControlFrameSchema.parse({ t: "bye", reason: "slow" }).t === "bye");
 * ```
 */
export const ControlFrameSchema: Schema<ControlFrame> = _controlFrame;

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
  return _schemaError(_clientMessage, value, "message", "type");
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
  return _schemaError(_serverMessage, json.value, "message", "type");
}

/** The control frame types of protocol version 1; the record keeps it in step with the type. */
const _knownControl: ReadonlySet<string> = new Set(
  Object.keys(
    { ready: 0, ping: 0, pong: 0, bye: 0, seq: 0, direct: 0 } satisfies Record<
      ControlFrame["t"],
      0
    >,
  ),
);

/**
 * What {@linkcode parseControlFrame} yields: a known control frame, a violation, or a JSON
 * object whose `"t"` string this version does not know (`unknown-control`), which its
 * receiver ignores (PROTOCOL.md §2) so that additions never break an older peer.
 *
 * @example
 * ```ts
 * import { type ControlParseResult, parseControlFrame } from "@shoal/shoal";
 *
 * const r: ControlParseResult = parseControlFrame('{"t":"resume-later"}');
 * console.assert(!r.ok && r.code === "unknown-control" && r.t === "resume-later");
 * ```
 */
export type ControlParseResult =
  | ParseResult<ControlFrame>
  | { ok: false; code: "unknown-control"; t: string; message: string };

/**
 * Parses one text frame from the data channel as a control frame (PROTOCOL.md §2). A JSON
 * object whose `"t"` is a string other than the known ones is `unknown-control`, to be
 * ignored; anything else that fails is `bad-message` or `too-large`, a framing violation.
 *
 * @example
 * ```ts
 * import { parseControlFrame } from "./protocol.ts";
 * const r = parseControlFrame('{"t":"ping","n":1,"ts":5}');
 * console.assert(r.ok && r.value.t === "ping");
 * const later = parseControlFrame('{"t":"gap","from":7}');
 * console.assert(!later.ok && later.code === "unknown-control");
 * ```
 */
export function parseControlFrame(
  raw: unknown,
  maxBytes: number = MAX_SIGNAL_FRAME_BYTES,
): ControlParseResult {
  const json = _parseJson(raw, maxBytes);
  if (!json.ok) return json;
  const value = json.value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const t = (value as Record<string, unknown>).t;
    if (typeof t === "string" && !_knownControl.has(t)) {
      return {
        ok: false,
        code: "unknown-control",
        t,
        message: `unknown control frame "${t.slice(0, 64)}"`,
      };
    }
  }
  return _schemaError(_controlFrame, value, "control frame", "t");
}

/**
 * The `resume` of a viewer's `ready` (docs/protocol.md), or `undefined` when it has none or
 * it is malformed: that viewer is served as a plain version-1 viewer.
 *
 * @example
 * ```ts
 * import { resumeRequest } from "@shoal/shoal";
 *
 * console.assert(resumeRequest({ stream: "abc", last: 7 })?.last === 7);
 * console.assert(resumeRequest(undefined) === undefined && resumeRequest(true) === undefined);
 * ```
 */
export function resumeRequest(value: unknown): ResumeRequest | undefined {
  const r = _resumeRequest.safeParse(value);
  return r.success ? r.data : undefined;
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

/**
 * The WebSocket close codes of the signaling protocol: 1000 after `leave` (or a client's
 * own close), 1001 when the server shuts down, 1012 when its state was fenced, 1013 when
 * its store is away, and the 44xx codes of PROTOCOL.md §1 (a bad message, unauthorized, a
 * hello timeout or silence, replaced by another host, the session full). The server closes
 * with them; the client reconnects unless the code is one of {@link FATAL_CLOSE_CODES}.
 *
 * @example
 * ```ts
 * import { CloseCode } from "@shoal/shoal";
 *
 * const why = (code: number) => code === CloseCode.replaced ? "another host took over" : "";
 * console.assert(CloseCode.replaced === 4409 && why(4409) !== "");
 * ```
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  serviceRestart: 1012,
  tryAgain: 1013,
  badMessage: 4400,
  unauthorized: 4401,
  timeout: 4408,
  replaced: 4409,
  full: 4429,
} as const;

/**
 * The close codes after which reconnecting cannot help: a bad message, unauthorized,
 * replaced by another host, the session full.
 *
 * @example
 * ```ts
 * import { CloseCode, FATAL_CLOSE_CODES } from "@shoal/shoal";
 *
 * console.assert(FATAL_CLOSE_CODES.has(CloseCode.unauthorized));
 * console.assert(!FATAL_CLOSE_CODES.has(CloseCode.goingAway));
 * ```
 */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.badMessage,
  CloseCode.unauthorized,
  CloseCode.replaced,
  CloseCode.full,
]);
