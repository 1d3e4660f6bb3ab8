/**
 * Shims around werift behaviour that the adapter (`./werift.ts`) works around: each names
 * the werift code it compensates for. Internal to the adapter.
 *
 * @module
 */
import { Buffer } from "node:buffer";
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

/** Whether a datagram's first record is change_cipher_spec (20) or handshake (22). */
function _isHandshake(data: Uint8Array): boolean {
  return data[0] === 20 || data[0] === 22;
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
 * which backs off. Only the client's first flight can come that early, so the datagrams of
 * its latest transmission (Chromium's ClientHello spans two) are kept and handed to werift as
 * soon as the socket exists. Upstream fix: keep datagrams that arrive before the socket.
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

/**
 * Calls `fn` with werift's DTLS socket as soon as it exists: werift creates it right after the
 * transport reports "connecting" (webrtc/src/transport/dtls.ts start), before any datagram
 * reaches it.
 */
export function withDtlsSocket<T>(transport: RTCDtlsTransport, fn: (socket: T) => void): void {
  const off = on(transport.onStateChange, (state) => {
    if (state !== "connecting") return;
    off();
    queueMicrotask(() => {
      const socket = transport.dtls as unknown as T | undefined;
      if (socket) fn(socket);
    });
  });
}

type _Handshake = { msg_type: number; fragment: Uint8Array };
type _DtlsHandshakeInternals = {
  dtls: { flight: number };
  connected: boolean;
  onHandleHandshakes: (assembled: _Handshake[]) => Promise<void>;
};

/** Whether a ClientHello body carries a cookie: version 2, random 32, session id, cookie. */
function _hasCookie(clientHello: Uint8Array): boolean {
  const sessionIdLength = clientHello[34] ?? 0;
  return (clientHello[35 + sessionIdLength] ?? 0) > 0;
}

/** The client's flight-5 messages a werift server acts on: certificate, client_key_exchange,
 * certificate_verify, finished (RFC 5246 7.3). */
const _FLIGHT_5 = new Set([11, 15, 16, 20]);
/** The server's flight-4 messages: server_hello, certificate, server_key_exchange,
 * certificate_request, server_hello_done. */
const _FLIGHT_4 = new Set([2, 11, 12, 13, 14]);

/**
 * Whether werift's handshake handler must not see this message: a retransmission from a
 * flight the handshake has moved past, or one it is still answering. werift handles each as
 * if it were new:
 * - its server answers a ClientHello without a cookie by running flight 2 again
 *   (dtls/src/flight/server/flight2.ts), which draws a new server random and ECDHE key pair:
 *   when the client has already received flight 4 the two sides derive different keys and
 *   the client's Finished fails to decrypt (`decrypt failed`) — the handshake fails;
 * - its server answers any ClientHello once connected with `renegotiation()`
 *   (dtls/src/socket.ts), which replaces the cipher context: every later record from the
 *   peer then fails to decrypt and the connection is silently dead (its data channel
 *   stays open, nothing more arrives);
 * - its server handles a client_key_exchange again until it is connected (dtls/src/server.ts,
 *   flight/server/flight6.ts): it derives the master secret anew from its handshake cache,
 *   which by then also holds the first copy's certificate_verify, so with the extended master
 *   secret (RFC 7627) the session hash and every key come out different from the client's.
 *   The flight 6 already built with the right keys still goes out, the client completes, and
 *   werift can neither read the client's records nor write one the client accepts: both sides
 *   repeat their SCTP INIT until the handshake times out. Under load a client's flight 5 can
 *   reach the host more than once, both copies in one turn;
 * - its client answers a second HelloVerifyRequest by throwing (flight3.ts: "flight === 3")
 *   or, later, by clearing its handshake cache;
 * - its client handles a flight 4 that comes again after its flight 5 as new
 *   (dtls/src/client.ts): server_key_exchange draws a fresh key pair, and when flight 6
 *   connects it while it waits to assemble the copy (flight is then 7, not 5, so the
 *   "flight5 twice" resend does not apply), it builds a second flight 5 and derives new
 *   keys from that pair: the server keeps the first, and nothing decrypts any more. A
 *   server sends flight 4 again when its timer fires before the client's flight 5
 *   arrives, so one lost or late datagram was enough. The client's own timer resends
 *   flight 5 should the server still lack it.
 * A client retransmits a flight when its timer (werift: 500 ms) fires before the answer
 * arrives, which CPU load makes common with many viewers at once. `handled` holds the
 * flight-5 message types already passed to a server that is not yet connected.
 */
function _stale(
  socket: _DtlsHandshakeInternals,
  server: boolean,
  h: _Handshake,
  handled: Set<number>,
): boolean {
  const flight = socket.dtls.flight;
  if (server && h.msg_type === 1) { // client_hello
    return socket.connected || flight > (_hasCookie(h.fragment) ? 4 : 2);
  }
  if (server && _FLIGHT_5.has(h.msg_type)) {
    // once connected, a repeated Finished is what makes werift repeat its flight 6
    if (socket.connected) return h.msg_type !== 20;
    if (handled.has(h.msg_type)) return true;
    handled.add(h.msg_type);
    return false;
  }
  if (!server && _FLIGHT_4.has(h.msg_type)) return flight >= 5;
  return !server && h.msg_type === 3 && flight >= 3; // hello_verify_request
}

/**
 * Drops the stale handshake retransmissions werift mishandles (see `_stale`): a ClientHello
 * from a flight its server has answered and moved past, or that arrives once connected, a
 * second copy of the client's flight 5 while the first is being answered, a
 * HelloVerifyRequest its client has already answered, and a flight 4 its client has already
 * answered with flight 5. What werift still sees is what RFC 6347 4.2.4 expects: a repeated
 * last flight of the peer, answered by repeating its own (werift does that for flight 3 → 4
 * and, once connected, 5 → 6). Tests replay a ClientHello to a
 * connected server, deliver a flight 5 twice in one turn, and a flight 4 again just before
 * flight 6. An upstream fix would keep the flight-2 state once made, ignore a ClientHello once
 * connected, derive the keys once per handshake, and answer a repeated flight 4 by resending
 * flight 5 as it is.
 */
export function dropStaleHandshakes(transport: RTCDtlsTransport): void {
  withDtlsSocket<_DtlsHandshakeInternals>(transport, (socket) => {
    if (typeof socket.onHandleHandshakes !== "function") return;
    const server = transport.role === "server";
    const handle = socket.onHandleHandshakes;
    const handled = new Set<number>();
    socket.onHandleHandshakes = (assembled) =>
      handle(assembled.filter((h) => !_stale(socket, server, h, handled)));
  });
}

/** How long after its DTLS transport starts a werift client sends its ClientHello (werift: 100). */
const EARLY_CONNECT_MS = 30;

/**
 * werift's DTLS client waits 100 ms before it sends its ClientHello (webrtc/src/transport/
 * dtls.ts start: `await setTimeout(100)`, then `dtls.connect()`), giving a werift server time
 * to create its DTLS socket. That wait holds one of the host's handshake slots for nothing.
 * This starts the client's first flight after 30 ms instead and hands werift's own later
 * connect() call the same promise, so werift still sees (and reports) its outcome. Not at
 * once: a werift server creates its socket when its ICE loop (20 ms polls) reports
 * "connected", and a ClientHello sent at once reached it early far more often, which
 * {@linkcode keepEarlyClientHello} does not always save (bench/RESULTS.md). An upstream fix
 * would drop the sleep and have the server keep datagrams that arrive before its socket exists.
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

type _DtlsTransportInternals = { transport: { send(data: Buffer): Promise<void> | void } };

/** The most bytes of handshake records one coalesced datagram carries. */
const FLIGHT_DATAGRAM_BYTES = 1_200;

/** `records` in order, in runs of at most {@linkcode FLIGHT_DATAGRAM_BYTES} bytes each. */
function _datagrams(records: Buffer[]): Buffer[][] {
  const groups: Buffer[][] = [];
  let size = Infinity;
  for (const record of records) {
    if (size + record.length > FLIGHT_DATAGRAM_BYTES) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(record);
    size += record.length;
  }
  return groups;
}

/**
 * werift sends each record of a DTLS handshake flight as a datagram of its own, all in the
 * same turn (dtls/src/flight/flight.ts send: `Promise.all(buf.map(send))`), and Deno's
 * node:dgram does not always keep datagrams sent in one turn in order. werift processes
 * handshake messages in arrival order, so a server that gets a client's CertificateVerify
 * before its Certificate fails at once ("client certificate missing before certificate
 * verify"), and a failed handshake costs a retry. This gathers the handshake records one turn
 * sends into as few datagrams as fit (RFC 6347 4.1.1 allows several records per datagram;
 * werift and browsers read them in order), which also saves datagrams. A retransmitted
 * flight reuses its datagram, so {@linkcode Quiescence} still counts its retransmissions.
 * Application data passes straight through, after any handshake records gathered before it.
 * An upstream fix would send a flight as one datagram and buffer messages by `message_seq`.
 */
export function sendFlightsWhole(transport: RTCDtlsTransport): void {
  withDtlsSocket<_DtlsTransportInternals>(transport, ({ transport: out }) => {
    if (typeof out?.send !== "function") return;
    const send = out.send.bind(out);
    const joined = new WeakMap<Buffer, Buffer>();
    let records: Buffer[] = [];
    let turn: Promise<void> | undefined;
    const flush = async () => {
      const groups = _datagrams(records);
      records = [];
      for (const group of groups) {
        let datagram = group.length === 1 ? group[0] : joined.get(group[0]);
        const size = group.reduce((n, r) => n + r.length, 0);
        if (!datagram || datagram.length !== size) {
          datagram = Buffer.concat(group, size);
          joined.set(group[0], datagram);
        }
        await send(datagram);
      }
    };
    out.send = (data: Buffer) => {
      if (!_isHandshake(data)) {
        return records.length > 0 ? flush().then(() => send(data)) : send(data);
      }
      records.push(data);
      return turn ??= Promise.resolve().then(() => {
        turn = undefined;
        return flush();
      });
    };
  });
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
      if (_isHandshake(data)) {
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

/** When the shims resend an unanswered handshake flight: ms after the previous sending. */
export const FLIGHT_RESEND_MS: readonly number[] = [250];

/**
 * werift resends an unanswered DTLS handshake flight after 500 ms, then 1 s, 1.5 s, …
 * (dtls/src/flight/flight.ts transmit: `1000 * ((n + 1) / 2)`), and only checks whether the
 * answer came when each wait ends. On a lossy link every lost flight costs the handshake at
 * least half a second, and a handshake is four flights: at 5% loss each way, 100 viewers
 * joining at once were all ready 2.2 times later than without loss. This resends the latest
 * flight (the same records, so the peer sees an ordinary retransmission, which the peer
 * already has to handle) {@linkcode FLIGHT_RESEND_MS} after it went out, unless any DTLS
 * datagram from the peer arrived meanwhile (the flight got through; werift's own timer
 * covers a partial answer). werift's own retransmissions go on as before. An upstream fix
 * would start at a shorter timer (RFC 6347 4.2.4.1 allows it) and wake on the answer.
 */
export function resendFlightsSooner(transport: RTCDtlsTransport): void {
  withDtlsSocket<_DtlsTransportInternals>(transport, ({ transport: out }) => {
    if (typeof out?.send !== "function") return;
    const send = out.send.bind(out);
    const connection = transport.iceTransport.connection;
    let flight: Buffer[] = [];
    let collecting = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const arm = () => {
      stop();
      const delay = FLIGHT_RESEND_MS[attempt];
      if (delay === undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (transport.state !== "connecting") return;
        attempt++;
        for (const record of flight) send(record)?.catch?.(() => {});
        arm();
      }, delay);
    };
    out.send = (data: Buffer) => {
      if (_isHandshake(data) && transport.state === "connecting") {
        if (!collecting) {
          // A new flight (or werift's own resend of it): the records one turn sends.
          collecting = true;
          if (flight[0] !== data) attempt = 0;
          flight = [];
          queueMicrotask(() => {
            collecting = false;
            arm();
          });
        }
        flight.push(data);
      }
      return send(data);
    };
    const offData = on(connection.onData, (data) => {
      if (_isDtls(data)) stop();
    });
    const offState = on(transport.onStateChange, (state) => {
      if (state === "connecting") return;
      stop();
      flight = [];
      offData();
      offState();
    });
  });
}

type _SctpSentChunk = { misses: number; acked: boolean };
type _SctpRecovery = {
  rto: number;
  srtt?: number;
  receiveSackChunk(chunk: { gaps: unknown[] }): Promise<void>;
  sentQueue: _SctpSentChunk[];
};

type _SctpTimer1 = { timer1Start(chunk: unknown): void; timer1Cancel(): void };

/**
 * Two INIT ACKs (answers to a resent INIT) can both pass werift's COOKIE_WAIT check while
 * the first awaits its send; the second `timer1Start` then throws out of the packet handler
 * (sctp/src/sctp.ts: `if (this.timer1Handle) throw new Error()`), an uncaught rejection that
 * ended a swarm process during bench:net at 5% loss. This restarts the timer instead. An
 * upstream fix would check the state again after the await.
 */
export function restartInitTimer(sctp: object): void {
  const a = sctp as _SctpTimer1;
  const start = a.timer1Start;
  if (typeof start !== "function" || typeof a.timer1Cancel !== "function") return;
  a.timer1Start = (chunk: unknown) => {
    a.timer1Cancel();
    start.call(a, chunk);
  };
}

/** SCTP's retransmission timeout before any round trip is measured, s (RFC 9260 RTO.Initial). */
export const SCTP_RTO_INITIAL_S = 1;

/**
 * werift's SCTP starts with a 3 s retransmission timeout (sctp/src/sctp.ts SCTP_RTO_INITIAL,
 * RFC 4960's value), and resends a lost chunk early only after three SACKs report it
 * missing. On a lossy link a lost INIT, COOKIE ECHO or first DATA (the channel's open, the
 * viewer's `ready`) then costs a join 3 s, and a lost line of a slow stream waits for the
 * timeout. This starts at RFC 9260's 1 s ({@linkcode SCTP_RTO_INITIAL_S}) and adds RFC 5827's
 * early retransmit: with fewer than four chunks outstanding, a chunk is resent once
 * `outstanding - 1` SACKs report it missing, since three can never come. The floor stays
 * werift's 1 s: dcsctp's 200 ms, measured on this 2-core machine under load, fired on event
 * loop stalls, collapsed congestion windows and got healthy viewers dropped as slow
 * (bench/RESULTS.md). An upstream fix would make the timeouts options and count misses
 * against the outstanding.
 */
export function recoverSooner(sctp: object): void {
  const a = sctp as _SctpRecovery;
  if (
    typeof a.receiveSackChunk !== "function" ||
    !Array.isArray(a.sentQueue) || typeof a.rto !== "number"
  ) return;
  if (!a.srtt) a.rto = Math.min(a.rto, SCTP_RTO_INITIAL_S);
  const receiveSack = a.receiveSackChunk;
  a.receiveSackChunk = (chunk) => {
    // Only a short queue can hold fewer than four outstanding chunks worth counting: a bulk
    // transfer keeps thousands queued, and scanning them on every SACK cost its host dearly.
    const outstanding = chunk.gaps.length > 0 && a.sentQueue.length <= 8
      ? a.sentQueue.filter((c) => !c.acked)
      : [];
    const raised = new Map<_SctpSentChunk, number>();
    if (outstanding.length > 1 && outstanding.length < 4) {
      // werift counts a miss per SACK and resends at three (sackChunk handling).
      const head = 3 - (outstanding.length - 1);
      for (const c of outstanding) {
        if (c.misses < head) {
          raised.set(c, c.misses);
          c.misses = head;
        }
      }
    }
    const done = receiveSack.call(a, chunk);
    // werift's miss counting runs before its first await: restore what this SACK left alone.
    for (const [c, before] of raised) {
      if (c.misses === 3 - (outstanding.length - 1)) c.misses = before;
    }
    return done;
  };
}

/** The longest werift's gathering waits for a STUN or TURN server's answer, ms. */
export const GATHER_WAIT_MS = 5_000;

type _Gathering = { getCandidatePromises(...args: unknown[]): Promise<unknown>[] };

/**
 * werift's setLocalDescription waits until every candidate is gathered (ice.ts
 * gatherCandidates: `Promise.allSettled` over getCandidatePromises), and a TURN allocation
 * that gets no answer is retried over UDP for about 6.4 s (STUN retransmissions), then over
 * TCP; with a wrong credential the TCP attempt never ended. So one unreachable or
 * misconfigured TURN server held back every offer and answer, even between peers with a
 * direct path: 15 s to ready, or never. This stops waiting for a server after
 * {@linkcode GATHER_WAIT_MS}: gathering completes with what it has. Not much sooner: werift
 * never pairs a relayed candidate that comes after the remote ones were added (it pairs
 * protocols as candidates arrive), so a working TURN server must answer within the wait,
 * also on a lossy link and a loaded machine (bench/RESULTS.md).
 * An upstream fix would trickle server candidates and pair them when they come.
 */
export function boundGathering(connection: object): void {
  const c = connection as _Gathering;
  const original = c.getCandidatePromises;
  if (typeof original !== "function") return;
  c.getCandidatePromises = (...args: unknown[]) =>
    original.apply(c, args).map((p) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, GATHER_WAIT_MS));
      return Promise.race([p, late]).finally(() => clearTimeout(timer));
    });
}

/**
 * Clears an SCTP association's retransmission timers. werift's `SCTP.stop()` clears them
 * only after its ABORT is sent (sctp.ts stop awaits abort()), which throws once DTLS is
 * gone: a peer that shut down first (libdatachannel sends SHUTDOWN on close, werift answers
 * SHUTDOWN-ACK and starts T2 for a SHUTDOWN-COMPLETE that never comes) leaves T2 pending
 * for seconds after `close()`.
 */
export function clearSctpTimers(sctp: object): void {
  const s = sctp as { timer1Cancel?(): void; timer2Cancel?(): void; timer3Cancel?(): void };
  s.timer1Cancel?.();
  s.timer2Cancel?.();
  s.timer3Cancel?.();
}
