// Viewers in headless Chromium (many `Viewer`s in one page) joining a Deno host, shared by
// browser_viewers_test.ts (werift host) and libdatachannel_test.ts (libdatachannel host).
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { RtcAdapter } from "../core/rtc.ts";
import { Host } from "../core/host.ts";
import type { ViewersPage } from "./_browser_viewers_page.ts";
import type { Chromium } from "./_chromium.ts";
import { eventually } from "./_signal_helpers.ts";
import { webServer } from "./_web.ts";

const PAGE = new URL("./_browser_viewers_page.ts", import.meta.url);

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

/** A host on `rtc` and `count` Chromium viewers with mDNS candidates: all ready, all receive
 * every broadcast in order, one talks back, and the host forgets them when they close. */
export async function chromiumViewersJoin(
  browser: Chromium,
  rtc: RtcAdapter,
  count: number,
): Promise<void> {
  await using server = await webServer({ testPages: { viewers: PAGE } });
  await using host = await Host.start({ rtc, server: server.url });
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
    `${rtc.name} host: ${count} Chromium viewers ready in ${readyMs} ms (joins took ${joins[0]}–${
      joins.at(-1)
    } ms;`,
    `handshakes ${_outcomes(host.metricsText())})`,
  );

  await page.evaluate(() => (globalThis as unknown as _Shoal).shoalViewers.close());
  await eventually(() => host.metrics().peers.length === 0, 10_000, "the host forgets them");
}
