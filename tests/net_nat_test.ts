// Off loopback, A: viewers behind a masquerading NAT that lets no flow in, the host on a
// reachable address. They connect directly (no TURN in play), and the host's `ready`
// record names the selected candidate pair.
import assert from "node:assert/strict";
import { LAB, netTest } from "./_netns.ts";
import { NetHost, netSwarm, startSignal, waitDelivered } from "./_net_stack.ts";
import type { RtcCandidatePair } from "../core/rtc.ts";

for (const rtc of ["werift", "libdatachannel"] as const) {
  netTest(
    `${rtc}: viewers behind a NAT connect directly to a reachable host: the selected pair is the host's own address and the viewer's NAT mapping`,
    async (lab) => {
      const { url } = await startSignal(lab);
      const host = await NetHost.start(lab, url, ["--rtc", rtc]);
      await using swarm = netSwarm(lab, url, host, 3, [], rtc);
      await swarm.waitFor("ready", 3, 60_000);
      await host.waitReady(3);
      for (const record of host.logs("ready")) {
        const pair = (record.props as { candidatePair?: RtcCandidatePair }).candidatePair;
        assert.ok(pair, `a candidate pair in ${JSON.stringify(record)}`);
        assert.equal(pair.local.type, "host");
        assert.equal(pair.local.address, LAB.host);
        // The viewer's own address (10.77.2.x) is unreachable; the host answered the NAT's.
        assert.equal(pair.remote.address, LAB.routerHostSide, JSON.stringify(pair));
        assert.notEqual(pair.remote.type, "relay");
      }
      await host.stream(40, 20);
      const viewers = await waitDelivered(swarm, 40);
      for (const v of viewers) {
        assert.equal(v.received, 40, JSON.stringify(v));
        assert.equal(v.outOfOrder, 0);
        assert.equal(v.state, "ready");
      }
    },
  );
}
