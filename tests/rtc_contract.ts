/**
 * The contract every {@linkcode RtcAdapter} meets, as one suite: `rtcContract(name, setup,
 * test)` registers its tests through `test`, so the same suite runs under `Deno.test` here
 * and, bundled into a page, inside Chromium. It uses no `Deno.*` and no `node:*` (hence its
 * own four small asserts). Every wait is bounded by `AbortSignal.timeout`.
 *
 * @example
 * ```ts ignore
 * import { rtcContract } from "./rtc_contract.ts";
 * import { werift } from "../adapters/werift.ts";
 *
 * rtcContract("werift", () => ({ host: werift() }), (name, fn) => Deno.test(name, fn));
 * ```
 *
 * @module
 */
import type {
  RtcAdapter,
  RtcDataChannel,
  RtcMessage,
  RtcPeerConnection,
  RtcPeerConnectionState,
} from "../core/rtc.ts";

/** What the suite runs against. */
export interface RtcContractSetup {
  /** The offering side's adapter (the host). */
  host: RtcAdapter;
  /** The answering side's adapter (the viewer); default: `host`. */
  viewer?: RtcAdapter;
  /** Called once both peers are closed: throws if anything of them is still running. */
  assertQuiet?(): void | Promise<void>;
  /** Bound of each test, in ms; default 15 000. */
  timeoutMs?: number;
  /** The host gives out its candidates only once the answer is applied (libdatachannel). */
  hostHoldsCandidates?: boolean;
}

/** Registers one named test (`Deno.test`, or a page's own runner). */
export type RtcTestRegistrar = (name: string, fn: () => Promise<void>) => void;

/** Deno's op and resource sanitizers are off by default since Deno 2; the contract's
 * "nothing left running" checks need them on, so its tests register through this. */
export function sanitizedTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
}

