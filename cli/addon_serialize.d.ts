// The part of `@xterm/addon-serialize` that `terminal_model.ts` uses. Its own typings import
// `@xterm/xterm`'s, which pull the DOM library into every Deno program that imports them.

/** Serializes a terminal's buffer into escape sequences. */
export class SerializeAddon {
  constructor();
  /** Called by `Terminal.loadAddon`. */
  activate(terminal: unknown): void;
  /** The scrollback (its last `scrollback` lines) and the screen, with the cursor last. */
  serialize(
    options?: { scrollback?: number; excludeModes?: boolean; excludeAltBuffer?: boolean },
  ): string;
  /** Frees the addon. */
  dispose(): void;
}
