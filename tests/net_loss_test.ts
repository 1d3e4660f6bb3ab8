// Off loopback, C: 5% random UDP loss each way on the viewers' link (nft at the router).
// SCTP retransmits: every message arrives intact and in order, and no viewer is taken for
// slow and dropped.
import assert from "node:assert/strict";
import { fnv1a } from "../cli/swarm.ts";
import { netTest } from "./_netns.ts";
import { bigMessage, NetHost, netSwarm, startSignal, waitDelivered } from "./_net_stack.ts";

netTest(
  "with 5% UDP loss each way, every viewer gets every message intact and in order and none is dropped as slow",
  async (lab) => {
    await lab.setLoss(5);
    const { url } = await startSignal(lab);
    const host = await NetHost.start(lab, url);
    await using swarm = netSwarm(lab, url, host, 4);
    await swarm.waitFor("ready", 4, 90_000);
    await host.waitReady(4);
    await host.stream(200, 20);
    await host.big(200_000, 7); // chunked: 13 frames, each of which may be lost and resent
    const expected = { bytes: 200_000, fnv: fnv1a(bigMessage(200_000, 7)) };
    const viewers = await waitDelivered(swarm, 201, 30_000);
    for (const v of viewers) {
      assert.equal(v.received, 201, JSON.stringify(v));
      assert.equal(v.outOfOrder, 0, JSON.stringify(v));
      assert.equal(v.firstSeq, 0);
      assert.equal(v.lastSeq, 199);
      assert.equal(v.readies, 1, "never reconnected");
      assert.deepEqual(v.large, [expected]);
    }
    const m = await host.metrics();
    assert.deepEqual(m.drops, {}, "nobody dropped");
    assert.equal(m.states.ready, 4);
    assert.match(await lab.ruleset(), /numgen random mod 100 < 5 drop/);
  },
);
