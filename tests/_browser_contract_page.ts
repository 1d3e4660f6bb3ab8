// Bundled into a page (see browser_contract_test.ts): registers the RTC contract suite for
// adapters/browser.ts and lets the Deno test run each test by name in the page.
import { browser } from "../adapters/browser.ts";
import { counting } from "./_rtc_wrappers.ts";
import { rtcContract } from "./rtc_contract.ts";

/** What the page exposes as `globalThis.shoalContract`. */
export interface ContractPage {
  /** Every test name, in registration order. */
  names: string[];
  /** Runs one test; resolves with its outcome (never rejects). */
  run(name: string): Promise<{ ok: boolean; error?: string; ms: number }>;
}

const tests = new Map<string, () => Promise<void>>();
/** The browser adapter, counting peer connections not yet closed. */
const pcs = counting(browser());

rtcContract("browser", () => ({
  host: pcs.adapter,
  assertQuiet() {
    if (pcs.open() !== 0) throw new Error(`${pcs.open()} peer connection(s) left open`);
  },
}), (name, fn) => tests.set(name, fn));

const page: ContractPage = {
  names: [...tests.keys()],
  async run(name) {
    const started = performance.now();
    const fn = tests.get(name);
    try {
      if (!fn) throw new Error(`no test named ${name}`);
      await fn();
      return { ok: true, ms: performance.now() - started };
    } catch (error) {
      pcs.reset(); // a failed test may leave peers behind; the next one starts counting afresh
      const text = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
      return { ok: false, error: text, ms: performance.now() - started };
    }
  },
};
Object.assign(globalThis, { shoalContract: page });
