/**
 * Headless Chromium for the browser tests and the screenshot script: Debian's
 * `/usr/bin/chromium` (never a downloaded browser) driven by `npm:playwright-core`, with a
 * fresh user-data-dir that is removed afterwards.
 *
 * Without chromium the browser tests are skipped with a message saying so, unless
 * `SHOAL_REQUIRE_BROWSER=1` (CI), where they fail.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** The browser executable (`SHOAL_CHROMIUM` overrides it). */
export const CHROMIUM_PATH: string = Deno.env.get("SHOAL_CHROMIUM") ?? "/usr/bin/chromium";

/** The command-line flags every launch uses (playwright adds `--user-data-dir`). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  try {
    const info = Deno.statSync(CHROMIUM_PATH);
    return info.isFile ? undefined : `${CHROMIUM_PATH} is not a file`;
  } catch {
    return `${CHROMIUM_PATH} not found`;
  }
}

/** Whether a missing browser fails the tests (`SHOAL_REQUIRE_BROWSER=1`). */
export const BROWSER_REQUIRED: boolean = Deno.env.get("SHOAL_REQUIRE_BROWSER") === "1";

/** What a page reported: console warnings and errors, uncaught exceptions. */
export type PageReport = string[];

/** A running Chromium: open pages with {@linkcode Chromium.page}, close it with `close()`. */
export class Chromium implements AsyncDisposable {
  /** Everything the pages reported (console warnings/errors, uncaught errors). */
  readonly report: PageReport = [];
  #context: BrowserContext;
  #dir: string;
  #closed?: Promise<void>;

  private constructor(context: BrowserContext, dir: string) {
    this.#context = context;
    this.#dir = dir;
  }

  /**
   * Launches Chromium headless with {@linkcode CHROMIUM_FLAGS} (and `args`) and a new
   * user-data-dir.
   */
  static async launch(
    options: {
      viewport?: { width: number; height: number };
      args?: string[];
      /** The executable (default {@linkcode CHROMIUM_PATH}), e.g. a netns wrapper script. */
      executablePath?: string;
    } = {},
  ): Promise<Chromium> {
    const missing = chromiumMissing();
    if (missing) throw new Error(`cannot launch chromium: ${missing}`);
    const dir = await Deno.makeTempDir({ prefix: "shoal-chromium-" });
    try {
      const context = await chromium.launchPersistentContext(dir, {
        executablePath: options.executablePath ?? CHROMIUM_PATH,
        headless: true,
        args: [...CHROMIUM_FLAGS, ...options.args ?? []],
        viewport: options.viewport ?? { width: 1280, height: 900 },
        timeout: 30_000,
      });
      return new Chromium(context, dir);
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Opens a new page (tab) that reports its console errors into {@linkcode report}. */
  async page(): Promise<Page> {
    const page = await this.#context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") this.report.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => this.report.push(`pageerror: ${e.stack ?? e.message}`));
    return page;
  }

  /** Closes the browser and removes its user-data-dir. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      try {
        await this.#context.close();
      } finally {
        await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
      }
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let _warned = false;

/**
 * Registers a Deno test that gets a launched {@linkcode Chromium} (closed afterwards, even on
 * failure). Without chromium it is skipped with a message, or fails when the browser is
 * required. On failure, what the pages reported is added to the error.
 */
export function browserTest(
  name: string,
  fn: (browser: Chromium, t: Deno.TestContext) => Promise<void>,
): void {
  const missing = chromiumMissing();
  if (missing && !BROWSER_REQUIRED && !_warned) {
    _warned = true;
    console.warn(
      `browser tests skipped: ${missing} (install Debian's chromium; ` +
        "SHOAL_REQUIRE_BROWSER=1 turns this into a failure)",
    );
  }
  Deno.test({
    name,
    ignore: missing !== undefined && !BROWSER_REQUIRED,
    async fn(t) {
      await using browser = await Chromium.launch();
      try {
        await fn(browser, t);
      } catch (error) {
        if (browser.report.length && error instanceof Error) {
          error.message += `\npage reports:\n  ${browser.report.slice(-20).join("\n  ")}`;
        }
        throw error;
      }
    },
  });
}
