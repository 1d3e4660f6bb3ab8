// A signaling server on 127.0.0.1 that serves the web pages, and test-only pages: each
// `testPages` entry `name` is bundled and served at `/test/<name>` (a blank page that runs
// it). Bundles are made once per test module.
import type { SignalingServer, SignalingServerOptions } from "../server/mod.ts";
import { webRoutes } from "../cli/web.ts";
import { buildWeb, bundle } from "../web/build.ts";
import { testServer } from "./_signal_helpers.ts";

let _pageScripts: Promise<Map<string, string>> | undefined;
const _testScripts = new Map<string, Promise<string>>();

function _testPage(name: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name}</title>` +
    `<link rel="icon" href="data:,">` +
    `<script type="module" src="/test/${name}.js"></script></head><body></body></html>`;
}

/** Starts a test server with the web pages and `testPages` (name → entry module). */
export async function webServer(
  options: { testPages?: Record<string, URL>; server?: SignalingServerOptions } = {},
): Promise<SignalingServer> {
  _pageScripts ??= buildWeb();
  const pages = new Map<string, string>();
  for (const [name, entry] of Object.entries(options.testPages ?? {})) {
    const key = entry.href;
    if (!_testScripts.has(key)) _testScripts.set(key, bundle(entry, { minify: false }));
    pages.set(name, await _testScripts.get(key)!);
  }
  const web = await webRoutes({ scripts: await _pageScripts });
  return testServer({
    ...options.server,
    routes: (request) => {
      const path = new URL(request.url).pathname;
      const match = path.match(/^\/test\/([a-z0-9-]+)(\.js)?$/);
      const js = match ? pages.get(match[1]) : undefined;
      if (js === undefined) return web(request);
      return match![2]
        ? new Response(js, { headers: { "content-type": "text/javascript" } })
        : new Response(_testPage(match![1]), { headers: { "content-type": "text/html" } });
    },
  });
}
