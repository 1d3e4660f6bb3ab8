import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { RTCDtlsTransport } from "werift";
import { werift } from "../adapters/werift.ts";
import { channelOpen, connectPair, nextEvent, type RtcPair } from "./rtc_contract.ts";

const test = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });

type _Connection = {
  send(data: Buffer): Promise<void>;
  onData: { execute(data: Buffer): void };
};
type _Sent = { role: string; connection: _Connection; datagrams: Buffer[] };

/** Calls `hook` with each werift DTLS transport as it starts connecting, while `fn` runs. */
async function onConnecting(
  hook: (transport: RTCDtlsTransport) => void,
  fn: () => Promise<void>,
): Promise<void> {
  const proto = RTCDtlsTransport.prototype as unknown as { setState(state: string): void };
  const setState = proto.setState;
  proto.setState = function (this: RTCDtlsTransport, state: string) {
    if (state === "connecting") hook(this);
    return setState.call(this, state);
  };
  try {
    await fn();
  } finally {
    proto.setState = setState;
  }
}

/** Records every datagram each werift DTLS transport made while `fn` runs sends over ICE. */
async function recording(fn: (sent: _Sent[]) => Promise<void>): Promise<void> {
  const sent: _Sent[] = [];
  await onConnecting((transport) => {
    const connection = transport.iceTransport.connection as unknown as _Connection;
    const entry: _Sent = { role: transport.role, connection, datagrams: [] };
    sent.push(entry);
    const send = connection.send.bind(connection);
    connection.send = (data) => {
      entry.datagrams.push(data);
      return send(data);
    };
  }, () => fn(sent));
}

/** A hook for {@link onConnecting}: each datagram the `role` side's DTLS receives goes to
 * `intercept`, with werift's own handler to call (or not, or twice). */
function receivedBy(
  role: "client" | "server",
  intercept: (data: Buffer, execute: (data: Buffer) => void) => void,
): (transport: RTCDtlsTransport) => void {
  return (transport) => {
    if (transport.role !== role) return;
    const onData = (transport.iceTransport.connection as unknown as _Connection).onData;
    const execute = onData.execute.bind(onData);
    onData.execute = (data: Buffer) => intercept(data, execute);
  };
}

/** Sends `toHost` from the viewer and `toViewer` from the host; both must arrive. */
async function assertBothWays(
  pair: RtcPair,
  signal: AbortSignal,
  toHost: string,
  toViewer: string,
): Promise<void> {
  const atHost = nextEvent<unknown>((fn) => pair.hostChannel.on("message", fn), { signal });
  pair.viewerChannel.send(toHost);
  assert.equal(await atHost, toHost);
  const atViewer = nextEvent<unknown>((fn) => pair.viewerChannel.on("message", fn), { signal });
  pair.hostChannel.send(toViewer);
  assert.equal(await atViewer, toViewer);
}

/** The handshake datagrams (first record change_cipher_spec or handshake) in `entry`. */
const handshakes = (entry: _Sent) => entry.datagrams.filter((d) => d[0] === 20 || d[0] === 22);

test("a werift DTLS flight leaves as one datagram, its records in order", async () => {
  const signal = AbortSignal.timeout(10_000);
  // Without the early resend, which adds copies of a flight the peer is slow to answer.
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" }, quickRecovery: false });
  await recording(async (sent) => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
    } finally {
      await pair.close();
    }
    const server = sent.find((s) => s.role === "server")!;
    const client = sent.find((s) => s.role === "client")!;
    // Client: ClientHello, ClientHello with the cookie, flight 5. Server: HelloVerifyRequest,
    // flight 4, flight 6. werift alone sends flight 4 as 5 datagrams and flight 5 as 5.
    assert.equal(handshakes(client).length, 3);
    assert.equal(handshakes(server).length, 3);
    const flight5 = handshakes(client)[2];
    const types: number[] = [];
    for (let at = 0; at < flight5.length; at += 13 + flight5.readUInt16BE(at + 11)) {
      types.push(flight5[at] === 22 && flight5.readUInt16BE(at + 3) === 0 ? flight5[at + 13] : -1);
    }
    // certificate, client_key_exchange, certificate_verify, change_cipher_spec, finished
    assert.deepEqual(types, [11, 16, 15, -1, -1]);
  });
});

