// `shoal share` in-process: a scripted program in a real pseudo-terminal, werift viewers
// over a real signaling server; each viewer's screen (a headless xterm.js fed what it
// received) must equal the host's model after colours, cursor motion, a full-screen
// redraw and a resize, for viewers there from the start and for a late joiner.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import type { Share } from "../cli/share.ts";
import { encodeTerminalMessage } from "../core/terminal_messages.ts";
import { Viewer } from "../core/viewer.ts";
import { shareOnLoopback } from "./_share_program.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { exitStatus, ViewerScreen } from "./_terminal.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const enc = (s: string) => new TextEncoder().encode(s);

async function watch(share: Share, server: string, label: string) {
  const viewer = await Viewer.join({
    rtc: loopback(),
    server,
    sessionId: share.host.session.sessionId,
    joinCode: share.host.joinCode!,
    label,
  });
  const screen = new ViewerScreen();
  const reading = (async () => {
    for await (const m of viewer.messages()) screen.apply(m);
  })();
  return {
    viewer,
    screen,
    async close() {
      await viewer.close();
      await reading;
      await screen.settled();
      screen.dispose();
    },
  };
}

type Watched = Awaited<ReturnType<typeof watch>>;

/** Waits until the host's model shows `text`, then until every viewer shows the same. */
async function converge(
  share: Share,
  viewers: Watched[],
  text: string,
  timeoutMs = 10_000,
): Promise<void> {
  await eventually(
    () => share.stream.model.lines().join("\n").includes(text),
    timeoutMs,
    `"${text}"`,
  ).catch((error) => {
    throw new Error(
      `${error.message}; the host shows ${JSON.stringify(share.stream.model.lines())}`,
    );
  });
  for (const v of viewers) {
    await eventually(
      async () => {
        await share.stream.flush();
        await v.screen.settled();
        return JSON.stringify(v.screen.model.lines()) ===
          JSON.stringify(share.stream.model.lines());
      },
      timeoutMs,
      `viewer ${v.viewer.peerId} shows "${text}"`,
    ).catch((error) => {
      assert.deepEqual(v.screen.model.lines(), share.stream.model.lines(), error.message);
    });
    assert.deepEqual(v.screen.model.cursor(), share.stream.model.cursor());
    // Colours and attributes too: both terminals serialize to the same sequences.
    assert.equal(v.screen.model.serialize(), share.stream.model.serialize());
  }
}

Deno.test("share streams colours, cursor motion, a full-screen redraw and a resize to werift viewers; a late joiner sees the full-screen frame; the exit status reaches them", async () => {
  await using server = testServer();
  await using share = await shareOnLoopback(server.url, { cols: 60, rows: 12 });
  const early = [await watch(share, server.url, "a"), await watch(share, server.url, "b")];
  const all = [...early];
  try {
    await converge(share, early, "moved");
    assert.match(
      share.stream.model.serialize(),
      new RegExp(String.raw`\u001b\[[\d;]*\b31\b[\d;]*m`),
      "red reached the model",
    );
    assert.equal(share.stream.model.cursor().buffer, "normal");
    await share.type("\r");
    await converge(share, early, "TOP 60x12");
    assert.equal(share.stream.model.cursor().buffer, "alternate");

    const late = await watch(share, server.url, "late");
    all.push(late);
    await converge(share, all, "TOP 60x12");
    assert.equal(late.screen.screens, 1, "the late joiner started from one screen");
    assert.equal(late.screen.model.cursor().buffer, "alternate");

    await share.resize(80, 20);
    await converge(share, all, "TOP 80x20");
    for (const v of all) assert.deepEqual(v.screen.model.size, { cols: 80, rows: 20 });
    assert.equal(share.stream.model.lines()[19], "BOTTOM");

    await share.type("quit\r");
    assert.equal(await exitStatus(share), 5);
    for (const v of all) {
      await eventually(async () => (await v.screen.settled(), v.screen.exitCode === 5), 5_000);
    }
  } finally {
    for (const v of all) await v.close();
  }
});

Deno.test("a read-only viewer's keystrokes never reach the program; once granted, they do", async () => {
  await using server = testServer();
  await using share = await shareOnLoopback(server.url, { cols: 40, rows: 8 });
  const v = await watch(share, server.url, "typist");
  try {
    await converge(share, [v], "moved");
    await share.type("\r");
    await converge(share, [v], "TOP 40x8");
    assert.equal(v.screen.hello?.input, false);
    const typed: boolean[] = [];
    share.on("input", (e) => typed.push(e.accepted));
    assert.ok(v.viewer.send(encodeTerminalMessage({ kind: "input", data: enc("quit\r") })));
    await eventually(() => share.stream.stats.inputDropped === 1, 5_000, "the keystrokes dropped");
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(share.stream.model.lines().join("\n").includes("frame none"), "nothing typed");
    assert.deepEqual(typed, [false]);

    share.stream.setInput(v.viewer.peerId!, true);
    await eventually(async () => (await v.screen.settled(), v.screen.hello?.input === true), 5_000);
    v.viewer.send(encodeTerminalMessage({ kind: "input", data: enc("hello\r") }));
    await converge(share, [v], "frame got:hello");
    v.viewer.send(encodeTerminalMessage({ kind: "input", data: enc("quit\r") }));
    assert.equal(await exitStatus(share), 5);
    assert.deepEqual(typed, [false, true, true]);
    assert.equal(share.stream.stats.inputAccepted, 2);
  } finally {
    await v.close();
  }
});

Deno.test("a flood (4 MB of `yes`) drops no viewer: each ends on the host's screen, resynchronised when it fell behind", async () => {
  await using server = testServer();
  await using share = await shareOnLoopback(server.url, {
    cols: 80,
    rows: 24,
    command: ["bash", "-c", "read -r go; yes | head -c 4000000; echo FLOOD DONE; read -r end"],
  });
  const viewers = [await watch(share, server.url, "a"), await watch(share, server.url, "b")];
  try {
    await eventually(() => share.host.readyCount === 2, 10_000, "two viewers ready");
    await share.type("\r");
    // `script` relays a few MB/s on this machine: the time limit is generous.
    await converge(share, viewers, "FLOOD DONE", 60_000);
    assert.ok(share.stream.stats.bytesIn > 4_000_000);
    assert.deepEqual(share.host.metrics().drops, {});
    assert.equal(share.host.readyCount, 2);
    console.log(
      `flood: ${share.stream.stats.ticks} ticks, ${share.stream.stats.resyncs} resyncs, ` +
        `screens per viewer ${viewers.map((v) => v.screen.screens).join(", ")}`,
    );
    await share.type("\r");
    assert.equal(await exitStatus(share), 0);
  } finally {
    for (const v of viewers) await v.close();
  }
});
