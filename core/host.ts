/**
 * The `Host`: the object a user holds. It wires the signaling client, the supervisor (one
 * negotiator per viewer under a concurrency cap) and the fan-out together.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Logger } from "./logger.ts";
import { Emitter } from "./emitter.ts";
import { Fanout } from "./fanout.ts";
import {
  createHostMetrics,
  type HostMetrics,
  type HostMetricsSnapshot,
  outcomeTotals,
  type PeerSnapshot,
  readyPercentiles,
  renderHostMetrics,
} from "./host_metrics.ts";
import type { HostEvents, HostOptions, ViewerMessage } from "./host_options.ts";
import { type NegotiatedPeer, Negotiator } from "./negotiator.ts";
import type { DropReason } from "./peer_link.ts";
import { AsyncQueue } from "./queue.ts";
import type { IceServer } from "./protocol.ts";
import { type IncomingSignal, SignalingClient } from "./signaling.ts";
import { type NegotiationJob, Supervisor } from "./supervisor.ts";
import { createSession, type SessionInfo, sessionWsUrl } from "./session.ts";

export type { HostEvents, HostOptions, ViewerMessage } from "./host_options.ts";

const encoder = new TextEncoder();
const _bytes = (data: Uint8Array | string) =>
  typeof data === "string" ? encoder.encode(data) : data;

/**
 * One host streaming to many viewers. {@link Host.start} creates a session on a signaling
 * server (or takes one over) and admits viewers as they join: each is negotiated in
 * parallel under a concurrency cap, with its own handshake id, timeouts and retries, and
 * joins the fan-out once it says `ready`. {@link Host.broadcast} queues a message for
 * every ready viewer (a slow viewer is dropped, never waited for); {@link Host.messages}
 * yields what viewers send back; {@link Host.metrics} shows every viewer's state.
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
  #negotiators: Map<string, Negotiator> = new Map();
  #labels: Map<string, string> = new Map();
  #joinedAt: Map<string, number> = new Map();
  #ready: number[] = [];
  #inbox: AsyncQueue<ViewerMessage>;
  #events = new Emitter<HostEvents>();
  #iceServers: IceServer[] = [];
  /** Ready viewers no longer in the session (seen after a reconnect): kept until they end. */
  #orphans: Set<string> = new Set();
  #closed?: Promise<void>;
  #offs: Array<() => void> = [];
  #rate = { at: 0, bytes: 0, perSecond: 0 };

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
      maxConcurrentHandshakes: options.maxConcurrentHandshakes ?? 32,
      maxConcurrentHandshakesCeiling: options.maxConcurrentHandshakesCeiling ?? 64,
      maxAttempts: options.maxAttempts,
      requestOfferIntervalMs: options.requestOfferIntervalMs,
    });
    this.#fanout = new Fanout({
      ...options,
      onMessage: (peerId, data) => this.#inbox.push({ peerId, data }),
      onClosed: (peerId, reason, detail) => this.#linkClosed(peerId, reason, detail),
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
    try {
      await host.#signaling.connect({ signal: options.signal });
    } catch (error) {
      await host.close();
      throw error;
    }
    options.signal?.addEventListener("abort", () => host.close(), { once: true });
    return host;
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

  /** Sends `data` to every ready viewer; returns how many it was queued for. */
  broadcast(data: Uint8Array | string): number {
    const bytes = _bytes(data);
    this.#rate.bytes += bytes.byteLength;
    return this.#fanout.broadcast(bytes);
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
      broadcast: { ...this.#fanout.totals, bytesOutPerSecond: this.#rate.perSecond },
      timeToReadyMs: readyPercentiles(this.#ready),
    };
  }

  /** The host's metrics in the Prometheus text format. */
  metricsText(): string {
    return renderHostMetrics(this.#metrics, {
      states: this.#supervisor.counts(),
      peers: this.#peerSnapshots(),
      bytesOutPerSecond: this.#rate.perSecond,
    });
  }

  /** Tells every viewer `bye`, aborts handshakes, leaves the session. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const off of this.#offs.splice(0)) off();
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
        this.#events.emit("peer", { ...e, label: this.#labels.get(e.peerId) ?? "" });
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
    for (const peerId of [...this.#labels.keys()]) {
      if (present.has(peerId)) continue;
      if (this.#fanout.link(peerId)) this.#orphans.add(peerId);
      else this.#forget(peerId, "gone");
    }
    for (const peerId of [...this.#negotiators.keys()]) {
      if (present.has(peerId)) this.#supervisor.restart(peerId, "reconnected");
    }
    for (const p of peers) this.#join(p.peerId, p.label);
  }

  /** Drops everything the host holds for a viewer that left the session. */
  #forget(peerId: string, reason: string): void {
    this.#orphans.delete(peerId);
    this.#fanout.remove(peerId, "left", `left the session (${reason})`);
    this.#supervisor.remove(peerId, reason);
    this.#labels.delete(peerId);
    this.#joinedAt.delete(peerId);
  }

  #join(peerId: string, label: string): void {
    if (!this.#labels.has(peerId)) this.#joinedAt.set(peerId, performance.now());
    this.#labels.set(peerId, label);
    this.#log.info("viewer joined", { sessionId: this.session.sessionId, peerId, label });
    this.#supervisor.add(peerId, label);
  }

  #signal(sig: IncomingSignal): void {
    if (sig.data.kind === "request-offer") {
      this.#log.info("viewer asked for an offer", {
        sessionId: this.session.sessionId,
        peerId: sig.from,
        handshakeId: sig.handshakeId,
        reason: sig.data.reason,
      });
      if (this.#supervisor.requestOffer(sig.from, this.#labels.get(sig.from))) {
        this.#fanout.remove(sig.from, "closed", "the viewer asked for a new offer");
      }
      return;
    }
    const n = this.#negotiators.get(sig.from);
    if (n) n.handle(sig);
    else this.#metrics.stale.inc();
  }

  async #negotiate(job: NegotiationJob): Promise<NegotiatedPeer> {
    const n = new Negotiator({
      rtc: this.#o.rtc,
      signaling: this.#signaling,
      iceServers: this.#iceServers,
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
    this.#negotiators.set(job.peerId, n);
    try {
      return await n.run();
    } finally {
      if (this.#negotiators.get(job.peerId) === n) this.#negotiators.delete(job.peerId);
    }
  }

  #admit(peer: NegotiatedPeer): void {
    const joined = this.#joinedAt.get(peer.peerId);
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

  #linkClosed(peerId: string, reason: DropReason, detail: string): void {
    this.#metrics.drops.inc({ reason });
    const level = reason === "left" || reason === "shutdown" ? "info" : "warn";
    this.#log[level]("viewer dropped: {reason}", {
      sessionId: this.session.sessionId,
      peerId,
      reason,
      detail,
    });
    if (this.#orphans.has(peerId)) this.#forget(peerId, reason);
    else this.#supervisor.lost(peerId, reason);
  }

  #peerSnapshots(): PeerSnapshot[] {
    const out: PeerSnapshot[] = [];
    for (const [peerId, label] of this.#labels) {
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
      });
    }
    return out;
  }
}
