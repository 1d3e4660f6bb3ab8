// A Deno host (werift) and viewers in headless Chromium: many `Viewer`s in one page, and
// the viewer page itself.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import type { ViewersPage } from "./_browser_viewers_page.ts";
import { browserTest } from "./_chromium.ts";
import { createSession, eventually, RawClient } from "./_signal_helpers.ts";
import { webServer } from "./_web.ts";

const PAGE = new URL("./_browser_viewers_page.ts", import.meta.url);
const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

type _Shoal = { shoalViewers: ViewersPage };

/** `ready/ready 20, timeout/open 1`: handshakes by outcome and phase, from the host's metrics. */
function _outcomes(metricsText: string): string {
  const lines = metricsText.matchAll(
    /handshakes_total\{outcome="([^"]+)",phase="([^"]+)"\} (\d+)/g,
  );
  return [...lines].map(([, outcome, phase, n]) => `${outcome}/${phase} ${n}`).join(", ");
}

function status(page: Page): Promise<ReturnType<ViewersPage["status"]>> {
  return page.evaluate(() => (globalThis as unknown as _Shoal).shoalViewers.status());
}

browserTest(
  "a werift host in Deno and 20 viewers in Chromium with mDNS candidates: all ready, all receive every broadcast in order, one talks back",
  async (browser) => {
    const count = 20;
    await using server = await webServer({ testPages: { viewers: PAGE } });
    await using host = await Host.start({ rtc: loopback(), server: server.url });
    const page = await browser.page();
    await page.goto(`${server.url}/test/viewers`);
    await page.waitForFunction(() => "shoalViewers" in globalThis, null, { timeout: 10_000 });
    const started = performance.now();
    await page.evaluate(
      (o) => (globalThis as unknown as _Shoal).shoalViewers.start(o),
      { sessionId: host.session.sessionId, joinCode: host.joinCode!, count },
    );
    await eventually(() => host.readyCount === count, 60_000, `${count} viewers ready`).catch(
      async (error) => {
        const stuck = await page.evaluate(() =>
          (globalThis as unknown as _Shoal).shoalViewers.diagnose()
        );
        throw new Error(
          `${error.message}; host ${JSON.stringify(host.metrics().states)}; ${stuck}`,
        );
      },
    );
    const readyMs = Math.round(performance.now() - started);
    const before = await status(page);
    assert.deepEqual(before.viewers.map((v) => v.state), Array(count).fill("ready"));
    // Chromium's default: every host candidate behind a random .local name.
    assert.ok(before.candidates.mdns > 0, "the browser offered mDNS candidates");
    assert.equal(before.candidates.address, 0, "and no plain addresses");

    const messages = Array.from({ length: 50 }, (_, i) => `${i} from the Deno host`);
    for (const m of messages) host.broadcast(m);
    await eventually(
      async () => (await status(page)).viewers.every((v) => v.received.length >= messages.length),
      15_000,
      "every viewer received every broadcast",
    );
    for (const v of (await status(page)).viewers) assert.deepEqual(v.received, messages);

    const inbox = host.messages();
    const sent = await page.evaluate(
      () => (globalThis as unknown as _Shoal).shoalViewers.send(7, "hello from chromium 7"),
    );
    assert.ok(sent);
    const got = await inbox.next();
    assert.equal(new TextDecoder().decode(got.value!.data), "hello from chromium 7");
    assert.equal(host.metrics().outcomes.failed ?? 0, 0);
    const joins = before.viewers.map((v) => v.joinMs ?? NaN).sort((a, b) => a - b);
    console.log(
      `${count} Chromium viewers ready in ${readyMs} ms (joins took ${joins[0]}–${
        joins.at(-1)
      } ms;`,
      `handshakes ${_outcomes(host.metricsText())})`,
    );

    await page.evaluate(() => (globalThis as unknown as _Shoal).shoalViewers.close());
    await eventually(() => host.metrics().peers.length === 0, 10_000, "the host forgets them");
  },
);

browserTest(
  "the viewer page joins from its link: ready, the host's messages, RTT, a message back, and a sentence when the host leaves",
  async (browser) => {
    await using server = await webServer();
    const host = await Host.start({ rtc: loopback(), server: server.url });
    try {
      const page = await browser.page();
      const { sessionId } = host.session;
      await page.goto(`${server.url}/view/${sessionId}#code=${host.joinCode}&label=reader`);
      await page.locator('#state[data-state="ready"]').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator("#state").textContent(), "Connected to the host.");
      assert.equal(host.metrics().peers[0].label, "reader");

      host.broadcast("first line");
      host.broadcast("second line");
      const items = page.locator("#messages li .text");
      await eventually(async () => (await items.count()) === 2, 10_000, "two messages shown");
      assert.deepEqual(await items.allTextContents(), ["first line", "second line"]);
      // The viewer pings every 5 s; the page shows the round trip once a pong is back.
      await page.locator("#rtt", { hasText: /\d ms$/ }).waitFor({ timeout: 12_000 });

      const inbox = host.messages();
      await page.locator("#send-text").fill("hello from the viewer page");
      await page.locator("#send-text").press("Enter");
      const got = await inbox.next();
      assert.equal(new TextDecoder().decode(got.value!.data), "hello from the viewer page");

      await host.close();
      await page.locator("#state", { hasText: "The host has left" }).waitFor({ timeout: 10_000 });
    } finally {
      await host.close();
    }
  },
);

browserTest(
  "the viewer page says in one sentence that the join code is wrong, the session unknown, or the session full",
  async (browser) => {
    await using server = await webServer();
    const page = await browser.page();
    const error = page.locator("#error");
    const open = async (path: string) => {
      await page.goto(`${server.url}${path}`);
      await error.waitFor({ state: "visible", timeout: 10_000 });
      return await error.textContent();
    };

    const session = await createSession(server);
    assert.equal(
      await open(`/view/${session.sessionId}#code=0000-0000-0000`),
      "That join code is not right for this session; check it and try again.",
    );
    assert.ok(await page.locator("#join-form").isVisible(), "the form stays for another try");
    assert.equal(await page.locator("#join-code").inputValue(), "0000-0000-0000");

    assert.equal(
      await open(`/view/NoSuchSession#code=${session.joinCode}`),
      "This session does not exist, or it has ended.",
    );

    const small = await createSession(server, { maxViewers: 1 });
    await using _first = await RawClient.viewer(small);
    assert.equal(
      await open(`/view/${small.sessionId}#code=${small.joinCode}`),
      "This session is full; try again when a viewer has left.",
    );
  },
);
