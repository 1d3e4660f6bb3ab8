/**
 * The host's copy of the shared screen: an `@xterm/headless` terminal fed every output
 * byte, serialized with `@xterm/addon-serialize` into the `screen` a viewer starts from.
 *
 * @module
 */
import xterm from "@xterm/headless";
// @ts-types="./addon_serialize.d.ts"
import { SerializeAddon } from "@xterm/addon-serialize";

type _HeadlessAddon = Parameters<InstanceType<typeof xterm.Terminal>["loadAddon"]>[0];

/** Options of {@linkcode TerminalModel}. */
export interface TerminalModelOptions {
  /** Columns. */
  cols: number;
  /** Rows. */
  rows: number;
  /** Lines kept above the screen, and sent to a late joiner (default 1 000). */
  scrollback?: number;
}

/**
 * A headless terminal that follows the program's output.
 *
 * @example
 * ```ts ignore
 * const model = new TerminalModel({ cols: 20, rows: 5 });
 * await model.write(new TextEncoder().encode("\x1b[1mhi"));
 * model.lines(); // ["hi", "", "", "", ""]
 * model.serialize(); // "\x1b[1mhi" (what a fresh terminal needs to show the same)
 * ```
 */
export class TerminalModel {
  #term: InstanceType<typeof xterm.Terminal>;
  #serializer = new SerializeAddon();
  #scrollback: number;

  constructor(options: TerminalModelOptions) {
    this.#scrollback = options.scrollback ?? 1_000;
    this.#term = new xterm.Terminal({
      cols: options.cols,
      rows: options.rows,
      scrollback: this.#scrollback,
      allowProposedApi: true,
    });
    // The addon's types name @xterm/xterm's Terminal; the headless one has the same API.
    this.#term.loadAddon(this.#serializer as unknown as _HeadlessAddon);
  }

  /** Columns and rows. */
  get size(): { cols: number; rows: number } {
    return { cols: this.#term.cols, rows: this.#term.rows };
  }

  /** Feeds output bytes; resolves once they are parsed. */
  write(data: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.#term.write(data, resolve));
  }

  /** Resizes (the same reflow a viewer's terminal does). */
  resize(cols: number, rows: number): void {
    this.#term.resize(cols, rows);
  }

  /** Back to a blank screen, default modes and no scrollback (before a fresh `screen`). */
  reset(): void {
    this.#term.reset();
  }

  /** The screen and scrollback as escape sequences for a fresh terminal of this size. */
  serialize(): string {
    return this.#serializer.serialize({ scrollback: this.#scrollback });
  }

  /** The visible lines of the active buffer (normal or alternate), trailing blanks trimmed. */
  lines(): string[] {
    const buffer = this.#term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.#term.rows; y++) {
      out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
    }
    return out;
  }

  /** The cursor's position on the screen (0-based) and which buffer is active. */
  cursor(): { x: number; y: number; buffer: "normal" | "alternate" } {
    const b = this.#term.buffer.active;
    return { x: b.cursorX, y: b.cursorY, buffer: b.type };
  }

  /** Frees the terminal. */
  dispose(): void {
    this.#term.dispose();
  }
}
