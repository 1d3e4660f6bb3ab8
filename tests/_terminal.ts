// A viewer's screen in Deno for the share tests: a headless xterm.js terminal that applies
// the terminal messages a viewer receives, as the viewer page's xterm.js does.
import { TerminalModel } from "../cli/terminal_model.ts";
import { decodeTerminalMessage, type TerminalHello } from "../core/terminal_messages.ts";

/** What one viewer shows. */
export class ViewerScreen {
  model = new TerminalModel({ cols: 80, rows: 24 });
  hello?: TerminalHello;
  exitCode?: number;
  screens = 0;
  outputs = 0;
  #chain: Promise<void> = Promise.resolve();

  /** Applies one application message (in order); false when it is not a terminal message. */
  apply(payload: Uint8Array): boolean {
    const m = decodeTerminalMessage(payload);
    if (!m) return false;
    this.#chain = this.#chain.then(async () => {
      if (m.kind === "hello") {
        this.hello = m.hello;
        const { cols, rows } = this.model.size;
        if (cols !== m.hello.cols || rows !== m.hello.rows) {
          this.model.resize(m.hello.cols, m.hello.rows);
        }
      } else if (m.kind === "screen") {
        this.screens++;
        this.model.reset();
        await this.model.write(m.data);
      } else if (m.kind === "output") {
        this.outputs++;
        await this.model.write(m.data);
      } else if (m.kind === "exit") this.exitCode = m.exitCode;
    });
    return true;
  }

  /** Resolves once every message so far is applied. */
  settled(): Promise<void> {
    return this.#chain;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The exit status of a share's program, or a rejection if it has not exited within `ms`. */
export async function exitStatus(share: { exited: Promise<number> }, ms = 20_000): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the program did not exit within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([share.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
