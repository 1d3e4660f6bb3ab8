/**
 * The `Host`: the object a user holds. It wires the signaling client, the supervisor (one
 * negotiator per viewer under a concurrency cap) and the fan-out together.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Logger } from "./logger.ts";
import { openOrClose } from "./async.ts";
import { Emitter } from "./emitter.ts";
import {
  BroadcastError,
  type Congestion,
  DEFAULT_MAX_QUEUED_BYTES,
  Fanout,
  type FanoutOptions,
} from "./fanout.ts";
import {
  createHostMetrics,
  type HostMetrics,
  type HostMetricsSnapshot,
  outcomeTotals,
  type PeerSnapshot,
  readyPercentiles,
  renderHostMetrics,
  replayTotals,
} from "./host_metrics.ts";
import { type HandshakeTimeouts, type NegotiatedPeer, Negotiator } from "./negotiator.ts";
import type { DropReason } from "./peer_link.ts";
import { AsyncQueue } from "./queue.ts";
import type { IceServer } from "./protocol.ts";
import type { RtcAdapter, RtcIceTransportPolicy } from "./rtc.ts";
import { type IncomingSignal, SignalingClient } from "./signaling.ts";
import {
  DEFAULT_MAX_CONCURRENT_HANDSHAKES,
  type NegotiationJob,
  type PeerState,
  Supervisor,
} from "./supervisor.ts";
import { createSession, type SessionInfo, sessionWsUrl } from "./session.ts";

/**
 * Options of {@link Host.start}: the WebRTC adapter and the signaling server are required;
 * the rest tune the session (a new one, or `sessionId` with `token` to take one over), the
 * handshakes (concurrency cap, attempts, per-phase timeouts) and the fan-out (viewer cap,
 * what to do when full, send-path limits, heartbeats, coalescing, and `maxQueuedBytes`, the
 * cap on bytes queued for broadcast).
 *
 * @example
 * ```ts
 * import type { HostOptions } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 *
 * const options: HostOptions = {
 *   rtc: werift(),
 *   server: "http://127.0.0.1:8787",
 *   maxPeers: 64,
 *   whenFull: "dropOldest",
 *   timeouts: { answerMs: 5_000 },
 *   maxQueuedBytes: 8 * 1024 * 1024,
 * };
 * console.assert(options.whenFull === "dropOldest");
 * ```
 */
export interface HostOptions
  extends Omit<FanoutOptions, "onMessage" | "onClosed" | "onCongestion" | "now" | "counters"> {
  /** The WebRTC stack (`werift()` in Deno, `browser()` in a page). */
  rtc: RtcAdapter;
  /** The signaling server's base URL, e.g. `http://127.0.0.1:8787`. */
  server: string;
  /** Join this session (with `token`) instead of creating one. */
  sessionId?: string;
  /** The host token of `sessionId`. */
  token?: string;
  /** `maxViewers` of a session this host creates. */
  maxViewers?: number;
  /** `relay` to reach viewers through TURN only, never directly (default `all`). */
  iceTransportPolicy?: RtcIceTransportPolicy;
  /** Per-phase handshake timeouts. */
  timeouts?: Partial<HandshakeTimeouts>;
  /** Handshakes in flight at first (default 32; see bench/RESULTS.md). */
  maxConcurrentHandshakes?: number;
  /** Let the cap grow on success up to this (default 64), halving on a failure. */
  maxConcurrentHandshakesCeiling?: number;
  /** Attempts per viewer before giving up (default 4). */
  maxAttempts?: number;
  /** Least interval between two honoured `request-offer`s of one viewer, ms (default 1 000). */
  requestOfferIntervalMs?: number;
  /**
   * Called when a viewer is ready, before it joins the live broadcast: what `peer.send`
   * queues reaches it before any broadcast made from now on.
   */
  onPeerReady?: (
    peer: { peerId: string; label: string; send(data: Uint8Array | string): void },
  ) => void | Promise<void>;
  /** Most viewer messages kept unread by `messages()` (default 10 000; older ones drop). */
  inboxCapacity?: number;
  /** Signaling ping interval, ms (default 15 000). */
  pingIntervalMs?: number;
  /** Logger (default: category `shoal.host`). */
  logger?: Logger;
  /** Closes the host when aborted. */
  signal?: AbortSignal;
  /** WebSocket constructor (default: the global one). */
  WebSocket?: typeof WebSocket;
}

