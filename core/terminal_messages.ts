/**
 * The messages of a shared terminal (`shoal share`), carried as ordinary application
 * messages of protocol version 1 (docs/protocol.md, "Terminal sessions"): the first byte
 * of the payload says what the rest is. A viewer knows it joined a terminal session when
 * its first application message is a {@link TerminalHello}; one that does not know these
 * messages still gets valid application data.
 *
 * @module
 */

/**
 * The first byte of every terminal message: `hello` (size and input permission, JSON),
 * `screen` (the serialized screen and scrollback to start from), `output` (raw bytes of
 * the program's output), `input` (keystrokes, viewer to host) and `exit` (the program
 * ended, JSON).
 *
 * @example
 * ```ts
 * import { TERMINAL_KIND } from "@shoal/shoal";
 *
 * console.assert(TERMINAL_KIND.output === 0x03);
 * ```
 */
export const TERMINAL_KIND = {
  hello: 0x01,
  screen: 0x02,
  output: 0x03,
  input: 0x04,
  exit: 0x05,
} as const;

/**
 * What a `hello` carries: the terminal's size (viewers render at the sharer's size) and
 * whether this viewer's keystrokes reach the program. Sent first to every viewer, and
 * again whenever the size or that viewer's permission changes.
 *
 * @example
 * ```ts
 * import type { TerminalHello } from "@shoal/shoal";
 *
 * const hello: TerminalHello = { shoal: "terminal", v: 1, cols: 80, rows: 24, input: false };
 * console.assert(hello.cols * hello.rows === 1920);
 * ```
 */
export interface TerminalHello {
  /** Always `"terminal"`: marks the session. */
  shoal: "terminal";
  /** Version of these messages (1). */
  v: 1;
  /** Columns. */
  cols: number;
  /** Rows. */
  rows: number;
  /** Whether the host lets this viewer type into the program. */
  input: boolean;
}

/**
 * A decoded terminal message (see {@link decodeTerminalMessage}).
 *
 * @example
 * ```ts
 * import type { TerminalMessage } from "@shoal/shoal";
 *
 * const m: TerminalMessage = { kind: "output", data: new TextEncoder().encode("hi") };
 * console.assert(m.kind === "output");
 * ```
 */
export type TerminalMessage =
  | { kind: "hello"; hello: TerminalHello }
  | { kind: "screen"; data: Uint8Array }
  | { kind: "output"; data: Uint8Array }
  | { kind: "input"; data: Uint8Array }
  | { kind: "exit"; exitCode: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function _tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/**
 * Encodes a terminal message as an application payload.
 *
 * @example
 * ```ts
 * import { decodeTerminalMessage, encodeTerminalMessage } from "@shoal/shoal";
 *
 * const bytes = encodeTerminalMessage({ kind: "output", data: new TextEncoder().encode("$ ") });
 * console.assert(bytes[0] === 0x03 && bytes.byteLength === 3);
 * console.assert(decodeTerminalMessage(bytes)?.kind === "output");
 * ```
 */
export function encodeTerminalMessage(message: TerminalMessage): Uint8Array {
  switch (message.kind) {
    case "hello":
      return _tagged(TERMINAL_KIND.hello, encoder.encode(JSON.stringify(message.hello)));
    case "exit":
      return _tagged(
        TERMINAL_KIND.exit,
        encoder.encode(JSON.stringify({ exitCode: message.exitCode })),
      );
    default:
      return _tagged(TERMINAL_KIND[message.kind], message.data);
  }
}

function _json(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes.subarray(1)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const _size = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 1000;

/**
 * Decodes an application payload as a terminal message; `undefined` when it is not one
 * (another kind of session, a plain text message, or a malformed `hello`/`exit`). The
 * `data` of the result is a view into `payload`.
 *
 * @example
 * ```ts
 * import { decodeTerminalMessage, encodeTerminalMessage } from "@shoal/shoal";
 *
 * const hello = { shoal: "terminal", v: 1, cols: 100, rows: 30, input: true } as const;
 * const m = decodeTerminalMessage(encodeTerminalMessage({ kind: "hello", hello }));
 * console.assert(m?.kind === "hello" && m.hello.cols === 100);
 * console.assert(decodeTerminalMessage(new TextEncoder().encode("plain text")) === undefined);
 * ```
 */
export function decodeTerminalMessage(payload: Uint8Array): TerminalMessage | undefined {
  if (payload.byteLength === 0) return undefined;
  const data = payload.subarray(1);
  switch (payload[0]) {
    case TERMINAL_KIND.hello: {
      const o = _json(payload);
      if (!o || o.shoal !== "terminal" || o.v !== 1 || !_size(o.cols) || !_size(o.rows)) {
        return undefined;
      }
      return {
        kind: "hello",
        hello: {
          shoal: "terminal",
          v: 1,
          cols: o.cols as number,
          rows: o.rows as number,
          input: o.input === true,
        },
      };
    }
    case TERMINAL_KIND.screen:
      return { kind: "screen", data };
    case TERMINAL_KIND.output:
      return { kind: "output", data };
    case TERMINAL_KIND.input:
      return { kind: "input", data };
    case TERMINAL_KIND.exit: {
      const o = _json(payload);
      const code = o?.exitCode;
      return typeof code === "number" && Number.isInteger(code)
        ? { kind: "exit", exitCode: code }
        : undefined;
    }
    default:
      return undefined;
  }
}
