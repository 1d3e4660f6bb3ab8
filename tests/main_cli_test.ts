// `cli/main.ts`, the one `shoal` entry point: help, version, usage errors, the hidden swarm
// command a compiled binary spawns itself with, and the compile task's one sentence.
import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { BENCH_FLAGS } from "../bench/main.ts";
import { BINARY_PERMISSIONS } from "../cli/compile.ts";
import { DEMO_FLAGS } from "../cli/demo.ts";
import type { FlagTable } from "../cli/flags.ts";
import { HOST_FLAGS } from "../cli/host.ts";
import { swarmCommandLine } from "../cli/swarm_spawn.ts";
import { VIEW_FLAGS } from "../cli/view.ts";
import { SIGNAL_FLAGS } from "../cli/signal.ts";
import { Host } from "../core/host.ts";
import { werift } from "../adapters/werift.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { readLines } from "../cli/lines.ts";
import { LoadRun } from "../cli/loadrun.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const COMPILE = new URL("../cli/compile.ts", import.meta.url).pathname;

/** Runs `deno run <perms> script args` to the end (killed after 30 s). */
async function run(
  script: string,
  args: string[],
  options: { perms?: string[]; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.perms ?? ["--allow-env"]), script, ...args],
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: text(out.stdout), err: text(out.stderr) };
}

Deno.test("shoal --version prints the version of deno.json; --help lists the commands", async () => {
  const version = await run(MAIN, ["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.out.trim(), `shoal ${config.version}`);
  const help = await run(MAIN, ["--help"]);
  assert.equal(help.code, 0);
  for (const command of ["signal", "host", "view", "demo", "bench"]) {
    assert.match(help.out, new RegExp(`^  ${command} `, "m"), command);
  }
  assert.doesNotMatch(help.out, /swarm/, "swarm is hidden");
  const bare = await run(MAIN, []);
  assert.equal(bare.code, 2, "no command is a usage error");
  assert.match(bare.err, /Usage: shoal <command>/);
});

Deno.test("shoal <command> --help lists every flag with its default", async () => {
  const commands: Array<[string, FlagTable]> = [
    ["signal", SIGNAL_FLAGS],
    ["host", HOST_FLAGS],
    ["view", VIEW_FLAGS],
    ["demo", DEMO_FLAGS],
    ["bench", BENCH_FLAGS],
  ];
  for (const [command, flags] of commands) {
    const { code, out } = await run(MAIN, [command, "--help"]);
    assert.equal(code, 0, command);
    assert.match(out, new RegExp(`^Usage: shoal ${command}`), command);
    for (const [name, flag] of Object.entries(flags)) {
      const line = out.split("\n").find((l) => l.trimStart().startsWith(`--${name} `));
      assert.ok(line, `${command} --help lists --${name}`);
      if ("default" in flag && flag.default !== undefined) {
        assert.ok(line.includes(`(default: ${flag.default})`), `${command}: ${line}`);
      }
    }
  }
});

Deno.test("shoal: unknown commands and flags and missing values are one sentence and exit 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["nope"], /^shoal: unknown command "nope" \(see shoal --help\)$/],
    [["--nope"], /^shoal: unknown flag --nope \(see shoal --help\)$/],
    [["host", "--bogus"], /^shoal host: unknown flag --bogus \(see shoal host --help\)$/],
    [["view", "--session"], /^shoal view: --session needs a value$/],
    [["demo", "--viewers", "many"], /^shoal demo: --viewers must be a whole number/],
    [["signal", "--log-format", "xml"], /^shoal signal: --log-format must be json or pretty$/],
    [["signal", "--turn", "turn:10.1.1.1"], /^shoal signal: --turn and --turn-secret go together$/],
    [["signal", "--turn", "http://a", "--turn-secret", "s"], /^shoal signal: "http:\/\/a" is not/],
    [["signal", "--turn-ttl", "60"], /^shoal signal: --turn-ttl needs --turn$/],
    [["bench", "--pattern", "zigzag"], /^shoal bench: --pattern must be/],
    [["signal", "--allowed-origins", "app.example"], /^shoal signal: --allowed-origins: "app/],
    [["signal", "--max-sockets-per-address", "-1"], /^shoal signal: --max-sockets-per-address/],
  ];
  for (const [args, sentence] of cases) {
    const { code, err } = await run(MAIN, args);
    assert.equal(code, 2, args.join(" "));
    const lines = err.trim().split("\n");
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], sentence);
  }
});

Deno.test("shoal signal with an unreachable Redis: one sentence and exit 1, no stack trace", async () => {
  const perms = ["--allow-net", "--allow-env", "--allow-read", "--allow-run"];
  const args = ["signal", "--port", "0", "--redis", "redis://127.0.0.1:1"];
  const { code, err } = await run(MAIN, args, { perms });
  assert.equal(code, 1, err);
  const said = err.split("\n").filter((l) => l.startsWith("shoal signal:"));
  assert.equal(said.length, 1, err);
  assert.match(said[0], /redis/i);
  assert.doesNotMatch(err, /Stack backtrace|\n\s+at /);
});

