// The terminal stream of `shoal share` against a recording outlet: snapshots for joiners,
// coalescing per tick, resynchronisation of a viewer that fell behind, input policy.
import assert from "node:assert/strict";
import { TerminalStream } from "../cli/terminal_stream.ts";
import { decodeTerminalMessage } from "../core/terminal_messages.ts";
import { ViewerScreen } from "./_terminal.ts";

const enc = (s: string) => new TextEncoder().encode(s);

class Outlet {
  sent = new Map<string, Uint8Array[]>();
  backlog = new Map<string, number>();
  screens = new Map<string, ViewerScreen>();
  send(peerId: string, payload: Uint8Array): boolean {
    if (!this.sent.has(peerId)) this.sent.set(peerId, []);
    this.sent.get(peerId)!.push(payload);
    this.screens.get(peerId)?.apply(payload);
    return true;
  }
  backlogs(): ReadonlyMap<string, number> {
    return this.backlog;
  }
  kinds(peerId: string): string[] {
    return (this.sent.get(peerId) ?? []).map((p) => decodeTerminalMessage(p)?.kind ?? "?");
  }
  /** Admits `peerId` with a screen that applies everything it is sent. */
  async admit(stream: TerminalStream, peerId: string): Promise<ViewerScreen> {
    const screen = new ViewerScreen();
    this.screens.set(peerId, screen);
    await stream.admit({ peerId, label: peerId, send: (d) => this.send(peerId, d) });
    return screen;
  }
}

Deno.test("a viewer joining mid-program gets hello and the serialized screen, and then shows what the host's model shows", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, cols: 40, rows: 10 });
  await stream.write(
    enc("\x1b[1;31mred bold\x1b[0m\r\nplain\r\n\x1b[?1049h\x1b[2J\x1b[3;5H\x1b[7mframe"),
  );
  await stream.flush();
  const screen = await outlet.admit(stream, "late");
  assert.deepEqual(outlet.kinds("late"), ["hello", "screen"]);
  await stream.write(enc("\x1b[5;1Hafter"));
  await stream.flush();
  await screen.settled();
  assert.deepEqual(outlet.kinds("late"), ["hello", "screen", "output"]);
  assert.equal(screen.hello?.cols, 40);
  assert.deepEqual(screen.model.lines(), stream.model.lines());
  assert.deepEqual(screen.model.cursor(), stream.model.cursor());
  assert.equal(screen.model.cursor().buffer, "alternate");
  screen.dispose();
});

Deno.test("output written within one tick reaches each viewer as one message", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, tickMs: 20 });
  await outlet.admit(stream, "a");
  for (const c of "one tick") await stream.write(enc(c));
  await new Promise((r) => setTimeout(r, 60));
  await stream.flush();
  assert.deepEqual(outlet.kinds("a"), ["hello", "screen", "output"]);
  assert.equal(new TextDecoder().decode(outlet.sent.get("a")![2].subarray(1)), "one tick");
  assert.equal(stream.stats.ticks, 1);
  outlet.screens.get("a")!.dispose();
});

Deno.test("a viewer that falls behind gets no output until its backlog drains, then a fresh screen instead of the backlog", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, cols: 30, rows: 5, resyncBytes: 1000 });
  const slow = await outlet.admit(stream, "slow");
  const fast = await outlet.admit(stream, "fast");
  outlet.backlog.set("slow", 5000);
  for (let i = 0; i < 20; i++) {
    await stream.write(enc(`line ${i}\r\n`));
    await stream.flush();
  }
  assert.deepEqual(outlet.kinds("slow"), ["hello", "screen"], "nothing while behind");
  assert.equal(outlet.kinds("fast").filter((k) => k === "output").length, 20);
  // Output has stopped: the stream checks on its own until the viewer has caught up.
  outlet.backlog.set("slow", 100);
  await new Promise((r) => setTimeout(r, 120));
  await stream.flush();
  assert.deepEqual(outlet.kinds("slow"), ["hello", "screen", "hello", "screen"]);
  await stream.write(enc("caught up"));
  await stream.flush();
  assert.deepEqual(outlet.kinds("slow"), ["hello", "screen", "hello", "screen", "output"]);
  await Promise.all([slow.settled(), fast.settled()]);
  assert.deepEqual(slow.model.lines(), stream.model.lines());
  assert.deepEqual(fast.model.lines(), stream.model.lines());
  assert.equal(stream.stats.resyncs, 1);
  assert.equal(stream.viewers().find((v) => v.peerId === "slow")?.resyncs, 1);
  slow.dispose();
  fast.dispose();
});

Deno.test("a read-only viewer's keystrokes are dropped and counted; a granted viewer's pass, and it is told", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet });
  const screen = await outlet.admit(stream, "v");
  assert.equal(stream.input("v", enc("rm -rf /\r")), undefined);
  assert.equal(stream.input("stranger", enc("x")), undefined);
  assert.equal(stream.stats.inputDropped, 2);
  assert.ok(stream.setInput("v", true));
  assert.deepEqual(stream.input("v", enc("ls\r")), enc("ls\r"));
  assert.equal(stream.stats.inputAccepted, 1);
  await stream.flush();
  await screen.settled();
  assert.equal(screen.hello?.input, true, "the viewer got a hello granting input");
  stream.setInput("v", false);
  assert.equal(stream.input("v", enc("x")), undefined);
  screen.dispose();
});

Deno.test("with allowInput every viewer may type until revoked", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, allowInput: true });
  const screen = await outlet.admit(stream, "v");
  await screen.settled();
  assert.equal(screen.hello?.input, true);
  assert.ok(stream.input("v", enc("a")));
  screen.dispose();
});

Deno.test("a resize reaches every viewer as a hello with the new size before later output", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, cols: 20, rows: 5 });
  const screen = await outlet.admit(stream, "v");
  await stream.write(enc("before"));
  await stream.resize(30, 8);
  await stream.write(enc("\r\nafter"));
  await stream.flush();
  assert.deepEqual(outlet.kinds("v"), ["hello", "screen", "output", "hello", "output"]);
  await screen.settled();
  assert.deepEqual(screen.model.size, { cols: 30, rows: 8 });
  assert.deepEqual(screen.model.lines(), stream.model.lines());
  screen.dispose();
});

Deno.test("write waits while more than maxPendingBytes are unsent, and resumes after a tick", async () => {
  const outlet = new Outlet();
  await using stream = new TerminalStream({ outlet, maxPendingBytes: 100, tickMs: 30 });
  await stream.write(new Uint8Array(80).fill(0x41));
  let resolved = false;
  const waiting = stream.write(new Uint8Array(80).fill(0x42)).then(() => resolved = true);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(resolved, false);
  await waiting;
  assert.equal(stream.stats.bytesIn, 160);
});