/**
 * A message a viewer sent to the host, as {@link Host.messages} yields it: who sent it and
 * its bytes.
 *
 * @example
 * ```ts
 * import type { ViewerMessage } from "@shoal/shoal";
 *
 * const m: ViewerMessage = { peerId: "p1", data: new TextEncoder().encode("hi") };
 * console.assert(new TextDecoder().decode(m.data) === "hi");
 * ```
 */
export interface ViewerMessage {
  /** Who sent it. */
  peerId: string;
  /** What it sent. */
  data: Uint8Array;
}

/**
 * Events of a {@link Host}, for {@link Host.on}: `peer` whenever a viewer changes state
 * (`queued`, `negotiating`, `open`, `ready`, `closed`), with the reason when there is one;
 * `signaling` for the link to the server; `congestion` when the host itself becomes the
 * bottleneck (most viewers backed up at once) and when that ends.
 *
 * @example
 * ```ts
 * import type { HostEvents } from "@shoal/shoal";
 *
 * const onPeer = (e: HostEvents["peer"]) => console.log(e.peerId, e.label, e.state, e.reason);
 * onPeer({ peerId: "p1", label: "alice", state: "ready" });
 * ```
 */
export interface HostEvents extends Record<string, unknown> {
  /** A viewer changed state. */
  peer: { peerId: string; label: string; state: PeerState; reason?: string };
  /**
   * The host's link to the signaling server changed: `connected` (every welcome),
   * `reconnecting` (the socket dropped; ready viewers keep streaming), or `closed` for good,
   * with the server's reason (`replaced` when another connection took the session over).
   */
  signaling: { state: "connected" | "reconnecting" | "closed"; reason?: string };
  /**
   * Most viewers are backed up or lag at once (`congested: true`): the host, not a viewer,
   * is the bottleneck, so nobody is dropped and producers that wait (`host.writable`,
   * `host.drain()`) are held back; `congested: false` after a second without.
   */
  congestion: Congestion;
}

const encoder = new TextEncoder();
const _bytes = (data: Uint8Array | string) =>
  typeof data === "string" ? encoder.encode(data) : data;
const _closed = () => new BroadcastError("closed", "the host is closed");
const _size = (data: Uint8Array | string) =>
  typeof data === "string" ? data.length : data.byteLength;

/**
 * One host streaming to many viewers. {@link Host.start} creates a session on a signaling
 * server (or takes one over) and admits viewers as they join: each is negotiated in
 * parallel under a concurrency cap, with its own handshake id, timeouts and retries, and
 * joins the fan-out once it says `ready`. {@link Host.broadcast} queues a message for
 * every ready viewer (a slow viewer is dropped, never waited for); {@link Host.messages}
 * yields what viewers send back; {@link Host.metrics} shows every viewer's state.
 *
 * A producer faster than the network waits for the host's own capacity, never for the
 * slowest viewer: pipe into {@link Host.writable}, or `await` {@link Host.drain} between
 * broadcasts (see {@link Host.congested}). Bytes queued for broadcast never pass
 * `maxQueuedBytes`: past it, `broadcast` throws {@link BroadcastError}.
 *
 * @example A host, one viewer, one message (a signaling server on a free port)
 * ```ts
 * import { Host, Viewer } from "@shoal/shoal";
 * import { werift } from "@shoal/shoal/werift";
 * import { startSignalingServer } from "@shoal/shoal/server";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
 * await using host = await Host.start({ rtc, server: server.url });
 * const ready = new Promise((resolve) => host.on("peer", (p) => p.state === "ready" && resolve(p)));
 * await using viewer = await Viewer.join({
 *   rtc,
 *   server: server.url,
 *   sessionId: host.session.sessionId,
 *   joinCode: host.joinCode!,
 * });
 * await ready;
 * host.broadcast("hello, viewers");
 * const { value } = await viewer.messages().next();
 * console.assert(new TextDecoder().decode(value) === "hello, viewers");
 * ```
 */
export class Host implements AsyncDisposable {
  /** The session. */
  readonly session: SessionInfo;
  #o: HostOptions;
  #log: Logger;
  #signaling: SignalingClient;
  #supervisor: Supervisor<NegotiatedPeer>;
  #fanout: Fanout;
  #metrics: HostMetrics = createHostMetrics();
  /** Every viewer in the session, one record each. */
  #viewers: Map<string, _ViewerRecord> = new Map();
  #ready: number[] = [];
  #inbox: AsyncQueue<ViewerMessage>;
  #events = new Emitter<HostEvents>();
  #iceServers: IceServer[] = [];
  #closed?: Promise<void>;
  #offs: Array<() => void> = [];
  #rate = { at: 0, bytes: 0, perSecond: 0 };
  #writable?: WritableStream<Uint8Array | string>;
  #writableController?: WritableStreamDefaultController;

