/**
 * A small network of Linux network namespaces for the off-loopback tests and `bench:net`:
 *
 * ```
 *   host ns  10.77.1.2 ──┐                ┌── 10.77.3.2  services ns (signaling, coturn)
 *                        ├── router ns ───┤
 *   viewers  10.77.2.2 ──┘ (NAT, loss,    │
 *   (behind MASQUERADE)     UDP blocks)   ┘
 * ```
 *
 * The router forwards between three links; viewers' traffic leaves masqueraded and no flow
 * may enter their link unless it answers one they started (a home NAT). nftables rules at
 * the router add random UDP loss (`numgen random mod 100 < N drop` on the forward hook, each
 * way) or drop UDP between the viewers and the host (a firewall that lets only TURN through).
 *
 * Every namespace is named `shoalnet-<pid>-<n>-<role>` so that concurrent runs never meet
 * and a run can remove what an earlier, killed one left (its pid is gone). The addresses
 * live only inside these namespaces: nothing is routed out of them. `close()` kills every
 * process started in them and deletes the namespaces, which removes their veths and rules.
 *
 * Where `ip netns add` is refused (no root, a sandbox) the tests skip with one message,
 * unless `SHOAL_REQUIRE_NETNS=1` (CI), where they fail.
 *
 * @module
 */
import { readLines } from "../cli/lines.ts";

/** The naming prefix of every namespace made here. */
export const NETNS_PREFIX = "shoalnet-";

/** Whether a refused `ip netns add` fails the tests (`SHOAL_REQUIRE_NETNS=1`). */
export const NETNS_REQUIRED: boolean = Deno.env.get("SHOAL_REQUIRE_NETNS") === "1";

/** The addresses of the lab (the same in every run: they exist only in its namespaces). */
export const LAB = {
  host: "10.77.1.2",
  routerHostSide: "10.77.1.1",
  viewers: "10.77.2.2",
  routerViewerSide: "10.77.2.1",
  services: "10.77.3.2",
  routerServiceSide: "10.77.3.1",
  viewerNet: "10.77.2.0/24",
  hostNet: "10.77.1.0/24",
} as const;

/** The namespaces' roles. */
export type NetRole = "router" | "host" | "viewers" | "services";

/** A process started in a namespace, with its output lines collected. */
export interface NetProcess {
  /** The child process (`ip netns exec NS …`). */
  child: Deno.ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Every stderr line so far (with `stderr: "collect"`). */
  errLines: string[];
  /** Resolves when stdout has ended. */
  done: Promise<void>;
  /** Writes a line to its stdin (when started with `stdin: true`); false once closed. */
  send(line: string): Promise<boolean>;
}

let _counter = 0;