/** A negotiated pair with its open channel, from {@linkcode connectPair}. */
export interface RtcPair {
  /** The offering peer. */
  host: RtcPeerConnection;
  /** The answering peer. */
  viewer: RtcPeerConnection;
  /** The channel the host created. */
  hostChannel: RtcDataChannel;
  /** The same channel as the viewer received it. */
  viewerChannel: RtcDataChannel;
  /** Candidates each side trickled, and whether it signalled end-of-candidates. */
  trickled: { host: number; viewer: number; hostEnded: boolean; viewerEnded: boolean };
  /** Closes both peers. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode connectPair}. */
export interface ConnectPairOptions {
  /** Aborts the negotiation (the peers are closed). */
  signal?: AbortSignal;
  /** The channel label; default `"shoal"`. */
  label?: string;
  /** Give each side every candidate of the other before its remote description (the
   * viewer's to the host always; the host's to the viewer unless `hostHoldsCandidates`). */
  candidatesFirst?: boolean;
  /** The host gives out its candidates only once the answer is applied. */
  hostHoldsCandidates?: boolean;
}

/** Resolves with the next value `subscribe` reports (that `filter` accepts). */
export function nextEvent<T>(
  subscribe: (listener: (value: T) => void) => () => void,
  options: { signal?: AbortSignal; filter?: (value: T) => boolean } = {},
): Promise<T> {
  const { signal, filter } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      off();
      reject(signal!.reason);
    };
    const off = subscribe((value) => {
      if (filter && !filter(value)) return;
      off();
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves when `channel` is open (at once if it already is). */
export function channelOpen(channel: RtcDataChannel, signal?: AbortSignal): Promise<void> {
  if (channel.readyState === "open") return Promise.resolve();
  return nextEvent<void>((fn) => channel.on("open", fn), { signal });
}

/** Resolves when `pc.connectionState` is `state` (at once if it already is). */
export function connectionState(
  pc: RtcPeerConnection,
  state: RtcPeerConnectionState,
  signal?: AbortSignal,
): Promise<unknown> {
  if (pc.connectionState === state) return Promise.resolve();
  return nextEvent((fn) => pc.on("connectionstatechange", fn), {
    signal,
    filter: (s) => s === state,
  });
}

/** Negotiates a host (offerer) and a viewer (answerer) with trickle ICE until both ends of
 * the host's channel are open. */
export async function connectPair(
  hostRtc: RtcAdapter,
  viewerRtc: RtcAdapter,
  options: ConnectPairOptions = {},
): Promise<RtcPair> {
  const { signal } = options;
  const host = hostRtc.createPeerConnection({ iceServers: [] });
  const viewer = viewerRtc.createPeerConnection({ iceServers: [] });
  const close = async () => void await Promise.all([host.close(), viewer.close()]);
  const trickled = { host: 0, viewer: 0, hostEnded: false, viewerEnded: false };
  let failure: unknown;
  const relay = (from: RtcPeerConnection, to: RtcPeerConnection, side: "host" | "viewer") => {
    let chain = Promise.resolve();
    let hold = !!options.candidatesFirst && (side === "viewer" || !options.hostHoldsCandidates);
    const held: Parameters<RtcPeerConnection["addIceCandidate"]>[0][] = [];
    from.on("icecandidate", (c) => {
      if (c) trickled[side]++;
      else trickled[side === "host" ? "hostEnded" : "viewerEnded"] = true;
      held.push(c);
      if (hold) return;
      chain = chain.then(() => to.addIceCandidate(held.shift()!)).catch((e) => failure ??= e);
    });
    return () => {
      hold = false;
      for (const c of held.splice(0)) {
        chain = chain.then(() => to.addIceCandidate(c)).catch((e) => failure ??= e);
      }
      return chain;
    };
  };
  try {
    const releaseHost = relay(host, viewer, "host");
    const releaseViewer = relay(viewer, host, "viewer");
    const hostChannel = host.createDataChannel(options.label ?? "shoal");
    const hostOpen = channelOpen(hostChannel, signal);
    const viewerChannel = nextEvent<RtcDataChannel>((fn) => viewer.on("datachannel", fn), {
      signal,
    });
    // Awaited later, or not at all when an earlier step fails: never an unhandled rejection.
    for (const p of [hostOpen, viewerChannel]) p.catch(() => {});
    const offer = await host.createOffer({ signal });
    const hostGathered = nextEvent((fn) => host.on("icecandidate", fn), {
      signal,
      filter: (c) => c === null,
    });
    await host.setLocalDescription(offer, { signal });
    const early = options.candidatesFirst && !options.hostHoldsCandidates;
    if (early) {
      if (!trickled.hostEnded) await hostGathered;
      await releaseHost();
    } else hostGathered.catch(() => {});
    await viewer.setRemoteDescription(offer, { signal });
    const answer = await viewer.createAnswer({ signal });
    const viewerGathered = nextEvent((fn) => viewer.on("icecandidate", fn), {
      signal,
      filter: (c) => c === null,
    });
    await viewer.setLocalDescription(answer, { signal });
    if (options.candidatesFirst) {
      if (!trickled.viewerEnded) await viewerGathered;
      await releaseViewer();
    } else viewerGathered.catch(() => {});
    await host.setRemoteDescription(answer, { signal });
    const channel = await viewerChannel;
    await Promise.all([hostOpen, channelOpen(channel, signal)]);
    if (failure) throw failure;
    return {
      host,
      viewer,
      hostChannel,
      viewerChannel: channel,
      trickled,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Negotiates a pair on `rtc` up to each stage of a handshake in turn ("created", "offered",
 * "answered", "checking": ICE under way, "open") and closes both there; the caller's sanitizers
 * say whether anything was left running. */
export async function closeAtEveryStage(rtc: RtcAdapter): Promise<void> {
  const stages = ["created", "offered", "answered", "checking", "open"] as const;
  for (const stage of stages) {
    const host = rtc.createPeerConnection({ iceServers: [] });
    const viewer = rtc.createPeerConnection({ iceServers: [] });
    host.on("icecandidate", (c) => void viewer.addIceCandidate(c).catch(() => {}));
    viewer.on("icecandidate", (c) => void host.addIceCandidate(c).catch(() => {}));
    const channel = host.createDataChannel("shoal");
    const open = channelOpen(channel, AbortSignal.timeout(10_000)).catch(() => {});
    try {
      if (stage === "created") continue;
      const offer = await host.createOffer();
      await host.setLocalDescription(offer);
      await viewer.setRemoteDescription(offer);
      if (stage === "offered") continue;
      const answer = await viewer.createAnswer();
      await viewer.setLocalDescription(answer);
      if (stage === "answered") continue;
      await host.setRemoteDescription(answer);
      if (stage === "open") await open;
    } finally {
      await Promise.all([host.close(), viewer.close()]);
    }
    _equal(channel.readyState, "closed", `${stage}: channel closed with its connection`);
  }
}

/** Sends `frames` in order, waiting for `bufferedamountlow` whenever `bufferedAmount` has
 * reached `highWater`; `lowWater` becomes the channel's threshold. */
export async function sendWithBackpressure(
  channel: RtcDataChannel,
  frames: Iterable<RtcMessage>,
  options: { highWater: number; lowWater: number; signal?: AbortSignal },
): Promise<void> {
  channel.bufferedAmountLowThreshold = options.lowWater;
  for (const frame of frames) {
    if (channel.bufferedAmount >= options.highWater) {
      await nextEvent<void>((fn) => channel.on("bufferedamountlow", fn), options);
    }
    channel.send(frame);
  }
}

/** Collects `count` messages from `channel`. */
export function collect(
  channel: RtcDataChannel,
  count: number,
  signal?: AbortSignal,
): Promise<RtcMessage[]> {
  const got: RtcMessage[] = [];
  return nextEvent<RtcMessage>((fn) => channel.on("message", fn), {
    signal,
    filter: (m) => got.push(m) === count,
  }).then(() => got);
}

/** Resolves once `check()` holds (polled every 10 ms); rejects when `signal` aborts first. */
async function _until(check: () => boolean, signal: AbortSignal): Promise<void> {
  while (!check()) {
    if (signal.aborted) throw signal.reason;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function _ok(value: unknown, message: string): asserts value {
  if (!value) throw new Error(`assertion failed: ${message}`);
}

function _equal<T>(actual: T, expected: T, message: string): void {
  if (!Object.is(actual, expected)) {
    throw new Error(`${message}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

function _sameBytes(actual: RtcMessage, expected: Uint8Array, message: string): void {
  _ok(actual instanceof Uint8Array && actual.constructor === Uint8Array, `${message}: Uint8Array`);
  _equal(actual.byteLength, expected.byteLength, `${message}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`${message}: byte ${i} differs`);
  }
}

async function _rejects(p: Promise<unknown>, check: (e: unknown) => boolean, message: string) {
  try {
    await p;
  } catch (error) {
    _ok(check(error), `${message}: wrong error ${String(error)}`);
    return;
  }
  throw new Error(`${message}: did not reject`);
}

function _throws(fn: () => unknown, name: string, message: string): void {
  try {
    fn();
  } catch (error) {
    _equal((error as Error).name, name, message);
    return;
  }
  throw new Error(`${message}: did not throw`);
}

function _bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

function _frames(payload: Uint8Array, size: number): Uint8Array[] {
  const frames = [];
  for (let at = 0; at < payload.length; at += size) frames.push(payload.subarray(at, at + size));
  return frames;
}

const KiB = 1024;

/** Registers the contract tests for one adapter (pair), each named `"<name>: <behaviour>"`. */
export function rtcContract(
  name: string,
  setup: () => RtcContractSetup | Promise<RtcContractSetup>,
  test: RtcTestRegistrar,
): void {
  const it = (
    behaviour: string,
    body: (s: Required<RtcContractSetup>, signal: AbortSignal) => Promise<void>,
  ) => {
    test(`${name}: ${behaviour}`, async () => {
      const s = await setup();
      const full = {
        viewer: s.host,
        assertQuiet: () => {},
        timeoutMs: 15_000,
        hostHoldsCandidates: false,
        ...s,
      };
      await body(full, AbortSignal.timeout(full.timeoutMs));
      await full.assertQuiet();
    });
  };
  const pairOf = (s: Required<RtcContractSetup>, signal: AbortSignal, o: ConnectPairOptions = {}) =>
    connectPair(s.host, s.viewer, { signal, hostHoldsCandidates: s.hostHoldsCandidates, ...o });

  it("a pair negotiates with trickle ICE and opens a channel", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const { trickled } = pair;
    _ok(trickled.host > 0 && trickled.viewer > 0, "both sides trickled candidates");
    // Gathering may end after the channel is open (Chromium registering its mDNS names).
    await _until(() => trickled.hostEnded && trickled.viewerEnded, signal);
    _ok(trickled.hostEnded && trickled.viewerEnded, "both sides ended their candidates");
    _equal(pair.viewerChannel.label, "shoal", "label");
    _equal(pair.hostChannel.readyState, "open", "host channel");
    _equal(pair.viewerChannel.readyState, "open", "viewer channel");
    await connectionState(pair.host, "connected", signal);
    await connectionState(pair.viewer, "connected", signal);
    _ok(["connected", "completed"].includes(pair.host.iceConnectionState), "host ICE connected");
  });

  it(
    "candidates that arrive before the remote description are applied after it",
    async (s, signal) => {
      await using pair = await pairOf(s, signal, { candidatesFirst: true });
      _equal(pair.viewerChannel.readyState, "open", "viewer channel");
    },
  );

  it("text and binary messages round-trip intact", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const text = "héllo, wörld ✓ 🐟 \u0000 end";
    const bytes = _bytes(1000);
    const view = bytes.subarray(100, 700); // a view: only its bytes travel
    const echo = pair.viewerChannel.on("message", (m) => pair.viewerChannel.send(m));
    const back = collect(pair.hostChannel, 3, signal);
    pair.hostChannel.send(text);
    pair.hostChannel.send(bytes);
    pair.hostChannel.send(view);
    const [t, b, v] = await back;
    echo();
    _equal(t, text, "text");
    _sameBytes(b, bytes, "binary");
    _sameBytes(v, bytes.slice(100, 700), "binary view");
  });

  it("a 1 MiB payload in 16 KiB frames arrives whole and in order", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const payload = _bytes(1024 * KiB, 7);
    const frames = _frames(payload, 16 * KiB);
    const got = collect(pair.viewerChannel, frames.length, signal);
    await sendWithBackpressure(pair.hostChannel, frames, {
      highWater: 256 * KiB,
      lowWater: 64 * KiB,
      signal,
    });
    const received = await got;
    const whole = new Uint8Array(payload.length);
    let at = 0;
    for (const frame of received) {
      _ok(frame instanceof Uint8Array && frame.byteLength === 16 * KiB, "frame size");
      whole.set(frame, at);
      at += frame.byteLength;
    }
    _sameBytes(whole, payload, "payload");
  });

  it("bufferedAmount rises and the low-threshold event fires", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const channel = pair.hostChannel;
    channel.bufferedAmountLowThreshold = 32 * KiB;
    _equal(channel.bufferedAmountLowThreshold, 32 * KiB, "threshold");
    const frames = _frames(_bytes(512 * KiB, 3), 16 * KiB);
    const got = collect(pair.viewerChannel, frames.length, signal);
    const low = nextEvent<void>((fn) => channel.on("bufferedamountlow", fn), { signal });
    for (const frame of frames) channel.send(frame);
    _ok(channel.bufferedAmount >= 512 * KiB, `bufferedAmount rose (${channel.bufferedAmount})`);
    await low;
    _ok(channel.bufferedAmount <= 32 * KiB, `bufferedAmount fell (${channel.bufferedAmount})`);
    _equal((await got).length, frames.length, "frames delivered");
  });

  it("send refuses empty messages and channels that are not open", async (s, signal) => {
    const pc = s.host.createPeerConnection({ iceServers: [] });
    const early = pc.createDataChannel("early");
    _throws(() => early.send("x"), "InvalidStateError", "send before open");
    await pc.close();
    _equal(early.readyState, "closed", "closed with its connection");
    await using pair = await pairOf(s, signal);
    _throws(() => pair.hostChannel.send(""), "TypeError", "empty text");
    _throws(() => pair.hostChannel.send(new Uint8Array(0)), "TypeError", "empty binary");
    await pair.host.close();
    _throws(() => pair.hostChannel.send("x"), "InvalidStateError", "send after close");
  });

  it("closing the channel on one side is seen by the other", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const closed = nextEvent<void>((fn) => pair.viewerChannel.on("close", fn), { signal });
    const hostClosed = nextEvent<void>((fn) => pair.hostChannel.on("close", fn), { signal });
    pair.hostChannel.close();
    await Promise.all([closed, hostClosed]);
    _equal(pair.viewerChannel.readyState, "closed", "viewer channel");
    _equal(pair.hostChannel.readyState, "closed", "host channel");
  });

  it("closing one peer connection closes the channel on the other", async (s, signal) => {
    await using pair = await pairOf(s, signal);
    const closed = nextEvent<void>((fn) => pair.viewerChannel.on("close", fn), { signal });
    let fired = 0;
    pair.hostChannel.on("close", () => fired++);
    pair.host.on("connectionstatechange", () => fired++);
    await pair.host.close();
    _equal(pair.host.connectionState, "closed", "host state");
    _equal(pair.hostChannel.readyState, "closed", "host channel");
    await closed;
    _equal(fired, 0, "no event after a local close()");
  });

  it(
    "close() is idempotent, rejects pending operations and leaves nothing running",
    async (s, signal) => {
      const pc = s.host.createPeerConnection({ iceServers: [] });
      pc.createDataChannel("shoal");
      const isClosed = (e: unknown) => (e as Error).name === "InvalidStateError";
      const pending = _rejects(pc.createOffer(), isClosed, "operation pending at close");
      await Promise.all([pc.close(), pc.close()]);
      await pc.close();
      await pending;
      await _rejects(pc.createOffer(), isClosed, "operation after close");
      const pair = await pairOf(s, signal);
      await Promise.all([pair.close(), pair.close(), pair.viewer.close()]);
      _equal(pair.viewer.connectionState, "closed", "viewer state");
    },
  );

  it("a relay-only peer connection without a TURN server reveals no address", async (s) => {
    await using pc = s.host.createPeerConnection({ iceServers: [], iceTransportPolicy: "relay" });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      pc.on("icecandidate", (c) => c ? seen.push(c.candidate) : resolve());
    });
    pc.createDataChannel("shoal");
    await pc.setLocalDescription(await pc.createOffer());
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([ended, new Promise((r) => timer = setTimeout(r, 3_000))]);
    clearTimeout(timer);
    _equal(seen.length, 0, `candidates offered: ${seen.join(" | ")}`);
  });

  it("an aborted signal rejects an operation with its reason", async (s) => {
    await using pc = s.host.createPeerConnection({ iceServers: [] });
    pc.createDataChannel("shoal");
    const reason = new Error("stop");
    await _rejects(
      pc.createOffer({ signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
      "abort",
    );
    const offer = await pc.createOffer();
    const controller = new AbortController();
    const applying = pc.setLocalDescription(offer, { signal: controller.signal });
    controller.abort(reason);
    await _rejects(applying, (e) => e === reason, "abort while pending");
  });
}
