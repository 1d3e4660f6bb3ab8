/**
 * Off-loopback benchmark (`deno task bench:net`, as root): N viewers behind a masquerading
 * NAT in a network namespace join a host in another (host and viewers on one stack: werift,
 * libdatachannel, or each in turn with `--rtc libdatachannel,werift`), directly or
 * through coturn (UDP between them dropped at the router), at each random UDP loss
 * (each way on the viewers' link). For each: time until all are ready (the slowest
 * viewer's join call to ready), delivery and order of a stream of sequenced lines, one-way
 * latency p50/p99 over every delivered line, viewers dropped or reconnected, and the host's
 * CPU (its process, during the join and during the stream). Modes and losses alternate in
 * every round; `--rounds` repeats them and medians are printed.
 *
 *   deno task bench:net --viewers 100 --rounds 3 --losses 0,2,5 --modes direct,turn
 *   deno task bench:net --recovery quick,stock   # the adapter's loss shims against werift's timers
 *   deno task bench:net --rtc libdatachannel,werift
 *
 * @module
 */
import { flagTable, parseFlags } from "../cli/flags.ts";
import { LAB, NetLab, netnsMissing } from "../tests/_netns.ts";
import { NetHost, netSwarm, startSignal } from "../tests/_net_stack.ts";
import type { Swarm } from "../tests/_swarm.ts";

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    viewers: { type: "int", help: "viewers", default: 100, min: 1 },
    processes: { type: "int", help: "swarm processes", default: 4, min: 1 },
    rounds: { type: "int", help: "rounds", default: 1, min: 1 },
    losses: { type: "string", help: "loss percentages", default: "0,2,5" },
    modes: { type: "string", help: "direct,turn", default: "direct,turn" },
    messages: { type: "int", help: "lines streamed", default: 200, min: 1 },
    rate: { type: "int", help: "lines per second", default: 10, min: 1 },
    recovery: { type: "string", help: "stock,quick: werift timers", default: "stock" },
    rtc: { type: "string", help: "werift,libdatachannel: the stacks", default: "werift" },
    json: { type: "string", help: "write every run here" },
  }),
);
const { viewers, processes, rounds, messages, rate } = flags;
const losses = flags.losses.split(",").map(Number);
const modes = flags.modes.split(",") as Array<"direct" | "turn">;
const recoveries = flags.recovery.split(",") as Array<"quick" | "stock">;
const stacks = flags.rtc.split(",") as Array<"werift" | "libdatachannel">;
for (const s of stacks) {
  if (s !== "werift" && s !== "libdatachannel") throw new TypeError(`--rtc: not a stack: ${s}`);
}

const missing = await netnsMissing();
if (missing) {
  console.error(`bench:net needs network namespaces (as root): ${missing}`);
  Deno.exit(1);
}

/** A stack as run: libdatachannel, or werift with its timers or the adapter's loss shims. */
interface Variant {
  rtc: "werift" | "libdatachannel";
  recovery: "quick" | "stock";
}
const variants: Variant[] = stacks.flatMap((rtc): Variant[] =>
  rtc === "werift"
    ? recoveries.map((recovery) => ({ rtc, recovery }))
    : [{ rtc, recovery: "stock" as const }]
);
const label = (v: Variant) => v.rtc === "werift" ? `werift ${v.recovery}` : v.rtc;

