/**
 * Counters, gauges and histograms with labels, and their rendering in the Prometheus text
 * exposition format (version 0.0.4). Runtime-agnostic.
 *
 * @module
 */

/**
 * Label values of one series: a metric holds one value per distinct set of labels.
 *
 * @example
 * ```ts
 * import { type Labels, Registry } from "@shoal/shoal";
 *
 * const labels: Labels = { reason: "slow" };
 * const drops = new Registry().counter("shoal_drops_total", "Drops.");
 * drops.inc(labels);
 * console.assert(drops.get(labels) === 1);
 * ```
 */
export type Labels = Readonly<Record<string, string | number>>;

function _key(labels: Labels | undefined): string {
  if (!labels) return "";
  const names = Object.keys(labels).sort();
  return names.map((n) => `${n}="${_escape(String(labels[n]))}"`).join(",");
}

function _escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function _series(name: string, key: string, extra = ""): string {
  const all = [key, extra].filter((s) => s !== "").join(",");
  return all === "" ? name : `${name}{${all}}`;
}

/**
 * A metric that can render itself in the Prometheus text format: what a {@link Registry}
 * holds.
 *
 * @example
 * ```ts
 * import type { Metric } from "@shoal/shoal";
 *
 * const up: Metric = { name: "up", render: () => "# TYPE up gauge\nup 1" };
 * console.assert(up.render().endsWith("up 1"));
 * ```
 */
export interface Metric {
  /** The metric's name. */
  readonly name: string;
  /** Renders `# HELP`, `# TYPE` and every series. */
  render(): string;
}

/**
 * What {@link Counter} and {@link Gauge} share: one number per label set, read with
 * {@link Scalar.get} and {@link Scalar.total}, rendered as Prometheus text.
 *
 * @example
 * ```ts
 * import { type Scalar, Registry } from "@shoal/shoal";
 *
 * const metric: Scalar = new Registry().counter("shoal_example_total", "Examples.");
 * console.assert(metric.total() === 0);
 * ```
 */
export abstract class Scalar implements Metric {
  /** Each series' value, by its rendered label set. */
  protected values: Map<string, number> = new Map();
  /** Each series' labels, by its rendered label set. */
  protected labelsOf: Map<string, Labels> = new Map();
  /** Names the metric, its `# HELP` text and its `# TYPE` (`counter`, `gauge`). */
  constructor(readonly name: string, readonly help: string, readonly type: string) {}
  /** Returns the value of the series with `labels` (0 when never touched). */
  get(labels?: Labels): number {
    return this.values.get(_key(labels)) ?? 0;
  }
  /** Sums the values of every series. */
  total(): number {
    let sum = 0;
    for (const v of this.values.values()) sum += v;
    return sum;
  }
  /** Forgets the series with `labels` (for a peer that left). */
  remove(labels?: Labels): void {
    this.values.delete(_key(labels));
    this.labelsOf.delete(_key(labels));
  }
  /** Forgets every series (before setting those that still exist). */
  clear(): void {
    this.values.clear();
    this.labelsOf.clear();
  }
  /** Every series: its labels and value. */
  series(): Array<{ labels: Labels; value: number }> {
    return [...this.values].map(([k, value]) => ({ labels: this.labelsOf.get(k) ?? {}, value }));
  }
  /** Sets the series with `labels` to `value`. */
  protected put(labels: Labels | undefined, value: number): void {
    const key = _key(labels);
    if (!this.labelsOf.has(key)) this.labelsOf.set(key, { ...labels });
    this.values.set(key, value);
  }
  /** Renders `# HELP`, `# TYPE` and every series. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [key, value] of this.values) lines.push(`${_series(this.name, key)} ${value}`);
    return lines.join("\n");
  }
}

/**
 * A monotonically increasing count.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * const c = new Registry().counter("shoal_things_total", "Things.");
 * c.inc({ kind: "a" });
 * console.assert(c.get({ kind: "a" }) === 1);
 * ```
 */
export class Counter extends Scalar {
  /** A counter named `name` (Prometheus style: `…_total`), described by `help`. */
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  /** Adds `by` (default 1) to the series with `labels`. */
  inc(labels?: Labels, by = 1): void {
    this.put(labels, this.get(labels) + by);
  }
}

/**
 * A value that goes up and down.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * const g = new Registry().gauge("shoal_open", "Open things.");
 * g.set(3);
 * g.dec();
 * console.assert(g.get() === 2);
 * ```
 */
export class Gauge extends Scalar {
  /** A gauge named `name`, described by `help`. */
  constructor(name: string, help: string) {
    super(name, help, "gauge");
  }
  /** Sets the series with `labels` to `value`. */
  set(value: number, labels?: Labels): void {
    this.put(labels, value);
  }
  /** Adds `by` (default 1). */
  inc(labels?: Labels, by = 1): void {
    this.set(this.get(labels) + by, labels);
  }
  /** Subtracts `by` (default 1). */
  dec(labels?: Labels, by = 1): void {
    this.set(this.get(labels) - by, labels);
  }
}

/**
 * A read-out of one histogram series: how many observations, their sum, and the
 * cumulative count under each bound.
 *
 * @example
 * ```ts
 * import { type HistogramSnapshot, Registry } from "@shoal/shoal";
 *
 * const h = new Registry().histogram("shoal_ready_ms", "Time to ready.", [100, 1000]);
 * h.observe(250);
 * const s: HistogramSnapshot = h.snapshot();
 * console.assert(s.count === 1 && s.buckets[0] === 0 && s.buckets[1] === 1);
 * ```
 */
export interface HistogramSnapshot {
  /** Observations so far. */
  count: number;
  /** Sum of every observation. */
  sum: number;
  /** Cumulative counts per upper bound, in the order of the buckets. */
  buckets: number[];
}

/**
 * Observations counted into fixed buckets, with an estimate of quantiles.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * const h = new Registry().histogram("shoal_ms", "Durations.", [10, 100]);
 * h.observe(5);
 * h.observe(50);
 * console.assert(h.snapshot().count === 2);
 * ```
 */
export class Histogram implements Metric {
  #series: Map<string, HistogramSnapshot> = new Map();
  /** A histogram named `name`, described by `help`, with increasing upper `bounds`. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {
    if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1])) {
      throw new RangeError("histogram bounds must increase");
    }
  }
  /** Records one observation in the series with `labels`. */
  observe(value: number, labels?: Labels): void {
    const key = _key(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { count: 0, sum: 0, buckets: this.bounds.map(() => 0) };
      this.#series.set(key, s);
    }
    s.count++;
    s.sum += value;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) s.buckets[i]++;
  }
  /** Returns a copy of the series with `labels`. */
  snapshot(labels?: Labels): HistogramSnapshot {
    const s = this.#series.get(_key(labels));
    return s
      ? { count: s.count, sum: s.sum, buckets: [...s.buckets] }
      : { count: 0, sum: 0, buckets: this.bounds.map(() => 0) };
  }
  /** Estimates quantile `q` (0..1) as the upper bound of the bucket that holds it. */
  quantile(q: number, labels?: Labels): number {
    const s = this.snapshot(labels);
    if (s.count === 0) return NaN;
    const rank = q * s.count;
    const i = s.buckets.findIndex((c) => c >= rank);
    return i === -1 ? Infinity : this.bounds[i];
  }
  /** Renders `# HELP`, `# TYPE` and every series' buckets, sum and count. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of this.#series) {
      this.bounds.forEach((b, i) => {
        lines.push(`${_series(`${this.name}_bucket`, key, `le="${b}"`)} ${s.buckets[i]}`);
      });
      lines.push(`${_series(`${this.name}_bucket`, key, `le="+Inf"`)} ${s.count}`);
      lines.push(`${_series(`${this.name}_sum`, key)} ${s.sum}`);
      lines.push(`${_series(`${this.name}_count`, key)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/**
 * A set of metrics rendered together.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * const r = new Registry();
 * r.counter("shoal_x_total", "X.").inc();
 * console.assert(r.render().includes("shoal_x_total 1"));
 * ```
 */
export class Registry {
  #metrics: Map<string, Metric> = new Map();

