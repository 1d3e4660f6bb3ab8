/**
 * Chromium join benchmark: N `Viewer`s inside headless Chromium (native WebRTC, one page, or
 * `--pages P` pages in the same browser) join a host (werift or libdatachannel, `--rtc`) in
 * this process at once, R times. Each run gets a fresh signaling server, host and page; the browser is shared.
 * Prints per run the host-side all-ready time (the host's first `peer` event `queued` to
 * its last `ready`, as in bench/join.ts and cli/loadrun.ts), the wall time (from the call
 * to the page's `start()` to the host's last `ready`), the in-page time (the page's
 * `start()` to its last viewer `ready`), handshake outcomes by phase, failures, host
 * warnings and the CPU each process took during the join; then min/median/max. Exits 1 when
 * any viewer never became ready.
 *
 *   deno run -A --v8-flags=--max-semi-space-size=8 bench/chromium_join.ts [--viewers 100]
 *     [--runs 5] [--cap 32] [--ceiling 64] [--pages 1] [--own-ports] [--timeout 60] [--json FILE]
 *
 * (`deno task bench:chromium …`). Needs Debian's /usr/bin/chromium (or `SHOAL_CHROMIUM`).
 *
 * All viewers in one browser is not 100 users: Chromium delays a renderer's new WebSocket
 * by rand(1–5 s)·2^min(pending, 16)/65536 (`WebSocketPerProcessThrottler`; 1–5 s each once
 * ~16 are connecting), and lets one WebSocket per IP:port be connecting at a time
 * browser-wide, 10 ms apart (`WebSocketEndpointLockManager`). The page times its session
 * lookups and WebSocket opens so this shows. `--pages P` splits the viewers over P pages
 * (one renderer each); `--own-ports` also loads each page (and so its lookups and
 * WebSockets) through its own TCP proxy port (tests/_tcp_proxy.ts, in this process) to the
 * one signaling server.
 *
 * @module
 */
import { configure, type LogRecord } from "@logtape/logtape";
import type { Page } from "playwright-core";
import { flagTable, HELP_FLAG, helpText, intValue, parseFlags } from "../cli/flags.ts";
import { RTC_FLAG, rtcAdapter } from "../cli/common.ts";
import { Host } from "../core/host.ts";
import { Chromium } from "../tests/_chromium.ts";
import { TcpProxy } from "../tests/_tcp_proxy.ts";
import { webServer } from "../tests/_web.ts";
import type { BenchPage, BenchPageStatus } from "./_chromium_viewers_page.ts";

const FLAGS = flagTable({
  viewers: { type: "int", help: "viewers in all", default: 100, min: 1, max: 10_000 },
  runs: { type: "int", help: "runs", default: 5, min: 1, max: 1_000 },
  cap: { type: "int", help: "handshakes in flight at first", default: 32, min: 1, max: 10_000 },
  // Its bounds depend on --cap: checked below.
  ceiling: { type: "string", help: "the cap grows up to this (default: 64 or --cap if more)" },
  // At most --viewers: checked below.
  pages: { type: "string", help: "pages the viewers are split over", default: "1" },
  "own-ports": {
    type: "boolean",
    help: "load each page through its own TCP proxy port (see the module doc)",
  },
  timeout: { type: "int", help: "seconds a run may take", default: 60, min: 1, max: 3_600 },
  json: { type: "string", help: "write the results here" },
  ...RTC_FLAG,
  ...HELP_FLAG,
});
const { values: flags } = parseFlags(Deno.args, FLAGS);
if (flags.help) {
  console.log(helpText("deno task bench:chromium [flags]", FLAGS));
  Deno.exit(0);
}
const { viewers, runs, cap } = flags;
const ceiling = flags.ceiling === undefined
  ? Math.max(64, cap)
  : intValue(flags.ceiling, "ceiling", cap, 10_000);
const pages = intValue(flags.pages, "pages", 1, viewers);
const timeoutMs = flags.timeout * 1000;
const ownPorts = flags["own-ports"];

const PAGE = new URL("./_chromium_viewers_page.ts", import.meta.url);
type _G = { shoalBench: BenchPage };

