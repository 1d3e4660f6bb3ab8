// `shoal share` and `shoal view` as separate processes over a real signaling server: the
// viewer's terminal gets the shared screen, its keystrokes reach the program only with
// --allow-input, and share exits with the program's status, which the viewer is told.
import assert from "node:assert/strict";
import { Proc } from "./_proc.ts";
import { SHARE_PROGRAM } from "./_share_program.ts";
import { eventually, testServer } from "./_signal_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function startShare(server: string, flags: string[]) {
  const share = new Proc("cli/main.ts", [
    "share",
    "--server",
    server,
    "--cols",
    "50",
    "--rows",
    "10",
    ...flags,
    "--",
    ...SHARE_PROGRAM,
  ]);
  await eventually(() => share.err.some((l) => l.includes("join code:")), 30_000, "announce");
  const sessionId = share.err.find((l) => l.includes("sharing a terminal in session"))!
    .split(" ").at(-1)!;
  const code = share.err.find((l) => l.includes("join code:"))!.split(" ").at(-1)!;
  const view = new Proc("cli/main.ts", [
    "view",
    "--server",
    server,
    "--session",
    sessionId,
    "--code",
    code,
    "--label",
    "cli-viewer",
  ]);
  return { share, view };
}

const shows = (p: Proc, text: string) => p.stdout.includes(text);

Deno.test("commands: share --allow-input streams the terminal to a view process whose keystrokes reach the program; share exits with its status", async () => {
  await using server = testServer();
  const { share, view } = await startShare(server.url, ["--allow-input"]);
  await using _s = share;
  await using _v = view;
  await eventually(() => shows(view, "moved"), 30_000, "the viewer shows the first screen");
  await share.stdin.write(enc("\r")); // the sharer types: full screen
  await eventually(() => shows(view, "TOP 50x10"), 10_000, "the viewer shows the frame");
  await view.stdin.write(enc("typed\r"));
  await eventually(() => shows(share, "got:typed"), 10_000, "the program got the keystrokes");
  await eventually(() => shows(view, "got:typed"), 10_000, "and the viewer sees it");
  assert.ok(share.err.some((l) => l.includes("viewer input from") && l.includes("typed")));
  await view.stdin.write(enc("quit\r"));
  assert.equal((await share.end()).code, 5);
  assert.equal((await view.end()).code, 0);
  assert.ok(view.err.some((l) => l.includes("the shared program exited (status 5)")));
});

Deno.test("commands: without --allow-input a view process's keystrokes never reach the program", async () => {
  await using server = testServer();
  const { share, view } = await startShare(server.url, []);
  await using _s = share;
  await using _v = view;
  await eventually(() => shows(view, "moved"), 30_000, "the viewer shows the first screen");
  await share.stdin.write(enc("\r"));
  await eventually(() => shows(view, "TOP 50x10"), 10_000, "the viewer shows the frame");
  await view.stdin.write(enc("quit\r"));
  await view.stdin.write(enc("typed\r"));
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok(!shows(share, "got:typed"), "nothing the viewer typed reached the program");
  await share.stdin.write(enc("quit\r"));
  assert.equal((await share.end()).code, 5);
  await view.end();
});
