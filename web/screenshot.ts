/**
 * `deno task screenshot`: retakes `docs/host-page.png`, the host page in headless Chromium
 * with eight werift viewers connected, a broadcast sent and a few viewer messages in the
 * log. Everything runs on 127.0.0.1 and stops when the picture is taken.
 *
 * @module
 */
import { werift } from "../adapters/werift.ts";
import { Viewer } from "../core/viewer.ts";
import { startSignalingServer } from "../server/server.ts";
import { webRoutes } from "../cli/web.ts";
import { Chromium } from "../tests/_chromium.ts";

const OUT = new URL("../docs/host-page.png", import.meta.url);
const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const SAID: Record<number, string> = {
  0: "Looks good from here.",
  2: "Can you zoom in on the second chart?",
  5: "Thanks, got it!",
};

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`screenshot: ${what} did not happen in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  await using server = startSignalingServer({ port: 0, routes: await webRoutes() });
  await using browser = await Chromium.launch({ viewport: { width: 1280, height: 860 } });
  const page = await browser.page();
  await page.goto(`${server.url}/`);
  await page.locator("#invite").waitFor({ state: "visible" });
  const sessionId = (await page.locator("#session-id").textContent())!;
  const joinCode = (await page.locator("#join-code").textContent())!;
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  const viewers = await Promise.all(
    NAMES.map((label) => Viewer.join({ rtc, server: server.url, sessionId, joinCode, label })),
  );
  try {
    await Promise.all(viewers.map((v) => v.ready({ signal: AbortSignal.timeout(30_000) })));
    const ready = page.locator('#viewers tbody tr[data-state="ready"]');
    await until(async () => (await ready.count()) === NAMES.length, "every viewer ready");
    const box = page.locator("#broadcast-text");
    for (const text of ["Slides are up: we start in two minutes.", "Now on slide 3: results."]) {
      await box.fill(text);
      await box.press("Enter");
    }
    for (const [i, text] of Object.entries(SAID)) viewers[Number(i)].send(text);
    await until(async () => (await page.locator("#log li.in").count()) === 3, "viewer messages");
    // Each viewer pings every 5 s: wait until the table shows every round trip.
    const rtts = page.locator("#viewers tbody td.num:nth-child(4)");
    await until(async () => !(await rtts.allTextContents()).includes("–"), "round trips");
    await box.fill("Next: questions");
    await page.screenshot({ path: OUT.pathname, fullPage: true });
    console.log(`wrote ${OUT.pathname}`);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
  }
}

if (import.meta.main) await main();
