/**
 * Host memory with N ready viewers and no traffic, after a forced GC.
 *
 *   deno run -A --v8-flags=--expose-gc bench/memory.ts [viewers=100] [processes=4] [--server-process]
 *
 * With `--server-process` the signaling server runs in a process of its own, so the figure is
 * the host's alone; without it this process also holds every viewer's signaling WebSocket.
 *
 * @module
 */
import { setupLogging } from "../cli/logging.ts";
import { LoadRun } from "../cli/loadrun.ts";

await setupLogging("json", "error");
const positional = Deno.args.filter((a) => !a.startsWith("--"));
const viewers = Number(positional[0] ?? 100);
const processes = Number(positional[1] ?? 4);
const serverProcess = Deno.args.includes("--server-process");
const mib = (x: number) => (x / 1048576).toFixed(1);
const sample = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage();
};
await using run = new LoadRun({ viewers, processes, serverProcess });
await run.start();
const idle = sample();
run.join();
if (!(await run.waitReady(120_000))) throw new Error("not every viewer got ready");
await new Promise((r) => setTimeout(r, 1_000));
const ready = sample();
console.log(
  `idle: RSS ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} of ${mib(idle.heapTotal)}, external ${
    mib(idle.external)
  }`,
);
console.log(
  `${viewers} ready: RSS ${mib(ready.rss)} MiB, heap ${mib(ready.heapUsed)} of ${
    mib(ready.heapTotal)
  }, external ${mib(ready.external)}; ${
    ((ready.rss - idle.rss) / viewers / 1024).toFixed(0)
  } KiB per viewer above idle`,
);