// Host warnings and errors (a failed handshake attempt says why), collected per run.
const warnings: string[] = [];
await configure({
  reset: true,
  sinks: {
    collect: (r: LogRecord) => {
      const text = r.message.map((p) => typeof p === "string" ? p : JSON.stringify(p)).join("");
      const { error, attempt, willRetry } = r.properties as Record<string, unknown>;
      const extra = error === undefined
        ? ""
        : ` (attempt ${attempt}, retry ${willRetry}: ${error})`;
      warnings.push(`${r.level} ${r.category.join(".")}: ${text}${extra}`);
    },
  },
  loggers: [
    { category: ["shoal"], lowestLevel: "warning", sinks: ["collect"] },
    { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["collect"] },
  ],
});

// ---- CPU: jiffies of this process, of its Chromium processes by type, of the machine ----

const HZ = 100;
/** Chromium processes by type at the last {@linkcode cpuTicks}. */
const processes = new Map<string, number>();

function _stat(pid: string): { ppid: string; ticks: number } | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[n - 3] is field n
    return { ppid: f[1], ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

function _chromiumKind(pid: string): string | undefined {
  try {
    // Chromium rewrites its title: one string of space-separated arguments, not NUL-separated.
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split(/[\0 ]/);
    if (!/chrom/i.test(argv[0] ?? "")) return undefined;
    const type = argv.find((a) => a.startsWith("--type="))?.slice(7);
    if (!type) return "browser";
    if (type === "utility") {
      const sub = argv.find((a) => a.startsWith("--utility-sub-type="))?.slice(19) ?? "";
      return sub.includes("NetworkService") ? "network" : "utility";
    }
    return type === "gpu-process" ? "gpu" : type;
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks so far: `host` (this process: host, signaling server, playwright), its Chromium
 * processes by type and `machine` (busy, all cores).
 */
function cpuTicks(): Map<string, number> {
  const out = new Map<string, number>();
  processes.clear();
  const parent = new Map<string, string>();
  const ticks = new Map<string, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = _stat(e.name);
    if (!s) continue;
    parent.set(e.name, s.ppid);
    ticks.set(e.name, s.ticks);
  }
  const me = String(Deno.pid);
  const mine = (pid: string) => {
    for (let p: string | undefined = parent.get(pid), n = 0; p && n < 50; p = parent.get(p), n++) {
      if (p === me) return true;
    }
    return false;
  };
  out.set("host", ticks.get(me) ?? 0);
  for (const [pid, t] of ticks) {
    if (pid === me || !mine(pid)) continue;
    const kind = _chromiumKind(pid);
    if (!kind) continue;
    out.set(kind, (out.get(kind) ?? 0) + t);
    processes.set(kind, (processes.get(kind) ?? 0) + 1);
  }
  const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  out.set("machine", total - cpu[3] - cpu[4]);
  return out;
}

/** Percent of one core each process kind took between two samples `ms` apart; `other`: the machine less ours. */
function cpuPercent(a: Map<string, number>, b: Map<string, number>, ms: number) {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const pct = ((v - (a.get(k) ?? 0)) / HZ) / (ms / 1000) * 100;
    if (pct >= 1 || k === "host" || k === "machine") out[k] = Math.round(pct);
  }
  const ours = Object.entries(out).reduce((n, [k, v]) => k === "machine" ? n : n + v, 0);
  out.other = Math.max(0, out.machine - ours);
  return out;
}

// ---- helpers ----

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
};
const finite = (xs: number[]) => xs.filter(Number.isFinite);

function pageStatus(page: Page): Promise<BenchPageStatus> {
  return bounded(
    page.evaluate(() => (globalThis as unknown as _G).shoalBench.status()),
    10_000,
    "page status",
  );
}

/** One run's figures. */
interface RunResult {
  run: number;
  hostAllReadyMs: number;
  wallMs: number;
  pageAllReadyMs: number;
  hostReady: number;
  pageReady: number;
  neverReady: number;
  failedHandshakes: number;
  outcomes: Record<string, number>;
  finalCap: number;
  /** The host's first to last `queued` of a new viewer, ms: how spread out the joins arrived. */
  joinSpreadMs: number;
  /** Join to ready per viewer, as the host's histogram says, p50 and max. */
  timeToReadyP50: number;
  timeToReadyMax: number;
  cpu: Record<string, number>;
  warnings: number;
  pageReports: number;
  peerConnections: number;
}

