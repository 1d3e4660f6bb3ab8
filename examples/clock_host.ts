/**
 * A Deno program that embeds a shoal `Host` and broadcasts the time every second to every
 * viewer. It prints the session id and the join code viewers need.
 *
 *   deno task signal &                                  # a signaling server on :8787
 *   deno run --allow-net --allow-env --allow-sys examples/clock_host.ts [--seconds 30]
 *
 * Flags: `--server URL` (default http://127.0.0.1:8787), `--seconds N` (stop after N
 * broadcasts; default: until Ctrl-C).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Host } from "@shoal/shoal";
import { werift } from "@shoal/shoal/werift";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8787" },
    seconds: { type: "string", default: "Infinity" },
  },
});
const server = values.server;
const seconds = Number(values.seconds);
// On this machine's loopback, ICE stays on loopback too; otherwise every interface is offered.
const local = ["127.0.0.1", "localhost"].includes(new URL(server).hostname);
const stop = new AbortController();
Deno.addSignalListener("SIGINT", () => stop.abort());

await using host = await Host.start({
  rtc: werift(local ? { interfaceAddresses: { udp4: "127.0.0.1" } } : {}),
  server,
  signal: stop.signal,
});
const { sessionId } = host.session;
console.log(`hosting session ${sessionId}, join code ${host.joinCode}`);
console.log(
  `view it: deno run --allow-net --allow-env --allow-sys examples/print_viewer.ts ` +
    `--server ${server} --session ${sessionId} --code ${host.joinCode}`,
);
host.on("peer", (p) => console.error(`viewer ${p.label || p.peerId}: ${p.state}`));

for (let i = 0; i < seconds && !stop.signal.aborted; i++) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const now = new Date().toISOString();
  console.log(`${now} → ${host.broadcast(now)} viewers`);
}
