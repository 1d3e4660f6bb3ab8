/**
 * The terminal stream of `shoal share`: the program's output goes into a headless model
 * and, coalesced per tick, to every viewer as `output` messages; a joining viewer starts
 * from the model's serialized `screen`; a viewer that falls too far behind stops getting
 * output and, once its backlog has drained, starts again from a fresh `screen` (it skips
 * what it missed, it never replays it). Viewers' keystrokes reach the program only where
 * the sharer allows it.
 *
 * It sends through a {@linkcode TerminalOutlet} (a host's `send` and each viewer's
 * backlog), so it runs the same against a real `Host` and in a unit test.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Logger } from "../core/logger.ts";
import {
  encodeTerminalMessage,
  type TerminalHello,
  type TerminalMessage,
} from "../core/terminal_messages.ts";
import { TerminalModel } from "./terminal_model.ts";

/** Where the stream sends: one viewer at a time, and how far behind each one is. */
export interface TerminalOutlet {
  /** Queues `payload` for `peerId` after what was queued before; false when not ready. */
  send(peerId: string, payload: Uint8Array): boolean;
  /** Bytes queued for each viewer and not yet handed to the network. */
  backlogs(): ReadonlyMap<string, number>;
}

/** Options of {@linkcode TerminalStream}. */
export interface TerminalStreamOptions {
  /** Where messages go. */
  outlet: TerminalOutlet;
  /** Columns (default 80). */
  cols?: number;
  /** Rows (default 24). */
  rows?: number;
  /** Scrollback lines kept and sent to joiners (default 1 000). */
  scrollback?: number;
  /** Whether viewers may type by default (default false: read-only). */
  allowInput?: boolean;
  /** Output waits this long to be sent in one message, ms (default 5). */
  tickMs?: number;
  /** `write` waits while this much output is not yet sent (default 1 MiB). */
  maxPendingBytes?: number;
  /** A viewer with more than this queued stops getting output until resynchronised (default 256 KiB). */
  resyncBytes?: number;
  /** Logger (default: category `shoal.share`). */
  logger?: Logger;
}

/** A viewer as the stream sees it. */
export interface TerminalViewer {
  /** Its peer id. */
  peerId: string;
  /** Its label. */
  label: string;
  /** `live` gets output; `behind` waits for its backlog to drain, then gets a fresh screen. */
  state: "joining" | "live" | "behind";
  /** Whether its keystrokes reach the program. */
  input: boolean;
  /** Times it was resynchronised. */
  resyncs: number;
}

/** Counters of a {@linkcode TerminalStream}. */
export interface TerminalStreamStats {
  /** Output bytes from the program. */
  bytesIn: number;
  /** Output messages sent (one per viewer per tick). */
  messagesOut: number;
  /** Ticks that sent output. */
  ticks: number;
  /** Viewers started again from a fresh screen after falling behind. */
  resyncs: number;
  /** Wall time spent parsing output into the model, ms. */
  modelMs: number;
  /** Wall time spent handing output to viewers (and resynchronising them), ms. */
  sendMs: number;
  /** Viewer keystroke messages that reached the program. */
  inputAccepted: number;
  /** Viewer keystroke messages dropped because the viewer may not type. */
  inputDropped: number;
}

/**
 * The terminal stream (see the module doc).
 *
 * @example
 * ```ts ignore
 * const stream = new TerminalStream({ outlet, cols: 80, rows: 24 });
 * await using host = await Host.start({ rtc, server, onPeerReady: (p) => stream.admit(p) });
 * for await (const chunk of pty.output) await stream.write(chunk);
 * ```
 */
export class TerminalStream implements AsyncDisposable {
  /** Counters. */
  readonly stats: TerminalStreamStats = {
    bytesIn: 0,
    messagesOut: 0,
    ticks: 0,
    resyncs: 0,
    modelMs: 0,
    sendMs: 0,
    inputAccepted: 0,
    inputDropped: 0,
  };
  #o: TerminalStreamOptions;
  #log: Logger;
  #model: TerminalModel;
  #viewers = new Map<string, TerminalViewer>();
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #timer?: ReturnType<typeof setTimeout>;
  /** Every operation that touches the model or sends runs in this order. */
  #chain: Promise<void> = Promise.resolve();
  #roomWaiters: Array<() => void> = [];
  #listeners = new Set<(message: TerminalMessage, bytes: Uint8Array) => void>();
  #closed = false;

