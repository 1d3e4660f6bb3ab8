/**
 * One handshake with one viewer, from the host's side: a fresh peer connection and data
 * channel, an offer under a new `handshakeId`, trickle ICE both ways, and four phases each
 * with its own timeout (answer, connected, open, ready). On failure or abort it tells the
 * viewer, closes the peer connection, detaches every handler and reports the phase.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import type { Counter } from "./metrics.ts";
import { DATA_CHANNEL_LABEL, parseControlFrame, type SignalData } from "./protocol.ts";
import type {
  RtcAdapter,
  RtcDataChannel,
  RTCIceServerLike,
  RtcIceTransportPolicy,
  RtcMessage,
  RtcPeerConnection,
} from "./rtc.ts";
import type { IncomingSignal } from "./signaling.ts";

/**
 * The phases of a handshake, in order: `offer` (made and sent), `answer` (awaited),
 * `connected` (ICE and DTLS), `open` (the data channel), `ready` (the viewer's word).
 *
 * @example
 * ```ts
 * import { HandshakeError, type HandshakePhase } from "@shoal/shoal";
 *
 * const phaseOf = (e: unknown): HandshakePhase | undefined =>
 *   e instanceof HandshakeError ? e.phase : undefined;
 * console.assert(phaseOf(new Error("other")) === undefined);
 * ```
 */
export type HandshakePhase = "offer" | "answer" | "connected" | "open" | "ready";

/**
 * Time allowed for each phase of a handshake, ms; a phase that overruns fails the attempt
 * with a {@link HandshakeTimeoutError}. A host takes any of them in `timeouts`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUTS, type HandshakeTimeouts } from "@shoal/shoal";
 *
 * const patient: HandshakeTimeouts = { ...DEFAULT_HANDSHAKE_TIMEOUTS, answerMs: 30_000 };
 * console.assert(patient.openMs === DEFAULT_HANDSHAKE_TIMEOUTS.openMs);
 * ```
 */
export interface HandshakeTimeouts {
  /** From the offer sent to the answer received (default 10 000). */
  answerMs: number;
  /** From the answer to the connection being up: ICE and DTLS (default 10 000). */
  connectedMs: number;
  /** From connected to the data channel open (default 5 000). */
  openMs: number;
  /** From open to the viewer's `ready` (default 5 000). */
  readyMs: number;
}

/**
 * The defaults of {@link HandshakeTimeouts}: 10 s for the answer, 10 s to connect, 5 s for
 * the channel to open and 5 s for the viewer's `ready`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUTS } from "@shoal/shoal";
 *
 * console.assert(DEFAULT_HANDSHAKE_TIMEOUTS.answerMs === 10_000);
 * ```
 */
export const DEFAULT_HANDSHAKE_TIMEOUTS: HandshakeTimeouts = {
  answerMs: 10_000,
  connectedMs: 10_000,
  openMs: 5_000,
  readyMs: 5_000,
};

/** Milliseconds each phase took, and the total. */
export interface PhaseTimings {
  /** Creating and sending the offer. */
  offer?: number;
  /** Waiting for the answer. */
  answer?: number;
  /** ICE and DTLS. */
  connected?: number;
  /** The data channel opening. */
  open?: number;
  /** The viewer's `ready`. */
  ready?: number;
  /** From start to ready. */
  total?: number;
}

/**
 * A failed handshake: the phase it failed in and why.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "./negotiator.ts";
 * const e = new HandshakeError("answer", "timeout", { peerId: "v", handshakeId: "h", attempt: 1 });
 * console.assert(e.message.includes("answer"));
 * ```
 */
export class HandshakeError extends Error {
  /** `"HandshakeError"`, or the subclass's name. */
  override name = "HandshakeError";
  /** The viewer. */
  readonly peerId: string;
  /** The handshake. */
  readonly handshakeId: string;
  /** Which attempt it was. */
  readonly attempt: number;
  /** Makes the error from the phase, the reason, the viewer's ids and an optional `cause`. */
  constructor(
    /** The phase that failed. */
    readonly phase: HandshakePhase,
    /** `timeout`, `failed` (connection failed), `viewer-abort`, `aborted`, or `error`. */
    readonly reason: string,
    data: { peerId: string; handshakeId: string; attempt: number },
    options?: ErrorOptions,
  ) {
    super(
      `handshake ${data.handshakeId} with ${data.peerId} failed in ${phase}: ${reason}`,
      options,
    );
    this.peerId = data.peerId;
    this.handshakeId = data.handshakeId;
    this.attempt = data.attempt;
  }
}

