// What the benchmarks read about another process from /proc (Linux).

/** CPU time (user + system) process `pid` has used so far, ms; Linux only, else 0. */
export function processCpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime: ticks of 10 ms
  } catch {
    return 0;
  }
}
