/**
 * `npm:werift` (a WebRTC stack in TypeScript) behind shoal's {@linkcode RtcAdapter}, for
 * hosts and viewers running in Deno. It smooths over werift 0.25.2's differences (each is
 * explained where it is handled): its fallback to a public STUN server, a DTLS ClientHello
 * dropped when it comes early, `undefined` for end-of-candidates, its own `Event` objects,
 * a bogus "completed" ICE state, `.local` candidates from browsers, empty messages that
 * stall a channel, and timers still running after its `close()`.
 *
 * @example
 * ```ts
 * import { werift } from "./werift.ts";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
 * await using pc = rtc.createPeerConnection({ iceServers: [] });
 * const channel = pc.createDataChannel("shoal");
 * channel.on("open", () => channel.send("hello"));
 * const offer = await pc.createOffer();
 * await pc.setLocalDescription(offer);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type PeerConfig, type RTCDataChannel, RTCPeerConnection } from "werift";
import type {
  RtcAdapter,
  RtcCandidate,
  RtcCandidatePair,
  RtcDataChannel,
  RTCIceCandidateLike,
  RtcIceConnectionState,
  RtcIceSocketOptions,
  RtcMessage,
  RtcOperationOptions,
  RtcPeerConnectionConfig,
  RtcPeerConnectionState,
  RTCSessionDescriptionLike,
} from "../core/rtc.ts";
import { BaseDataChannel, BasePeerConnection, isMdnsCandidate, plainDescription } from "./_base.ts";
import { installFastHandshakeCrypto } from "./werift_crypto.ts";
import { leanDtlsRecords, leanSctpPackets, smallReceiveBuffers } from "./werift_fast_path.ts";
import {
  boundGathering,
  clearSctpTimers,
  connectClientEarly,
  delayAcks,
  dropStaleHandshakes,
  keepEarlyClientHello,
  on,
  Quiescence,
  recoverSooner,
  resendFlightsSooner,
  restartInitTimer,
  sendFlightsWhole,
  type Unsubscribe,
  withDtlsSocket,
} from "./werift_shims.ts";

export type * from "../core/rtc.ts";

/**
 * Options of {@linkcode werift}: which local addresses ICE binds to and offers, and which
 * UDP ports it may use.
 *
 * @example ICE on loopback only, within a port range
 * ```ts
 * import { werift, type WeriftOptions } from "@shoal/shoal/werift";
 *
 * const options: WeriftOptions = {
 *   interfaceAddresses: { udp4: "127.0.0.1" },
 *   portRange: [40000, 40100],
 * };
 * console.assert(werift(options).name === "werift");
 * ```
 */
export interface WeriftOptions extends RtcIceSocketOptions {
  // interfaceAddresses: at most one per family; without it, every non-loopback interface,
  // sockets on the wildcard address.
  /**
   * Recover from packet loss sooner than werift alone: resend an unanswered DTLS flight after
   * 250 ms, a 1 s first SCTP timeout (werift: 3 s), early retransmit (see
   * `./werift_shims.ts`). Default false: on this project's loaded 2-core machine the extra
   * resends cost 100 joining viewers more CPU than the losses they saved (bench/RESULTS.md).
   */
  quickRecovery?: boolean;
}

/**
 * An {@linkcode RtcAdapter} backed by npm:werift.
 *
 * The first call replaces werift's JavaScript X25519 and its PEM-parsing ECDSA signer with
 * native X25519 and a faster P-256 signer for the whole process (see `./werift_crypto.ts`):
 * about 2 ms less CPU per DTLS handshake on each side.
 *
 * @example
 * ```ts
 * import { werift } from "./werift.ts";
 *
 * const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" }, portRange: [40000, 40100] });
 * const pc = rtc.createPeerConnection({ iceServers: [] });
 * await pc.close();
 * ```
 */
export function werift(options: WeriftOptions = {}): RtcAdapter {
  installFastHandshakeCrypto();
  return {
    name: "werift",
    createPeerConnection: (config) => new _WeriftPeerConnection(config, options),
  };
}