/**
 * A handshake that timed out: its `phase` overran its {@link HandshakeTimeouts} entry.
 *
 * @example
 * ```ts
 * import { HandshakeError, HandshakeTimeoutError } from "@shoal/shoal";
 *
 * const e = new HandshakeTimeoutError("answer", "timeout", {
 *   peerId: "p1",
 *   handshakeId: "h1",
 *   attempt: 2,
 * });
 * console.assert(e instanceof HandshakeError && e.phase === "answer");
 * ```
 */
export class HandshakeTimeoutError extends HandshakeError {
  /** Always `"HandshakeTimeoutError"`. */
  override name = "HandshakeTimeoutError";
}

/** Counters a negotiator counts into (all optional). */
export interface HandshakeCounters {
  /** Offers sent. */
  offers?: Counter;
  /** Answers received. */
  answers?: Counter;
  /** Handshakes by `outcome` (`ready`, `timeout`, `failed`, `aborted`, …) and `phase`. */
  outcomes?: Counter;
  /** Signals dropped because their `handshakeId` was not the current one. */
  stale?: Counter;
}

/** A viewer whose handshake succeeded: an open channel on which it said `ready`. */
export interface NegotiatedPeer {
  /** The viewer. */
  peerId: string;
  /** Its label. */
  label: string;
  /** The handshake that made this connection. */
  handshakeId: string;
  /** Which attempt succeeded. */
  attempt: number;
  /** The peer connection. */
  pc: RtcPeerConnection;
  /** The open data channel. */
  channel: RtcDataChannel;
  /** How long each phase took. */
  timings: PhaseTimings;
  /** The `resume` field of the viewer's `ready`, if it had one. */
  resume?: unknown;
  /**
   * Hands the channel's messages over to `onMessage`, first those that came after `ready`
   * and before this call. Call once.
   */
  adopt(onMessage: (message: RtcMessage) => void): void;
}

/** Where a negotiator sends its signals (the signaling client). */
export interface SignalSender {
  /** Sends `data` to `to` under `handshakeId`. */
  send(to: string, handshakeId: string, data: SignalData): boolean;
}

/** Options of {@link Negotiator}. */
export interface NegotiatorOptions {
  /** Makes the peer connection. */
  rtc: RtcAdapter;
  /** Sends signals. */
  signaling: SignalSender;
  /** ICE servers from `welcome`. */
  iceServers: RTCIceServerLike[];
  /** `relay` to use TURN-relayed candidates only (default `all`). */
  iceTransportPolicy?: RtcIceTransportPolicy;
  /** The viewer. */
  peerId: string;
  /** Its label. */
  label?: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Per-phase timeouts (defaults {@link DEFAULT_HANDSHAKE_TIMEOUTS}). */
  timeouts?: Partial<HandshakeTimeouts>;
  /** Aborts the handshake (the viewer left, a new one superseded it, shutdown). */
  signal?: AbortSignal;
  /** Called when the data channel opens. */
  onOpen?: () => void;
  /** Logger for lifecycle records. */
  log?: Logger;
  /** Fields every record carries (e.g. `sessionId`). */
  logFields?: Record<string, unknown>;
  /** Counters. */
  counters?: HandshakeCounters;
}

/** A new random handshake id (16 hex characters). */
export function newHandshakeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * One handshake with one viewer. Route the viewer's signals to {@link Negotiator.handle};
 * {@link Negotiator.run} resolves with a {@link NegotiatedPeer} or rejects with a
 * {@link HandshakeError}.
 *
 * @example
 * ```ts ignore
 * const n = new Negotiator({ rtc, signaling, iceServers: [], peerId, attempt: 1 });
 * const off = signaling.route(peerId, (s) => n.handle(s));
 * try {
 *   const peer = await n.run();
 * } finally {
 *   off();
 * }
 * ```
 */
export class Negotiator {
  /** This handshake's id. */
  readonly handshakeId: string = newHandshakeId();
  #o: NegotiatorOptions;
  #t: HandshakeTimeouts;
  #phase: HandshakePhase = "offer";
  #fail = new AbortController();
  #answer = Promise.withResolvers<string>();
  #pc?: RtcPeerConnection;
  #offs: Array<() => void> = [];
  #timings: PhaseTimings = {};

  constructor(options: NegotiatorOptions) {
    this.#o = options;
    this.#t = { ...DEFAULT_HANDSHAKE_TIMEOUTS, ...options.timeouts };
    this.#answer.promise.catch(() => {});
  }

