// `cli/flags.ts`: one table per command gives each flag's type, default and help.
import assert from "node:assert/strict";
import { flagTable, helpText, parseFlags, UsageError } from "../cli/flags.ts";

const FLAGS = flagTable({
  port: { type: "int", help: "port", default: 8787, min: 0, max: 65535 },
  name: { type: "string", help: "a name" },
  format: { type: "choice", help: "format", choices: ["json", "pretty"], default: "json" },
  quiet: { type: "boolean", help: "say less" },
});

Deno.test("parseFlags gives typed values and the table's defaults", () => {
  const none = parseFlags([], FLAGS).values;
  assert.deepEqual(none, { port: 8787, name: undefined, format: "json", quiet: false });
  const { values, positionals } = parseFlags(
    ["--port", "80", "--name=a b", "--format", "pretty", "--quiet", "x", "--", "--port"],
    FLAGS,
  );
  assert.deepEqual(values, { port: 80, name: "a b", format: "pretty", quiet: true });
  assert.deepEqual(positionals, ["x", "--port"]);
});

Deno.test("parseFlags: unknown flags, missing values and bad values are one UsageError sentence", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--nope"], /^unknown flag --nope \(see --help\)$/],
    [["-p"], /^unknown flag -p \(see --help\)$/],
    [["--name"], /^--name needs a value$/],
    [["--name", "--quiet"], /^--name needs a value$/],
    [["--quiet=yes"], /^--quiet takes no value$/],
    [["--port", "http"], /^--port must be a whole number from 0 to 65535$/],
    [["--port", "70000"], /^--port must be a whole number from 0 to 65535$/],
    [["--port", ""], /^--port must be a whole number/],
    [["--format", "xml"], /^--format must be json or pretty$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args, FLAGS), (e) => {
      assert.ok(e instanceof UsageError, args.join(" "));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("helpText lists every flag with its argument, help and default", () => {
  const text = helpText("Usage: x", FLAGS);
  assert.match(text, /^Usage: x\n\nFlags:\n/);
  assert.match(text, /--port N +port \(default: 8787\)/);
  assert.match(text, /--name VALUE +a name\n/);
  assert.match(text, /--format json\|pretty +format \(default: json\)/);
  assert.match(text, /--quiet +say less\n/);
});