function _peerConfig(config: RtcPeerConnectionConfig, options: WeriftOptions): Partial<PeerConfig> {
  const addresses = Object.values(options.interfaceAddresses ?? {}).filter((a): a is string => !!a);
  return {
    // Always an explicit list: werift's default config (peerConnection.ts,
    // generateDefaultPeerConfig) names stun:stun.l.google.com:19302.
    iceServers: config.iceServers.map((s) => ({ ...s })),
    // "relay": werift gathers TURN candidates only and checks no direct pair (ice.ts forceTurn).
    iceTransportPolicy: config.iceTransportPolicy ?? "all",
    icePortRange: options.portRange,
    // werift gathers on every non-internal interface and binds all sockets of a family to
    // iceInterfaceAddresses, so with an address given it would offer eth0's address on a
    // socket bound to 127.0.0.1 (ice.ts gatherCandidates). Gather on the given ones only.
    ...(addresses.length > 0
      ? {
        iceInterfaceAddresses: options.interfaceAddresses,
        iceAdditionalHostAddresses: addresses,
        iceUseIpv4: false,
        iceUseIpv6: false,
      }
      : {}),
  };
}

function _hasStun(config: RtcPeerConnectionConfig): boolean {
  return config.iceServers.some((s) => [s.urls].flat().some((u) => /^stuns?:/i.test(u)));
}

function _candidate(c: { candidate?: string }): RtcCandidate {
  // "candidate:F 1 udp PRIO ADDRESS PORT typ TYPE ..." (RFC 8839 §5.1)
  const f = (c.candidate ?? "").replace(/^candidate:/, "").split(" ");
  return {
    type: f[7] ?? "",
    address: f[4] ?? "",
    port: Number(f[5]),
    protocol: (f[2] ?? "").toLowerCase(),
  };
}

class _WeriftPeerConnection extends BasePeerConnection {
  #pc: RTCPeerConnection;
  #offs: Unsubscribe[] = [];
  #prepared = new WeakSet<object>();
  #quiet = new Quiescence();
  #noStun: boolean;
  #quick: boolean;
  #ice: RtcIceConnectionState = "new";
  #droppedMdns = false;

  constructor(config: RtcPeerConnectionConfig, options: WeriftOptions) {
    super();
    this.#noStun = !_hasStun(config);
    this.#quick = options.quickRecovery ?? false;
    const relayOnly = config.iceTransportPolicy === "relay";
    const pc = this.#pc = new RTCPeerConnection(_peerConfig(config, options));
    this.#offs.push(
      on(pc.onIceCandidate, (c) => {
        // "relay": werift still gathers host candidates when it has no TURN server; they
        // never leave this side, so the other one never learns this address.
        if (relayOnly && c?.candidate && !/ typ relay\b/.test(c.candidate)) return;
        const candidate: RTCIceCandidateLike | null = c?.candidate
          ? {
            candidate: c.candidate,
            sdpMid: c.sdpMid ?? null,
            sdpMLineIndex: c.sdpMLineIndex ?? null,
          }
          : null;
        this.events.emit("icecandidate", candidate);
      }),
      on(pc.iceConnectionStateChange, (state) => {
        // werift's ICE agent reports "completed" when gathering ends (ice.ts gatherCandidates),
        // before any check: it never means a completed connection, so it is not passed on.
        if (state === "completed" || state === this.#ice) return;
        this.#ice = state;
        this.events.emit("iceconnectionstatechange", state);
      }),
      on(pc.connectionStateChange, (state) => this.events.emit("connectionstatechange", state)),
      on(pc.onDataChannel, (dc) => {
        this.events.emit("datachannel", this.track(new _WeriftDataChannel(dc)));
      }),
    );
  }

  protected nativeConnectionState(): RtcPeerConnectionState {
    return this.#pc.connectionState;
  }

  protected nativeIceConnectionState(): RtcIceConnectionState {
    return this.#ice;
  }

  selectedCandidatePair(): Promise<RtcCandidatePair | undefined> {
    if (this.isClosed) return Promise.resolve(undefined);
    for (const transport of this.#pc.iceTransports) {
      // werift reports the nominated pair, else a succeeded one (transport/ice.ts).
      const pair = transport.getSelectedCandidatePair();
      if (pair) {
        return Promise.resolve({ local: _candidate(pair.local), remote: _candidate(pair.remote) });
      }
    }
    return Promise.resolve(undefined);
  }