async function _run(
  args: string[],
  options: { allowFail?: boolean; stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(args[0], {
    args: args.slice(1),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success && !options.allowFail) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${args.join(" ")} failed (${out.code}): ${err}`);
  }
  return text;
}

/**
 * Deletes namespaces of {@link NETNS_PREFIX} whose run is gone (its pid no longer exists),
 * killing what still runs in them. Returns how many it removed.
 */
export async function removeStaleNamespaces(): Promise<number> {
  const list = await _run(["ip", "netns", "list"], { allowFail: true });
  let removed = 0;
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    const m = name?.match(/^shoalnet-(\d+)-\d+-[a-z]+$/);
    if (!m || _alive(Number(m[1]))) continue;
    await _killAll(name);
    await _run(["ip", "netns", "del", name], { allowFail: true });
    removed++;
  }
  return removed;
}

function _alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function _killAll(ns: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = (await _run(["ip", "netns", "pids", ns], { allowFail: true }))
      .split("\n").map(Number).filter((p) => p > 0);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, round < 10 ? "SIGTERM" : "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

let _probe: Promise<string | undefined> | undefined;

/** Why network namespaces cannot be made here, or undefined when they can (probed once). */
export function netnsMissing(): Promise<string | undefined> {
  _probe ??= (async () => {
    const name = `${NETNS_PREFIX}${Deno.pid}-probe-x`;
    try {
      await _run(["ip", "netns", "add", name]);
      await _run(["ip", "netns", "del", name]);
      for (const tool of ["nft", "turnserver"]) {
        const found = await _run(["sh", "-c", `command -v ${tool}`], { allowFail: true });
        if (!found.trim()) return `${tool} is not installed`;
      }
      return undefined;
    } catch (error) {
      return `ip netns add is refused here (${(error as Error).message.split("\n")[0]})`;
    }
  })();
  return _probe;
}

let _warned = false;

/**
 * Registers a Deno test that gets a fresh {@link NetLab} (closed afterwards, failed or not).
 * Where namespaces cannot be made it is skipped with one message, or fails under
 * `SHOAL_REQUIRE_NETNS=1`.
 */
export function netTest(
  name: string,
  fn: (lab: NetLab, t: Deno.TestContext) => Promise<void>,
  options: { timeoutMs?: number } = {},
): void {
  Deno.test({
    name,
    // The subprocesses' pipes are awaited in close(); werift child processes, not this one.
    async fn(t) {
      const missing = await netnsMissing();
      if (missing) {
        if (NETNS_REQUIRED) throw new Error(`network namespaces required: ${missing}`);
        if (!_warned) {
          _warned = true;
          console.warn(
            `network tests skipped: ${missing} (SHOAL_REQUIRE_NETNS=1 turns this into a failure)`,
          );
        }
        return;
      }
      await using lab = await NetLab.create();
      const timer = setTimeout(() => lab.kill(), options.timeoutMs ?? 120_000);
      try {
        await fn(lab, t);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** The lab: four namespaces, three links, the router's rules, processes started in it. */
export class NetLab implements AsyncDisposable {
  /** The namespaces by role. */
  readonly ns: Record<NetRole, string>;
  #procs = new Set<NetProcess>();
  #writers = new Map<NetProcess, WritableStreamDefaultWriter<Uint8Array> | undefined>();
  #closed?: Promise<void>;
  #loss = 0;
  #blocked = false;
  #cut = new Set<string>();
  #dir?: string;

  private constructor(ns: Record<NetRole, string>) {
    this.ns = ns;
  }

  /** Builds the namespaces, links, routes and the router's NAT; removes a failed half-build. */
  static async create(): Promise<NetLab> {
    await removeStaleNamespaces();
    const id = `${NETNS_PREFIX}${Deno.pid}-${_counter++}`;
    const lab = new NetLab({
      router: `${id}-r`,
      host: `${id}-h`,
      viewers: `${id}-v`,
      services: `${id}-s`,
    });
    try {
      await lab.#build();
      return lab;
    } catch (error) {
      await lab.close();
      throw error;
    }
  }

  async #build(): Promise<void> {
    const { router, host, viewers, services } = this.ns;
    for (const ns of Object.values(this.ns)) {
      await _run(["ip", "netns", "add", ns]);
      await this.#ip(ns, "link set lo up");
    }
    // Each veth is made inside the router's namespace with its peer in the other one, so
    // it never appears in the machine's own namespace; names are per namespace.
    const links: Array<[string, string, string, string]> = [
      ["h0", host, LAB.routerHostSide, LAB.host],
      ["v0", viewers, LAB.routerViewerSide, LAB.viewers],
      ["s0", services, LAB.routerServiceSide, LAB.services],
    ];
    for (const [dev, ns, routerAddr, addr] of links) {
      await this.#ip(router, `link add ${dev} type veth peer name eth0 netns ${ns}`);
      await this.#ip(router, `addr add ${routerAddr}/24 dev ${dev}`);
      await this.#ip(router, `link set ${dev} up`);
      await this.#ip(ns, `addr add ${addr}/24 dev eth0`);
      await this.#ip(ns, "link set eth0 up");
      await this.#ip(ns, `route add default via ${routerAddr}`);
    }
    await this.exec("router", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await this.#rules();
  }

  #ip(ns: string, command: string): Promise<string> {
    return _run(["ip", "-n", ns, ...command.split(" ")]);
  }

  /** Runs `cmd` in the namespace of `role` to completion; rejects when it fails. */
  exec(role: NetRole, cmd: string[], options: { stdin?: string } = {}): Promise<string> {
    return _run(["ip", "netns", "exec", this.ns[role], ...cmd], options);
  }

  /**
   * The router's whole rule set, replaced atomically: the viewers' NAT (masquerade out, no
   * new flow in), the loss, the UDP block and cut viewer addresses.
   */
  async #rules(): Promise<void> {
    const loss = this.#loss > 0
      ? [
        `meta l4proto udp iifname "v0" numgen random mod 100 < ${this.#loss} drop`,
        `meta l4proto udp oifname "v0" numgen random mod 100 < ${this.#loss} drop`,
      ]
      : [];
    const block = this.#blocked
      ? [
        `meta l4proto udp iifname "v0" oifname "h0" drop`,
        `meta l4proto udp iifname "h0" oifname "v0" drop`,
      ]
      : [];
    const cut = [...this.#cut].flatMap((a) => [
      `ip saddr ${a} meta l4proto udp drop`,
      `ip daddr ${a} meta l4proto udp drop`,
    ]);
    const ruleset = `
table inet shoal
delete table inet shoal
table inet shoal {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ${[...cut, ...block, ...loss].join("\n    ")}
    oifname "v0" ct state established,related accept
    oifname "v0" drop
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    ip saddr ${LAB.viewerNet} oifname != "v0" masquerade
  }
}
`;
    await this.exec("router", ["nft", "-f", "-"], { stdin: ruleset });
  }

  /** Random UDP loss of `percent` each way on the viewers' link (0 removes it). */
  async setLoss(percent: number): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new RangeError("loss is a whole percentage");
    }
    this.#loss = percent;
    await this.#rules();
  }

  /** Drops (or lets through again) every UDP packet between the viewers and the host. */
  async blockViewerHostUdp(blocked: boolean): Promise<void> {
    this.#blocked = blocked;
    await this.#rules();
  }

  /** Drops every UDP packet from and to a viewer address (or lets it through again). */
  async cutViewerAddress(address: string, cut: boolean): Promise<void> {
    if (cut) this.#cut.add(address);
    else this.#cut.delete(address);
    await this.#rules();
  }

  /** Adds an address to the viewers' interface (for viewers that bind one of their own). */
  async addViewerAddress(address: string): Promise<void> {
    await this.#ip(this.ns.viewers, `addr add ${address}/24 dev eth0`);
  }

  /** The router's conntrack/NAT view, for failure messages: the nft rule counters. */
  ruleset(): Promise<string> {
    return this.exec("router", ["nft", "list", "ruleset"]);
  }

  /**
   * Starts `cmd` in the namespace of `role`; stdout lines are collected, stderr is passed
   * through, dropped or collected.
   */
  spawn(
    role: NetRole,
    cmd: string[],
    options: {
      stdin?: boolean;
      env?: Record<string, string>;
      stderr?: "inherit" | "null" | "collect";
    } = {},
  ): NetProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns[role], ...cmd],
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: options.stderr === "collect" ? "piped" : options.stderr ?? "inherit",
      env: options.env,
    }).spawn();
    const lines: string[] = [];
    const errLines: string[] = [];
    const collect = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
      for await (const line of readLines(stream)) into.push(line);
    };
    const done = Promise.all([
      collect(child.stdout, lines),
      options.stderr === "collect" ? collect(child.stderr, errLines) : undefined,
    ]).then(() => {}, () => {});
    const writer = options.stdin ? child.stdin.getWriter() : undefined;
    const send = async (line: string) => {
      try {
        await writer!.write(new TextEncoder().encode(line + "\n"));
        return true;
      } catch {
        return false;
      }
    };
    const proc: NetProcess = { child, lines, errLines, done, send };
    this.#writers.set(proc, writer);
    this.#procs.add(proc);
    child.status.then(async () => {
      await done;
      this.#procs.delete(proc);
    });
    return proc;
  }

  /** A temporary directory removed with the lab. */
  async tempDir(): Promise<string> {
    this.#dir ??= await Deno.makeTempDir({ prefix: "shoal-netlab-" });
    return this.#dir;
  }

  /**
   * Starts coturn in the services namespace with `use-auth-secret` and resolves with its
   * `turn:` URL once it listens.
   */
  async startTurn(o: { secret: string; realm?: string; port?: number }): Promise<string> {
    const dir = await this.tempDir();
    const port = o.port ?? 3478;
    const config = [
      `listening-ip=${LAB.services}`,
      `relay-ip=${LAB.services}`,
      `listening-port=${port}`,
      // coturn's whole default range: werift and libjuice free no allocation when they
      // close (no Refresh with LIFETIME 0), so each holds its port for its 10-minute
      // lifetime, and bench:net's TURN runs make ~200 allocations each.
      "min-port=49152",
      "max-port=65535",
      "use-auth-secret",
      `static-auth-secret=${o.secret}`,
      `realm=${o.realm ?? "shoal.test"}`,
      "fingerprint",
      "no-tls",
      "no-dtls",
      "no-cli",
      "no-tcp-relay",
      "no-multicast-peers",
      "no-software-attribute",
      `pidfile=${dir}/turnserver.pid`,
      `userdb=${dir}/turndb`,
      "log-file=stdout",
      "simple-log",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/turnserver.conf`, config + "\n");
    const proc = this.spawn("services", ["turnserver", "-c", `${dir}/turnserver.conf`], {
      stderr: "null",
    });
    const deadline = Date.now() + 10_000;
    while (!proc.lines.some((l) => /Total General servers/.test(l))) {
      if (Date.now() > deadline) {
        throw new Error(`coturn did not start:\n${proc.lines.slice(-20).join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return `turn:${LAB.services}:${port}`;
  }

  /** Kills every process started in the lab at once (the timeout's last resort). */
  kill(): void {
    for (const p of this.#procs) {
      try {
        p.child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }
  }

  /** Stops every process, deletes the namespaces (and so their links and rules). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const p of this.#procs) {
        try {
          p.child.kill("SIGTERM");
        } catch {
          // Gone.
        }
      }
      for (const w of this.#writers.values()) await w?.close().catch(() => {});
      const waits = [...this.#procs].map(async (p) => {
        const timer = setTimeout(() => {
          try {
            p.child.kill("SIGKILL");
          } catch {
            // Gone.
          }
        }, 5_000);
        await p.child.status;
        clearTimeout(timer);
        await p.done;
      });
      await Promise.all(waits);
      for (const ns of Object.values(this.ns)) {
        await _killAll(ns);
        await _run(["ip", "netns", "del", ns], { allowFail: true });
      }
      if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