test("a ClientHello replayed to a connected werift server leaves the connection working", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  await recording(async (sent) => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
      const server = sent.find((s) => s.role === "server")!;
      const client = sent.find((s) => s.role === "client")!;
      // A late retransmission of the client's first flight: werift would renegotiate,
      // dropping the keys every later record from the client is encrypted with.
      server.connection.onData.execute(handshakes(client)[0]);
      server.connection.onData.execute(handshakes(client)[1]);
      await assertBothWays(pair, signal, "still there?", "yes");
    } finally {
      await pair.close();
    }
  });
});

test("a flight 5 delivered twice in one turn leaves a werift server with the client's keys", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  let doubled = 0;
  // Under load Chromium's flight 5 reached the host two or three times, and a busy host can
  // read two copies in one turn, before werift has answered the first.
  const doubleFlight5 = receivedBy("server", (data, execute) => {
    execute(data);
    // flight 5 begins with the client's certificate: handshake record, epoch 0, type 11
    if (data[0] === 22 && data.readUInt16BE(3) === 0 && data[13] === 11) {
      doubled++;
      execute(data);
    }
  });
  await onConnecting(doubleFlight5, async () => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
      assert.equal(doubled, 1);
      await assertBothWays(pair, signal, "keys agree?", "they do");
    } finally {
      await pair.close();
    }
  });
});

test("a flight 4 that reaches a werift client again just before flight 6 leaves it with the server's keys", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  let again = 0;
  // A server whose timer fired before the client's flight 5 arrived sent flight 4 again,
  // and the copy reaches the client just before flight 6. werift's client took the copy
  // for new: while it waited to assemble it, flight 6 connected it, and it then built a
  // second flight 5 with a fresh key pair, replacing the keys the server had agreed to.
  let flight4: Buffer | undefined;
  const repeatFlight4 = receivedBy("client", (data, execute) => {
    // flight 4 begins with a server_hello: handshake record, epoch 0, type 2
    if (data[0] === 22 && data.readUInt16BE(3) === 0 && data[13] === 2) flight4 ??= data;
    // flight 6 begins with change_cipher_spec
    if (data[0] === 20 && flight4 && again++ === 0) execute(flight4);
    execute(data);
  });
  await onConnecting(repeatFlight4, async () => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
      assert.equal(again, 1);
      await assertBothWays(pair, signal, "same keys?", "same keys");
    } finally {
      await pair.close();
    }
  });
});

/** Ms between a dropped flight 4 (the server's ServerHello) and its next sending. */
async function flight4Resent(quickRecovery: boolean): Promise<number> {
  const signal = AbortSignal.timeout(30_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" }, quickRecovery });
  const sends: number[] = [];
  const dropFirstFlight4 = (transport: RTCDtlsTransport) => {
    if (transport.role !== "server") return;
    const connection = transport.iceTransport.connection as unknown as _Connection;
    const send = connection.send.bind(connection);
    connection.send = (data: Buffer) => {
      // a handshake record of epoch 0 carrying a server_hello (type 2)
      if (data[0] === 22 && data.readUInt16BE(3) === 0 && data[13] === 2) {
        sends.push(performance.now());
        if (sends.length === 1) return Promise.resolve(); // lost
      }
      return send(data);
    };
  };
  await onConnecting(dropFirstFlight4, async () => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await assertBothWays(pair, signal, "through", "after all");
    } finally {
      await pair.close();
    }
  });
  assert.ok(sends.length >= 2, "flight 4 went out again");
  return sends[1] - sends[0];
}

Deno.test({
  name: "a lost DTLS flight goes out again sooner than werift's own timers would send it",
  sanitizeOps: true,
  sanitizeResources: true,
  fn: async () => {
    // The client resends its flight 3 250 ms after sending it (werift: 500 ms), and the
    // server answers it with flight 4 again; or the server's own resend comes first.
    const quick = await flight4Resent(true);
    const stock = await flight4Resent(false);
    assert.ok(quick < stock, `flight 4 again after ${quick} ms, werift alone ${stock} ms`);
  },
});
