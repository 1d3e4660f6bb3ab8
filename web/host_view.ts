/**
 * The host page's two live views: the table of viewers and the metrics list.
 *
 * @module
 */
import type { HostMetricsSnapshot, PeerSnapshot } from "../core/host_metrics.ts";
import { formatBytes, formatMs, h } from "./dom.ts";

/**
 * Fills the `<tbody>` of `table` with one row per viewer, in join order; `extra` adds a
 * last cell to each row (the share page's input grant). Cells that did not change stay
 * in place, so that a button in them can be clicked while the table refreshes.
 */
export function renderViewers<P extends PeerSnapshot>(
  table: HTMLElement,
  peers: P[],
  extra?: (peer: P) => HTMLElement,
): void {
  const body = table.querySelector("tbody");
  if (!body) throw new TypeError("the viewers table has no tbody");
  const rows = peers.map((p) => {
    const row = h("tr", "", { "data-peer": p.peerId, "data-state": p.state });
    const peer = h("td");
    peer.append(h("code", p.peerId));
    row.append(
      peer,
      h("td", p.label || "—"),
      h("td", p.state, { class: `state state-${p.state}` }),
      h("td", formatMs(p.rttMs), { class: "num" }),
      h("td", formatBytes(p.queuedBytes + p.bufferedAmount), { class: "num" }),
    );
    if (extra) row.append(extra(p));
    return row;
  });
  const old = new Map<string, HTMLTableRowElement>();
  for (const row of body.querySelectorAll("tr")) old.set(row.dataset.peer ?? "", row);
  const kept = rows.map((row) => {
    const before = old.get(row.dataset.peer ?? "");
    if (!before || before.cells.length !== row.cells.length) return row;
    before.dataset.state = row.dataset.state;
    [...row.cells].forEach((cell, i) => {
      if (before.cells[i].outerHTML !== cell.outerHTML) before.cells[i].replaceWith(cell);
    });
    return before;
  });
  const same = kept.length === body.rows.length && kept.every((r, i) => body.rows[i] === r);
  if (!same) body.replaceChildren(...kept);
}

function _pairs(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(" · ") : "none";
}

/** Fills the `<dl>` `list` with the host's totals. */
export function renderMetrics(list: HTMLElement, m: HostMetricsSnapshot): void {
  const t = m.timeToReadyMs;
  const items: [string, string][] = [
    ["Viewers by state", _pairs(m.states)],
    ["Handshakes in flight", `${m.handshakes.inFlight} (cap ${m.handshakes.concurrency})`],
    [
      "Offers · answers · stale signals",
      `${m.signaling.offers} · ${m.signaling.answers} · ${m.signaling.stale}`,
    ],
    ["Handshake outcomes", _pairs(m.outcomes)],
    ["Viewers dropped", _pairs(m.drops)],
    ["Broadcast", `${m.broadcast.messages} messages, ${formatBytes(m.broadcast.bytes)}`],
    ["Sent per second", `${formatBytes(m.broadcast.bytesOutPerSecond)}/s`],
    [
      "Join to ready",
      t.count ? `p50 ${formatMs(t.p50)} · p95 ${formatMs(t.p95)} · max ${formatMs(t.max)}` : "–",
    ],
  ];
  list.replaceChildren(...items.flatMap(([term, value]) => [h("dt", term), h("dd", value)]));
}
