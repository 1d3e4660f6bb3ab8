/// <reference lib="dom" />
/**
 * The page's script: a shoal `Host` running in the browser tab (the browser's own
 * `RTCPeerConnection` through the `browser()` adapter) that broadcasts the time every
 * second. The signaling server is the page's own origin (see `serve.ts`). The DOM library
 * it references is why `deno task check` checks `examples/` on its own.
 *
 * @module
 */
import { Host } from "@shoal/shoal";
import { browser } from "@shoal/shoal/browser";

const show = (id: string, text: string) => document.getElementById(id)!.textContent = text;

try {
  const host = await Host.start({ rtc: browser(), server: location.origin });
  const { sessionId } = host.session;
  show("session", sessionId);
  show("code", host.joinCode!);
  show(
    "command",
    `deno run --allow-net --allow-env --allow-sys examples/print_viewer.ts --server ` +
      `${location.origin} --session ${sessionId} --code ${host.joinCode}`,
  );
  show("status", "Hosting: every viewer gets the time once a second.");
  host.on("peer", () => show("viewers", String(host.readyCount)));
  setInterval(() => {
    const now = new Date().toISOString();
    host.broadcast(now);
    show("clock", now);
  }, 1_000);
  addEventListener("pagehide", () => void host.close());
} catch (error) {
  show("status", `Not hosting: ${error instanceof Error ? error.message : error}`);
}
