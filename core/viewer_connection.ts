/**
 * One handshake's connection on the viewer's side: the peer connection answering one
 * offer, its data channel, `ready` once the handlers are attached, heartbeats, and the
 * report of its loss.
 *
 * @module
 */
import type { Logger } from "./logger.ts";
import type { FrameDecoder } from "./frame_decoder.ts";
import { FramingError } from "./framing.ts";
import { Heartbeat } from "./heartbeat.ts";
import {
  type ControlFrame,
  DATA_CHANNEL_LABEL,
  parseControlFrame,
  type ResumeRequest,
  type SignalData,
} from "./protocol.ts";
import type {
  RtcAdapter,
  RtcDataChannel,
  RTCIceServerLike,
  RtcIceTransportPolicy,
  RtcPeerConnection,
} from "./rtc.ts";
import type { ViewerStats } from "./viewer.ts";

/** Options of {@link ViewerConnection}. */
export interface ViewerConnectionOptions {
  /** The WebRTC stack. */
  rtc: RtcAdapter;
  /** ICE servers from `welcome`. */
  iceServers: RTCIceServerLike[];
  /** `relay` to use TURN-relayed candidates only (default `all`). */
  iceTransportPolicy?: RtcIceTransportPolicy;
  /** The host's peer id. */
  hostId: string;
  /** The offer's handshake id. */
  handshakeId: string;
  /** Where answers and candidates go. */
  signaling: { send(to: string, handshakeId: string, data: SignalData): boolean };
  /** Heartbeat interval, ms (0 disables). */
  heartbeatIntervalMs: number;
  /** Unanswered pings before the connection counts as lost. */
  maxMissedPongs: number;
  /** Counters the connection adds to (the viewer's, across its connections). */
  stats: ViewerStats;
  /** Decodes the host's binary frames. */
  decoder: FrameDecoder;
  /** A whole message from the host. */
  onMessage(message: Uint8Array): void;
  /** The `resume` of `ready`, asked for when it is sent; none for a plain version-1 ready. */
  resume?: () => ResumeRequest;
  /** A `seq` or `direct` frame (docs/protocol.md, "Resume"). */
  onSequence?(frame: Extract<ControlFrame, { t: "seq" | "direct" }>): void;
  /** The channel is open and `ready` was sent. */
  onReady(): void;
  /** The connection is gone; `bye` is the host's reason when it said one. */
  onLost(why: string, bye?: string): void;
  /** Logger. */
  log: Logger;
  /** Fields for every record. */
  logFields: Record<string, unknown>;
}

/** The viewer's side of one handshake. */
export class ViewerConnection {
  /** The handshake this connection answers. */
  readonly handshakeId: string;
  /** Last round-trip time, ms. */
  rttMs?: number;
  #o: ViewerConnectionOptions;
  #pc: RtcPeerConnection;
  #channel?: RtcDataChannel;
  #offs: Array<() => void> = [];
  #timer?: ReturnType<typeof setInterval>;
  #heartbeat = new Heartbeat();
  #closed = false;

