// `shoal share` on a real terminal: the test runs it inside a pseudo-terminal of its own,
// so the command sees a terminal on stdin and stdout (raw mode, its size), types into it,
// resizes it (the kernel sends the share SIGWINCH), and watches with a werift viewer.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Pty } from "../cli/pty.ts";
import { Viewer } from "../core/viewer.ts";
import { SHARE_PROGRAM } from "./_share_program.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { ViewerScreen } from "./_terminal.ts";

const root = new URL("..", import.meta.url).pathname;
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("share on a terminal: its size, raw keystrokes and a resize (SIGWINCH) reach the program and the viewer; it exits with the program's status", async () => {
  await using server = testServer();
  await using outer = await Pty.spawn(
    [
      Deno.execPath(),
      "run",
      "-A",
      `${root}cli/main.ts`,
      "share",
      "--server",
      server.url,
      // werift on both sides, as in share_werift_test.ts (share_cli_test.ts runs the default).
      "--rtc",
      "werift",
      "--",
      ...SHARE_PROGRAM,
    ],
    { cols: 60, rows: 12, env: { NO_COLOR: "1" } },
  );
  let shown = "";
  const reading = (async () => {
    for await (const chunk of outer.output) shown += new TextDecoder().decode(chunk);
  })();
  let viewer: Viewer | undefined;
  const screen = new ViewerScreen();
  try {
    await eventually(() => /join code: \S+/.test(shown), 30_000, "the share announces");
    const sessionId = shown.match(/in session (\S+)/)![1];
    const joinCode = shown.match(/join code: (\S+)/)![1];
    viewer = await Viewer.join({
      rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
      server: server.url,
      sessionId,
      joinCode,
    });
    const v = viewer;
    void (async () => {
      for await (const m of v.messages()) screen.apply(m);
    })();
    const shows = (text: string) => async () => {
      await screen.settled();
      return screen.model.lines().join("\n").includes(text);
    };
    await eventually(shows("moved"), 15_000, "the viewer shows the first screen");
    assert.deepEqual(screen.model.size, { cols: 60, rows: 12 }, "the sharer's terminal size");
    await outer.write(enc("\r")); // typed on the sharer's terminal
    await eventually(shows("TOP 60x12"), 10_000, "full screen at the terminal's size");
    await outer.resize(80, 20); // the sharer's terminal window grows
    await eventually(shows("TOP 80x20"), 10_000, "the program and the viewer follow the resize");
    assert.deepEqual(screen.model.size, { cols: 80, rows: 20 });
    await outer.write(enc("quit\r"));
    assert.equal(await outer.status, 5, "share exits with the program's status");
    await eventually(async () => (await screen.settled(), screen.exitCode === 5), 5_000);
  } finally {
    await viewer?.close();
    await outer.close();
    await reading;
    screen.dispose();
  }
});
