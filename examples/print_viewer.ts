/**
 * A Deno program that joins a shoal session as a `Viewer` and prints every message it
 * receives, one per line, until the host ends the session (or `--count` messages came).
 *
 *   deno run --allow-net --allow-env --allow-sys examples/print_viewer.ts \
 *     --session SESSION_ID --code JOIN-CODE [--server http://127.0.0.1:8787] [--count N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Viewer } from "@shoal/shoal";
import { werift } from "@shoal/shoal/werift";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8787" },
    session: { type: "string" },
    code: { type: "string" },
    count: { type: "string", default: "Infinity" },
  },
});
if (!values.session || !values.code) {
  console.error("print_viewer: --session and --code are required");
  Deno.exit(2);
}
const local = ["127.0.0.1", "localhost"].includes(new URL(values.server).hostname);

await using viewer = await Viewer.join({
  rtc: werift(local ? { interfaceAddresses: { udp4: "127.0.0.1" } } : {}),
  server: values.server,
  sessionId: values.session,
  joinCode: values.code,
  label: "print_viewer",
});
viewer.on("state", (s) => {
  console.error(`viewer: ${s.state}${s.reason ? ` (${s.reason})` : ""}`);
  if (s.reason === "bye:shutdown") void viewer.close(); // the host ended the session
});

const decoder = new TextDecoder();
const count = Number(values.count);
let received = 0;
for await (const message of viewer.messages()) {
  console.log(decoder.decode(message));
  if (++received >= count) break;
}
