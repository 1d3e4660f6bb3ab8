/**
 * Shims around werift behaviour that the adapter (`./werift.ts`) works around: each names
 * the werift code it compensates for. Internal to the adapter.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { RTCDtlsTransport, RTCPeerConnection } from "werift";

/** Removes a listener. */
export type Unsubscribe = () => void;
/** werift's `Event`: what `subscribe` takes and returns. */
export type Subscribable<T extends unknown[]> = {
  subscribe(fn: (...args: T) => void): { unSubscribe: () => void };
};

/** Subscribes to a werift `Event`; returns the function that unsubscribes. */
export function on<T extends unknown[]>(
  event: Subscribable<T>,
  fn: (...args: T) => void,
): Unsubscribe {
  return event.subscribe(fn).unSubscribe;
}

function _isDtls(data: Uint8Array): boolean {
  return data.length > 0 && data[0] >= 20 && data[0] <= 63; // RFC 7983 demultiplexing
}

/** Whether a datagram begins a (re)transmission of a ClientHello: its first record is a
 * handshake fragment (type 22) of a client_hello (1) at offset 0 (RFC 6347 4.1, 4.2.2). */
function _startsClientHello(data: Uint8Array): boolean {
  return data.length > 24 && data[0] === 22 && data[13] === 1 && !data[19] && !data[20] &&
    !data[21];
}

/**
 * werift drops a DTLS datagram that arrives before it has created its DTLS socket: that
 * socket (and its listener on the ICE connection) only exists once werift's ICE connect()
 * loop, which polls every 20 ms (ice.ts connect), reports "connected" (transport/dtls.ts
 * start). A browser starts DTLS as soon as its own checks succeed, often before werift has
 * even seen the answer, so its ClientHello was lost and it waited for its retransmit timer,
 * which backs off. Measured with Chromium as the viewer, its answer 50 ms behind its checks
 * (21 handshakes): DTLS took a median 106 ms, 9 ms with this shim. Only the client's first
 * flight can come that early, so the datagrams of its latest transmission (Chromium's
 * ClientHello spans two) are kept and handed to werift as soon as the socket exists.
 */
export function keepEarlyClientHello(transport: RTCDtlsTransport): void {
  const connection = transport.iceTransport.connection;
  let early: Buffer[] = [];
  const offData = on(connection.onData, (data) => {
    if (transport.dtls || transport.state !== "new" || !_isDtls(data)) return;
    if (_startsClientHello(data)) early = [];
    if (early.length < 8) early.push(data);
  });
  const offState = on(transport.onStateChange, (state) => {
    if (state !== "connecting") return;
    offData();
    offState();
    const datagrams = early;
    early = [];
    // The socket is created synchronously right after this state change.
    queueMicrotask(() => {
      for (const data of datagrams) if (transport.dtls) connection.onData.execute(data);
    });
  });
}

type _DtlsSocketInternals = { dtls: object; connect?: () => Promise<void> };

/** How long after its DTLS transport starts a werift client sends its ClientHello (werift: 100). */
const EARLY_CONNECT_MS = 30;

/**
 * werift's DTLS client waits 100 ms before it sends its ClientHello (webrtc/src/transport/
 * dtls.ts start: `await setTimeout(100)`, then `dtls.connect()`), giving a werift server time
 * to create its DTLS socket. That wait holds one of the host's handshake slots for nothing.
 * This starts the client's first flight after 30 ms instead and hands werift's own later
 * connect() call the same promise, so werift still sees (and reports) its outcome. Not at
 * once: a werift server creates its socket when its ICE loop (20 ms polls) reports
 * "connected", and a ClientHello sent at once reached it early far more often; even with
 * {@linkcode keepEarlyClientHello} replaying it, 2 of 240 werift handshakes then failed in
 * DTLS (0 of 480 at 30 ms, 0 of 240 at werift's 100 ms). An upstream fix would drop the sleep
 * and have the server keep datagrams that arrive before its socket exists.
 */