  /** Takes one signal from the viewer; signals of another handshake are dropped and counted. */
  handle(signal: IncomingSignal): void {
    if (signal.handshakeId !== this.handshakeId) {
      this.#o.counters?.stale?.inc();
      this.#log("debug", "stale signal dropped", {
        stale: signal.handshakeId,
        kind: signal.data.kind,
      });
      return;
    }
    const data = signal.data;
    switch (data.kind) {
      case "answer":
        this.#answer.resolve(data.sdp);
        return;
      case "candidate":
        this.#pc?.addIceCandidate({
          candidate: data.candidate,
          sdpMid: data.sdpMid,
          sdpMLineIndex: data.sdpMLineIndex,
        }).catch((error) =>
          this.#log("debug", "remote candidate refused", { error: String(error) })
        );
        return;
      case "end-of-candidates":
        this.#pc?.addIceCandidate(null).catch(() => {});
        return;
      case "abort":
        this.#fail.abort(`viewer-abort${data.reason ? `: ${data.reason}` : ""}`);
        return;
    }
  }

  /** Runs the handshake to `ready`. */
  async run(): Promise<NegotiatedPeer> {
    const started = performance.now();
    const { rtc, signaling, peerId } = this.#o;
    const pc = rtc.createPeerConnection({
      iceServers: this.#o.iceServers,
      iceTransportPolicy: this.#o.iceTransportPolicy,
    });
    this.#pc = pc;
    const channel = pc.createDataChannel(DATA_CHANNEL_LABEL);
    const early: RtcMessage[] = [];
    let ready = false;
    let resume: unknown;
    let onReady!: () => void;
    const readySeen = new Promise<void>((r) => onReady = r);
    let deliver: ((m: RtcMessage) => void) | undefined;
    let offMessage = channel.on("message", (m) => {
      if (deliver) return deliver(m);
      if (ready) return void early.push(m);
      const c = typeof m === "string" ? parseControlFrame(m) : undefined;
      if (c?.ok && c.value.t === "ready") {
        ready = true;
        resume = c.value.resume;
        onReady();
      }
    });
    // werift gathers inside setLocalDescription, before the offer is sent: a viewer drops a
    // candidate of a handshake it has no offer for, so they wait until the offer is out.
    let held: SignalData[] | undefined = [];
    this.#offs.push(
      pc.on("icecandidate", (c) => {
        const data: SignalData = c ? { kind: "candidate", ...c } : { kind: "end-of-candidates" };
        if (held) held.push(data);
        else signaling.send(peerId, this.handshakeId, data);
      }),
      pc.on("connectionstatechange", (s) => {
        if (s === "failed" || s === "closed") this.#fail.abort(`connection ${s}`);
      }),
    );
    try {
      const offer = await pc.createOffer({ signal: this.#signal() });
      await pc.setLocalDescription(offer, { signal: this.#signal() });
      signaling.send(peerId, this.handshakeId, { kind: "offer", sdp: offer.sdp });
      for (const data of held.splice(0)) signaling.send(peerId, this.handshakeId, data);
      held = undefined;
      this.#o.counters?.offers?.inc();
      this.#lap("offer", "answer", started);
      this.#log("info", "offer sent", { ms: this.#timings.offer });

      const sdp = await this.#within(this.#answer.promise, this.#t.answerMs);
      this.#o.counters?.answers?.inc();
      await pc.setRemoteDescription({ type: "answer", sdp }, { signal: this.#signal() });
      this.#lap("answer", "connected", started);
      this.#log("info", "answer received", { ms: this.#timings.answer });

      await this.#within(
        this.#until(
          () => pc.connectionState === "connected" || channel.readyState === "open",
          pc,
          "connectionstatechange",
        ),
        this.#t.connectedMs,
      );
      this.#lap("connected", "open", started);
      this.#log("info", "connected", { ms: this.#timings.connected });

      await this.#within(
        this.#until(() => channel.readyState === "open", channel, "open"),
        this.#t.openMs,
      );
      this.#o.onOpen?.();
      this.#lap("open", "ready", started);
      this.#log("info", "channel open", { ms: this.#timings.open });

      await this.#within(readySeen, this.#t.readyMs);
      this.#timings.ready = this.#since(started) - this.#sum();
      this.#timings.total = this.#since(started);
      this.#o.counters?.outcomes?.inc({ outcome: "ready", phase: "ready" });
      this.#log("info", "ready", {
        timings: this.#timings,
        candidatePair: await pc.selectedCandidatePair?.().catch(() => undefined),
      });
      this.#detach();
      return {
        peerId,
        label: this.#o.label ?? "",
        handshakeId: this.handshakeId,
        attempt: this.#o.attempt,
        pc,
        channel,
        timings: this.#timings,
        resume,
        adopt: (onMessage) => {
          offMessage();
          offMessage = channel.on("message", onMessage);
          deliver = onMessage;
          for (const m of early.splice(0)) onMessage(m);
        },
      };
    } catch (cause) {
      offMessage();
      throw await this.#failed(pc, cause);
    }
  }

  #signal(): AbortSignal {
    return this.#o.signal
      ? AbortSignal.any([this.#o.signal, this.#fail.signal])
      : this.#fail.signal;
  }

  /** Waits for `promise` within `ms`, or the first failure or abort. */
  #within<T>(promise: Promise<T>, ms: number): Promise<T> {
    const timeout = AbortSignal.timeout(ms);
    const signal = AbortSignal.any([this.#signal(), timeout]);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(timeout.aborted ? new _Timeout() : signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Resolves once `test()` holds, checking now and on each `type` event of `target`. */
  #until<E extends string>(
    test: () => boolean,
    target: { on(type: E, fn: () => void): () => void },
    type: E,
  ): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => {
      const off = target.on(type, () => {
        if (!test()) return;
        off();
        resolve();
      });
      this.#offs.push(off);
    });
  }

  async #failed(pc: RtcPeerConnection, cause: unknown): Promise<HandshakeError> {
    const outer = this.#o.signal?.aborted ? String(this.#o.signal.reason) : undefined;
    const own = this.#fail.signal.aborted ? String(this.#fail.signal.reason) : undefined;
    // The connected phase ended (its timeout, or a failed connection) before ICE found a
    // working candidate pair: no path between the two (a firewall, no TURN, a bad credential).
    const ice = pc.iceConnectionState;
    const iceFailed = this.#phase === "connected" && outer === undefined &&
      (cause instanceof _Timeout || own === "connection failed") &&
      ice !== "connected" && ice !== "completed";
    const reason = iceFailed
      ? `ice-failed (ICE ${ice})`
      : cause instanceof _Timeout
      ? "timeout"
      : outer !== undefined
      ? `aborted: ${outer}`
      : own ?? `error: ${cause instanceof Error ? cause.message : String(cause)}`;
    const data = {
      peerId: this.#o.peerId,
      handshakeId: this.handshakeId,
      attempt: this.#o.attempt,
    };
    const error = cause instanceof _Timeout
      ? new HandshakeTimeoutError(this.#phase, reason, data)
      : new HandshakeError(this.#phase, reason, data, { cause });
    const outcome = iceFailed
      ? "ice-failed"
      : cause instanceof _Timeout
      ? "timeout"
      : outer !== undefined
      ? "aborted"
      : own?.startsWith("viewer-abort")
      ? "viewer-abort"
      : "failed";
    this.#o.counters?.outcomes?.inc({ outcome, phase: this.#phase });
    const tellViewer = !own?.startsWith("viewer-abort") && !/left|gone/.test(outer ?? "");
    if (tellViewer) {
      this.#o.signaling.send(this.#o.peerId, this.handshakeId, {
        kind: "abort",
        reason: outcome === "aborted" ? outer : reason,
      });
    }
    this.#detach();
    await pc.close();
    this.#log(outcome === "aborted" ? "info" : "warn", "handshake failed", {
      phase: this.#phase,
      reason,
      timings: this.#timings,
    });
    return error;
  }

  #detach(): void {
    for (const off of this.#offs.splice(0)) off();
    this.#answer.reject(new Error("detached"));
  }

  #lap(done: HandshakePhase, next: HandshakePhase, started: number): void {
    this.#timings[done] = this.#since(started) - this.#sum();
    this.#phase = next;
  }

  #sum(): number {
    const t = this.#timings;
    return (t.offer ?? 0) + (t.answer ?? 0) + (t.connected ?? 0) + (t.open ?? 0);
  }

  #since(started: number): number {
    return Math.round((performance.now() - started) * 10) / 10;
  }

  #log(
    level: "debug" | "info" | "warn",
    message: string,
    extra: Record<string, unknown> = {},
  ): void {
    this.#o.log?.[level](message, {
      ...this.#o.logFields,
      peerId: this.#o.peerId,
      handshakeId: this.handshakeId,
      attempt: this.#o.attempt,
      phase: this.#phase,
      ...extra,
    });
  }
}

class _Timeout extends Error {
  override name = "TimeoutError";
}