  /** Creates (or returns the existing) counter `name`. */
  counter(name: string, help: string): Counter {
    return this.#add(name, () => new Counter(name, help), Counter);
  }
  /**
   * Creates (or returns the existing) counters named in `specs`: `{ key: [name, help] }`
   * gives `{ key: Counter }`, the shape a module's metrics object takes.
   *
   * @example
   * ```ts
   * import { Registry } from "./metrics.ts";
   * const { sent } = new Registry().counters({ sent: ["shoal_sent_total", "Sent."] });
   * sent.inc();
   * console.assert(sent.total() === 1);
   * ```
   */
  counters<K extends string>(
    specs: Readonly<Record<K, readonly [name: string, help: string]>>,
  ): Record<K, Counter> {
    const out = {} as Record<K, Counter>;
    for (const key of Object.keys(specs) as K[]) {
      const [name, help] = specs[key];
      out[key] = this.counter(name, help);
    }
    return out;
  }
  /** Creates (or returns the existing) gauge `name`. */
  gauge(name: string, help: string): Gauge {
    return this.#add(name, () => new Gauge(name, help), Gauge);
  }
  /** Creates (or returns the existing) histogram `name` with upper `bounds`. */
  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.#add(name, () => new Histogram(name, help, bounds), Histogram);
  }
  /** Renders every metric in the Prometheus text exposition format. */
  render(): string {
    return [...this.#metrics.values()].map((m) => m.render()).join("\n") + "\n";
  }

  #add<T extends Metric>(
    name: string,
    make: () => T,
    // deno-lint-ignore no-explicit-any
    kind: abstract new (...args: any[]) => T,
  ): T {
    const found = this.#metrics.get(name);
    if (found) {
      if (!(found instanceof kind)) throw new TypeError(`metric ${name} exists as another type`);
      return found;
    }
    const metric = make();
    this.#metrics.set(name, metric);
    return metric;
  }
}

/**
 * A module's metrics object: what `build` registers in a fresh {@link Registry}, with the
 * registry itself (to render).
 *
 * @example
 * ```ts
 * import { metricsIn } from "./metrics.ts";
 * const m = metricsIn((r) => r.counters({ sent: ["shoal_sent_total", "Sent."] }));
 * m.sent.inc();
 * console.assert(m.registry.render().includes("shoal_sent_total 1"));
 * ```
 */
export function metricsIn<T extends object>(
  build: (registry: Registry) => T,
): T & { registry: Registry } {
  const registry = new Registry();
  return { ...build(registry), registry };
}
