// The host page in headless Chromium (a `Host` with the browser's WebRTC) and 20 werift
// viewers in a second Deno process.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Host } from "../core/host.ts";
import { browserTest } from "./_chromium.ts";
import { FakeRtcNetwork } from "./fake_rtc.ts";
import { eventually } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";
import { webServer } from "./_web.ts";

/** Reads the session the host page created. */
async function session(page: Page): Promise<{ sessionId: string; joinCode: string }> {
  await page.locator("#invite").waitFor({ state: "visible", timeout: 15_000 });
  return {
    sessionId: (await page.locator("#session-id").textContent()) ?? "",
    joinCode: (await page.locator("#join-code").textContent()) ?? "",
  };
}

browserTest(
  "the host page in Chromium and 20 werift viewers: all ready, all receive what is typed in the page, and a viewer's message shows in the page's log",
  async (browser) => {
    const count = 20;
    await using server = await webServer();
    const page = await browser.page();
    await page.goto(`${server.url}/`);
    const { sessionId, joinCode } = await session(page);
    assert.match(joinCode, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const link = await page.locator("#viewer-link").getAttribute("href");
    assert.equal(link, `${server.url}/view/${sessionId}#code=${joinCode}`);

    const started = performance.now();
    await using swarm = new Swarm({
      server: server.url,
      session: sessionId,
      code: joinCode,
      count,
    });
    await swarm.waitFor("ready", count, 60_000);
    const readyMs = Math.round(performance.now() - started);
    const rows = page.locator('#viewers tbody tr[data-state="ready"]');
    await eventually(async () => (await rows.count()) === count, 10_000, "20 ready rows");
    assert.match((await page.locator("#viewer-count").textContent()) ?? "", /20 ready of 20/);

    // Typed in the page: lines the swarm checks for order ("SEQ TIMESTAMP text").
    const box = page.locator("#broadcast-text");
    for (let seq = 0; seq < 3; seq++) {
      await box.fill(`${seq} ${Date.now()} typed in the host page`);
      await box.press("Enter");
    }
    await page.locator("#broadcast-result", { hasText: `Sent to ${count} viewers.` }).waitFor();
    await eventually(async () => (await swarm.report()).every((v) => v.received >= 3), 15_000);
    for (const v of await swarm.report()) {
      assert.equal(v.received, 3, `viewer ${v.i}`);
      assert.deepEqual([v.firstSeq, v.lastSeq, v.outOfOrder], [0, 2, 0], `viewer ${v.i}`);
    }

    await swarm.command("send 3 hello from swarm viewer 3");
    const entry = page.locator("#log li.in", { hasText: "hello from swarm viewer 3" });
    await entry.waitFor({ timeout: 10_000 });
    assert.match((await entry.locator(".who").textContent()) ?? "", /^swarm-3 \(v_/);
    assert.match((await page.locator("#metrics").textContent()) ?? "", /ready 20/);
    console.log(`${count} werift viewers of the Chromium host ready in ${readyMs} ms`);

    await swarm.quit();
    await page.locator("#no-viewers").waitFor({ state: "visible", timeout: 15_000 });
  },
);

browserTest(
  "the host page says in one sentence that another program took its session over",
  async (browser) => {
    await using server = await webServer();
    const page = await browser.page();
    await page.goto(`${server.url}/`);
    await session(page);
    const stored = await page.evaluate(() => sessionStorage.getItem("shoal.host"));
    const { sessionId, hostToken } = JSON.parse(stored ?? "{}");
    assert.ok(sessionId && hostToken, "the page keeps its session to reclaim it");
    // The same token from Deno takes the session over; the page is told and says so.
    await using _other = await Host.start({
      rtc: new FakeRtcNetwork().adapter(),
      server: server.url,
      sessionId,
      token: hostToken,
    });
    const error = page.locator("#error", { hasText: "took this session over" });
    await error.waitFor({ state: "visible", timeout: 10_000 });
    assert.equal(await page.locator("#status").textContent(), "Not hosting.");
  },
);
