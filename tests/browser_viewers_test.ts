// A Deno host (werift) and viewers in headless Chromium: many `Viewer`s in one page, and
// the viewer page itself.
import assert from "node:assert/strict";
import { werift } from "../adapters/werift.ts";
import { Host } from "../core/host.ts";
import { chromiumViewersJoin } from "./_browser_viewers.ts";
import { browserTest } from "./_chromium.ts";
import { createSession, eventually, RawClient } from "./_signal_helpers.ts";
import { webServer } from "./_web.ts";

const loopback = () => werift({ interfaceAddresses: { udp4: "127.0.0.1" } });

browserTest(
  "a werift host in Deno and 20 viewers in Chromium with mDNS candidates: all ready, all receive every broadcast in order, one talks back",
  (browser) => chromiumViewersJoin(browser, loopback(), 20),
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
