/**
 * werift pair benchmark (`deno task bench:rtc`): time to open a data channel for one pair,
 * for 20 pairs one after another and for 20 at once in one process, and one-way throughput
 * of one pair in 16 KiB frames with backpressure on `bufferedAmount`. Each figure is the
 * median of 5 runs; ICE runs on 127.0.0.1.
 *
 * @module
 */
import { werift } from "../adapters/werift.ts";
import type { RtcMessage } from "../core/rtc.ts";
import {
  connectPair,
  nextEvent,
  type RtcPair,
  sendWithBackpressure,
} from "../tests/rtc_contract.ts";

const RUNS = 5;
const PAIRS = 20;
const FRAME = 16 * 1024;
const TRANSFER = 32 * 1024 * 1024;
const rtc = werift({ interfaceAddresses: { udp4: "127.0.0.1" } });
const timeout = () => AbortSignal.timeout(60_000);

function _median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function _timedPair(): Promise<{ pair: RtcPair; ms: number }> {
  const start = performance.now();
  const pair = await connectPair(rtc, rtc, { signal: timeout() });
  return { pair, ms: performance.now() - start };
}

async function _closeAll(pairs: RtcPair[]): Promise<void> {
  await Promise.all(pairs.map((p) => p.close()));
}

async function _onePair(): Promise<number> {
  const { pair, ms } = await _timedPair();
  await pair.close();
  return ms;
}

async function _sequential(): Promise<{ total: number; each: number }> {
  const start = performance.now();
  const opened = [];
  for (let i = 0; i < PAIRS; i++) opened.push(await _timedPair());
  const total = performance.now() - start;
  await _closeAll(opened.map((o) => o.pair));
  return { total, each: _median(opened.map((o) => o.ms)) };
}

async function _concurrent(): Promise<{ total: number; slowest: number }> {
  const start = performance.now();
  const opened = await Promise.all(Array.from({ length: PAIRS }, _timedPair));
  const total = performance.now() - start;
  await _closeAll(opened.map((o) => o.pair));
  return { total, slowest: Math.max(...opened.map((o) => o.ms)) };
}

async function _throughput(): Promise<number> {
  const { pair } = await _timedPair();
  try {
    const signal = timeout();
    let received = 0;
    const done = nextEvent<RtcMessage>((fn) => pair.viewerChannel.on("message", fn), {
      signal,
      filter: (m) => (received += m.length) >= TRANSFER,
    });
    const frame = new Uint8Array(FRAME).fill(7);
    const frames = Array.from({ length: TRANSFER / FRAME }, () => frame);
    const start = performance.now();
    await sendWithBackpressure(pair.hostChannel, frames, {
      highWater: 1024 * 1024,
      lowWater: 256 * 1024,
      signal,
    });
    await done;
    return TRANSFER / 1024 / 1024 / ((performance.now() - start) / 1000);
  } finally {
    await pair.close();
  }
}

async function _runs<T>(label: string, fn: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < RUNS; i++) results.push(await fn());
  console.error(`  ${label}: ${RUNS} runs done`);
  return results;
}

const cold = await _onePair(); // includes werift's one-off certificate generation
const one = await _runs("one pair", _onePair);
const seq = await _runs(`${PAIRS} sequential`, _sequential);
const par = await _runs(`${PAIRS} concurrent`, _concurrent);
const mbps = await _runs("throughput", _throughput);

const ms = (n: number) => `${n.toFixed(0)} ms`;
console.log(
  `werift pair on 127.0.0.1, median of ${RUNS} runs (${navigator.hardwareConcurrency} CPUs)`,
);
console.table({
  "one pair: open (first pair in the process)": ms(cold),
  "one pair: open": ms(_median(one)),
  [`${PAIRS} pairs one after another: all open`]: ms(_median(seq.map((r) => r.total))),
  [`${PAIRS} pairs one after another: each`]: ms(_median(seq.map((r) => r.each))),
  [`${PAIRS} pairs at once: all open`]: ms(_median(par.map((r) => r.total))),
  [`${PAIRS} pairs at once: slowest pair`]: ms(_median(par.map((r) => r.slowest))),
  "one pair: one-way throughput, 16 KiB frames": `${_median(mbps).toFixed(1)} MiB/s`,
});
