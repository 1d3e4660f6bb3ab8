/**
 * The browser pages, as extra routes of the signaling server (its `routes` option): the
 * host page at `/`, the viewer page at `/view/:sessionId`, and their assets under
 * `/assets/`. The page scripts are bundled with `deno bundle` when the routes are made
 * (see `web/build.ts`), so what is served always matches the sources.
 *
 * @example
 * ```ts ignore
 * import { startSignalingServer } from "../server/server.ts";
 * import { webRoutes } from "./web.ts";
 *
 * const server = startSignalingServer({ routes: await webRoutes() });
 * console.log(`host page: ${server.url}/`);
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { buildWeb } from "../web/build.ts";

/** Options of {@linkcode webRoutes}. */
export interface WebRoutesOptions {
  /** Already bundled page scripts (name → JavaScript); default: bundle them now. */
  scripts?: Map<string, string>;
  /** Kills the bundler when aborted. */
  signal?: AbortSignal;
}

/** A route function for the server's `routes` option. */
export type WebRoutes = (request: Request) => Response | undefined;

const WEB = new URL("../web/", import.meta.url);
/** xterm.js's stylesheet, from the npm package (`deno bundle` has put it in node_modules). */
export const XTERM_CSS: URL = new URL(
  "../node_modules/@xterm/xterm/css/xterm.css",
  import.meta.url,
);

/** What every page may load: its own origin only (the WebSocket included). */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // xterm.js (the terminal on the viewer page) sizes its cells with <style> elements.
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SESSION_PATH = /^\/view\/[A-Za-z0-9_-]{1,64}\/?$/;

interface _Asset {
  body: string;
  type: string;
}

function _respond(asset: _Asset, head: boolean): Response {
  const headers: Record<string, string> = {
    "content-type": asset.type,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (asset.type.startsWith("text/html")) headers["content-security-policy"] = PAGE_CSP;
  return new Response(head ? null : asset.body, { headers });
}

/**
 * Bundles the page scripts (unless given) and reads the pages; returns the route function.
 * Rejects with a `BundleError` when `deno bundle` fails.
 */
export async function webRoutes(options: WebRoutesOptions = {}): Promise<WebRoutes> {
  const started = performance.now();
  const read = (name: string) => Deno.readTextFile(new URL(name, WEB));
  const [scripts, hostPage, viewPage, style] = await Promise.all([
    options.scripts ?? buildWeb(undefined, { signal: options.signal }),
    read("host.html"),
    read("view.html"),
    read("style.css"),
  ]);
  const xtermCss = await Deno.readTextFile(XTERM_CSS);
  const html = "text/html; charset=utf-8";
  const assets = new Map<string, _Asset>([
    ["/assets/style.css", { body: style, type: "text/css; charset=utf-8" }],
    ["/assets/xterm.css", { body: xtermCss, type: "text/css; charset=utf-8" }],
  ]);
  for (const [name, js] of scripts) {
    assets.set(`/assets/${name}`, { body: js, type: "text/javascript; charset=utf-8" });
  }
  const host: _Asset = { body: hostPage, type: html };
  const view: _Asset = { body: viewPage, type: html };
  getLogger(["shoal", "server"]).info("web pages ready in {ms} ms", {
    ms: Math.round(performance.now() - started),
    assets: [...assets.keys()],
  });
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return undefined;
    const path = new URL(request.url).pathname;
    const asset = path === "/" ? host : SESSION_PATH.test(path) ? view : assets.get(path);
    return asset ? _respond(asset, request.method === "HEAD") : undefined;
  };
}