async function run(browser: Chromium, r: number): Promise<RunResult> {
  warnings.length = 0;
  const reportsBefore = browser.report.length;
  await using server = await webServer({
    testPages: { "bench-viewers": PAGE },
    server: { addressLimits: { socketsPerAddress: 0 } }, // every viewer is on 127.0.0.1
  });
  const host = await Host.start({
    rtc: await rtcAdapter(flags.rtc, "127.0.0.1"),
    server: server.url,
    maxViewers: Math.max(256, viewers),
    maxPeers: Math.max(128, viewers),
    maxConcurrentHandshakes: cap,
    maxConcurrentHandshakesCeiling: ceiling,
  });
  const opened: Page[] = [];
  const proxies: TcpProxy[] = [];
  try {
    let firstQueuedAt: number | undefined;
    let lastReadyAt: number | undefined;
    let lastJoinAt: number | undefined;
    let allReady!: () => void;
    const allReadyP = new Promise<void>((resolve) => allReady = resolve);
    // `readyCount` grows just after the `ready` event, so count the events (per viewer).
    const ready = new Set<string>();
    const timelines = new Map<string, { label: string; at: Array<[string, number]> }>();
    host.on("peer", (p) => {
      const now = performance.now();
      if (p.state === "queued") {
        firstQueuedAt ??= now;
        if (!timelines.has(p.peerId)) lastJoinAt = now;
      }
      const t = timelines.get(p.peerId) ?? { label: p.label, at: [] };
      timelines.set(p.peerId, t);
      t.at.push([p.state, now]);
      if (p.state === "ready") {
        lastReadyAt = now;
        ready.add(p.peerId);
        if (ready.size >= viewers) allReady();
      } else ready.delete(p.peerId);
    });

    for (let k = 0; k < pages; k++) {
      const page = await browser.page();
      opened.push(page);
      let origin = server.url;
      if (ownPorts) {
        const proxy = new TcpProxy([Number(new URL(server.url).port)]);
        proxies.push(proxy);
        origin = proxy.url;
      }
      await page.goto(`${origin}/test/bench-viewers`);
      await page.waitForFunction(() => "shoalBench" in globalThis, null, { timeout: 15_000 });
    }
    const cpu0 = cpuTicks();
    const started = performance.now();
    const deadline = started + timeoutMs;
    const startErrors: string[] = [];
    const starts = opened.map((page, k) => {
      const count = Math.floor(viewers / pages) + (k < viewers % pages ? 1 : 0);
      return page.evaluate(
        (o) => (globalThis as unknown as _G).shoalBench.start(o),
        {
          sessionId: host.session.sessionId,
          joinCode: host.joinCode!,
          count,
          prefix: `chromium-${k}-`,
        },
      ).catch((e) => void startErrors.push(String(e)));
    });

    // Wait for the host's last ready; every 2 s see whether it is hopeless.
    let hostDone = false;
    void allReadyP.then(() => hostDone = true);
    while (!hostDone && performance.now() < deadline) {
      await Promise.race([allReadyP, sleep(Math.min(2_000, deadline - performance.now()))]);
      if (hostDone) break;
      const statuses = await Promise.all(opened.map(pageStatus)).catch(() => []);
      const live = statuses.some((s) =>
        (s.states.joining ?? 0) + (s.states.waiting ?? 0) + (s.states.connecting ?? 0) > 0
      );
      const { queued, negotiating, open } = host.metrics().states;
      // Every viewer ready or gone on the page and nothing left in flight on the host: hopeless.
      if (statuses.length === opened.length && !live && queued + negotiating + open === 0) break;
    }
    const cpu1 = cpuTicks();
    const wallMs = hostDone ? Math.round(lastReadyAt! - started) : NaN;
    const cpu = cpuPercent(cpu0, cpu1, performance.now() - started);
    const m = host.metrics();
    const hostReady = ready.size;

    // The pages' own view: wait (bounded) until they also see every viewer ready.
    let statuses: BenchPageStatus[] = [];
    const pageDeadline = Math.min(deadline, performance.now() + 10_000);
    do {
      statuses = await Promise.all(opened.map(pageStatus));
      if (statuses.every((s) => s.allReadyMs !== undefined)) break;
      await sleep(100);
    } while (hostDone && performance.now() < pageDeadline);
    if (hostDone) await bounded(Promise.all(starts), 5_000, "start()").catch(() => {});

    const pageReady = statuses.reduce((n, s) => n + s.ready, 0);
    const failedHandshakes = Object.entries(m.outcomes)
      .filter(([k]) => k !== "ready").reduce((n, [, v]) => n + v, 0);
    const pageAllReadyMs = statuses.every((s) => s.allReadyMs !== undefined)
      ? Math.max(...statuses.map((s) => s.allReadyMs!))
      : NaN;
    const perViewer = statuses.flatMap((s) => s.readyMs).sort((a, b) => a - b);
    const result: RunResult = {
      run: r,
      hostAllReadyMs: hostDone ? Math.round(lastReadyAt! - firstQueuedAt!) : NaN,
      wallMs,
      pageAllReadyMs,
      hostReady,
      pageReady,
      neverReady: viewers - hostReady,
      failedHandshakes,
      outcomes: m.outcomesByPhase,
      finalCap: m.handshakes.concurrency,
      joinSpreadMs: Math.round(lastJoinAt! - firstQueuedAt!),
      timeToReadyP50: Math.round(m.timeToReadyMs.p50),
      timeToReadyMax: Math.round(m.timeToReadyMs.max),
      cpu,
      warnings: warnings.length,
      pageReports: browser.report.length - reportsBefore,
      peerConnections: statuses.reduce((n, s) => n + s.peerConnections, 0),
    };
    console.log(
      `run ${r}: host-side all ready ${result.hostAllReadyMs} ms, wall ${wallMs} ms, ` +
        `in page ${pageAllReadyMs} ms (per viewer p50 ${perViewer[perViewer.length >> 1]}, ` +
        `max ${perViewer.at(-1)} ms); ready host ${hostReady}/${viewers}, page ${pageReady}; ` +
        `outcomes ${
          Object.entries(m.outcomesByPhase).map(([k, v]) => `${k} ${v}`).join(", ")
        }; failed handshakes ${failedHandshakes}, never ready ${result.neverReady}; ` +
        `joins reached the host over ${result.joinSpreadMs} ms; host join→ready p50 ${result.timeToReadyP50}, ` +
        `max ${result.timeToReadyMax} ms; final cap ${result.finalCap}; ` +
        `peer connections ${result.peerConnections}; chromium processes ${
          [...processes].map(([k, v]) => `${k} ${v}`).join(", ")
        }; ` +
        `CPU % of a core during the join: ${
          Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(", ")
        }`,
    );
    const notes = [
      ...startErrors.map((e) => `start(): ${e}`),
      ...statuses.flatMap((s) => s.errors.map((e) => `page: ${e}`)),
      ...warnings.slice(0, 8),
      ...(warnings.length > 8 ? [`… ${warnings.length - 8} more host warnings`] : []),
      ...browser.report.slice(reportsBefore, reportsBefore + 5).map((x) => `chromium ${x}`),
    ];
    // The slowest viewers, as the host and their page saw them (ms since the first join / start()).
    const slowest = [...timelines.values()]
      .map((t) => ({ ...t, last: t.at.findLast(([s]) => s === "ready")?.[1] ?? Infinity }))
      .sort((a, b) => b.last - a.last).slice(0, 3);
    const seen = await Promise.all(opened.map((page) =>
      bounded(
        page.evaluate(
          (l) => (globalThis as unknown as _G).shoalBench.timelines(l),
          slowest.map((t) => t.label),
        ),
        10_000,
        "timelines",
      ).catch(() => ({} as Record<string, string>))
    ));
    for (const t of slowest) {
      const byHost = t.at.map(([s, at]) => `${s} ${Math.round(at - firstQueuedAt!)}`).join(", ");
      const byPage = seen.map((x) => x[t.label]).find((x) => x) ?? "?";
      notes.push(`slow ${t.label}: host ${byHost}; page ${byPage}`);
    }
    if (!hostDone) {
      notes.push(`host states ${JSON.stringify(m.states)}`);
      for (const page of opened) {
        const stuck = await bounded(
          page.evaluate(() => (globalThis as unknown as _G).shoalBench.diagnose()),
          10_000,
          "diagnose",
        ).catch((e) => [String(e)]);
        notes.push(...stuck.slice(0, 10).map((s) => `stuck ${s}`));
      }
    }
    const span = (k: "fetches" | "sockets") =>
      statuses.map((s) => `${s[k].n} p50 ${s[k].p50} max ${s[k].max} last ${s[k].lastEnd}`)
        .join(" | ");
    notes.unshift(
      `page session lookups (ms): ${span("fetches")}; WebSocket opens (ms): ${span("sockets")}`,
    );
    for (const n of notes) console.log(`  ${n}`);
    return result;
  } finally {
    for (const page of opened) {
      await bounded(
        page.evaluate(() => (globalThis as unknown as _G).shoalBench.close()),
        10_000,
        "close viewers",
      ).catch(() => {});
      await bounded(page.close(), 10_000, "close page").catch(() => {});
    }
    await bounded(host.close(), 10_000, "close host").catch(() => {});
    for (const proxy of proxies) {
      await bounded(proxy.close(), 10_000, "close proxy").catch(() => {});
    }
  }
}