  constructor(options: ViewerConnectionOptions) {
    this.#o = options;
    this.handshakeId = options.handshakeId;
    this.#pc = options.rtc.createPeerConnection({
      iceServers: options.iceServers,
      iceTransportPolicy: options.iceTransportPolicy,
    });
    const pc = this.#pc;
    this.#offs.push(
      pc.on("icecandidate", (c) => {
        options.signaling.send(
          options.hostId,
          this.handshakeId,
          c ? { kind: "candidate", ...c } : { kind: "end-of-candidates" },
        );
      }),
      pc.on("connectionstatechange", (s) => {
        if (s === "failed" || s === "closed") this.#lose(`connection ${s}`);
      }),
      pc.on("datachannel", (channel) => this.#adopt(channel)),
    );
  }

  /** Answers the offer. Failures are reported through `onLost`. */
  async answer(sdp: string): Promise<void> {
    try {
      await this.#pc.setRemoteDescription({ type: "offer", sdp });
      const answer = await this.#pc.createAnswer();
      await this.#pc.setLocalDescription(answer);
      if (this.#closed) return;
      this.#o.signaling.send(this.#o.hostId, this.handshakeId, { kind: "answer", sdp: answer.sdp });
      this.#o.log.info("answer sent", this.#o.logFields);
    } catch (error) {
      if (!this.#closed) {
        this.#lose(`answer failed: ${error instanceof Error ? error.message : error}`);
      }
    }
  }

  /** Applies a remote candidate or end-of-candidates. */
  remote(data: SignalData): void {
    if (data.kind === "candidate") {
      const { candidate, sdpMid, sdpMLineIndex } = data;
      this.#pc.addIceCandidate({ candidate, sdpMid, sdpMLineIndex }).catch(() => {});
    } else if (data.kind === "end-of-candidates") {
      this.#pc.addIceCandidate(null).catch(() => {});
    }
  }

  /** Sends frames if the channel is open; false otherwise. */
  send(frames: Uint8Array[]): boolean {
    const channel = this.#channel;
    if (!channel || channel.readyState !== "open" || this.#closed) return false;
    try {
      for (const f of frames) channel.send(f);
      return true;
    } catch {
      return false;
    }
  }

  /** Says `bye` with `reason` (if given), closes everything. Idempotent. */
  async close(reason: string | undefined): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (reason) this.#control({ t: "bye", reason });
    this.#detach();
    await this.#pc.close();
  }

  #adopt(channel: RtcDataChannel): void {
    if (channel.label !== DATA_CHANNEL_LABEL || this.#channel) return;
    this.#channel = channel;
    this.#offs.push(
      channel.on("message", (m) => {
        if (typeof m === "string") return this.#onControl(m);
        let messages: Uint8Array[];
        try {
          messages = this.#o.decoder.push(m);
        } catch (error) {
          const detail = error instanceof FramingError ? error.code : String(error);
          this.#o.log.warn("framing violation from the host: {detail}", {
            ...this.#o.logFields,
            detail,
          });
          return this.#lose(`framing violation: ${detail}`);
        }
        for (const message of messages) this.#o.onMessage(message);
      }),
      channel.on("close", () => this.#lose("channel closed")),
    );
    // Handlers are attached: only now may the host send application data.
    const sayReady = () => {
      const resume = this.#o.resume?.();
      this.#control(resume ? { t: "ready", resume } : { t: "ready" });
      this.#o.log.info("ready", this.#o.logFields);
      this.#startHeartbeat();
      this.#o.onReady();
    };
    if (channel.readyState === "open") sayReady();
    else {
      const off = channel.on("open", () => {
        off();
        sayReady();
      });
      this.#offs.push(off);
    }
  }

  #onControl(text: string): void {
    const parsed = parseControlFrame(text);
    if (!parsed.ok && parsed.code === "unknown-control") {
      // An addition to the protocol this version does not know: ignored, never a violation.
      this.#o.stats.unknownControl++;
      return;
    }
    if (!parsed.ok) {
      this.#o.log.warn("bad control frame from the host: {detail}", {
        ...this.#o.logFields,
        detail: parsed.message,
      });
      return this.#lose(`framing violation: bad control frame (${parsed.message})`);
    }
    const c = parsed.value;
    if (c.t === "ping") this.#control({ t: "pong", n: c.n, ts: c.ts });
    else if (c.t === "pong") {
      const rtt = this.#heartbeat.pong(c.n);
      if (rtt !== undefined) this.rttMs = rtt;
    } else if (c.t === "bye") this.#lose("host said bye", c.reason ?? "");
    else if (c.t === "seq" || c.t === "direct") this.#o.onSequence?.(c);
  }

  #startHeartbeat(): void {
    const every = this.#o.heartbeatIntervalMs;
    if (every <= 0) return;
    this.#timer = setInterval(() => {
      const ping = this.#heartbeat.next(this.#o.maxMissedPongs);
      if (!ping) return this.#lose("heartbeat-timeout");
      this.#control(ping);
    }, every);
  }

  #control(frame: ControlFrame): void {
    try {
      if (this.#channel?.readyState === "open") this.#channel.send(JSON.stringify(frame));
    } catch {
      // The close event follows.
    }
  }

  #lose(why: string, bye?: string): void {
    if (this.#closed) return;
    this.#detach();
    this.#o.onLost(why, bye);
  }

  #detach(): void {
    clearInterval(this.#timer);
    for (const off of this.#offs.splice(0)) off();
  }
}
