/**
 * What parsing a frame yields ({@link ParseResult}, {@link ParseErrorCode}) and the helpers
 * under the parse functions of `protocol.ts`: {@link utf8Length}, the size and JSON check,
 * and the schema check that names what failed. `protocol.ts` re-exports the public names;
 * `parseJson` and `schemaError` are internal.
 *
 * @module
 */
import type { z } from "zod";

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
export function parseJson(
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
export function schemaError<T>(
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