const browser = await Chromium.launch();
const results: RunResult[] = [];
try {
  console.log(
    `${viewers} Chromium viewers in ${pages} page(s)${
      ownPorts ? " each through its own proxy port" : ""
    }, cap ${cap}:${ceiling}, ${runs} run(s), ` +
      `${timeoutMs / 1000} s per run`,
  );
  for (let r = 1; r <= runs; r++) {
    results.push(await run(browser, r));
    await sleep(500); // let the closed page's connections go before the next run
  }
} finally {
  await bounded(browser.close(), 20_000, "close chromium").catch((e) => console.error(e));
}

const col = (f: (r: RunResult) => number) => finite(results.map(f));
const stats = (f: (r: RunResult) => number) => {
  const xs = col(f);
  return xs.length ? `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})` : "—";
};
const outcomes: Record<string, number> = {};
for (const r of results) {
  for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
}
const summary = {
  viewers,
  pages: `${pages}${ownPorts ? " own ports" : ""}`,
  cap: `${cap}:${ceiling}`,
  runs,
  "host all ready ms, median (min–max)": stats((r) => r.hostAllReadyMs),
  "wall ms": stats((r) => r.wallMs),
  "in page ms": stats((r) => r.pageAllReadyMs),
  "join spread ms": stats((r) => r.joinSpreadMs),
  "failed handshakes": results.reduce((n, r) => n + r.failedHandshakes, 0),
  "never ready": results.reduce((n, r) => n + r.neverReady, 0),
  outcomes: Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(", "),
};
console.table(
  results.map((r) => ({
    run: r.run,
    "host ms": r.hostAllReadyMs,
    "wall ms": r.wallMs,
    "page ms": r.pageAllReadyMs,
    "join spread ms": r.joinSpreadMs,
    "join→ready p50/max": `${r.timeToReadyP50}/${r.timeToReadyMax}`,
    "failed hs": r.failedHandshakes,
    "never ready": r.neverReady,
    "host cpu%": r.cpu.host,
    "chromium cpu%": Object.entries(r.cpu)
      .filter(([k]) => !["host", "machine", "other"].includes(k)).reduce((n, [, v]) => n + v, 0),
    "other cpu%": r.cpu.other,
    "machine cpu%": r.cpu.machine,
  })),
);
console.table([summary]);
if (flags.json !== undefined) {
  await Deno.writeTextFile(flags.json, JSON.stringify({ summary, results }, null, 2));
}
const hostMedian = median(col((r) => r.hostAllReadyMs));
const failures = summary["failed handshakes"] + summary["never ready"];
console.log(
  `target ≤ 1500 ms median, 0 failures: ${
    hostMedian <= 1500 && failures === 0 ? "met" : "missed"
  } (median ${hostMedian} ms, ${summary["failed handshakes"]} failed handshakes, ` +
    `${summary["never ready"]} viewers never ready)`,
);
Deno.exit(summary["never ready"] > 0 ? 1 : 0);
