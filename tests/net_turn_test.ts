// Off loopback, B: a firewall drops UDP between the viewers and the host; only coturn is
// reachable. With `signal --turn` every viewer connects through TURN and gets every
// message; without it the handshakes fail with a clear reason, bounded, and stop.
import assert from "node:assert/strict";
import type { RtcCandidatePair } from "../core/rtc.ts";
import { BROWSER_REQUIRED, Chromium, CHROMIUM_PATH, chromiumMissing } from "./_chromium.ts";
import { LAB, netTest } from "./_netns.ts";
import {
  type NetHost,
  NetHost as Host,
  netSwarm,
  startSignal,
  waitDelivered,
  waitUntil,
} from "./_net_stack.ts";

const SECRET = "net-test-secret";

function _pairs(host: NetHost): RtcCandidatePair[] {
  return host.logs("ready").map((r) =>
    (r.props as { candidatePair: RtcCandidatePair }).candidatePair
  );
}

/** Whether the pair goes through coturn: one side's candidate is its relayed address (or,
 * with libdatachannel, whose viewers give out their candidates once connected, the host
 * learnt it from their checks: a peer-reflexive candidate at coturn's address). */
function _relayed(pair: RtcCandidatePair): boolean {
  return [pair.local, pair.remote].some((c) =>
    (c.type === "relay" || c.type === "prflx") && c.address === LAB.services
  );
}

for (const rtc of ["werift", "libdatachannel"] as const) {
  netTest(
    `${rtc}: with UDP between viewers and host dropped, viewers connect through coturn with minted credentials and get every message in order`,
    async (lab) => {
      await lab.blockViewerHostUdp(true);
      const turn = await lab.startTurn({ secret: SECRET });
      const { url } = await startSignal(lab, { turn, secret: SECRET });
      const host = await Host.start(lab, url, ["--rtc", rtc]);
      await using swarm = netSwarm(lab, url, host, 3, [], rtc);
      await swarm.waitFor("ready", 3, 60_000);
      await host.waitReady(3);
      for (const pair of _pairs(host)) assert.ok(_relayed(pair), JSON.stringify(pair));
      await host.stream(40, 20);
      for (const v of await waitDelivered(swarm, 40)) {
        assert.equal(v.received, 40, JSON.stringify(v));
        assert.equal(v.outOfOrder, 0);
      }
    },
  );
}

netTest(
  "relay-only viewers go through coturn even where a direct path exists",
  async (lab) => {
    const turn = await lab.startTurn({ secret: SECRET });
    const { url } = await startSignal(lab, { turn, secret: SECRET });
    const host = await Host.start(lab, url);
    await using swarm = netSwarm(lab, url, host, 2, ["--ice-transport-policy", "relay"]);
    await swarm.waitFor("ready", 2, 60_000);
    await host.waitReady(2);
    for (const pair of _pairs(host)) {
      assert.equal(pair.remote.type, "relay", JSON.stringify(pair));
    }
    await host.stream(20, 20);
    for (const v of await waitDelivered(swarm, 20)) assert.equal(v.received, 20, JSON.stringify(v));
  },
);

netTest(
  "a wrong TURN secret costs viewers with a direct path a bounded wait, not their connection",
  async (lab) => {
    await lab.startTurn({ secret: SECRET });
    const { url } = await startSignal(lab, { turn: `turn:${LAB.services}:3478`, secret: "wrong" });
    const host = await Host.start(lab, url);
    await using swarm = netSwarm(lab, url, host, 2);
    // werift alone waited for the refused allocation without end; gathering is bounded now.
    await swarm.waitFor("ready", 2, 30_000);
    await host.waitReady(2);
    for (const pair of _pairs(host)) assert.ok(!_relayed(pair), JSON.stringify(pair));
  },
);

netTest(
  "without TURN and with UDP dropped, handshakes fail as ice-failed, and host and viewers give up instead of looping",
  async (lab) => {
    await lab.blockViewerHostUdp(true);
    const { url } = await startSignal(lab);
    const host = await Host.start(lab, url, ["--max-attempts", "2", "--connected-ms", "3000"]);
    await using swarm = netSwarm(lab, url, host, 2, ["--max-offer-requests", "2"]);
    // Each viewer gives up on its own (its offer requests are bounded) and says why.
    const closed = () => swarm.events.filter((e) => e.ev === "state" && e.state === "closed");
    await waitUntil(() => closed().length === 2, 90_000, () => JSON.stringify(swarm.events));
    assert.equal(swarm.count("ready"), 0);
    const failed = host.logs("handshake failed");
    assert.ok(failed.length >= 2, JSON.stringify(failed));
    for (const f of failed) {
      assert.match(String((f.props as { reason: string }).reason), /^ice-failed/);
    }
    const before = await host.metrics();
    assert.deepEqual(Object.keys(before.outcomesByPhase), ["ice-failed/connected"]);
    // Nothing loops: no more offers once both have given up.
    await new Promise((r) => setTimeout(r, 5_000));
    const after = await host.metrics();
    assert.deepEqual(after.signaling, before.signaling);
    assert.equal(after.states.negotiating, 0);
  },
  { timeoutMs: 150_000 },
);

netTest(
  "with UDP between viewers and host dropped, Chromium viewers behind the NAT connect through coturn and get every message",
  async (lab) => {
    const missing = chromiumMissing();
    if (missing) {
      if (BROWSER_REQUIRED) throw new Error(`chromium required: ${missing}`);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await lab.blockViewerHostUdp(true);
    const turn = await lab.startTurn({ secret: SECRET });
    const { url, proc } = await startSignal(lab, { turn, secret: SECRET });
    assert.ok(!proc.errLines.some((l) => l.includes("no web pages")), proc.errLines.join("\n"));
    const host = await Host.start(lab, url);
    // Chromium itself runs inside the viewers' namespace, behind the NAT.
    const wrapper = `${await lab.tempDir()}/chromium-in-netns`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ip netns exec ${lab.ns.viewers} ${CHROMIUM_PATH} "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    await using browser = await Chromium.launch({ executablePath: wrapper });
    const pages = [];
    for (const label of ["c1", "c2"]) {
      const page = await browser.page();
      await page.goto(`${url}/view/${host.sessionId}#code=${host.joinCode}&label=${label}`);
      pages.push(page);
    }
    for (const page of pages) {
      await page.waitForSelector('#state[data-state="ready"]', { timeout: 60_000 });
    }
    await host.waitReady(2);
    for (const pair of _pairs(host)) assert.ok(_relayed(pair), JSON.stringify(pair));
    await host.stream(30, 20);
    for (const page of pages) {
      const texts = page.locator("#messages li .text");
      let seqs: number[] = [];
      await waitUntil(() => seqs.length >= 30, 15_000, () => `${seqs.length} of 30`, async () => {
        seqs = (await texts.allTextContents()).map((t) => Number(t.split(" ")[0]));
      });
      assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i));
    }
  },
);
