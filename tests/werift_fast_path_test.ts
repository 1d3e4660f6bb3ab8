import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RTCPeerConnection, RTCSctpTransport } from "werift";
import { werift } from "../adapters/werift.ts";
import {
  leanDtlsRecords,
  leanSctpPackets,
  RECEIVE_BUFFER_BYTES,
  smallReceiveBuffers,
} from "../adapters/werift_fast_path.ts";
import { on } from "../adapters/werift_shims.ts";
import { channelOpen, connectPair, nextEvent } from "./rtc_contract.ts";

const test = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });

type _Chunk = { type: number };
type _Association = { sendChunk(chunk: _Chunk): Promise<void> };
type _DtlsSocket = {
  send(data: Buffer): Promise<void>;
  transport: { send(data: Buffer): unknown };
  dtls: { recordSequenceNumber: number };
};
type _Internals = {
  sctpTransport: { sctp: _Association };
  dtlsTransports: Array<{ dtls: _DtlsSocket }>;
};

/** What `send` hands to a `transport` it reads from `this`, captured instead of sent. */
function captured(self: object, send: (target: object) => unknown): Buffer {
  let out: Buffer | undefined;
  const target = Object.create(self, {
    transport: { value: { send: (data: Buffer) => (out = Buffer.from(data), Promise.resolve()) } },
  });
  const pending = send(target);
  if (pending instanceof Promise) pending.catch(() => {});
  assert.ok(out, "sent synchronously");
  return out;
}

/** What an arrow-function `send` of `socket` hands its transport, captured instead of sent. */
function swapped(socket: _DtlsSocket, send: () => unknown): Buffer {
  const transport = socket.transport;
  try {
    return captured(transport, (stub) => {
      socket.transport = (stub as _DtlsSocket).transport;
      return send();
    });
  } finally {
    socket.transport = transport;
  }
}

/** Two plain werift peers, no adapter (so no shim), with an open channel from `a` to `b`. */
async function rawPair(signal: AbortSignal) {
  const config = () => ({
    iceServers: [],
    iceInterfaceAddresses: { udp4: "127.0.0.1" },
    iceAdditionalHostAddresses: ["127.0.0.1"],
    iceUseIpv4: false,
    iceUseIpv6: false,
  });
  const a = new RTCPeerConnection(config()), b = new RTCPeerConnection(config());
  a.onIceCandidate.subscribe((c) => c && b.addIceCandidate(c));
  b.onIceCandidate.subscribe((c) => c && a.addIceCandidate(c));
  const channel = a.createDataChannel("x", { ordered: true });
  const far = nextEvent<typeof channel>((fn) => on(b.onDataChannel, fn), { signal });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription!);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription!);
  const remote = await far;
  if (channel.readyState !== "open") {
    await nextEvent((fn) => on(channel.stateChanged, (s) => s === "open" && fn(s)), {
      signal,
    });
  }
  return { a, b, channel, remote };
}

const SIZES = [1, 2, 3, 4, 5, 99, 1_159, 1_160, 1_161, 2_500, 40_000];

// werift keeps timers running after close() (see Quiescence in werift_shims.ts); this test
// uses bare werift peers to compare with werift's own output, so it cannot wait them out.
Deno.test({
  name: "lean SCTP packets and DTLS records are byte for byte werift's own, and peers read them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const signal = AbortSignal.timeout(15_000);
    const { a, b, channel, remote } = await rawPair(signal);
    try {
      const types = new Set<number>();
      let compared = 0;
      for (const pc of [a, b]) {
        const association = (pc as unknown as _Internals).sctpTransport.sctp;
        const werifts = Object.getPrototypeOf(association).sendChunk as _Association["sendChunk"];
        leanSctpPackets(association); // the peers read only lean packets from here on
        const lean = association.sendChunk;
        association.sendChunk = function (chunk) {
          const expected = captured(this, (t) => werifts.call(t, chunk));
          assert.deepEqual(
            captured(this, (t) => lean.call(t, chunk)),
            expected,
            `type ${chunk.type}`,
          );
          types.add(chunk.type);
          compared++;
          return lean.call(this, chunk);
        };
        const socket = (pc as unknown as _Internals).dtlsTransports[0].dtls;
        const original = socket.send;
        leanDtlsRecords(socket);
        for (const size of [0, ...SIZES]) {
          const data = Buffer.from(crypto.getRandomValues(new Uint8Array(size)));
          const sequence = socket.dtls.recordSequenceNumber;
          const expected = swapped(socket, () => original(data));
          socket.dtls.recordSequenceNumber = sequence;
          const lean = swapped(socket, () => socket.send(data));
          assert.equal(socket.dtls.recordSequenceNumber, sequence + 1);
          assert.deepEqual(lean, expected, `record of ${size} bytes`);
        }
      }
      const got: Uint8Array[] = [];
      const all = nextEvent<void>((fn) =>
        on(remote.onMessage, (m) => {
          got.push(new Uint8Array(m as Buffer));
          if (got.length === SIZES.length) fn();
        }), { signal });
      const sent = SIZES.map((n) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))));
      for (const data of sent) channel.send(data);
      await all;
      assert.deepEqual(got, sent.map((d) => new Uint8Array(d)));
      assert.ok(types.has(0) && types.has(3), `DATA and SACK chunks compared (${[...types]})`);
      assert.ok(compared > SIZES.length);
    } finally {
      await a.close();
      await b.close();
    }
  },
});

type _Udp = { on(event: "message", fn: (m: Buffer) => void): void };
type _Connection = { protocols: Array<{ transport: { socket: _Udp } }> };

test("werift's sockets read each datagram into a small buffer, and large messages still arrive", async () => {
  const signal = AbortSignal.timeout(10_000);
  const sockets: _Udp[] = [];
  const proto = RTCSctpTransport.prototype;
  const setDtlsTransport = proto.setDtlsTransport;
  proto.setDtlsTransport = function (this: RTCSctpTransport, transport) {
    setDtlsTransport.call(this, transport);
    const connection = transport.iceTransport.connection as unknown as _Connection;
    transport.onStateChange.subscribe((state) => {
      if (state === "connected") {
        sockets.push(...connection.protocols.map((p) => p.transport.socket));
      }
    });
  };
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  try {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
      const backing: number[] = [];
      for (const socket of sockets) socket.on("message", (m) => backing.push(m.buffer.byteLength));
      const big = crypto.getRandomValues(new Uint8Array(60_000)); // 52 full-size packets
      const got = nextEvent<Uint8Array>(
        (fn) => pair.viewerChannel.on("message", (m) => fn(m as Uint8Array)),
        { signal },
      );
      pair.hostChannel.send(big);
      assert.deepEqual(new Uint8Array(await got), big);
      assert.ok(backing.length > 50, `${backing.length} datagrams seen`);
      assert.ok(
        Math.max(...backing) <= 2 * RECEIVE_BUFFER_BYTES,
        `backing ${Math.max(...backing)}`,
      );
    } finally {
      await pair.close();
    }
  } finally {
    proto.setDtlsTransport = setDtlsTransport;
  }
});

test("receive buffers are left alone outside Deno, where the call would shrink SO_RCVBUF", () => {
  const calls: number[] = [];
  const connection = {
    protocols: [{ transport: { socket: { setRecvBufferSize: (n: number) => calls.push(n) } } }],
  };
  smallReceiveBuffers(connection, "other");
  assert.deepEqual(calls, []);
  smallReceiveBuffers(connection, "deno");
  assert.deepEqual(calls, [RECEIVE_BUFFER_BYTES]);
});