/** One configuration's figures. */
interface NetRun {
  mode: "direct" | "turn";
  rtc: "werift" | "libdatachannel";
  recovery: "quick" | "stock";
  loss: number;
  ready: number;
  allReadyMs: number;
  p50ReadyMs: number;
  delivered: number;
  outOfOrder: number;
  latencyP50: number;
  latencyP99: number;
  dropped: number;
  reconnected: number;
  hostCpuJoinMs: number;
  hostCpuStreamPct: number;
  relayed: number;
  /** Viewers never ready, by final state and error. */
  notReady: Record<string, number>;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const median = (xs: number[]) => pct(xs, 0.5);
const load = async () =>
  (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");

const SECRET = "bench-net-secret";
await using lab = await NetLab.create();
// Interrupted: stop every process and delete the namespaces before exiting.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void lab.close().finally(() => Deno.exit(130)));
}
const turn = await lab.startTurn({ secret: SECRET });
const servers = {
  direct: (await startSignal(lab, { port: 8787 })).url,
  turn: (await startSignal(lab, { port: 8788, turn, secret: SECRET })).url,
};

async function runOne(
  mode: "direct" | "turn",
  loss: number,
  { rtc, recovery }: Variant,
): Promise<NetRun> {
  await lab.setLoss(loss);
  await lab.blockViewerHostUdp(mode === "turn");
  const host = await NetHost.start(lab, servers[mode], [
    "--rtc",
    rtc,
    "--werift-recovery",
    recovery,
  ]);
  const cpu0 = (await host.metrics()).cpuMs;
  const swarms: Swarm[] = [];
  try {
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(viewers / processes) + (p < viewers % processes ? 1 : 0);
      const flags = ["--werift-recovery", recovery, "--prefix", `p${p}`];
      swarms.push(netSwarm(lab, servers[mode], host, count, flags, rtc));
    }
    const deadline = Date.now() + 180_000;
    const readyCount = () => swarms.reduce((n, s) => n + s.count("ready"), 0);
    while (readyCount() < viewers && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await host.waitReady(readyCount(), 30_000).catch(() => {});
    const cpu1 = (await host.metrics()).cpuMs;
    const streamStart = performance.now();
    await host.stream(messages, rate);
    // Let retransmissions land: up to 10 s for the last lines.
    let reports: Awaited<ReturnType<Swarm["report"]>>[] = [];
    const until = Date.now() + 10_000;
    do {
      // A swarm that stopped answering counts as having received nothing.
      reports = await Promise.all(swarms.map((s) => s.report(10_000, true).catch(() => [])));
      if (reports.flat().every((v) => v.received >= messages)) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < until);
    const streamMs = performance.now() - streamStart;
    const m = await host.metrics();
    const all = reports.flat() as Array<
      Awaited<ReturnType<Swarm["report"]>>[number] & { lat: number[] }
    >;
    const readyMs = all.map((v) => v.readyMs).filter((x): x is number => x !== undefined);
    const lat = all.flatMap((v) => v.lat ?? []);
    type End = { type: string; address?: string };
    const pairs = host.logs("ready").map((r) =>
      (r.props as { candidatePair?: { local: End; remote: End } }).candidatePair
    );
    return {
      mode,
      rtc,
      recovery,
      loss,
      ready: readyMs.length,
      allReadyMs: readyMs.length ? Math.max(...readyMs) : NaN,
      p50ReadyMs: median(readyMs),
      delivered: all.reduce((n, v) => n + Math.min(v.received, messages), 0) /
        (viewers * messages),
      outOfOrder: all.reduce((n, v) => n + v.outOfOrder, 0),
      latencyP50: pct(lat, 0.5),
      latencyP99: pct(lat, 0.99),
      dropped: Object.values(m.drops).reduce((a, b) => a + b, 0),
      reconnected: all.filter((v) => (v.readies ?? 0) > 1).length,
      hostCpuJoinMs: Math.round(cpu1 - cpu0),
      hostCpuStreamPct: Math.round((m.cpuMs - cpu1) / streamMs * 1000) / 10,
      // Through coturn: a relay candidate at either end, or a peer-reflexive one at coturn's
      // address (a libdatachannel viewer's checks arrive from its relay before its candidates).
      notReady: all.filter((v) => v.readyMs === undefined).reduce((acc, v) => {
        const why = `${v.state}${v.error ? `: ${v.error}` : ""}`.slice(0, 120);
        acc[why] = (acc[why] ?? 0) + 1;
        return acc;
      }, {} as Record<string, number>),
      relayed: pairs.filter((p) =>
        p && [p.local, p.remote].some((e) =>
          e.type === "relay" || e.address === LAB.services
        )
      ).length,
    };
  } finally {
    await Promise.all(swarms.map((s) => s.quit()));
    await host.close();
  }
}

const runs: NetRun[] = [];
console.error(`bench:net: ${viewers} viewers in ${processes} processes; load ${await load()}`);
for (let round = 0; round < rounds; round++) {
  for (const loss of losses) {
    for (const mode of round % 2 ? [...modes].reverse() : modes) {
      for (const variant of round % 2 ? [...variants].reverse() : variants) {
        const run = await runOne(mode, loss, variant);
        runs.push(run);
        const figures = JSON.stringify(run);
        console.error(
          `round ${round + 1} ${mode} ${label(variant)} ${loss}%: ${figures}; load ${await load()}`,
        );
      }
    }
  }
}

const rows = [
  "| mode | stack | loss | ready | all ready ms (median) | p50 ready ms | delivered | out of order | latency p50/p99 ms | dropped | reconnected | host CPU join ms | host CPU stream % | TURN pairs |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];
for (const loss of losses) {
  for (const [mode, v] of modes.flatMap((m) => variants.map((v) => [m, v] as const))) {
    const rs = runs.filter((r) =>
      r.mode === mode && r.loss === loss && r.rtc === v.rtc && r.recovery === v.recovery
    );
    const med = (f: (r: NetRun) => number) => median(rs.map(f));
    rows.push(
      `| ${mode} | ${label(v)} | ${loss}% | ${med((r) => r.ready)}/${viewers} | ${
        med((r) => r.allReadyMs)
      } (${rs.map((r) => r.allReadyMs).join(", ")}) | ${med((r) => r.p50ReadyMs)} | ${
        (med((r) => r.delivered) * 100).toFixed(2)
      }% | ${med((r) => r.outOfOrder)} | ${med((r) => r.latencyP50)}/${
        med((r) => r.latencyP99)
      } | ${med((r) => r.dropped)} | ${med((r) => r.reconnected)} | ${
        med((r) => r.hostCpuJoinMs)
      } | ${med((r) => r.hostCpuStreamPct)} | ${med((r) => r.relayed)} |`,
    );
  }
}
console.log(rows.join("\n"));
console.log(`load after: ${await load()}`);
if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(runs, null, 2));
