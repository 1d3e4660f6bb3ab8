/**
 * The few DOM helpers both pages share (no framework), and logging set-up for a page.
 *
 * @module
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { z } from "zod";

/** The element with id `id`; throws if the page lacks it (a bug in the HTML). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new TypeError(`the page has no #${id}`);
  return el as T;
}

/** Creates an element with text content and attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = "",
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}

/** Shows `sentence` in the page's alert box (`#error`), or hides it when undefined. */
export function showError(sentence: string | undefined): void {
  const box = byId("error");
  box.textContent = sentence ?? "";
  box.hidden = sentence === undefined;
}

/** `12.3 ms`, or `–` when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "–";
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** `0 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** `14:03:27`, the local time of day. */
export function clock(date = new Date()): string {
  return date.toLocaleTimeString([], { hour12: false });
}

/** Appends `item` to the list `list`, keeping at most `max` items (the oldest go). */
export function appendCapped(list: HTMLElement, item: HTMLElement, max = 500): void {
  list.append(item);
  while (list.childElementCount > max) list.firstElementChild?.remove();
}

/**
 * Sends the core's warnings and errors to the browser console, and turns off zod's JIT
 * (it probes `new Function`, which the pages' Content-Security-Policy forbids).
 */
export async function setupPage(): Promise<void> {
  z.config({ jitless: true });
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["shoal"], lowestLevel: "warning", sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["console"] },
    ],
  });
}
