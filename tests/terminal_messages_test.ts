// The terminal messages of a shared terminal: what decodes, and what is not one.
import assert from "node:assert/strict";
import {
  decodeTerminalMessage,
  encodeTerminalMessage,
  TERMINAL_KIND,
} from "../core/terminal_messages.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const tagged = (tag: number, body: string) => new Uint8Array([tag, ...enc(body)]);

Deno.test("every terminal message survives encode and decode", () => {
  const hello = { shoal: "terminal", v: 1, cols: 132, rows: 43, input: true } as const;
  assert.deepEqual(decodeTerminalMessage(encodeTerminalMessage({ kind: "hello", hello })), {
    kind: "hello",
    hello,
  });
  for (const kind of ["screen", "output", "input"] as const) {
    const m = decodeTerminalMessage(encodeTerminalMessage({ kind, data: enc("\x1b[31mx") }));
    assert.equal(m?.kind, kind);
    assert.deepEqual(m && "data" in m ? m.data : undefined, enc("\x1b[31mx"));
  }
  assert.deepEqual(
    decodeTerminalMessage(encodeTerminalMessage({ kind: "exit", exitCode: 130 })),
    { kind: "exit", exitCode: 130 },
  );
});

Deno.test("a payload that is not a terminal message decodes to undefined", () => {
  const notOnes = [
    new Uint8Array(0),
    enc("plain text from a line viewer"),
    new Uint8Array([0x06, 1, 2]),
    tagged(TERMINAL_KIND.hello, "not json"),
    tagged(TERMINAL_KIND.hello, "[1,2]"),
    tagged(TERMINAL_KIND.hello, '{"shoal":"chat","v":1,"cols":80,"rows":24}'),
    tagged(TERMINAL_KIND.hello, '{"shoal":"terminal","v":2,"cols":80,"rows":24}'),
    tagged(TERMINAL_KIND.hello, '{"shoal":"terminal","v":1,"cols":0,"rows":24}'),
    tagged(TERMINAL_KIND.hello, '{"shoal":"terminal","v":1,"cols":80.5,"rows":24}'),
    tagged(TERMINAL_KIND.hello, '{"shoal":"terminal","v":1,"cols":80,"rows":1001}'),
    tagged(TERMINAL_KIND.exit, '{"exitCode":"1"}'),
    tagged(TERMINAL_KIND.exit, "null"),
  ];
  for (const payload of notOnes) assert.equal(decodeTerminalMessage(payload), undefined);
});

Deno.test("a hello's extra fields are ignored and a missing input means read-only", () => {
  const m = decodeTerminalMessage(
    tagged(TERMINAL_KIND.hello, '{"shoal":"terminal","v":1,"cols":80,"rows":24,"title":"x"}'),
  );
  assert.deepEqual(m, {
    kind: "hello",
    hello: { shoal: "terminal", v: 1, cols: 80, rows: 24, input: false },
  });
});
