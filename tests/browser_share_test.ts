// `shoal share` to the viewer page in headless Chromium: the page detects the terminal
// session and renders it with xterm.js; its buffer must equal the host's model after
// colours, cursor motion, a full-screen redraw and a resize, for a page open from the
// start and for one that joins mid full-screen; with input allowed, what is typed in the
// page reaches the program. The share's own host page shows the terminal and grants input.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { Share } from "../cli/share.ts";
import { startSharePage } from "../cli/share_page.ts";
import { browserTest } from "./_chromium.ts";
import { shareOnLoopback } from "./_share_program.ts";
import { eventually } from "./_signal_helpers.ts";
import { exitStatus } from "./_terminal.ts";
import { webServer } from "./_web.ts";

/** What the test reads of the page's `TerminalView` (its xterm.js types would pull in the DOM). */
interface _Cell {
  getFgColor(): number;
  isBold(): number;
}
interface _View {
  settled(): Promise<void>;
  lines(): string[];
  terminal: {
    cols: number;
    rows: number;
    buffer: {
      active: {
        cursorX: number;
        cursorY: number;
        type: "normal" | "alternate";
        getLine(y: number): { getCell(x: number): _Cell | undefined } | undefined;
      };
    };
  };
}
type _Page = { shoalTerminal?: _View };

async function screenOf(page: Page) {
  return await page.evaluate(async () => {
    const t = (globalThis as unknown as _Page).shoalTerminal;
    if (!t) return undefined;
    await t.settled();
    const b = t.terminal.buffer.active;
    return {
      lines: t.lines(),
      cursor: { x: b.cursorX, y: b.cursorY, buffer: b.type },
      size: { cols: t.terminal.cols, rows: t.terminal.rows },
    };
  });
}

/** Waits until the model shows `text` and every page's xterm.js shows what the model shows. */
async function converge(share: Share, pages: Page[], text: string): Promise<void> {
  const model = share.stream.model;
  await eventually(() => model.lines().join("\n").includes(text), 10_000, `"${text}"`);
  for (const page of pages) {
    const want = () => JSON.stringify({ lines: model.lines(), cursor: model.cursor() });
    await eventually(
      async () => {
        const s = await screenOf(page);
        return s !== undefined && JSON.stringify({ lines: s.lines, cursor: s.cursor }) === want();
      },
      15_000,
      `the page shows "${text}"`,
    ).catch(async (error) => {
      assert.deepEqual((await screenOf(page))?.lines, model.lines(), error.message);
      throw error;
    });
  }
}

browserTest(
  "the viewer page renders a shared terminal with xterm.js: colours, cursor motion, full-screen redraw, resize, a late joiner, and typing once input is allowed",
  async (browser) => {
    await using server = await webServer();
    await using share = await shareOnLoopback(server.url, { cols: 60, rows: 12, allowInput: true });
    const link = `${server.url}/view/${share.host.session.sessionId}#code=${share.host.joinCode}`;
    const early = await browser.page();
    await early.goto(link);
    await converge(share, [early], "moved");
    // The red came through as a red cell, not as text.
    const red = await early.evaluate(() => {
      const t = (globalThis as unknown as _Page).shoalTerminal!;
      const cell = t.terminal.buffer.active.getLine(0)!.getCell(0)!;
      return { fg: cell.getFgColor(), bold: cell.isBold() !== 0 };
    });
    assert.deepEqual(red, { fg: 1, bold: true });
    await share.type("\r");
    await converge(share, [early], "TOP 60x12");

    const late = await browser.page();
    await late.goto(link);
    await converge(share, [early, late], "TOP 60x12");
    assert.equal((await screenOf(late))?.cursor.buffer, "alternate");

    await share.resize(80, 20);
    await converge(share, [early, late], "TOP 80x20");
    assert.deepEqual((await screenOf(late))?.size, { cols: 80, rows: 20 });
    assert.match((await late.locator("#terminal-mode").textContent())!, /80×20, you can type/);

    await late.locator("#terminal").click();
    await late.keyboard.type("from chromium");
    await late.keyboard.press("Enter");
    await converge(share, [early, late], "frame got:from chromium");
    await late.keyboard.type("quit");
    await late.keyboard.press("Enter");
    assert.equal(await exitStatus(share), 5);
    await eventually(
      async () =>
        /exited \(status 5\)/.test((await early.locator("#terminal-mode").textContent())!),
      5_000,
      "the page says the program exited",
    );
    assert.deepEqual(browser.report, []);
  },
);

browserTest(
  "the share's host page shows the terminal beside the viewers and grants a viewer's input",
  async (browser) => {
    await using server = await webServer();
    await using share = await shareOnLoopback(server.url, { cols: 50, rows: 10 });
    await using page = await startSharePage({
      port: 0,
      share,
      server: server.url,
    });
    const hostPage = await browser.page();
    await hostPage.goto(page.url);
    const viewerPage = await browser.page();
    await viewerPage.goto(
      `${server.url}/view/${share.host.session.sessionId}#code=${share.host.joinCode}&label=watcher`,
    );
    await converge(share, [hostPage, viewerPage], "moved");
    const row = hostPage.locator('#viewers tbody tr[data-state="ready"]');
    await row.waitFor();
    assert.match((await row.textContent())!, /watcher/);
    assert.match((await viewerPage.locator("#terminal-mode").textContent())!, /read-only/);
    await row.locator("button.grant").click();
    await eventually(() => share.stream.viewers()[0]?.input === true, 5_000, "input granted");
    await eventually(
      async () => /you can type/.test((await viewerPage.locator("#terminal-mode").textContent())!),
      5_000,
      "the viewer is told",
    );
    await share.type("\r");
    await viewerPage.locator("#terminal").click();
    await viewerPage.keyboard.type("hi");
    await viewerPage.keyboard.press("Enter");
    await converge(share, [hostPage, viewerPage], "frame got:hi");
    await hostPage.locator("#log li").first().waitFor();
    assert.match((await hostPage.locator("#log").textContent())!, /watcher/);
    await share.type("quit\r");
    assert.equal(await exitStatus(share), 5);
    assert.deepEqual(browser.report, []);
  },
);
