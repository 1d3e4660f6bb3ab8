// Off loopback, D: one viewer's path breaks mid-stream (every UDP packet from and to its
// address dropped at the router, so its NAT mapping also dies). It notices by its
// heartbeats, asks for a new offer, and is back within bounded time once the path
// returns; the host drops the dead connection and keeps streaming to the others.
import assert from "node:assert/strict";
import { netTest } from "./_netns.ts";
import { NetHost, netSwarm, startSignal, waitDelivered, waitUntil } from "./_net_stack.ts";

const MOVING = "10.77.2.3";

netTest(
  "a viewer whose path breaks mid-stream notices, asks for a new offer and is back; the host forgets the dead connection",
  async (lab) => {
    await lab.addViewerAddress(MOVING);
    const { url } = await startSignal(lab);
    const host = await NetHost.start(lab, url, ["--heartbeat-ms", "1000"]);
    await using healthy = netSwarm(lab, url, host, 2, ["--ice-address", "10.77.2.2"]);
    await using moving = netSwarm(lab, url, host, 1, [
      "--ice-address",
      MOVING,
      "--heartbeat-ms",
      "1000",
      "--prefix",
      "moving",
    ]);
    await healthy.waitFor("ready", 2, 60_000);
    await moving.waitFor("ready", 1, 60_000);
    await host.waitReady(3);
    const streaming = host.stream(400, 20);

    await new Promise((r) => setTimeout(r, 2_000));
    await lab.cutViewerAddress(MOVING, true);
    const cutAt = Date.now();
    const states = () => moving.events.filter((e) => e.ev === "state").map((e) => e.state);
    // It notices on its own (missed pongs), within a few heartbeats.
    await waitUntil(() => states().includes("waiting"), 15_000, () => states().join(","));
    const noticedMs = Date.now() - cutAt;
    await lab.cutViewerAddress(MOVING, false);
    const restoredAt = Date.now();
    await waitUntil(
      () => states().lastIndexOf("ready") > states().indexOf("waiting"),
      30_000,
      () => JSON.stringify(moving.events.slice(-5)),
    );
    const backMs = Date.now() - restoredAt;
    console.log(`noticed after ${noticedMs} ms, back ${backMs} ms after the path returned`);
    await streaming;

    // The host closed the dead connection and admitted the new one; nothing else is held.
    const m = await host.metrics();
    assert.equal(m.states.ready, 3, JSON.stringify(m.states));
    assert.equal(m.states.negotiating + m.states.open + m.states.queued, 0);
    const [movingPeer] = (await moving.report()).map((v) => v.peerId);
    // Between its two `ready`s the old link went: closed by the host's own heartbeat, or
    // replaced when the viewer's request for an offer came first (then `queued`).
    const seen = host.events("peer").filter((e) => e.peerId === movingPeer).map((e) => e.state);
    const [first, last] = [seen.indexOf("ready"), seen.lastIndexOf("ready")];
    assert.ok(
      first < last && seen.slice(first + 1, last).some((s) => s === "closed" || s === "queued"),
      `the host let the dead connection go: ${seen.join(", ")}`,
    );
    assert.equal(m.peers.filter((p) => p.peerId === movingPeer).length, 1);
    const asked = host.logs("viewer asked for an offer").map((e) =>
      (e.props as { peerId: string }).peerId
    );
    assert.ok(asked.includes(movingPeer!), `it asked for a new offer: ${JSON.stringify(asked)}`);

    // The healthy viewers never noticed.
    const viewers = await waitDelivered(healthy, 400);
    for (const v of viewers) {
      assert.equal(v.received, 400, JSON.stringify(v));
      assert.equal(v.outOfOrder, 0);
      assert.equal(v.readies, 1);
    }
    const [back] = await moving.report();
    assert.equal(back.state, "ready");
    assert.equal(back.readies, 2);
    assert.equal(back.outOfOrder, 0, "in order since it came back");
  },
);
