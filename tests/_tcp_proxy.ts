// A tiny TCP load balancer for tests: each new connection goes to the first backend that
// accepts it, bytes are copied both ways, and when either side ends both are closed. It
// stands in for HAProxy or nginx in front of several signaling servers: when a server
// dies, its clients' sockets drop and their reconnects reach the next server.

/** A TCP proxy on 127.0.0.1 with failover between backend ports. */
export class TcpProxy implements AsyncDisposable {
  /** Backend ports, in order of preference (may be changed at any time). */
  backends: number[];
  /** Connections accepted, by the backend port they went to. */
  readonly routed: Map<number, number> = new Map();
  #listener: Deno.TcpListener;
  #sockets = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  constructor(backends: number[]) {
    this.backends = backends;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** Its port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Closed.
    }
    await this.#accepting;
    for (const s of this.#sockets) _close(s);
    await Promise.all(this.#tasks);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        const task = this.#serve(client).finally(() => this.#tasks.delete(task));
        this.#tasks.add(task);
      }
    } catch {
      // The listener closed.
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    this.#sockets.add(client);
    let upstream: Deno.TcpConn | undefined;
    for (const port of [...this.backends]) {
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
        this.routed.set(port, (this.routed.get(port) ?? 0) + 1);
        break;
      } catch {
        // Down: try the next one.
      }
    }
    if (!upstream) {
      this.#sockets.delete(client);
      return _close(client);
    }
    this.#sockets.add(upstream);
    const both = () => {
      _close(client);
      _close(upstream!);
    };
    await Promise.all([
      _pump(client, upstream).finally(both),
      _pump(upstream, client).finally(both),
    ]);
    this.#sockets.delete(client);
    this.#sockets.delete(upstream);
  }
}

async function _pump(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) return;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // Either side went away.
  }
}

function _close(socket: Deno.TcpConn): void {
  try {
    socket.close();
  } catch {
    // Closed already.
  }
}
