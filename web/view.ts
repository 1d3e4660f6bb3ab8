/**
 * The viewer page (`/view/:sessionId`): a `Viewer` with the browser's WebRTC. The join
 * code comes from the form, or from the link's fragment (`#code=…`, optionally
 * `&label=…`), which browsers never send to a server; never from the query string.
 *
 * @module
 */
import { browser } from "../adapters/browser.ts";
import { Viewer, type ViewerState } from "../core/viewer.ts";
import { appendCapped, byId, clock, formatMs, h, setupPage, showError } from "./dom.ts";
import { describeViewerState, explainError } from "./errors.ts";
import { decodeTerminalMessage, encodeTerminalMessage } from "../core/terminal_messages.ts";
import { TerminalView } from "./terminal_view.ts";

const decoder = new TextDecoder();

function _sessionId(): string | undefined {
  const match = location.pathname.match(/^\/view\/([A-Za-z0-9_-]{1,64})\/?$/);
  return match?.[1];
}

function _fromFragment(): { code?: string; label?: string } {
  const params = new URLSearchParams(location.hash.slice(1));
  return { code: params.get("code") ?? undefined, label: params.get("label") ?? undefined };
}

function _setState(state: ViewerState, reason?: string): void {
  const el = byId("state");
  el.textContent = describeViewerState(state, reason);
  el.dataset.state = state;
}

function _wireSend(viewer: Viewer): AbortController {
  const wiring = new AbortController();
  const form = byId<HTMLFormElement>("send-form");
  const input = byId<HTMLInputElement>("send-text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim() === "") return;
    const sent = viewer.send(input.value);
    byId("send-result").textContent = sent ? "" : "Not connected yet; try again in a moment.";
    if (sent) input.value = "";
  }, { signal: wiring.signal });
  byId("leave").addEventListener("click", () => void viewer.close(), { signal: wiring.signal });
  return wiring;
}

/**
 * A terminal session (its first message is a terminal `hello`) is shown in an xterm.js
 * terminal at the sharer's size; any other session as a list of messages.
 */
async function _readMessages(viewer: Viewer): Promise<void> {
  const list = byId("messages");
  let count = 0;
  let terminal: TerminalView | undefined;
  for await (const m of viewer.messages()) {
    const message = count === 0 || terminal ? decodeTerminalMessage(m) : undefined;
    if (count === 0 && message?.kind === "hello") terminal = _terminal(viewer);
    if (terminal && message) {
      terminal.apply(message);
      count++;
      continue;
    }
    const item = h("li");
    item.append(h("time", clock()), h("span", decoder.decode(m), { class: "text" }));
    appendCapped(list, item);
    byId("message-count").textContent = `(${++count})`;
  }
}

function _terminal(viewer: Viewer): TerminalView {
  byId("messages-section").hidden = true;
  byId("send-form").hidden = true;
  byId("terminal-section").hidden = false;
  const encoder = new TextEncoder();
  const mode = byId("terminal-mode");
  const view = new TerminalView(byId("terminal"), {
    onInput: (data) =>
      viewer.send(encodeTerminalMessage({ kind: "input", data: encoder.encode(data) })),
    onHello: (hello) => {
      mode.textContent = `${hello.cols}×${hello.rows}, ` +
        (hello.input ? "you can type into it" : "read-only");
      mode.dataset.input = String(hello.input);
    },
    onExit: (code) => mode.textContent = `the shared program exited (status ${code})`,
  });
  Object.assign(globalThis, { shoalTerminal: view }); // for the browser console and tests
  return view;
}

/** Runs one joined viewer until it closes; resolves with the reason it closed. */
async function _run(viewer: Viewer): Promise<unknown> {
  byId("join-form").hidden = true;
  byId("session").hidden = false;
  byId("peer-id").textContent = viewer.peerId ?? "";
  _setState(viewer.state);
  const closed = new Promise<void>((resolve) => {
    viewer.on("state", ({ state, reason }) => {
      _setState(state, reason);
      if (state === "ready") showError(undefined);
      if (state === "closed") resolve();
    });
  });
  const wiring = _wireSend(viewer);
  const rtt = setInterval(() => byId("rtt").textContent = formatMs(viewer.rttMs), 1_000);
  void _readMessages(viewer);
  await closed;
  clearInterval(rtt);
  wiring.abort();
  return await viewer.ready().then(() => undefined, (error) => error);
}

async function _join(sessionId: string, code: string, label: string): Promise<void> {
  const button = byId<HTMLButtonElement>("join-button");
  button.disabled = true;
  byId("join-status").textContent = "Joining…";
  showError(undefined);
  let viewer: Viewer;
  try {
    viewer = await Viewer.join({
      rtc: browser(),
      server: location.origin,
      sessionId,
      joinCode: code,
      label: label || undefined,
    });
  } catch (error) {
    showError(explainError(error));
    return;
  } finally {
    button.disabled = false;
    byId("join-status").textContent = "";
  }
  Object.assign(globalThis, { shoalViewer: viewer }); // for the browser console and tests
  const why = await _run(viewer);
  showError(explainError(why));
  byId("join-form").hidden = false;
}

async function main(): Promise<void> {
  await setupPage();
  const sessionId = _sessionId();
  if (!sessionId) return showError("This link has no session in it; ask the host for a new one.");
  byId("session-id").textContent = sessionId;
  const codeInput = byId<HTMLInputElement>("join-code");
  const labelInput = byId<HTMLInputElement>("label");
  byId("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void _join(sessionId, codeInput.value.trim(), labelInput.value.trim());
  });
  byId<HTMLButtonElement>("join-button").disabled = false;
  const { code, label } = _fromFragment();
  if (label) labelInput.value = label;
  if (code) {
    codeInput.value = code;
    await _join(sessionId, code, label ?? "");
  } else codeInput.focus();
}

void main();
