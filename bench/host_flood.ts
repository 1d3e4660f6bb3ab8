/**
 * `shoal host` itself under a flooding source: the host command in its own process reading
 * a generator as fast as it lets it (on stdin, or with `--exec`), viewers in a swarm
 * process, the signaling server in a third. Samples the host process's RSS and CPU from
 * /proc, counts lines delivered, and checks that every viewer stayed connected and got a
 * gapless, in-order stream.
 *
 *   deno run -A bench/host_flood.ts [--source stdin|exec] [--viewers 2] [--seconds 20]
 *     [--generator yes|numbered]
 *
 * `yes` is `yes "flood-line-…"` (no order check possible); `numbered` writes
 * "SEQ 0 flood-line-…" lines (about 220 bytes) that the viewers check for gaps and order.
 *
 * @module
 */
import { processCpuMs } from "./_proc.ts";
import { flagTable, parseFlags } from "../cli/flags.ts";
import { readLines } from "../cli/lines.ts";
import { startLoadServer } from "../cli/server_proc.ts";
import { SwarmProc } from "../cli/swarm_proc.ts";
import { swarmCommandLine } from "../cli/swarm_spawn.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const GENERATORS: Record<string, string> = {
  yes: `yes "flood-line-$(printf '%0200d' 0)"`,
  numbered: `awk 'BEGIN { for (i = 0; ; i++) printf "%d 0 flood-line-%0200d\\n", i, 0 }'`,
};

const { values: flags } = parseFlags(
  Deno.args,
  flagTable({
    source: {
      type: "choice",
      choices: ["stdin", "exec"],
      help: "the host's source",
      default: "stdin",
    },
    viewers: { type: "int", help: "viewers", default: 2, min: 1, max: 1000 },
    seconds: { type: "int", help: "seconds of flood", default: 20, min: 1, max: 3600 },
    generator: {
      type: "choice",
      choices: ["yes", "numbered"],
      help: "what the source writes",
      default: "numbered",
    },
  }),
);
const { source, viewers, seconds } = flags;
const generator = GENERATORS[flags.generator];

/** RSS now and at its peak, and CPU used (user + system), of process `pid`. */
async function proc(pid: number): Promise<{ rss: number; hwm: number; cpuMs: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (k: string) =>
    Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), cpuMs: processCpuMs(pid) };
}

const server = await startLoadServer(true);
const host = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--v8-flags=--max-semi-space-size=8",
    "-A",
    MAIN,
    "host",
    "--server",
    server.url,
    ...(source === "exec" ? ["--exec", generator] : []),
  ],
  stdin: source === "stdin" ? "piped" : "null",
  stdout: "null",
  stderr: "piped",
}).spawn();
let gen: Deno.ChildProcess | undefined;
if (source === "stdin") {
  gen = new Deno.Command("sh", { args: ["-c", generator], stdout: "piped" }).spawn();
  void gen.stdout.pipeTo(host.stdin).catch(() => {});
}
const err: string[] = [];
const announced = Promise.withResolvers<void>();
void (async () => {
  for await (const line of readLines(host.stderr)) {
    err.push(line);
    if (line.includes("join code:")) announced.resolve();
  }
})();
await announced.promise;
const sessionId = err.find((l) => l.startsWith("shoal: hosting session"))!.split(" ").at(-1)!;
const code = err.find((l) => l.includes("join code:"))!.split(" ").at(-1)!;
const swarm = new SwarmProc(
  swarmCommandLine([
    "--server",
    server.url,
    "--session",
    sessionId,
    "--code",
    code,
    "--count",
    String(viewers),
    "--ice-address",
    "127.0.0.1",
  ]),
  viewers,
);
try {
  for (let i = 0; i < 600 && swarm.ready.length < viewers; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (swarm.ready.length < viewers) throw new Error("not every viewer got ready");
  const before = await swarm.report(false);
  const p0 = await proc(host.pid);
  const t0 = performance.now();
  let peakRss = p0.rss;
  const samples: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 250));
    const p = await proc(host.pid);
    peakRss = Math.max(peakRss, p.rss);
    samples.push(p.rss);
  }
  const after = await swarm.report(false);
  const p1 = await proc(host.pid);
  const elapsed = (performance.now() - t0) / 1000;
  const lineBytes = generator === GENERATORS.yes ? 217 : 221;
  const received = after.map((v, i) => v.received - before[i].received);
  const perViewer = received.reduce((a, b) => a + b, 0) / viewers / elapsed;
  const mib = (b: number) => Math.round(b / 1048576 * 10) / 10;
  const row = {
    source,
    generator: flags.generator,
    viewers,
    seconds: Math.round(elapsed),
    "lines/s per viewer": Math.round(perViewer),
    "MiB/s per viewer": mib(perViewer * lineBytes),
    "host cpu": `${Math.round((p1.cpuMs - p0.cpuMs) / elapsed / 10)}%`,
    "rss start MiB": mib(p0.rss),
    "rss peak MiB": mib(peakRss),
    "rss hwm MiB": mib(p1.hwm),
    "rss every 5 s MiB": samples.filter((_, i) => i % 20 === 19).map(mib).join(" "),
    connected: after.filter((v) => v.state === "ready" && v.readies === 1).length,
    gapless: generator === GENERATORS.yes
      ? "n/a"
      : after.filter((v) => v.outOfOrder === 0 && v.lastSeq! - v.firstSeq! + 1 === v.received)
        .length,
    congestedSaid: err.some((l) => l.includes("host congested")),
    dropsSaid: err.filter((l) => l.includes("viewer dropped")).length,
  };
  for (const l of err.filter((l) => l.includes("viewer dropped")).slice(0, 3)) console.log(l);
  console.log(JSON.stringify(row));
} finally {
  await swarm.quit();
  host.kill("SIGINT");
  const timer = setTimeout(() => host.kill("SIGKILL"), 10_000);
  await host.status;
  clearTimeout(timer);
  try {
    gen?.kill("SIGTERM");
  } catch {
    // Gone already.
  }
  await gen?.status;
  await server.close();
}
