// The RTC contract suite (rtc_contract.ts) against adapters/browser.ts, inside Chromium:
// the suite is bundled into a page, and each contract test runs there as one step here.
import { rtcContract } from "./rtc_contract.ts";
import { browserTest } from "./_chromium.ts";
import { webServer } from "./_web.ts";
import type { ContractPage } from "./_browser_contract_page.ts";

const PAGE = new URL("./_browser_contract_page.ts", import.meta.url);

/** The names the page registers, learned here without running anything. */
const names: string[] = [];
rtcContract("browser", () => {
  throw new Error("runs in the page");
}, (name) => names.push(name));

browserTest("browser adapter meets the RTC contract inside Chromium", async (browser, t) => {
  await using server = await webServer({ testPages: { contract: PAGE } });
  const page = await browser.page();
  await page.goto(`${server.url}/test/contract`);
  await page.waitForFunction(() => "shoalContract" in globalThis, null, { timeout: 10_000 });
  const inPage = await page.evaluate(() =>
    (globalThis as unknown as { shoalContract: ContractPage }).shoalContract.names
  );
  if (inPage.join("\n") !== names.join("\n")) {
    throw new Error(`the page registers other tests: ${JSON.stringify(inPage)}`);
  }
  for (const name of names) {
    await t.step(name, async () => {
      const result = await page.evaluate(
        (n) => (globalThis as unknown as { shoalContract: ContractPage }).shoalContract.run(n),
        name,
      );
      if (!result.ok) throw new Error(`${name} failed in Chromium: ${result.error}`);
    });
  }
});
