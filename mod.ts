/**
 * shoal: one host streaming to hundreds of WebRTC data-channel viewers, from Deno or from
 * a browser tab.
 *
 * This module is the runtime-agnostic core: the wire protocol's schemas, the signaling
 * client, the data-channel framing and metrics. The WebRTC stack is passed in through an
 * adapter (`@shoal/shoal/werift` in Deno, `@shoal/shoal/browser` in a page); the signaling
 * server is `@shoal/shoal/server`.
 *
 * @example Connect to a session as a viewer and print every signal the host sends
 * ```ts ignore
 * import { SignalingClient } from "@shoal/shoal";
 *
 * await using client = new SignalingClient({
 *   url: "ws://127.0.0.1:8787/v1/sessions/SESSION/ws",
 *   role: "viewer",
 *   joinCode: "ABCD-EFGH-JKMN",
 * });
 * client.on("signal", (s) => console.log(s.from, s.data.kind));
 * await client.connect();
 * ```
 *
 * @module
 */
export * from "./core/protocol.ts";
export {
  type IncomingSignal,
  type ReconnectOptions,
  SignalingClient,
  type SignalingClientOptions,
  SignalingError,
  type SignalingEvents,
} from "./core/signaling.ts";
export {
  Counter,
  Gauge,
  Histogram,
  type HistogramSnapshot,
  type Labels,
  type Metric,
  Registry,
} from "./core/metrics.ts";
export * from "./core/framing.ts";