  constructor(options: TerminalStreamOptions) {
    this.#o = options;
    this.#log = options.logger ?? getLogger(["shoal", "share"]);
    this.#model = new TerminalModel({
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      scrollback: options.scrollback,
    });
  }

  /** The host's model of the screen (tests compare viewers' screens with it). */
  get model(): TerminalModel {
    return this.#model;
  }

  /** Columns and rows. */
  get size(): { cols: number; rows: number } {
    return this.#model.size;
  }

  /** The viewers, in the order they joined. */
  viewers(): TerminalViewer[] {
    return [...this.#viewers.values()].map((v) => ({ ...v }));
  }

  /**
   * Takes program output. It is sent on the next tick; the promise resolves at once unless
   * more than `maxPendingBytes` wait, then when a tick has sent them (backpressure for the
   * reader of the pty, and so for the program).
   */
  write(data: Uint8Array): Promise<void> {
    if (this.#closed || data.byteLength === 0) return Promise.resolve();
    this.stats.bytesIn += data.byteLength;
    this.#pending.push(data);
    this.#pendingBytes += data.byteLength;
    this.#timer ??= setTimeout(() => this.#flushSoon(), this.#o.tickMs ?? 5);
    if (this.#pendingBytes <= (this.#o.maxPendingBytes ?? 1024 * 1024)) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Sends what is pending now; resolves once every earlier operation is done. */
  flush(): Promise<void> {
    return this.#run(() => this.#tick());
  }

  /**
   * Resizes: output so far is sent at the old size, then the model and every viewer resize
   * (a `hello` with the new size), before any output the program makes after its SIGWINCH.
   */
  resize(cols: number, rows: number): Promise<void> {
    return this.#run(async () => {
      await this.#tick();
      const now = this.#model.size;
      if (now.cols === cols && now.rows === rows) return;
      this.#model.resize(cols, rows);
      for (const v of this.#viewers.values()) {
        if (v.state === "live") this.#send(v, { kind: "hello", hello: this.#hello(v) });
      }
      this.#tell({ kind: "hello", hello: this.#hello({ input: false }) });
    });
  }

  /**
   * Admits a ready viewer (a host's `onPeerReady`): it gets a `hello` and the current
   * `screen` through `peer.send`, then the live output. Resolves once they are queued.
   */
  admit(peer: { peerId: string; label: string; send(data: Uint8Array): void }): Promise<void> {
    const viewer: TerminalViewer = {
      peerId: peer.peerId,
      label: peer.label,
      state: "joining",
      input: this.#o.allowInput ?? false,
      resyncs: 0,
    };
    this.#viewers.set(peer.peerId, viewer);
    return this.#run(() => {
      if (this.#viewers.get(peer.peerId) !== viewer) return;
      for (const m of this.#start(viewer)) peer.send(m);
      viewer.state = "live";
      this.#log.info("viewer joined the terminal", { peerId: peer.peerId, label: peer.label });
    });
  }

  /** Forgets a viewer that left. */
  remove(peerId: string): void {
    this.#viewers.delete(peerId);
  }

  /** Grants or revokes a viewer's input; it is told with a `hello`. False if unknown. */
  setInput(peerId: string, allowed: boolean): boolean {
    const v = this.#viewers.get(peerId);
    if (!v) return false;
    if (v.input === allowed) return true;
    v.input = allowed;
    this.#log.info("viewer input {allowed}", { peerId, allowed: allowed ? "granted" : "revoked" });
    void this.#run(() => {
      if (v.state === "live") this.#send(v, { kind: "hello", hello: this.#hello(v) });
    });
    return true;
  }

  /**
   * A viewer's keystrokes: returns them when the viewer may type (logged with its peer
   * id), or undefined when they are dropped (counted in `stats.inputDropped`).
   */
  input(peerId: string, data: Uint8Array): Uint8Array | undefined {
    const v = this.#viewers.get(peerId);
    if (!v?.input) {
      this.stats.inputDropped++;
      this.#log.debug("read-only viewer input dropped", { peerId, bytes: data.byteLength });
      return undefined;
    }
    this.stats.inputAccepted++;
    this.#log.info("viewer input from {peerId}: {text}", {
      peerId,
      label: v.label,
      bytes: data.byteLength,
      text: JSON.stringify(new TextDecoder().decode(data)),
    });
    return data;
  }

  /**
   * Listens to what the stream produces, as a viewer that never falls behind would see
   * it: `hello` and `screen` at once, then `output` and `hello` on resize (the share page
   * uses it). Returns the unsubscribe function.
   */
  watch(listener: (message: TerminalMessage, bytes: Uint8Array) => void): () => void {
    void this.#run(() => {
      for (const bytes of this.#start({ input: false })) {
        listener(
          bytes[0] === 1
            ? { kind: "hello", hello: this.#hello({ input: false }) }
            : { kind: "screen", data: bytes.subarray(1) },
          bytes,
        );
      }
      this.#listeners.add(listener);
    });
    return () => this.#listeners.delete(listener);
  }

  /** Sends what is pending and tells every viewer the program exited with `exitCode`. */
  end(exitCode: number): Promise<void> {
    return this.#run(async () => {
      await this.#tick();
      for (const v of this.#viewers.values()) {
        if (v.state === "live") this.#send(v, { kind: "exit", exitCode });
      }
      this.#tell({ kind: "exit", exitCode });
    });
  }

  /** Stops the stream and frees the model. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const wake of this.#roomWaiters.splice(0)) wake();
    await this.#chain;
    this.#model.dispose();
    this.#listeners.clear();
  }

  /** Closes the stream (see {@link TerminalStream.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #run(op: () => void | Promise<void>): Promise<void> {
    const next = this.#chain.then(() => (this.#closed && op !== this.#tick ? undefined : op()));
    this.#chain = next.catch((error) => {
      this.#log.error("terminal stream operation failed: {error}", { error: String(error) });
    });
    return next;
  }

  #flushSoon(): void {
    this.#timer = undefined;
    void this.#run(() => this.#tick());
  }

  #hello(v: { input: boolean }): TerminalHello {
    const { cols, rows } = this.#model.size;
    return { shoal: "terminal", v: 1, cols, rows, input: v.input };
  }

  /** `hello` and `screen` for a viewer starting now. */
  #start(v: { input: boolean }): Uint8Array[] {
    return [
      encodeTerminalMessage({ kind: "hello", hello: this.#hello(v) }),
      encodeTerminalMessage({
        kind: "screen",
        data: new TextEncoder().encode(this.#model.serialize()),
      }),
    ];
  }

  #send(v: TerminalViewer, message: TerminalMessage): void {
    this.#o.outlet.send(v.peerId, encodeTerminalMessage(message));
  }

  #tell(message: TerminalMessage): void {
    if (this.#listeners.size === 0) return;
    const bytes = encodeTerminalMessage(message);
    for (const l of this.#listeners) l(message, bytes);
  }

  /**
   * One tick: the pending output goes into the model, then to each live viewer; a viewer
   * that fell behind is checked again, output or not, until it has caught up.
   */
  async #tick(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let message: Uint8Array | undefined;
    let chunk: Uint8Array | undefined;
    if (this.#pendingBytes > 0) {
      chunk = _concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#wake();
      const parsing = performance.now();
      await this.#model.write(chunk);
      this.stats.modelMs += performance.now() - parsing;
      this.stats.ticks++;
      message = encodeTerminalMessage({ kind: "output", data: chunk });
    } else this.#wake();
    let behind = 0;
    const sending = performance.now();
    const backlogs = this.#o.outlet.backlogs();
    const limit = this.#o.resyncBytes ?? 256 * 1024;
    for (const v of this.#viewers.values()) {
      const backlog = backlogs.get(v.peerId) ?? 0;
      if (v.state === "live" && message && backlog > limit) {
        v.state = "behind";
        this.#log.info("viewer fell behind; it will start again from a fresh screen", {
          peerId: v.peerId,
          backlog,
        });
      }
      if (v.state === "behind") {
        // What it misses meanwhile is in the fresh screen it gets once it has caught up.
        if (backlog > limit / 4) {
          behind++;
          continue;
        }
        for (const m of this.#start(v)) this.#o.outlet.send(v.peerId, m);
        v.state = "live";
        v.resyncs++;
        this.stats.resyncs++;
        continue;
      }
      if (v.state === "live" && message && this.#o.outlet.send(v.peerId, message)) {
        this.stats.messagesOut++;
      }
    }
    this.stats.sendMs += performance.now() - sending;
    if (chunk) this.#tell({ kind: "output", data: chunk });
    if (behind > 0 && !this.#closed) this.#timer ??= setTimeout(() => this.#flushSoon(), 50);
  }

  #wake(): void {
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }
}

function _concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
