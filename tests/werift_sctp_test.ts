import assert from "node:assert/strict";
import { RTCSctpTransport } from "werift";
import { werift } from "../adapters/werift.ts";
import { delayAcks, recoverSooner } from "../adapters/werift_shims.ts";
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

/** A stand-in for werift's association: its RTO update, miss counting and timer 1. */
function _association() {
  return {
    rto: 3,
    srtt: undefined as number | undefined,
    rttvar: undefined as number | undefined,
    timer1Handle: undefined as number | undefined,
    sentQueue: [] as Array<{ tsn: number; misses: number; acked: boolean; retransmit?: boolean }>,
    updateRto(R: number) {
      this.srtt ??= R;
      this.rttvar ??= R / 2;
      this.rto = Math.max(1, Math.min(this.srtt + 4 * this.rttvar, 60)); // werift's floor: 1 s
    },
    timer1Start(_chunk: unknown) {
      if (this.timer1Handle) throw new Error(); // as werift
      this.timer1Handle = 1;
    },
    timer1Cancel() {
      this.timer1Handle = undefined;
    },
    // werift's sackChunk handling, reduced: each chunk below the highest one acked in a gap
    // block and not acked itself counts a miss; the third resends it.
    receiveSackChunk(chunk: { gaps: number[][]; acked: number[] }) {
      const highest = Math.max(...chunk.acked);
      for (const c of this.sentQueue) {
        if (chunk.acked.includes(c.tsn)) c.acked = true;
        else if (c.tsn < highest && ++c.misses === 3) {
          c.misses = 0;
          c.retransmit = true;
        }
      }
      return Promise.resolve();
    },
  };
}

test("quicker SCTP recovery: a 1 s first timeout, werift's 1 s floor, and a second INIT ACK does not throw", () => {
  const a = _association();
  recoverSooner(a);
  assert.equal(a.rto, 1);
  a.updateRto(0.002); // a LAN round trip
  assert.equal(a.rto, 1);
  a.timer1Start("echo");
  a.timer1Start("echo"); // werift would throw here, out of its packet handler
  assert.equal(a.timer1Handle, 1);
});

test("early retransmit: with two chunks outstanding, one SACK reporting the first missing resends it", async () => {
  const a = _association();
  recoverSooner(a);
  a.sentQueue.push({ tsn: 1, misses: 0, acked: false }, { tsn: 2, misses: 0, acked: false });
  await a.receiveSackChunk({ gaps: [[1, 1]], acked: [2] });
  assert.equal(a.sentQueue[0].retransmit, true, "resent on the first report");

  // With many outstanding, werift's three reports stand, and untouched counts are restored.
  const b = _association();
  recoverSooner(b);
  for (let tsn = 1; tsn <= 6; tsn++) b.sentQueue.push({ tsn, misses: 0, acked: false });
  await b.receiveSackChunk({ gaps: [[1, 1]], acked: [2] });
  assert.equal(b.sentQueue[0].retransmit, undefined);
  assert.equal(b.sentQueue[0].misses, 1);
  assert.deepEqual(b.sentQueue.slice(2).map((c) => c.misses), [0, 0, 0, 0]);
});
