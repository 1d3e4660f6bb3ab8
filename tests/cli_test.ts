// The `host` and `view` commands as separate processes over a real signaling server.
import assert from "node:assert/strict";
import { Proc } from "./_proc.ts";
import { eventually, testServer } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";

/** The session and join code a host process announced on stderr. */
function announced(host: Proc): { sessionId: string; code: string } {
  const last = (prefix: string) => host.err.find((l) => l.includes(prefix))!.split(" ").at(-1)!;
  return { sessionId: last("shoal: hosting session"), code: last("join code:") };
}

Deno.test("commands: a host reading stdin streams to two view processes and hears them back", async () => {
  await using server = testServer();
  await using host = new Proc("cli/main.ts", [
    "host",
    "--server",
    server.url,
    "--metrics-port",
    "0",
  ]);
  await eventually(() => host.err.some((l) => l.includes("join code:")), 30_000, "host announces");
  const { sessionId, code } = announced(host);
  const viewArgs = (
    label: string,
  ) => ["--server", server.url, "--session", sessionId, "--code", code, "--label", label];
  await using a = new Proc("cli/main.ts", ["view", ...viewArgs("alice")]);
  await using b = new Proc("cli/main.ts", ["view", ...viewArgs("bob")]);
  await eventually(() => host.err.some((l) => / 2 ready/.test(l)), 20_000, "two viewers ready");
  await host.write("first line");
  await host.write("second line");
  await eventually(() => a.out.length === 2 && b.out.length === 2, 10_000, "both viewers print");
  assert.deepEqual(a.out, ["first line", "second line"]);
  assert.deepEqual(b.out, ["first line", "second line"]);
  const metricsUrl = host.err.find((l) => l.startsWith("metrics: "))!.slice("metrics: ".length);
  const metrics = await (await fetch(metricsUrl)).text();
  assert.match(metrics, /shoal_host_peers\{state="ready"\} 2/);
  assert.match(metrics, /shoal_host_handshakes_total\{outcome="ready",phase="ready"\} 2/);
  assert.match(metrics, /shoal_host_peer_rtt_ms|shoal_host_peer_queued_bytes/);
  await a.write("hello from alice");
  await eventually(() => host.err.some((l) => l.endsWith("alice] hello from alice")), 10_000);
  const hostStatus = await host.end();
  assert.equal(hostStatus.code, 0, "EOF on stdin ends the host cleanly");
  const [sa, sb] = await Promise.all([a.end(), b.end()]); // bounded: killed after 15 s
  assert.equal(sa.code, 0);
  assert.equal(sb.code, 0);
  await eventually(() => a.err.some((l) => l.includes("the host ended the session")), 5_000);
});

Deno.test("commands: view fails with one clear sentence on a wrong code, an unknown session or a bad URL", async () => {
  await using server = testServer();
  const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
  const { sessionId } = await res.json();
  const cases: Array<[string[], number, RegExp]> = [
    [
      ["--server", server.url, "--session", sessionId, "--code", "0000-0000-0000"],
      1,
      /wrong join code/,
    ],
    [["--server", server.url, "--session", "nope", "--code", "x"], 1, /no such session/],
    [["--server", "not a url", "--session", "s", "--code", "x"], 2, /is not a URL/],
    [["--server", server.url, "--session", "s"], 2, /--code is required/],
    [["--bogus"], 2, /unknown flag --bogus/],
  ];
  for (const [args, code, sentence] of cases) {
    await using p = new Proc("cli/main.ts", ["view", ...args]);
    const status = await p.end();
    assert.equal(status.code, code, args.join(" "));
    const said = p.err.filter((l) => l.startsWith("shoal view:"));
    assert.equal(said.length, 1, p.err.join("\n"));
    assert.match(said[0], sentence);
  }
});

Deno.test("commands: host fails with one clear sentence when the server is unreachable or the token wrong", async () => {
  await using server = testServer();
  const res = await fetch(`${server.url}/v1/sessions`, { method: "POST" });
  const { sessionId } = await res.json();
  const cases: Array<[string[], number, RegExp]> = [
    [["--server", "http://127.0.0.1:9"], 1, /cannot reach the signaling server/],
    [["--server", server.url, "--session", sessionId, "--token", "wrong"], 1, /wrong host token/],
    [["--server", server.url, "--session", sessionId], 2, /go together/],
  ];
  for (const [args, code, sentence] of cases) {
    await using p = new Proc("cli/main.ts", ["host", ...args]);
    const status = await p.end();
    assert.equal(status.code, code, args.join(" "));
    const said = p.err.filter((l) => l.startsWith("shoal host:"));
    assert.equal(said.length, 1, p.err.join("\n"));
    assert.match(said[0], sentence);
  }
});

Deno.test("commands: a host whose --exec source floods far faster than 3 viewers holds it back: nobody is dropped, each gets a gapless in-order stream, and it says it is congested", async () => {
  await using server = testServer();
  // Numbered lines as fast as awk writes them, each "SEQ 0 padding" for the swarm's order check.
  const flood = `awk 'BEGIN { for (i = 0; ; i++) printf "%d 0 flood-line-%0200d\\n", i, 0 }'`;
  await using host = new Proc("cli/main.ts", [
    "host",
    "--server",
    server.url,
    "--exec",
    flood,
    "--metrics-port",
    "0",
  ]);
  await eventually(() => host.err.some((l) => l.includes("join code:")), 30_000, "host announces");
  const { sessionId, code } = announced(host);
  await using swarm = new Swarm({ server: server.url, session: sessionId, code, count: 3 });
  await swarm.waitFor("ready", 3, 30_000);
  await eventually(
    async () => (await swarm.report()).every((v) => v.received >= 20_000),
    120_000,
    "each viewer received 20 000 lines",
  );
  for (const v of await swarm.report()) {
    assert.equal(v.state, "ready", `viewer ${v.i} still connected`);
    assert.equal(v.readies, 1, `viewer ${v.i} was never dropped`);
    assert.equal(v.outOfOrder, 0, `viewer ${v.i}: gapless and in order`);
    assert.equal(v.lastSeq! - v.firstSeq! + 1, v.received, `viewer ${v.i}: nothing missing`);
  }
  assert.ok(host.err.some((l) => l.includes("host congested")), host.err.join("\n"));
  // It read only as fast as the viewers took it: a small backlog, nothing refused.
  const metricsUrl = host.err.find((l) => l.startsWith("metrics: "))!.slice("metrics: ".length);
  const metrics = await (await fetch(metricsUrl)).text();
  const queued = Number(/^shoal_host_broadcast_queued_bytes (\d+)$/m.exec(metrics)?.[1]);
  // (a viewer briefly far behind the others is not waited for; without the wait: ~30 MB)
  assert.ok(queued <= 8 * 1024 * 1024, `${queued} bytes queued for broadcast`);
  assert.doesNotMatch(metrics, /^shoal_host_broadcast_rejected_total(\{.*\})? [1-9]/m);
  host.child.kill("SIGINT");
  assert.equal((await host.end()).code, 0, "SIGINT ends the host cleanly");
});
