/**
 * The host page (`/`): a `Host` with the browser's WebRTC. It creates a session, or
 * reclaims the one this tab had before a reload (kept in `sessionStorage`: per tab, so two
 * tabs never take a session from each other), shows the join code and the viewer link, a
 * live table of viewers, the metrics, a box whose text goes to every viewer, and a log of
 * what viewers send.
 *
 * @module
 */
import { browser } from "../adapters/browser.ts";
import type { HostMetricsSnapshot } from "../core/host_metrics.ts";
import { Host } from "../core/host.ts";
import { getSession } from "../core/session.ts";
import { appendCapped, byId, clock, h, setupPage, showError } from "./dom.ts";
import { explainError } from "./errors.ts";
import { renderMetrics, renderViewers } from "./host_view.ts";

const STORE_KEY = "shoal.host";
const decoder = new TextDecoder();

/** What the tab keeps to reclaim its session after a reload. */
interface Saved {
  sessionId: string;
  hostToken: string;
  joinCode: string;
}

function _load(): Saved | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
    return saved?.sessionId && saved?.hostToken && saved?.joinCode ? saved : undefined;
  } catch {
    return undefined;
  }
}

/** Reclaims this tab's session if the server still has it, else creates a new one. */
async function _start(server: string): Promise<{ host: Host; joinCode: string }> {
  const saved = _load();
  if (saved) {
    try {
      await getSession(server, saved.sessionId);
      const host = await Host.start({
        rtc: browser(),
        server,
        sessionId: saved.sessionId,
        token: saved.hostToken,
      });
      return { host, joinCode: saved.joinCode };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "unknown-session" && code !== "unauthorized") throw error;
      sessionStorage.removeItem(STORE_KEY); // gone or not ours any more: start afresh
    }
  }
  const host = await Host.start({ rtc: browser(), server });
  const joinCode = host.joinCode!;
  const { sessionId, hostToken } = host.session;
  sessionStorage.setItem(STORE_KEY, JSON.stringify({ sessionId, hostToken, joinCode }));
  return { host, joinCode };
}

function _showSession(host: Host, joinCode: string): void {
  const { sessionId } = host.session;
  const link = `${location.origin}/view/${encodeURIComponent(sessionId)}#code=${joinCode}`;
  byId("join-code").textContent = joinCode;
  byId("session-id").textContent = sessionId;
  const a = byId<HTMLAnchorElement>("viewer-link");
  a.href = link;
  a.textContent = link;
  byId("copy-link").addEventListener("click", async () => {
    const result = byId("copy-result");
    try {
      await navigator.clipboard.writeText(link);
      result.textContent = "Copied.";
    } catch {
      result.textContent = "Select the link and copy it by hand.";
    }
  });
  byId("invite").hidden = false;
}

function _logEntry(direction: "in" | "out", who: string, text: string): void {
  const item = h("li", "", { class: direction });
  item.append(
    h("time", clock()),
    h("span", who, { class: "who" }),
    h("span", text, { class: "text" }),
  );
  appendCapped(byId("log"), item);
}

function _wireBroadcast(host: Host): void {
  const form = byId<HTMLFormElement>("broadcast-form");
  const box = byId<HTMLTextAreaElement>("broadcast-text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = box.value;
    if (text.trim() === "") return;
    const n = host.broadcast(text);
    byId("broadcast-result").textContent = `Sent to ${n} viewer${n === 1 ? "" : "s"}.`;
    _logEntry("out", `to ${n} viewer${n === 1 ? "" : "s"}`, text);
    box.value = "";
  });
  // Enter sends, Shift+Enter starts a new line.
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  byId<HTMLButtonElement>("broadcast-send").disabled = false;
}

async function _readMessages(host: Host, labels: Map<string, string>): Promise<void> {
  for await (const m of host.messages()) {
    const label = labels.get(m.peerId);
    _logEntry("in", label ? `${label} (${m.peerId})` : m.peerId, decoder.decode(m.data));
  }
}

function _render(host: Host, labels: Map<string, string>): void {
  const m: HostMetricsSnapshot = host.metrics();
  for (const p of m.peers) labels.set(p.peerId, p.label);
  renderViewers(byId("viewers"), m.peers);
  renderMetrics(byId("metrics"), m);
  const ready = m.states.ready;
  byId("viewer-count").textContent = `(${ready} ready of ${m.peers.length})`;
  byId("no-viewers").hidden = m.peers.length > 0;
}

async function main(): Promise<void> {
  await setupPage();
  const status = byId("status");
  let started: { host: Host; joinCode: string };
  try {
    started = await _start(location.origin);
  } catch (error) {
    status.textContent = "Not hosting.";
    return showError(explainError(error));
  }
  const { host, joinCode } = started;
  const hosting = "Hosting: viewers can join with the code or the link below.";
  status.textContent = hosting;
  host.on("signaling", (e) => {
    if (e.state === "connected") {
      status.textContent = hosting;
      showError(undefined);
    } else if (e.state === "reconnecting") {
      status.textContent = "Reconnecting to the signaling server; viewers keep receiving.";
    } else {
      status.textContent = "Not hosting.";
      showError(
        e.reason === "replaced"
          ? "Another tab or program took this session over."
          : "The signaling server closed this session.",
      );
    }
  });
  _showSession(host, joinCode);
  _wireBroadcast(host);
  const labels = new Map<string, string>();
  let pending: ReturnType<typeof setTimeout> | undefined;
  const soon = () => pending ??= setTimeout(() => (pending = undefined, _render(host, labels)), 50);
  host.on("peer", (e) => {
    labels.set(e.peerId, e.label);
    soon();
  });
  setInterval(() => _render(host, labels), 1_000);
  _render(host, labels);
  void _readMessages(host, labels);
  byId("new-session").addEventListener("click", async () => {
    sessionStorage.removeItem(STORE_KEY);
    await host.close();
    location.reload();
  });
  // Viewers hear `bye` (`shutdown`) and wait for this tab to come back after a reload.
  addEventListener("pagehide", () => void host.close());
  Object.assign(globalThis, { shoalHost: host }); // for the browser console and the tests
}

void main();
