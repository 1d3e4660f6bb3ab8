/**
 * A shared terminal in a page, rendered by `@xterm/xterm`: it applies the terminal
 * messages of `core/terminal_messages.ts` (a `hello` sets the size, a `screen` starts
 * afresh from the host's serialized screen, `output` is written as it comes) and, when
 * the host allows it, hands what the user types to `onInput`.
 *
 * @module
 */
import { Terminal } from "@xterm/xterm";
import type { TerminalHello, TerminalMessage } from "../core/terminal_messages.ts";

/** Options of {@linkcode TerminalView}. */
export interface TerminalViewOptions {
  /** What the user typed, while the host allows input. */
  onInput?: (data: string) => void;
  /** The `hello` changed (size or input permission). */
  onHello?: (hello: TerminalHello) => void;
  /** The shared program exited. */
  onExit?: (exitCode: number) => void;
}

/** One shared terminal in `element`. */
export class TerminalView {
  /** The xterm.js terminal (tests read its buffer). */
  readonly terminal: Terminal;
  #hello?: TerminalHello;
  #o: TerminalViewOptions;

  constructor(element: HTMLElement, options: TerminalViewOptions = {}) {
    this.#o = options;
    this.terminal = new Terminal({
      cols: 80,
      rows: 24,
      scrollback: 1_000,
      disableStdin: true,
      cursorBlink: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
    });
    this.terminal.open(element);
    this.terminal.onData((data) => {
      if (this.#hello?.input) this.#o.onInput?.(data);
    });
  }

  /** The last `hello`. */
  get hello(): TerminalHello | undefined {
    return this.#hello;
  }

  /** Applies one terminal message. */
  apply(message: TerminalMessage): void {
    switch (message.kind) {
      case "hello": {
        this.#hello = message.hello;
        const { cols, rows, input } = message.hello;
        if (cols !== this.terminal.cols || rows !== this.terminal.rows) {
          this.terminal.resize(cols, rows);
        }
        this.terminal.options.disableStdin = !input;
        this.#o.onHello?.(message.hello);
        break;
      }
      case "screen":
        this.terminal.reset();
        this.terminal.write(message.data);
        break;
      case "output":
        this.terminal.write(message.data);
        break;
      case "exit":
        this.#o.onExit?.(message.exitCode);
        break;
    }
  }

  /** Resolves once everything written so far is parsed. */
  settled(): Promise<void> {
    return new Promise((resolve) => this.terminal.write(new Uint8Array(0), resolve));
  }

  /** The visible lines of the active buffer, trailing blanks trimmed. */
  lines(): string[] {
    const buffer = this.terminal.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.terminal.rows; y++) {
      out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
    }
    return out;
  }

  /** Frees the terminal. */
  dispose(): void {
    this.terminal.dispose();
  }
}
