/**
 * Serves the browser-host example: a shoal signaling server that also serves this page
 * (`index.html`) and its script (`page.ts`, bundled for the browser with `deno bundle`),
 * so that the page's `Host` finds the signaling server at its own origin.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-run examples/browser_host/serve.ts
 *
 * then open the printed address. Flags: `--port N` (default 8788; 0 picks a free one).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startSignalingServer } from "@shoal/shoal/server";

const { values } = parseArgs({ options: { port: { type: "string", default: "8788" } } });
const here = new URL("./", import.meta.url);

const bundler = ["bundle", "--quiet", "--minify", "--platform", "browser"];
const bundle = await new Deno.Command(Deno.execPath(), {
  args: [...bundler, new URL("page.ts", here).pathname],
  cwd: new URL("../..", here).pathname, // where deno.json maps @shoal/shoal to the sources
  stdout: "piped",
}).output();
if (!bundle.success) Deno.exit(1);
const script = new TextDecoder().decode(bundle.stdout);
const page = await Deno.readTextFile(new URL("index.html", here));

const respond = (body: string, type: string) =>
  new Response(body, { headers: { "content-type": `${type}; charset=utf-8` } });
const server = startSignalingServer({
  hostname: "127.0.0.1",
  port: Number(values.port),
  routes: (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/") return respond(page, "text/html");
    if (path === "/page.js") return respond(script, "text/javascript");
  },
});
console.log(`open ${server.url}/ in a browser (Ctrl-C stops)`);

const stop = () => void server.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
