/**
 * The host page of `shoal share --page-port N`: served by the sharing process on
 * 127.0.0.1 only, it shows the shared terminal beside the table of viewers, lets the
 * sharer grant or revoke each viewer's input, and logs viewers' keystrokes. The page talks
 * to this process over one WebSocket (`/ws`), which needs the page's secret token (in the
 * printed link's fragment): binary frames are terminal messages, text frames JSON.
 *
 * @module
 */
import { buildWeb } from "../web/build.ts";
import { XTERM_CSS } from "./web.ts";
import type { Share } from "./share.ts";

/** Options of {@linkcode startSharePage}. */
export interface SharePageOptions {
  /** Port on 127.0.0.1 (0: any free one). */
  port: number;
  /** The share it shows. */
  share: Share;
  /** The signaling server (for the viewer link). */
  server: string;
}

/** A running share page. */
export interface SharePage extends AsyncDisposable {
  /** The page's address, with its token in the fragment. */
  readonly url: string;
  /** Stops serving. */
  close(): Promise<void>;
}

const WEB = new URL("../web/", import.meta.url);

/** A message from the page: grant or revoke a viewer's input. */
function _grant(text: string): { peerId: string; allow: boolean } | undefined {
  try {
    const m = JSON.parse(text);
    return m?.type === "grant" && typeof m.peerId === "string" && typeof m.allow === "boolean"
      ? { peerId: m.peerId, allow: m.allow }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Bundles the page and serves it; resolves once it listens. */
export async function startSharePage(options: SharePageOptions): Promise<SharePage> {
  const { host, stream } = options.share;
  const [scripts, html, style, xterm] = await Promise.all([
    buildWeb({ "share.js": new URL("share.ts", WEB) }),
    Deno.readTextFile(new URL("share.html", WEB)),
    Deno.readTextFile(new URL("style.css", WEB)),
    Deno.readTextFile(XTERM_CSS),
  ]);
  const token = crypto.randomUUID().replaceAll("-", "");
  const sockets = new Set<WebSocket>();
  const { sessionId } = host.session;
  const viewerLink = `${options.server}/view/${
    encodeURIComponent(sessionId)
  }#code=${host.joinCode}`;

  const status = () => {
    const terminal = new Map(stream.viewers().map((v) => [v.peerId, v]));
    return JSON.stringify({
      type: "status",
      sessionId,
      joinCode: host.joinCode,
      viewerLink,
      viewers: host.metrics().peers.map((p) => ({
        ...p,
        input: terminal.get(p.peerId)?.input ?? false,
        resyncs: terminal.get(p.peerId)?.resyncs ?? 0,
      })),
      stats: stream.stats,
    });
  };
  const broadcast = (data: string) => {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(data);
  };
  const timer = setInterval(() => sockets.size && broadcast(status()), 1_000);
  const offPeer = host.on("peer", () => sockets.size && broadcast(status()));
  // Each viewer keystroke message, accepted or dropped, goes to the page's log.
  const offInput = options.share.on("input", ({ peerId, data, accepted }) => {
    if (sockets.size === 0) return;
    const label = stream.viewers().find((v) => v.peerId === peerId)?.label ?? "";
    const text = new TextDecoder().decode(data);
    broadcast(JSON.stringify({ type: "input", peerId, label, text, accepted }));
  });

  const headers = (type: string) => ({
    "content-type": type,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; script-src 'self'; " +
      "style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; " +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/ws") {
        if (url.searchParams.get("token") !== token) {
          return new Response("forbidden", {
            status: 403,
          });
        }
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.binaryType = "arraybuffer";
        let unwatch: (() => void) | undefined;
        socket.onopen = () => {
          sockets.add(socket);
          socket.send(status());
          unwatch = stream.watch((_m, bytes) => {
            if (socket.readyState === WebSocket.OPEN) socket.send(bytes);
          });
        };
        socket.onmessage = (e) => {
          const grant = typeof e.data === "string" ? _grant(e.data) : undefined;
          if (grant && stream.setInput(grant.peerId, grant.allow)) broadcast(status());
        };
        socket.onclose = () => {
          sockets.delete(socket);
          unwatch?.();
        };
        return response;
      }
      if (request.method !== "GET") return new Response("method not allowed", { status: 405 });
      if (url.pathname === "/") {
        return new Response(html, {
          headers: headers("text/html; charset=utf-8"),
        });
      }
      if (url.pathname === "/assets/share.js") {
        return new Response(scripts.get("share.js"), {
          headers: headers("text/javascript; charset=utf-8"),
        });
      }
      if (url.pathname === "/assets/style.css") {
        return new Response(style, { headers: headers("text/css; charset=utf-8") });
      }
      if (url.pathname === "/assets/xterm.css") {
        return new Response(xterm, { headers: headers("text/css; charset=utf-8") });
      }
      return new Response("not found", { status: 404 });
    },
  );
  let closed: Promise<void> | undefined;
  const page: SharePage = {
    url: `http://127.0.0.1:${server.addr.port}/#token=${token}`,
    close() {
      closed ??= (async () => {
        clearInterval(timer);
        offPeer();
        offInput();
        for (const ws of sockets) ws.close(1001, "the share ended");
        await server.shutdown();
      })();
      return closed;
    },
    [Symbol.asyncDispose]() {
      return page.close();
    },
  };
  return page;
}
