// The programs in examples/, run as their README says: a Deno host broadcasting a clock, a
// Deno viewer printing it, and a page whose Host runs in (headless) Chromium.
import assert from "node:assert/strict";
import { readLines } from "../cli/lines.ts";
import { browserTest } from "./_chromium.ts";
import { eventually, testServer } from "./_signal_helpers.ts";

const root = new URL("..", import.meta.url).pathname;
const RTC_PERMS = ["--allow-net", "--allow-env", "--allow-sys"];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** An example's process, its output lines collected; killed when disposed. */
class Example implements AsyncDisposable {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly child: Deno.ChildProcess;
  #reading: Promise<unknown>;

  constructor(file: string, perms: string[], args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, `${root}examples/${file}`, ...args],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (s: ReadableStream<Uint8Array>, into: string[]) => {
      for await (const line of readLines(s)) into.push(line);
    };
    this.#reading = Promise.all([
      collect(this.child.stdout, this.out),
      collect(this.child.stderr, this.err),
    ]);
  }

  /** Waits (at most `ms`) for the process to end; returns its exit code. */
  async exit(ms: number): Promise<number> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const { code } = await this.child.status;
    clearTimeout(timer);
    await this.#reading;
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    await this.exit(10_000);
  }
}

/** The session id and join code in the first line `clock_host.ts` prints. */
function invitation(line: string): { session: string; code: string } {
  const match = line.match(/^hosting session (\S+), join code (\S+)$/);
  assert.ok(match, line);
  return { session: match[1], code: match[2] };
}

Deno.test("examples: clock_host.ts broadcasts the time every second, print_viewer.ts prints it", async () => {
  await using server = testServer();
  await using host = new Example("clock_host.ts", RTC_PERMS, [
    "--server",
    server.url,
    "--seconds",
    "6",
  ]);
  await eventually(() => host.out.length > 1, 15_000, "the host prints its session and view line");
  const { session, code } = invitation(host.out[0]);
  assert.match(host.out[1], /^view it: deno run .* examples\/print_viewer\.ts /);
  await using viewer = new Example("print_viewer.ts", RTC_PERMS, [
    "--server",
    server.url,
    "--session",
    session,
    "--code",
    code,
    "--count",
    "2",
  ]);
  assert.equal(await viewer.exit(20_000), 0, viewer.err.join("\n"));
  assert.equal(viewer.out.length, 2, viewer.out.join("\n"));
  for (const line of viewer.out) assert.match(line, ISO_TIME);
  assert.ok(Date.parse(viewer.out[1]) - Date.parse(viewer.out[0]) >= 900, "a second apart");
  assert.equal(await host.exit(20_000), 0, host.err.join("\n"));
  assert.ok(host.out.some((l) => / → 1 viewers$/.test(l)), host.out.join("\n"));
});

browserTest(
  "examples: browser_host's page hosts a clock in Chromium; print_viewer.ts in Deno prints it",
  async (browser) => {
    await using serve = new Example("browser_host/serve.ts", [
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-run",
    ], ["--port", "0"]);
    await eventually(() => serve.out.length > 0, 30_000, "serve.ts prints its address");
    const url = serve.out[0].match(/^open (http:\/\/127\.0\.0\.1:\d+)\/ /)?.[1];
    assert.ok(url, serve.out[0]);
    const page = await browser.page();
    await page.goto(`${url}/`);
    await page.waitForSelector("#code:not(:empty)", { timeout: 15_000 });
    const session = await page.textContent("#session");
    const code = await page.textContent("#code");
    await using viewer = new Example("print_viewer.ts", RTC_PERMS, [
      "--server",
      url,
      "--session",
      session!,
      "--code",
      code!,
      "--count",
      "2",
    ]);
    assert.equal(await viewer.exit(30_000), 0, viewer.err.join("\n"));
    assert.deepEqual(viewer.out.map((l) => ISO_TIME.test(l)), [true, true], viewer.out.join("\n"));
    assert.match(await page.textContent("#status") ?? "", /^Hosting/);
  },
);