  createDataChannel(label: string): RtcDataChannel {
    this.assertOpen();
    const channel = this.track(
      new _WeriftDataChannel(this.#pc.createDataChannel(label, { ordered: true })),
    );
    this.#prepare();
    return channel;
  }

  createOffer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.op(async () => plainDescription(await this.#pc.createOffer()), options);
  }

  createAnswer(options?: RtcOperationOptions): Promise<RTCSessionDescriptionLike> {
    return this.op(async () => plainDescription(await this.#pc.createAnswer()), options);
  }

  setLocalDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.op(async () => {
      this.#prepare(); // before werift gathers, inside setLocalDescription
      await this.#pc.setLocalDescription({ type: description.type, sdp: description.sdp });
    }, options);
  }

  setRemoteDescription(
    description: RTCSessionDescriptionLike,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.op(async () => {
      await this.#pc.setRemoteDescription({ type: description.type, sdp: description.sdp });
      this.#prepare();
    }, options);
  }

  addIceCandidate(
    candidate: RTCIceCandidateLike | null,
    options?: RtcOperationOptions,
  ): Promise<void> {
    return this.op(async () => {
      if (candidate === null) {
        // With mDNS candidates dropped, the peer's address comes from its checks; telling
        // werift the list is complete would make it give up with no pair to check.
        if (!this.#droppedMdns) await this.#pc.addIceCandidate(null);
      } else if (isMdnsCandidate(candidate.candidate)) {
        this.#droppedMdns = true;
      } else {
        await this.#pc.addIceCandidate({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid,
          sdpMLineIndex: candidate.sdpMLineIndex,
        });
      }
    }, options);
  }

  protected async closeNative(): Promise<void> {
    for (const off of this.#offs.splice(0)) off();
    this.#quiet.freeze(this.#pc);
    // werift's close() returns at once when already closing; ours is memoized instead.
    await this.#pc.close().catch(() => {});
    const sctp = this.#pc.sctpTransport?.sctp;
    if (sctp) clearSctpTimers(sctp);
    await this.#quiet.settle();
  }

  #prepare(): void {
    for (const transport of this.#pc.dtlsTransports) {
      if (this.#prepared.has(transport)) continue;
      this.#prepared.add(transport);
      // ice.ts falls back to stun.l.google.com:19302 whenever no STUN server is configured
      // (applyStunTurnServersFromOptions) and setLocalDescription waits for that query
      // (5 s timeout, plus DNS) before it resolves; an agent without one skips it.
      if (this.#noStun) transport.iceTransport.connection.stunServer = undefined;
      boundGathering(transport.iceTransport.connection);
      dropStaleHandshakes(transport); // first: its wrapper sees keepEarlyClientHello's replay
      keepEarlyClientHello(transport);
      sendFlightsWhole(transport);
      if (this.#quick) resendFlightsSooner(transport); // after: it resends whole flights
      connectClientEarly(transport);
      this.#quiet.watch(transport);
      withDtlsSocket<object>(transport, (socket) => {
        leanDtlsRecords(socket);
        smallReceiveBuffers(transport.iceTransport.connection);
      });
    }
    const sctp = this.#pc.sctpTransport?.sctp;
    if (sctp && !this.#prepared.has(sctp)) {
      this.#prepared.add(sctp);
      delayAcks(sctp);
      leanSctpPackets(sctp);
      restartInitTimer(sctp);
      if (this.#quick) recoverSooner(sctp);
    }
  }
}

// werift lowers bufferedAmount when SCTP's whole outbound queue is on the wire (sctp.ts send
// resolves once outboundQueue is empty), so it falls in steps, and the low event does fire.
// Queue without backpressure and werift crawls: every queued send waits on one flush event.
class _WeriftDataChannel extends BaseDataChannel<RTCDataChannel> {
  #offs: Unsubscribe[];

  constructor(dc: RTCDataChannel) {
    super(dc);
    this.#offs = [
      on(dc.stateChanged, (state) => {
        if (state === "open") this.events.emit("open", undefined);
        if (state === "closed") this.closed();
      }),
      on(dc.onMessage, (data) => {
        this.events.emit(
          "message",
          typeof data === "string"
            ? data
            : new Uint8Array(data.buffer, data.byteOffset, data.length),
        );
      }),
      // werift's RTCDataChannel has no onbufferedamountlow, only this Event; it fires when
      // bufferedAmount crosses the threshold downwards (dataChannel.ts addBufferedAmount).
      on(dc.bufferedAmountLow, () => this.events.emit("bufferedamountlow", undefined)),
    ];
  }

  // Never empty (the base checks): an empty message takes a stream sequence number but sends
  // no chunk (sctp.ts send), so the receiver would wait for it forever.
  protected sendNative(data: RtcMessage): void {
    this.native.send(typeof data === "string" ? data : Buffer.from(data)); // copies, like the DOM
  }

  protected stopListening(): void {
    for (const off of this.#offs.splice(0)) off();
  }
}
