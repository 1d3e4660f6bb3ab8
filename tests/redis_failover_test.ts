// One of two signaling servers sharing Redis dies mid-session (SIGKILL). Its viewers reach the
// other one through a load balancer (tests/_tcp_proxy.ts), the host sees each of them leave
// (by heartbeat expiry) and rejoin, and streaming carries on with no viewer counted twice.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import { REDIS_URL, RedisCluster, redisTest } from "./_redis.ts";
import { ServerProcess } from "./_redis_child.ts";
import { eventually } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";
import { TcpProxy } from "./_tcp_proxy.ts";

const VIEWERS = 20;
const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const stamp = (seq: number) => `${seq} ${performance.timeOrigin + performance.now()} payload`;

/** What the host reported of each viewer, by label: its peer ids and their last states. */
class PeerLog {
  readonly byLabel = new Map<string, Map<string, string>>();
  note(e: { peerId: string; label: string; state: string }): void {
    const peers = this.byLabel.get(e.label) ?? new Map<string, string>();
    this.byLabel.set(e.label, peers.set(e.peerId, e.state));
  }
  /** Labels that came back: more than one peer id, exactly one ready, every other closed. */
  rejoined(): string[] {
    return [...this.byLabel].filter(([, peers]) => {
      const states = [...peers.values()];
      return states.length > 1 && states.filter((s) => s === "ready").length === 1 &&
        states.every((s) => s === "ready" || s === "closed");
    }).map(([label]) => label);
  }
}

async function broadcast(host: Host, from: number, to: number): Promise<void> {
  for (let seq = from; seq < to; seq++) {
    host.broadcast(stamp(seq));
    if (seq % 20 === 19) await new Promise((r) => setTimeout(r, 10));
  }
}

redisTest(
  "redis: a server dies mid-session; its viewers reconnect through the other and go on",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start({ heartbeatTtlMs: 1_000 });
    await using b = await ServerProcess.start(REDIS_URL, cluster.prefix, 1_000);
    await using proxy = new TcpProxy([b.port, a.port]);
    await using host = await Host.start({ rtc: loopback(), server: a.url });
    const log = new PeerLog();
    host.on("peer", (e) => log.note(e));
    await using swarm = new Swarm({
      server: proxy.url,
      session: host.session.sessionId,
      code: host.joinCode!,
      count: VIEWERS,
    });
    await swarm.waitFor("ready", VIEWERS, 40_000);
    await eventually(() => host.readyCount === VIEWERS, 10_000, "host sees every viewer ready");
    assert.equal(a.connectionCount, 1, "only the host is on a; the viewers are on b");
    await broadcast(host, 0, 50);
    await eventually(async () => (await swarm.report()).every((v) => v.received >= 50), 15_000);

    await b.kill();
    await eventually(
      () => log.rejoined().length === VIEWERS,
      30_000,
      "every viewer left and rejoined",
    );
    await eventually(() => host.readyCount === VIEWERS, 10_000, "host has them all, once");
    for (const [label, peers] of log.byLabel) {
      assert.equal(peers.size, 2, `${label}: one peer id before, one after`);
    }
    // The old peer ids go once b's heartbeat has expired (1 s) and a has reaped it.
    await eventually(
      () => host.metrics().peers.length === VIEWERS,
      10_000,
      "old ids announced left",
    );
    assert.equal(a.connectionCount, 1 + VIEWERS, "everyone is on a now");
    const info = await (await fetch(`${a.url}/v1/sessions/${host.session.sessionId}`)).json();
    assert.equal(info.viewers, VIEWERS, "the session lists each viewer once");

    await broadcast(host, 50, 100);
    await eventually(async () => (await swarm.report()).every((v) => v.lastSeq === 99), 15_000);
    for (const v of await swarm.report()) {
      assert.equal(v.state, "ready", `viewer ${v.i}`);
      assert.equal(v.outOfOrder, 0, `viewer ${v.i} saw every broadcast in order`);
      assert.equal(v.received, 100, `viewer ${v.i} got each broadcast once`);
    }
    await swarm.quit();
  },
);
