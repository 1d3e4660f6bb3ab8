// A host and real werift viewers negotiating through two signaling servers that share Redis.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import { RedisCluster, redisTest } from "./_redis.ts";
import { eventually } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const stamp = (seq: number) => `${seq} ${performance.timeOrigin + performance.now()} payload`;

redisTest(
  "redis: a host on one server, 20 werift viewers on another: all ready and receiving",
  async () => {
    await using cluster = new RedisCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    await using host = await Host.start({ rtc: loopback(), server: a.url });
    await using swarm = new Swarm({
      server: b.url,
      session: host.session.sessionId,
      code: host.joinCode!,
      count: 20,
    });
    await swarm.waitFor("ready", 20, 40_000);
    await eventually(() => host.readyCount === 20, 10_000, "host sees 20 ready");
    for (let seq = 0; seq < 100; seq++) {
      host.broadcast(stamp(seq));
      if (seq % 20 === 19) await new Promise((r) => setTimeout(r, 10));
    }
    await eventually(async () => (await swarm.report()).every((v) => v.received >= 100), 15_000);
    for (const v of await swarm.report()) {
      assert.equal(v.received, 100, `viewer ${v.i}`);
      assert.equal(v.outOfOrder, 0);
    }
    assert.equal(b.connectionCount, 20, "every viewer's signaling is on the second server");
    assert.equal(a.connectionCount, 1, "the host's is on the first");
    const relayedByB = await (await fetch(`${b.url}/metrics`)).text();
    assert.match(relayedByB, /messages_relayed_total\{kind="answer",type="signal"\} 20\n/);
    await swarm.quit();
    await eventually(() => host.metrics().states.ready === 0, 10_000, "host forgets them");
  },
);
