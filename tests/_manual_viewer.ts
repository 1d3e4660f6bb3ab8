// A viewer driven by hand: signaling and WebRTC without the Viewer class, so a test can
// misbehave on the data channel itself.
import type { RtcAdapter, RtcDataChannel, RtcMessage, RtcPeerConnection } from "../core/rtc.ts";
import { type IncomingSignal, SignalingClient } from "../core/signaling.ts";
import { eventually } from "./_signal_helpers.ts";

export class ManualViewer implements AsyncDisposable {
  readonly signaling: SignalingClient;
  readonly received: RtcMessage[] = [];
  channel?: RtcDataChannel;
  #pcs: RtcPeerConnection[] = [];

  constructor(readonly rtc: RtcAdapter, wsUrl: string, joinCode: string) {
    this.signaling = new SignalingClient({
      url: wsUrl,
      role: "viewer",
      joinCode,
      reconnect: false,
    });
    this.signaling.on("signal", (s) => {
      if (s.data.kind === "offer") void this.answer(s);
    });
  }

  /** Joins and waits until the channel is open and `ready` was sent. */
  static async join(rtc: RtcAdapter, wsUrl: string, joinCode: string): Promise<ManualViewer> {
    const v = new ManualViewer(rtc, wsUrl, joinCode);
    await v.signaling.connect();
    await eventually(() => v.channel?.readyState === "open", 10_000, "manual viewer open");
    return v;
  }

  async answer(offer: IncomingSignal): Promise<void> {
    const pc = this.rtc.createPeerConnection({ iceServers: [] });
    this.#pcs.push(pc);
    const hid = offer.handshakeId;
    pc.on("icecandidate", (c) => {
      this.signaling.send("", hid, c ? { kind: "candidate", ...c } : { kind: "end-of-candidates" });
    });
    this.signaling.route(offer.from, (s) => {
      if (s.handshakeId !== hid) return;
      if (s.data.kind === "candidate") void pc.addIceCandidate({ ...s.data }).catch(() => {});
      if (s.data.kind === "end-of-candidates") void pc.addIceCandidate(null).catch(() => {});
    });
    pc.on("datachannel", (ch) => {
      ch.on("message", (m) => this.received.push(m));
      const ready = () => {
        ch.send(JSON.stringify({ t: "ready" }));
        this.channel = ch;
      };
      if (ch.readyState === "open") ready();
      else ch.on("open", ready);
    });
    await pc.setRemoteDescription({ type: "offer", sdp: (offer.data as { sdp: string }).sdp });
    const a = await pc.createAnswer();
    await pc.setLocalDescription(a);
    this.signaling.send("", hid, { kind: "answer", sdp: a.sdp });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.signaling.close();
    await Promise.all(this.#pcs.map((pc) => pc.close()));
  }
}