  private constructor(session: SessionInfo, options: HostOptions) {
    this.session = session;
    this.#o = options;
    this.#log = options.logger ?? getLogger(["shoal", "host"]);
    this.#inbox = new AsyncQueue(options.inboxCapacity ?? 10_000);
    this.#signaling = new SignalingClient({
      url: session.wsUrl,
      role: "host",
      token: session.hostToken,
      pingIntervalMs: options.pingIntervalMs,
      WebSocket: options.WebSocket,
    });
    this.#supervisor = new Supervisor<NegotiatedPeer>({
      negotiate: (job) => this.#negotiate(job),
      dispose: (peer) => void peer.pc.close(),
      maxConcurrentHandshakes: options.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES,
      maxConcurrentHandshakesCeiling: options.maxConcurrentHandshakesCeiling ?? 64,
      maxAttempts: options.maxAttempts,
      requestOfferIntervalMs: options.requestOfferIntervalMs,
    });
    this.#fanout = new Fanout({
      ...options,
      onMessage: (peerId, data) => this.#inbox.push({ peerId, data }),
      onClosed: (peerId, reason, detail) => this.#linkClosed(peerId, reason, detail),
      onCongestion: (c) => this.#congestion(c),
      counters: this.#metrics,
    });
    this.#wire();
  }

  /**
   * Creates a session (or takes over `sessionId` with `token`), connects to the signaling
   * server, and starts admitting viewers.
   */
  static async start(options: HostOptions): Promise<Host> {
    const session = options.sessionId && options.token
      ? {
        sessionId: options.sessionId,
        hostToken: options.token,
        wsUrl: sessionWsUrl(options.server, options.sessionId),
      }
      : await createSession(options.server, {
        maxViewers: options.maxViewers,
        signal: options.signal,
      });
    const host = new Host(session, options);
    return openOrClose(
      host,
      () => host.#signaling.connect({ signal: options.signal }),
      options.signal,
    );
  }

  /** The join code, when this host created the session. */
  get joinCode(): string | undefined {
    return this.session.joinCode;
  }

  /** Ready viewers. */
  get readyCount(): number {
    return this.#fanout.size;
  }

  /** Listens to `type`; returns the unsubscribe function. */
  on<K extends keyof HostEvents>(type: K, listener: (value: HostEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Sends `data` to every ready viewer; returns how many it was queued for. It never waits:
   * a producer that may outrun the network checks {@link Host.congested} or awaits
   * {@link Host.drain} (or pipes into {@link Host.writable}). Throws {@link BroadcastError}
   * (`overflow`), queuing nothing, when `data` would push the bytes queued for broadcast
   * past `maxQueuedBytes` (a viewer far behind the others that alone would pass it is
   * dropped as slow instead).
   *
   * @example A producer that waits for the host, then catches up
   * ```ts
   * import { Host } from "@shoal/shoal";
   * import { werift } from "@shoal/shoal/werift";
   * import { startSignalingServer } from "@shoal/shoal/server";
   *
   * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
   * await using host = await Host.start({ rtc: werift(), server: server.url });
   * const signal = AbortSignal.timeout(10_000);
   * for (let i = 0; i < 1_000; i++) {
   *   if (host.congested) await host.drain({ signal });
   *   host.broadcast(`line ${i}`);
   * }
   * ```
   */
  broadcast(data: Uint8Array | string): number {
    const bytes = _bytes(data);
    let n: number;
    try {
      n = this.#fanout.broadcast(bytes);
    } catch (error) {
      if (error instanceof BroadcastError) this.#metrics.rejected.inc();
      throw error;
    }
    this.#rate.bytes += bytes.byteLength;
    return n;
  }

  /**
   * Whether a producer should wait before its next broadcast: a viewer that keeps up is
   * backed up (its channel is full to `limits.highWaterMark` and shoal holds more than
   * `limits.lowWaterMark` beside it), or most viewers lag. So a producer goes at the pace
   * of the slowest healthy viewer; a viewer far behind the others is not waited for (past a
   * tenth of `limits.maxLagMs`) and is dropped as slow.
   */
  get congested(): boolean {
    return this.#fanout.congested;
  }

  /**
   * Resolves once the host is not congested (at once when it is not), so that a producer
   * goes at the pace the network and the host sustain. Rejects with `signal.reason` when
   * aborted, and with {@link BroadcastError} (`closed`) when the host closes first.
   *
   * @example Wait for room, at most a second
   * ```ts
   * import { Host } from "@shoal/shoal";
   * import { werift } from "@shoal/shoal/werift";
   * import { startSignalingServer } from "@shoal/shoal/server";
   *
   * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
   * await using host = await Host.start({ rtc: werift(), server: server.url });
   * await host.drain({ signal: AbortSignal.timeout(1_000) }); // no viewers: at once
   * host.broadcast("there is room");
   * ```
   */
  drain(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#fanout.drain(options);
  }

  /**
   * A `WritableStream` onto {@link Host.broadcast}: each chunk (bytes or text) is one
   * message to every ready viewer, written only while the host is not congested, so that
   * `source.pipeTo(host.writable)` slows the source down to what the network sustains and
   * memory stays bounded. Its own queue holds 64 KiB (`size` is bytes, or characters for
   * text). Closing it (the source ended) flushes what was written and resolves once the
   * host is not congested; it does not close the host. Aborting it keeps what was queued.
   * When the host closes, the stream errors with {@link BroadcastError} (`closed`), which
   * ends a pipe into it. The same stream until it is closed or aborted, a fresh one after.
   *
   * @example Pipe a stream of lines to every viewer, with backpressure
   * ```ts
   * import { Host } from "@shoal/shoal";
   * import { werift } from "@shoal/shoal/werift";
   * import { startSignalingServer } from "@shoal/shoal/server";
   *
   * await using server = startSignalingServer({ hostname: "127.0.0.1", port: 0 });
   * await using host = await Host.start({ rtc: werift(), server: server.url });
   * const lines = ReadableStream.from(["one", "two", "three"]);
   * await lines.pipeTo(host.writable, { signal: AbortSignal.timeout(10_000) });
   * console.assert(host.metrics().broadcast.messages === 3);
   * ```
   */
  get writable(): WritableStream<Uint8Array | string> {
    if (this.#writable) return this.#writable;
    const done = () => {
      if (this.#writable === stream) this.#writable = undefined;
    };
    const stream = new WritableStream<Uint8Array | string>({
      start: (controller) => void (this.#writableController = controller),
      write: async (chunk, controller) => {
        await this.drain({ signal: controller.signal });
        this.broadcast(chunk);
      },
      close: async () => {
        done();
        this.#fanout.flush();
        await this.drain();
      },
      abort: done,
    }, { highWaterMark: 64 * 1024, size: (chunk) => _size(chunk) });
    if (this.#closed) this.#writableController!.error(_closed());
    return this.#writable = stream;
  }

  /** Sends `data` to one ready viewer, after every earlier broadcast; false if not ready. */
  send(peerId: string, data: Uint8Array | string): boolean {
    return this.#fanout.send(peerId, _bytes(data));
  }

  /** Drops a viewer (it is told `bye` with reason `kicked`). */
  kick(peerId: string): void {
    this.#fanout.remove(peerId, "kicked");
  }

  /** Messages from viewers, tagged with `peerId`; ends when the host closes. */
  messages(): AsyncIterableIterator<ViewerMessage> {
    return this.#inbox;
  }

  /** The state of every known viewer and the host's totals. */
  metrics(): HostMetricsSnapshot {
    const m = this.#metrics;
    return {
      sessionId: this.session.sessionId,
      states: this.#supervisor.counts(),
      peers: this.#peerSnapshots(),
      handshakes: {
        inFlight: this.#supervisor.inFlight,
        concurrency: this.#supervisor.concurrency,
      },
      signaling: { offers: m.offers.total(), answers: m.answers.total(), stale: m.stale.total() },
      ...outcomeTotals(m.outcomes),
      drops: { ...this.#fanout.drops },
      broadcast: {
        ...this.#fanout.totals,
        bytesOutPerSecond: this.#rate.perSecond,
        queuedBytes: this.#fanout.queuedBytes,
        maxQueuedBytes: this.#o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
        congested: this.#fanout.congested,
      },
      timeToReadyMs: readyPercentiles(this.#ready),
      replay: replayTotals(m, this.#fanout.replay),
    };
  }

  /** The host's metrics in the Prometheus text format. */
  metricsText(): string {
    return renderHostMetrics(this.#metrics, {
      states: this.#supervisor.counts(),
      peers: this.#peerSnapshots(),
      bytesOutPerSecond: this.#rate.perSecond,
      queuedBytes: this.#fanout.queuedBytes,
      congested: this.#fanout.congested,
    });
  }

  /**
   * How many entries the host holds for viewers, map by map: `viewers` (its records),
   * `slots` (the supervisor's), `links`, `held` and `closing` (the fan-out's). Each is 0 once
   * no viewer is in the session: `bench/soak.ts` and the leak test watch them.
   */
  retained(): Record<string, number> {
    const slots = Object.values(this.#supervisor.counts()).reduce((a, b) => a + b, 0);
    return {
      viewers: this.#viewers.size,
      slots,
      ...this.#fanout.retained(),
    };
  }

  /** Tells every viewer `bye`, aborts handshakes, leaves the session. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const off of this.#offs.splice(0)) off();
      this.#writableController?.error(_closed());
      await this.#supervisor.close();
      await this.#fanout.close();
      await this.#signaling.close();
      this.#inbox.close();
      this.#events.clear();
      this.#log.info("host closed", { sessionId: this.session.sessionId });
    })();
    return this.#closed;
  }

  /** Closes the host (see {@link Host.close}), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wire(): void {
    const s = this.#signaling;
    const sup = this.#supervisor;
    this.#offs.push(
      s.on("welcome", (w) => {
        this.#welcome(w.iceServers, w.peers ?? []);
        this.#events.emit("signaling", { state: "connected" });
      }),
      s.on("disconnected", (d) => {
        if (d.reconnecting) {
          this.#events.emit("signaling", { state: "reconnecting", reason: d.reason });
        }
      }),
      s.on("closed", (c) => {
        if (c.error) this.#events.emit("signaling", { state: "closed", reason: c.error.code });
        // Refused after a welcome: the session is gone (ended or expired). Say bye.
        if (c.error?.code === "unauthorized") {
          this.#log.info("the session has ended", { sessionId: this.session.sessionId });
          void this.close();
        }
      }),
      s.on("peer-joined", (p) => this.#join(p.peerId, p.label)),
      s.on("peer-left", (p) => this.#forget(p.peerId, p.reason)),
      s.on("signal", (sig) => this.#signal(sig)),
      sup.on("state", (e) => {
        this.#events.emit("peer", { ...e, label: this.#viewers.get(e.peerId)?.label ?? "" });
      }),
      sup.on("ready", (peer) => this.#admit(peer)),
      sup.on("failed", (f) => {
        this.#log.warn("handshake attempt failed", {
          sessionId: this.session.sessionId,
          peerId: f.peerId,
          attempt: f.attempt,
          willRetry: f.willRetry,
          error: String(f.error),
        });
      }),
    );
    const rateTimer = setInterval(() => {
      this.#rate.perSecond = this.#rate.bytes;
      this.#rate.bytes = 0;
    }, 1_000);
    this.#offs.push(() => clearInterval(rateTimer));
  }

  /**
   * Every welcome (the first, and each after a reconnect) lists the viewers in the session
   * now. Viewers no longer listed are forgotten, except that a ready one keeps streaming
   * until its channel ends; handshakes in flight are void and start afresh.
   */
  #welcome(iceServers: IceServer[], peers: Array<{ peerId: string; label: string }>): void {
    this.#iceServers = iceServers;
    const present = new Set(peers.map((p) => p.peerId));
    for (const [peerId, viewer] of [...this.#viewers]) {
      if (present.has(peerId)) {
        // A handshake in flight lost its signals with the old socket: start it over.
        const state = this.#supervisor.state(peerId);
        if (state === "negotiating" || state === "open") {
          this.#supervisor.restart(peerId, "reconnected");
        }
      } else if (this.#fanout.link(peerId)) viewer.orphan = true;
      else this.#forget(peerId, "gone");
    }
    for (const p of peers) this.#join(p.peerId, p.label);
  }

  /** Drops everything the host holds for a viewer that left the session. */
  #forget(peerId: string, reason: string): void {
    this.#viewers.delete(peerId);
    this.#fanout.remove(peerId, "left", `left the session (${reason})`);
    this.#supervisor.remove(peerId, reason);
  }

  #join(peerId: string, label: string): void {
    const viewer = this.#viewers.get(peerId);
    if (viewer) viewer.label = label;
    else this.#viewers.set(peerId, { label, joinedAt: performance.now(), orphan: false });
    this.#log.info("viewer joined", { sessionId: this.session.sessionId, peerId, label });
    this.#supervisor.add(peerId, label);
  }

  /**
   * A signal no handshake in flight took (see `#negotiate`'s route): a viewer's request for
   * an offer, or a stale one.
   */
  #signal(sig: IncomingSignal): void {
    if (sig.data.kind === "request-offer") this.#requestOffer(sig);
    else this.#metrics.stale.inc();
  }

  /** The viewer wants a fresh connection: its old link goes, and the supervisor starts over. */
  #requestOffer(sig: IncomingSignal): void {
    const peerId = sig.from;
    this.#log.info("viewer asked for an offer", {
      sessionId: this.session.sessionId,
      peerId,
      handshakeId: sig.handshakeId,
      reason: sig.data.kind === "request-offer" ? sig.data.reason : undefined,
    });
    if (!this.#supervisor.requestOffer(peerId, this.#viewers.get(peerId)?.label)) return;
    this.#fanout.remove(peerId, "closed", "the viewer asked for a new offer");
  }

  async #negotiate(job: NegotiationJob): Promise<NegotiatedPeer> {
    const n = new Negotiator({
      rtc: this.#o.rtc,
      signaling: this.#signaling,
      iceServers: this.#iceServers,
      iceTransportPolicy: this.#o.iceTransportPolicy,
      peerId: job.peerId,
      label: job.label,
      attempt: job.attempt,
      timeouts: this.#o.timeouts,
      signal: job.signal,
      onOpen: job.opened,
      log: this.#log,
      logFields: { sessionId: this.session.sessionId },
      counters: this.#metrics,
    });
    // This handshake's signals come straight to it; a request for an offer still reaches
    // the host.
    const off = this.#signaling.route(job.peerId, (sig) => {
      if (sig.data.kind === "request-offer") this.#requestOffer(sig);
      else n.handle(sig);
    });
    try {
      return await n.run();
    } finally {
      off();
    }
  }

  #admit(peer: NegotiatedPeer): void {
    const joined = this.#viewers.get(peer.peerId)?.joinedAt;
    if (joined !== undefined) {
      const ms = performance.now() - joined;
      this.#metrics.timeToReady.observe(ms);
      if (this.#ready.length < 100_000) this.#ready.push(ms);
    }
    const hook = this.#o.onPeerReady;
    const snapshot = hook
      ? (send: (payload: Uint8Array) => void) =>
        hook({ peerId: peer.peerId, label: peer.label, send: (d) => send(_bytes(d)) })
      : undefined;
    this.#fanout.add(peer, (onMessage) => peer.adopt(onMessage), snapshot);
  }

  #congestion(c: Congestion): void {
    const fields = { sessionId: this.session.sessionId, ...c };
    if (c.congested) {
      this.#metrics.congestions.inc();
      this.#log.warn(
        "host congested: {backedUp} of {viewers} viewers backed up at once; the host is the " +
          "bottleneck, so nobody is dropped and the producer is held back",
        fields,
      );
    } else this.#log.info("host no longer congested", fields);
    this.#events.emit("congestion", c);
  }

  #linkClosed(peerId: string, reason: DropReason, detail: string): void {
    this.#metrics.drops.inc({ reason });
    const level = reason === "left" || reason === "shutdown" ? "info" : "warn";
    this.#log[level]("viewer dropped: {reason}", {
      sessionId: this.session.sessionId,
      peerId,
      reason,
      detail,
    });
    if (this.#viewers.get(peerId)?.orphan) this.#forget(peerId, reason);
    else this.#supervisor.lost(peerId, reason);
  }

  #peerSnapshots(): PeerSnapshot[] {
    const out: PeerSnapshot[] = [];
    for (const [peerId, { label }] of this.#viewers) {
      const state = this.#supervisor.state(peerId) ?? "closed";
      const link = this.#fanout.link(peerId);
      out.push({
        peerId,
        label,
        state,
        rttMs: link?.stats.rttMs,
        queuedBytes: link?.queuedBytes ?? 0,
        bufferedAmount: link?.bufferedAmount ?? 0,
        bytesSent: link?.stats.bytesSent ?? 0,
        framesSent: link?.stats.framesSent ?? 0,
        messagesReceived: link?.stats.messagesReceived ?? 0,
        bytesReceived: link?.stats.bytesReceived ?? 0,
        unknownControl: link?.stats.unknownControl ?? 0,
      });
    }
    return out;
  }
}

/** What the host knows of one viewer in its session. */
interface _ViewerRecord {
  /** The label it joined with. */
  label: string;
  /** When it joined (performance.now()), for the time to ready. */
  joinedAt: number;
  /** Ready but no longer in the session (seen after a reconnect): kept until its link ends. */
  orphan: boolean;
}
