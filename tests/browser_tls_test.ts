// The host page over HTTPS and WSS: Chromium trusts the test's certificate by its key
// (an SPKI pin), werift viewers in another Deno process by DENO_CERT.
import assert from "node:assert/strict";
import { browserTest } from "./_chromium.ts";
import { eventually } from "./_signal_helpers.ts";
import { Swarm } from "./_swarm.ts";
import { makeTestTls } from "./_tls.ts";
import { webServer } from "./_web.ts";

// Made before Chromium starts (it is told the key to trust), removed when the module ends.
const tls = await makeTestTls();
globalThis.addEventListener("unload", () => tls.removeSync());

browserTest(
  "the host page served over HTTPS hosts over WSS: 3 werift viewers get ready and receive what is typed",
  async (browser) => {
    await using server = await webServer({ server: { cert: tls.cert, key: tls.key } });
    assert.match(server.url, /^https:/);
    const page = await browser.page();
    await page.goto(`${server.url}/`);
    await page.locator("#invite").waitFor({ state: "visible", timeout: 15_000 });
    const sessionId = (await page.locator("#session-id").textContent()) ?? "";
    const joinCode = (await page.locator("#join-code").textContent()) ?? "";
    const link = await page.locator("#viewer-link").getAttribute("href");
    assert.equal(link, `${server.url}/view/${sessionId}#code=${joinCode}`);
    await using swarm = new Swarm({
      server: server.url,
      session: sessionId,
      code: joinCode,
      count: 3,
      env: { DENO_CERT: tls.caFile },
    });
    await swarm.waitFor("ready", 3, 60_000);
    const box = page.locator("#broadcast-text");
    await box.fill(`0 ${Date.now()} typed over tls`);
    await box.press("Enter");
    await eventually(async () => (await swarm.report()).every((v) => v.received === 1), 15_000);
    await swarm.quit();
    // Over TLS, Chromium keeps an HTTP/2 connection open, which Deno's graceful shutdown
    // waits for (a minute or more): the browser goes first.
    await browser.close();
  },
  { args: [`--ignore-certificate-errors-spki-list=${tls.spki}`] },
);
