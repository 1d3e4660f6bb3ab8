/**
 * `deno task screenshot`: retakes `docs/share-viewer.png`, the viewer page in headless
 * Chromium watching `shoal share` of `top` (a full-screen program), and
 * `docs/host-page.png`, the host page with eight werift viewers connected, a broadcast sent
 * and a few viewer messages in the log. Everything runs on 127.0.0.1 and stops when the
 * pictures are taken.
 *
 * @module
 */
import { werift } from "../adapters/werift.ts";
import { Viewer } from "../core/viewer.ts";
import { Share } from "../cli/share.ts";
import { type SignalingServer, startSignalingServer } from "../server/server.ts";
import { webRoutes } from "../cli/web.ts";
import { Chromium } from "../tests/_chromium.ts";

const OUT = new URL("../docs/host-page.png", import.meta.url);
const SHARE_OUT = new URL("../docs/share-viewer.png", import.meta.url);
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

/** The viewer page of a shared `top`, once the page shows what the sharer's terminal shows. */
async function shareViewer(server: SignalingServer, browser: Chromium): Promise<void> {
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  await using share = await Share.start({
    rtc,
    server: server.url,
    command: ["top", "-d", "1"],
    cols: 100,
    rows: 30,
  });
  const page = await browser.page();
  const { sessionId } = share.host.session;
  await page.goto(`${server.url}/view/${sessionId}#code=${share.host.joinCode}&label=alice`);
  await until(() => Promise.resolve(share.stream.model.lines()[0].startsWith("top - ")), "top");
  // A refresh or two, then the picture once the page shows the host's screen.
  await new Promise((r) => setTimeout(r, 2_500));
  await until(async () => {
    const lines = await page.evaluate(async () => {
      const t = (globalThis as unknown as {
        shoalTerminal: { settled(): Promise<void>; lines(): string[] };
      }).shoalTerminal;
      await t.settled();
      return t.lines();
    });
    return JSON.stringify(lines) === JSON.stringify(share.stream.model.lines());
  }, "the page shows the host's screen");
  await page.screenshot({ path: SHARE_OUT.pathname, fullPage: true });
  console.log(`wrote ${SHARE_OUT.pathname}`);
  await share.type("q");
  await share.exited;
}

async function main(): Promise<void> {
  await using server = startSignalingServer({ port: 0, routes: await webRoutes() });
  await using browser = await Chromium.launch({ viewport: { width: 1280, height: 860 } });
  await shareViewer(server, browser);
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
