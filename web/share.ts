/**
 * The host page of `shoal share --page-port N` (served by the sharing process on
 * 127.0.0.1): the shared terminal beside the viewers, each with a button that grants or
 * revokes its input, and a log of viewers' keystrokes. Everything comes over one
 * WebSocket to the sharing process (see `cli/share_page.ts`); the token is in the link's
 * fragment.
 *
 * @module
 */
import type { PeerSnapshot } from "../core/host_metrics.ts";
import { decodeTerminalMessage } from "../core/terminal_messages.ts";
import type { TerminalStreamStats } from "../cli/terminal_stream.ts";
import { appendCapped, byId, clock, h, setupPage, showError } from "./dom.ts";
import { renderViewers } from "./host_view.ts";
import { TerminalView } from "./terminal_view.ts";

type _Viewer = PeerSnapshot & { input: boolean; resyncs: number };

interface _Status {
  type: "status";
  sessionId: string;
  joinCode: string;
  viewerLink: string;
  viewers: _Viewer[];
  stats: TerminalStreamStats;
}

interface _Input {
  type: "input";
  peerId: string;
  label: string;
  text: string;
  accepted: boolean;
}

function _grantCell(ws: WebSocket, v: _Viewer): HTMLElement {
  const cell = h("td", "", { class: "input" });
  if (v.state !== "ready") return cell;
  const button = h("button", v.input ? "Revoke" : "Allow typing", {
    type: "button",
    class: "grant secondary",
    "data-input": String(v.input),
  });
  button.addEventListener("click", () => {
    ws.send(JSON.stringify({ type: "grant", peerId: v.peerId, allow: !v.input }));
  });
  cell.append(button);
  return cell;
}

function _status(ws: WebSocket, s: _Status): void {
  byId("join-code").textContent = s.joinCode;
  const a = byId<HTMLAnchorElement>("viewer-link");
  a.href = s.viewerLink;
  a.textContent = s.viewerLink;
  byId("invite").hidden = false;
  renderViewers(byId("viewers"), s.viewers, (v) => _grantCell(ws, v));
  const ready = s.viewers.filter((v) => v.state === "ready").length;
  byId("viewer-count").textContent = `(${ready} ready of ${s.viewers.length})`;
  byId("no-viewers").hidden = s.viewers.length > 0;
  const t = s.stats;
  const items: [string, string][] = [
    ["Output", `${t.bytesIn} bytes in ${t.ticks} ticks`],
    ["Resynchronised viewers", String(t.resyncs)],
    ["Keystrokes accepted · dropped", `${t.inputAccepted} · ${t.inputDropped}`],
  ];
  byId("metrics").replaceChildren(...items.flatMap(([k, v]) => [h("dt", k), h("dd", v)]));
  byId("status").textContent = `Session ${s.sessionId}`;
}

function _input(m: _Input): void {
  const item = h("li", "", { class: m.accepted ? "in" : "in dropped" });
  item.append(
    h("time", clock()),
    h("span", m.label ? `${m.label} (${m.peerId})` : m.peerId, { class: "who" }),
    h("span", (m.accepted ? "" : "dropped: ") + JSON.stringify(m.text), { class: "text" }),
  );
  appendCapped(byId("log"), item);
}

async function main(): Promise<void> {
  await setupPage();
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!token) return showError("This link has no token; use the one `shoal share` printed.");
  const mode = byId("terminal-mode");
  const view = new TerminalView(byId("terminal"), {
    onHello: (hello) => mode.textContent = `${hello.cols}×${hello.rows}`,
    onExit: (code) => mode.textContent = `the program exited (status ${code})`,
  });
  Object.assign(globalThis, { shoalTerminal: view }); // for the browser console and tests
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => {
    if (typeof e.data !== "string") {
      const message = decodeTerminalMessage(new Uint8Array(e.data));
      if (message) view.apply(message);
      return;
    }
    const m = JSON.parse(e.data);
    if (m.type === "status") _status(ws, m);
    else if (m.type === "input") _input(m);
  };
  ws.onclose = () => {
    byId("status").textContent = "The share has ended.";
  };
}

void main();