export function connectClientEarly(transport: RTCDtlsTransport): void {
  const off = on(transport.onStateChange, (state) => {
    if (state !== "connecting") return;
    off();
    setTimeout(() => {
      const socket = transport.dtls as unknown as _DtlsSocketInternals | undefined;
      if (!socket?.connect || transport.state !== "connecting") return;
      const started = socket.connect();
      started.catch(() => {}); // werift's own call attaches the handler that reports it
      socket.connect = () => started;
    }, EARLY_CONNECT_MS);
  });
}

type _SctpInternals = {
  receiveDataChunk(chunk: unknown): void;
  sackImmediate: boolean;
  sackDuplicates: unknown[];
  sackMisOrdered: Set<number>;
};

/**
 * werift acknowledges every DATA chunk at once (sctp/src/sctp.ts receiveDataChunk sets
 * `sackImmediate` whatever it received), so a host streaming to werift viewers receives,
 * decrypts and processes one SACK for every packet it sends: half of its datagrams. RFC 9260
 * 6.2 asks for a SACK for at least every second packet with new data, within 200 ms, and at
 * once for a duplicate or a gap; usrsctp and dcsctp (Chromium) do exactly that, and werift
 * already implements it (handleData counts packets, scheduleSack runs the 200 ms timer) but
 * never lets it act. This restores it: a DATA chunk asks for an immediate SACK only when it is
 * a duplicate or leaves a gap. An upstream fix would delete the unconditional assignment.
 */
export function delayAcks(sctp: object): void {
  const association = sctp as _SctpInternals;
  const receive = association.receiveDataChunk;
  if (typeof receive !== "function" || !("sackImmediate" in association)) return;
  association.receiveDataChunk = (chunk) => {
    const immediate = association.sackImmediate;
    receive.call(association, chunk);
    association.sackImmediate = immediate || association.sackDuplicates.length > 0 ||
      association.sackMisOrdered.size > 0;
  };
}

/**
 * What werift leaves running after its close() resolves (found with Deno's op sanitizer):
 * - dtls/src/flight/flight.ts Flight.transmit: after each send of a handshake flight it
 *   sleeps 500·n ms (n = sends so far) on an uncancellable timers/promises setTimeout, and
 *   retransmits until `dtls.flight` moves on: up to 10 times (~27 s) when closed mid-handshake;
 * - webrtc/src/transport/dtls.ts start: a DTLS client sleeps 100 ms, then sends ClientHello;
 * - ice/src/ice.ts connect: while checking, it sleeps 20 ms between polls.
 * This notes every handshake datagram sent; on close it pins each DTLS context's flight
 * counter past the last flight (so every loop ends at its next wake-up), turns a client's
 * pending connect() into a no-op, and waits until the last of those sleeps has ended.
 */
export class Quiescence {
  #until = 0;
  #sends = new WeakMap<object, number>();

  watch(transport: RTCDtlsTransport): void {
    const connection = transport.iceTransport.connection;
    const send = connection.send.bind(connection);
    connection.send = (data: Buffer) => {
      if (data[0] === 20 || data[0] === 22) { // change_cipher_spec, handshake
        const n = (this.#sends.get(data) ?? 0) + 1;
        this.#sends.set(data, n);
        this.#extend(500 * n);
      }
      return send(data);
    };
    const off = on(transport.onStateChange, (state) => {
      if (state !== "connecting") return;
      off();
      this.#extend(100);
    });
  }

  freeze(pc: RTCPeerConnection): void {
    for (const transport of pc.dtlsTransports) {
      const socket = transport.dtls as unknown as _DtlsSocketInternals | undefined;
      if (!socket) continue;
      Object.defineProperty(socket.dtls, "flight", { get: () => 1e9, set: () => {} });
      if (socket.connect) socket.connect = () => Promise.resolve();
    }
    if (pc.iceConnectionState === "checking") this.#extend(20);
  }

  async settle(): Promise<void> {
    const wait = this.#until - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait) + 5));
  }

  #extend(ms: number): void {
    this.#until = Math.max(this.#until, performance.now() + ms);
  }
}
