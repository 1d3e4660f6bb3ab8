// Chaos in the handshake itself (late answers, lost candidates) and a host that crashes.
import assert from "node:assert/strict";
import { readLines } from "../cli/lines.ts";
import type { RtcAdapter } from "../core/rtc.ts";
import { Viewer } from "../core/viewer.ts";
import { assertCountersAddUp, assertSurvivorsComplete, ChaosHost, loopback } from "./_chaos.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";
import { tweaked } from "./_rtc_wrappers.ts";

/** The first answer of each viewer is delayed by `ms`. */
const lateFirstAnswer = (ms: number) =>
  tweaked(loopback(), (n, pc) => {
    if (n > 0) return;
    const create = pc.createAnswer.bind(pc);
    pc.createAnswer = async (o) => {
      await new Promise((r) => setTimeout(r, ms));
      return await create(o);
    };
  });

/** Local candidates of the first `count` peer connections are never given out. */
const dropCandidates = (count: number) =>
  tweaked(loopback(), (n, pc) => {
    if (n >= count) return;
    const on = pc.on.bind(pc) as typeof pc.on;
    pc.on = ((type, listener) =>
      type === "icecandidate" ? () => {} : on(type, listener)) as typeof pc.on;
  });

async function receiveAll(viewers: Viewer[], count: number): Promise<void> {
  await Promise.all(viewers.map(async (v) => {
    const got: number[] = [];
    for await (const m of v.messages()) {
      got.push(Number(new TextDecoder().decode(m).split(" ")[0]));
      if (got.length === count) break;
    }
    assert.ok(got.every((s, i) => i === 0 || s === got[i - 1] + 1), `in order: ${got}`);
  }));
}

Deno.test("chaos: answers delayed just under and past the answer timeout", async () => {
  await using server = testServer();
  await using ch = await ChaosHost.start(server.url, { timeouts: { answerMs: 1_000 } });
  const join = (delay: number, label: string) =>
    Viewer.join({
      rtc: lateFirstAnswer(delay),
      server: server.url,
      sessionId: ch.host.session.sessionId,
      joinCode: ch.host.joinCode!,
      label,
    });
  const viewers = await Promise.all([
    join(700, "under"),
    join(700, "under"),
    join(1_400, "past"),
    join(1_400, "past"),
  ]);
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(20_000) })));
    await eventually(() => ch.host.readyCount === 4, 5_000);
    const m = ch.host.metrics();
    assert.equal(m.outcomesByPhase["timeout/answer"], 2, JSON.stringify(m.outcomesByPhase));
    assert.equal(m.outcomes.ready, 4);
    ch.broadcast(5);
    await receiveAll(viewers, 30);
    ch.stop();
    assertCountersAddUp(ch.host.metrics());
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
});

Deno.test("chaos: lost candidates on one side connect anyway; on both sides the retry does", async () => {
  await using server = testServer();
  // The host loses the candidates of its first two handshakes.
  await using ch = await ChaosHost.start(server.url, {
    rtc: dropCandidates(2),
    timeouts: { connectedMs: 2_000 },
    maxConcurrentHandshakes: 1,
    maxConcurrentHandshakesCeiling: 1,
  });
  const join = (rtc: RtcAdapter, label: string) =>
    Viewer.join({
      rtc,
      server: server.url,
      sessionId: ch.host.session.sessionId,
      joinCode: ch.host.joinCode!,
      label,
    });
  // First handshake: only the host's candidates are lost; the viewer's reach it.
  const oneSided = await join(loopback(), "one-sided");
  await oneSided.ready({ signal: AbortSignal.timeout(15_000) });
  // Second handshake: both sides' candidates are lost, so ICE cannot start; the retry works.
  const bothSides = await join(dropCandidates(1), "both-sides");
  try {
    await bothSides.ready({ signal: AbortSignal.timeout(20_000) });
    await eventually(() => ch.host.readyCount === 2, 5_000);
    const m = ch.host.metrics();
    assert.equal(m.outcomes.ready, 2);
    // No candidate to check: ICE never got a pair to work, so the phase ends as ice-failed.
    assert.equal(m.outcomesByPhase["ice-failed/connected"], 1, JSON.stringify(m.outcomesByPhase));
    ch.broadcast(5);
    await receiveAll([oneSided, bothSides], 20);
    ch.stop();
    assertCountersAddUp(ch.host.metrics());
  } finally {
    await oneSided.close();
    await bothSides.close();
  }
});

Deno.test("chaos: the host process is killed mid-stream and restarts with its token", async () => {
  await using server = testServer();
  const hostCli = new URL("../cli/main.ts", import.meta.url).pathname;
  const spawnHost = (args: string[]) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", hostCli, "host", "--server", server.url, ...args],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const err: string[] = [];
    const reading = (async () => {
      for await (const l of readLines(child.stderr)) err.push(l);
    })();
    return { child, err, reading, stdin: child.stdin.getWriter() };
  };
  const first = spawnHost([]);
  await eventually(() => first.err.some((l) => l.includes("--token")), 30_000, "first host up");
  const line = first.err.find((l) => l.includes("--token"))!;
  const [, sessionId, token] = line.match(/--session (\S+) --token (\S+)/)!;
  const code = first.err.find((l) => l.includes("join code:"))!.split(" ").at(-1)!;
  await using swarm = new Swarm({ server: server.url, session: sessionId, code, count: 8 });
  await swarm.waitFor("ready", 8, 30_000);
  let seq = 0;
  const send = (h: typeof first) =>
    h.stdin.write(
      new TextEncoder().encode(`${seq++} ${performance.timeOrigin + performance.now()} x\n`),
    );
  for (let i = 0; i < 20; i++) await send(first);
  first.child.kill("SIGKILL");
  await first.child.status;
  await first.stdin.close().catch(() => {});
  await first.reading;
  const second = spawnHost(["--session", sessionId, "--token", token]);
  try {
    await eventually(
      async () => (await swarm.report()).every((v) => (v.readies ?? 0) >= 2),
      40_000,
      "viewers back",
    );
    await eventually(() => second.err.some((l) => / 8 ready/.test(l)), 10_000, "new host sees 8");
    const from = seq;
    for (let i = 0; i < 30; i++) await send(second);
    const last = seq - 1;
    await eventually(async () => (await swarm.report()).every((v) => v.lastSeq === last), 15_000);
    const viewers = await swarm.report();
    assertSurvivorsComplete(viewers, last);
    assert.ok(viewers.every((v) => v.firstSeq! <= from), "everything after the restart arrived");
  } finally {
    await second.stdin.close().catch(() => {});
    const timer = setTimeout(() => second.child.kill("SIGKILL"), 10_000);
    await second.child.status;
    clearTimeout(timer);
    await second.reading;
  }
});
