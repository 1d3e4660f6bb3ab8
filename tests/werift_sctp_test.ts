import assert from "node:assert/strict";
import { RTCSctpTransport } from "werift";
import { werift } from "../adapters/werift.ts";
import { delayAcks } from "../adapters/werift_shims.ts";
import { channelOpen, connectPair, nextEvent } from "./rtc_contract.ts";

const test = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });

type _Association = {
  sackNeeded: boolean;
  isStopped: boolean;
  sentQueue: unknown[];
  sendSack(): Promise<void>;
};

/** Collects werift's SCTP associations created while `fn` runs; counts the SACKs each sends. */
async function withAssociations(
  fn: (acks: { sent: number }, associations: _Association[]) => Promise<void>,
): Promise<void> {
  const proto = RTCSctpTransport.prototype;
  const setDtlsTransport = proto.setDtlsTransport;
  const associations: _Association[] = [];
  const acks = { sent: 0 };
  proto.setDtlsTransport = function (this: RTCSctpTransport, ...args) {
    setDtlsTransport.apply(this, args);
    const association = this.sctp as unknown as _Association;
    if (associations.includes(association)) return;
    associations.push(association);
    const sendSack = association.sendSack;
    association.sendSack = function () {
      if (this.sackNeeded && !this.isStopped) acks.sent++;
      return sendSack.call(this);
    };
  };
  try {
    await fn(acks, associations);
  } finally {
    proto.setDtlsTransport = setDtlsTransport;
  }
}

test("a werift viewer acknowledges every second packet, and the host still sees everything acked", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  await withAssociations(async (acks, associations) => {
    const pair = await connectPair(rtc, rtc, { signal });
    try {
      await channelOpen(pair.hostChannel, signal);
      await new Promise((r) => setTimeout(r, 250)); // the open handshake's own SACKs
      acks.sent = 0;
      let received = 0;
      const all = nextEvent<unknown>(
        (fn) => pair.viewerChannel.on("message", () => ++received === 20 && fn(undefined)),
        { signal },
      );
      for (let i = 0; i < 20; i++) {
        pair.hostChannel.send(new Uint8Array(100).fill(i)); // one packet each
        await new Promise((r) => setTimeout(r, 5));
      }
      await all;
      await new Promise((r) => setTimeout(r, 300)); // past the 200 ms delayed-SACK timer
      assert.ok(acks.sent >= 10 && acks.sent <= 11, `${acks.sent} SACKs for 20 packets`);
      assert.equal(associations.length, 2);
      for (const a of associations) assert.equal(a.sentQueue.length, 0, "nothing left unacked");
    } finally {
      await pair.close();
    }
  });
});

test("delayed acknowledgement still answers a duplicate or a gap at once", () => {
  const association = {
    sackImmediate: false,
    sackDuplicates: [] as number[],
    sackMisOrdered: new Set<number>(),
    // What werift's receiveDataChunk does to these fields.
    receiveDataChunk(chunk: { tsn: number; duplicate?: boolean; gap?: boolean }) {
      this.sackImmediate = true;
      if (chunk.duplicate) this.sackDuplicates.push(chunk.tsn);
      if (chunk.gap) this.sackMisOrdered.add(chunk.tsn);
    },
  };
  delayAcks(association);
  association.receiveDataChunk({ tsn: 1 });
  assert.equal(association.sackImmediate, false, "new data in order waits");
  association.receiveDataChunk({ tsn: 1, duplicate: true });
  assert.equal(association.sackImmediate, true, "a duplicate is acknowledged at once");
  Object.assign(association, { sackImmediate: false, sackDuplicates: [] });
  association.receiveDataChunk({ tsn: 3, gap: true });
  assert.equal(association.sackImmediate, true, "a gap is reported at once");
  association.sackMisOrdered.clear();
  association.receiveDataChunk({ tsn: 4 });
  assert.equal(association.sackImmediate, true, "an earlier chunk's request stands");
});

test("closing while a delayed SACK is pending leaves no timer behind", async () => {
  const signal = AbortSignal.timeout(10_000);
  const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
  const pair = await connectPair(rtc, rtc, { signal });
  try {
    await channelOpen(pair.hostChannel, signal);
    const got = nextEvent<unknown>((fn) => pair.viewerChannel.on("message", fn), { signal });
    pair.hostChannel.send(new Uint8Array(10)); // one packet: its SACK waits up to 200 ms
    await got;
  } finally {
    await pair.close(); // the op sanitizer fails the test if the SACK timer outlives it
  }
});