Deno.test("swarmCommandLine runs swarm.ts with deno, or the compiled binary's own swarm command", () => {
  const args = ["--count", "2"];
  const fromSource = swarmCommandLine(args, false);
  assert.equal(fromSource.program, Deno.execPath());
  assert.deepEqual(fromSource.args.slice(0, 2), ["run", "-A"]);
  assert.match(fromSource.args[2], /\/cli\/swarm\.ts$/);
  assert.deepEqual(fromSource.args.slice(3), args);
  const compiled = swarmCommandLine(args, true);
  assert.equal(compiled.program, Deno.execPath());
  assert.deepEqual(compiled.args, ["swarm", ...args]);
  assert.deepEqual(swarmCommandLine(args), fromSource, "this test does not run compiled");
});

Deno.test("shoal swarm (what a compiled binary runs as its own child) brings viewers to ready", async () => {
  await using server = testServer();
  await using host = await Host.start({
    rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
    server: server.url,
  });
  // `shoal swarm …` from the sources: the same command line a binary gives itself.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "swarm", "--server", server.url, "--count", "2"].concat(
      ["--session", host.session.sessionId, "--code", host.joinCode!, "--ice-address", "127.0.0.1"],
    ),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 40_000);
  const events: Array<{ ev: string }> = [];
  const reading = (async () => {
    for await (const line of readLines(child.stdout)) events.push(JSON.parse(line));
  })();
  const count = (ev: string) => events.filter((e) => e.ev === ev).length;
  await eventually(() => count("ready") === 2 || count("failed") > 0, 30_000, "swarm ready");
  assert.equal(count("ready"), 2, JSON.stringify(events));
  await eventually(() => host.readyCount === 2, 10_000, "host sees two ready viewers");
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("quit\n"));
  await stdin.close();
  assert.equal((await child.status).code, 0);
  clearTimeout(killer);
  await reading;
  assert.ok(events.some((e) => e.ev === "summary"), "the swarm reports before it quits");
});

Deno.test("deno task compile: a DENORT_BIN that is not a file is one sentence and exit 1", async () => {
  const { code, err, out } = await run(COMPILE, [], {
    perms: ["--allow-env=DENORT_BIN", "--allow-read", "--allow-run", "--allow-net=dl.deno.land"],
    env: { DENORT_BIN: "/nonexistent/denort" },
  });
  assert.equal(code, 1);
  assert.equal(out, "");
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1, err);
  assert.match(lines[0], /^shoal compile: DENORT_BIN=\/nonexistent\/denort is not a file: .*\.$/);
  assert.doesNotMatch(err, /Stack backtrace|\n\s+at /);
  assert.ok(
    BINARY_PERMISSIONS.every((p) => !p.startsWith("--allow-read")),
    "the binary reads nothing",
  );
});

/** The permission flags of a `deno task` that is `deno run <perms> cli/main.ts <name>`. */
function taskPerms(name: keyof typeof config.tasks): string[] {
  const words = config.tasks[name].split(" ");
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], name);
  assert.deepEqual(words.slice(-2), ["cli/main.ts", name], `${name} is an alias of shoal ${name}`);
  return words.slice(2, -2);
}

Deno.test("deno task signal, host, view, demo and bench are aliases of the shoal commands", () => {
  for (const name of ["signal", "host", "view", "demo", "bench"] as const) {
    const perms = taskPerms(name);
    assert.ok(!perms.includes("-A") && !perms.includes("--allow-all"), `${name}: ${perms}`);
  }
});

Deno.test("shoal demo with the permissions of deno task demo, on libdatachannel (the default) and on werift: 4 viewers, every message delivered", async () => {
  for (const rtc of [[], ["--rtc", "werift"]]) {
    const args = ["demo", "--viewers", "4", "--processes", "1", "--duration", "1", "--rate", "20"];
    const { code, err } = await run(MAIN, [...args, ...rtc], { perms: taskPerms("demo") });
    assert.equal(code, 0, err);
    assert.match(err, /result: PASS/);
  }
});

Deno.test("a load run's signaling server in its own process relays the viewers' signals and stops", async () => {
  // werift: libdatachannel is loaded in-process by tests/libdatachannel_test.ts only.
  await using run = new LoadRun({ viewers: 2, processes: 1, serverProcess: true, rtc: "werift" });
  await run.start();
  assert.equal(run.server, undefined, "nothing embedded in this process");
  assert.match(run.serverUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${run.serverUrl}/healthz`);
  await health.body?.cancel();
  assert.equal(health.status, 200);
  run.join();
  assert.ok(await run.waitReady(30_000), "both viewers ready through the server process");
  assert.ok(await run.relayed() >= 2 * 4, "offer, answer and candidates were relayed");
  await run.close();
  await run.close();
  await assert.rejects(fetch(`${run.serverUrl}/healthz`), "the server process has stopped");
});
