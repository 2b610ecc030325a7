/**
 * Metrics in the Prometheus text exposition format 0.0.4, with the names controller-runtime
 * exports, so the dashboards and alerts platform engineers already have work unchanged:
 * `controller_runtime_reconcile_total{controller,result}`,
 * `controller_runtime_reconcile_errors_total`, `controller_runtime_reconcile_time_seconds`,
 * `workqueue_depth`, `workqueue_adds_total`, `workqueue_queue_duration_seconds`,
 * `workqueue_retries_total` and `leader_election_master_status`.
 *
 * A small registry (counters, gauges, histograms, and gauges or counters read at scrape time)
 * instead of a client library: the operator needs a dozen families and no dependency.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * const registry = new MetricsRegistry();
 * const total = registry.counter("jobs_total", "Jobs run.", ["result"]);
 * total.inc({ result: "ok" });
 * console.assert(registry.render().includes('jobs_total{result="ok"} 1'));
 * ```
 *
 * @module
 */

import type { ReconcileOutcome } from "./controller.ts";

/** Label values by label name. */
export type Labels = Record<string, string>;

/** The content type of the text format this module writes. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** controller-runtime's buckets for `controller_runtime_reconcile_time_seconds`. */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1.0,
  1.25,
  1.5,
  1.75,
  2.0,
  2.5,
  3.0,
  3.5,
  4.0,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];

/** client-go's workqueue buckets: 10 ns to 1000 s, times ten each. */
export const WORKQUEUE_BUCKETS: readonly number[] = Array.from(
  { length: 12 },
  (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)),
);

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  name: string;
  help: string;
  kind: Kind;
  labelNames: readonly string[];
  /** Sample lines, without HELP and TYPE. */
  lines(): string[];
}

/** A monotonically increasing value per label set. */
export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  readonly #labelNames: readonly string[];

  constructor(labelNames: readonly string[]) {
    this.#labelNames = labelNames;
  }

  /** Adds `by` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new RangeError(`Cannot decrease a counter by ${by}`);
    const series = this.#series(labels);
    series.value += by;
  }

  /** Creates the series with 0 so it is exported before the first event (as controller-runtime). */
  touch(labels: Labels = {}): void {
    this.#series(labels);
  }

  /** The current value of a series. */
  get(labels: Labels = {}): number {
    return this.#values.get(seriesKey(this.#labelNames, labels))?.value ?? 0;
  }

  #series(labels: Labels) {
    const key = seriesKey(this.#labelNames, labels);
    let series = this.#values.get(key);
    if (!series) {
      series = { labels: { ...labels }, value: 0 };
      this.#values.set(key, series);
    }
    return series;
  }

  /** @internal */
  lines(name: string): string[] {
    return [...this.#values.values()].map((s) =>
      `${name}${formatLabels(this.#labelNames, s.labels)} ${formatValue(s.value)}`
    );
  }
}

/** A value that goes up and down, per label set. */
export class Gauge {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  readonly #labelNames: readonly string[];

  constructor(labelNames: readonly string[]) {
    this.#labelNames = labelNames;
  }

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.#values.set(seriesKey(this.#labelNames, labels), { labels: { ...labels }, value });
  }

  /** The current value of a series. */
  get(labels: Labels = {}): number {
    return this.#values.get(seriesKey(this.#labelNames, labels))?.value ?? 0;
  }

  /** @internal */
  lines(name: string): string[] {
    return [...this.#values.values()].map((s) =>
      `${name}${formatLabels(this.#labelNames, s.labels)} ${formatValue(s.value)}`
    );
  }
}

/** Observations counted into cumulative buckets, per label set. */
export class Histogram {
  readonly #series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  readonly #labelNames: readonly string[];
  readonly buckets: readonly number[];

  constructor(labelNames: readonly string[], buckets: readonly number[]) {
    this.#labelNames = labelNames;
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  /** Records one observation (seconds, for the histograms here). */
  observe(labels: Labels, value: number): void {
    const key = seriesKey(this.#labelNames, labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (const [i, bound] of this.buckets.entries()) if (value <= bound) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** How many observations a series has. */
  count(labels: Labels = {}): number {
    return this.#series.get(seriesKey(this.#labelNames, labels))?.count ?? 0;
  }

  /** @internal */
  lines(name: string): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      const count = s.count;
      for (const [i, bound] of this.buckets.entries()) {
        const labels = formatLabels([...this.#labelNames, "le"], {
          ...s.labels,
          le: formatValue(bound),
        });
        out.push(`${name}_bucket${labels} ${s.counts[i]}`);
      }
      const inf = formatLabels([...this.#labelNames, "le"], { ...s.labels, le: "+Inf" });
      out.push(`${name}_bucket${inf} ${count}`);
      out.push(`${name}_sum${formatLabels(this.#labelNames, s.labels)} ${formatValue(s.sum)}`);
      out.push(`${name}_count${formatLabels(this.#labelNames, s.labels)} ${count}`);
    }
    return out;
  }
}

/** A series whose value is read when the registry renders. */
export interface Sample {
  labels: Labels;
  value: number;
}

/** A set of metric families rendered together. */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  /** Registers a counter family. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const counter = new Counter(labelNames);
    this.#add({ name, help, kind: "counter", labelNames, lines: () => counter.lines(name) });
    return counter;
  }

  /** Registers a gauge family. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const gauge = new Gauge(labelNames);
    this.#add({ name, help, kind: "gauge", labelNames, lines: () => gauge.lines(name) });
    return gauge;
  }

  /** Registers a histogram family. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): Histogram {
    const histogram = new Histogram(labelNames, buckets);
    this.#add({
      name,
      help,
      kind: "histogram",
      labelNames,
      lines: () => histogram.lines(name),
    });
    return histogram;
  }

  /**
   * Registers a family whose samples `collect` returns at each render: for values other
   * components keep (a queue's depth, a client's request counts).
   */
  collected(
    name: string,
    help: string,
    kind: "counter" | "gauge",
    labelNames: readonly string[],
    collect: () => Sample[],
  ): void {
    this.#add({
      name,
      help,
      kind,
      labelNames,
      lines: () =>
        collect().map((s) =>
          `${name}${formatLabels(labelNames, s.labels)} ${formatValue(s.value)}`
        ),
    });
  }

  /** Every family in the text format 0.0.4, families in registration order. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families.values()) {
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      out.push(`# TYPE ${family.name} ${family.kind}`);
      out.push(...family.lines());
    }
    return out.join("\n") + "\n";
  }

  #add(family: Family): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family.name)) {
      throw new TypeError(`Cannot register metric "${family.name}": not a valid metric name`);
    }
    if (this.#families.has(family.name)) {
      throw new TypeError(`Cannot register metric "${family.name}": already registered`);
    }
    this.#families.set(family.name, family);
  }
}

/** A controller and its queue, as {@link OperatorMetrics.watchController} reads them. */
export interface WatchedController {
  readonly reconciler: { readonly name: string };
  readonly queue: {
    readonly depth: number;
    readonly active: number;
    readonly stats: { readonly adds: number; readonly retries: number };
  };
}

/**
 * The operator's metric families under controller-runtime's names, plus
 * `pgop_events_dropped_total` and `pgop_api_requests_total`. It implements the controller's
 * metric hooks ({@link OperatorMetrics.reconciled}, {@link OperatorMetrics.dequeued}).
 */
export class OperatorMetrics {
  readonly registry: MetricsRegistry;
  readonly reconcileTotal: Counter;
  readonly reconcileErrors: Counter;
  readonly reconcileTime: Histogram;
  readonly queueDuration: Histogram;
  readonly workDuration: Histogram;
  readonly leaderStatus: Gauge;
  readonly eventsDropped: Counter;
  readonly #controllers: WatchedController[] = [];

  constructor(registry: MetricsRegistry = new MetricsRegistry()) {
    this.registry = registry;
    this.reconcileTotal = registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      ["controller", "result"],
    );
    this.reconcileErrors = registry.counter(
      "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller",
      ["controller"],
    );
    this.reconcileTime = registry.histogram(
      "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller",
      ["controller"],
      RECONCILE_TIME_BUCKETS,
    );
    const queueGauge = (name: string, help: string, read: (c: WatchedController) => number) =>
      registry.collected(name, help, "gauge", ["name"], () => this.#perController(read));
    const queueCounter = (name: string, help: string, read: (c: WatchedController) => number) =>
      registry.collected(name, help, "counter", ["name"], () => this.#perController(read));
    queueGauge("workqueue_depth", "Current depth of workqueue", (c) => c.queue.depth);
    queueCounter(
      "workqueue_adds_total",
      "Total number of adds handled by workqueue",
      (c) => c.queue.stats.adds,
    );
    queueCounter(
      "workqueue_retries_total",
      "Total number of retries handled by workqueue",
      (c) => c.queue.stats.retries,
    );
    this.queueDuration = registry.histogram(
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being requested",
      ["name"],
      WORKQUEUE_BUCKETS,
    );
    this.workDuration = registry.histogram(
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes",
      ["name"],
      WORKQUEUE_BUCKETS,
    );
    registry.collected(
      "controller_runtime_active_workers",
      "Number of currently used workers per controller",
      "gauge",
      ["controller"],
      () =>
        this.#controllers.map((c) => ({
          labels: { controller: c.reconciler.name },
          value: c.queue.active,
        })),
    );
    this.leaderStatus = registry.gauge(
      "leader_election_master_status",
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease",
      ["name"],
    );
    this.eventsDropped = registry.counter(
      "pgop_events_dropped_total",
      "Events not sent to the API server because their object exceeded its event rate limit",
      ["reason"],
    );
  }

  /** Exports the queue of `controller` and creates its reconcile series at 0. */
  watchController(controller: WatchedController): void {
    this.#controllers.push(controller);
    const name = controller.reconciler.name;
    for (const result of ["success", "error", "requeue", "requeue_after"]) {
      this.reconcileTotal.touch({ controller: name, result });
    }
    this.reconcileErrors.touch({ controller: name });
  }

  /** Controller hook: a reconcile of `controller` ended with `outcome` after `durationMs`. */
  reconciled(controller: string, outcome: ReconcileOutcome, durationMs: number): void {
    this.reconcileTotal.inc({ controller, result: outcome });
    if (outcome === "error") this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, durationMs / 1000);
    this.workDuration.observe({ name: controller }, durationMs / 1000);
  }

  /** Controller hook: a key of `controller` waited `waitedMs` in the queue. */
  dequeued(controller: string, waitedMs: number): void {
    this.queueDuration.observe({ name: controller }, waitedMs / 1000);
  }

  /** Exports request counts by port operation, read at each scrape. */
  watchClient(stats: { readonly byVerb: Record<string, number> }): void {
    this.registry.collected(
      "pgop_api_requests_total",
      "Requests sent to the API server, by cluster port operation",
      "counter",
      ["verb"],
      () => Object.entries(stats.byVerb).map(([verb, value]) => ({ labels: { verb }, value })),
    );
  }

  #perController(read: (c: WatchedController) => number): Sample[] {
    return this.#controllers.map((c) => ({ labels: { name: c.reconciler.name }, value: read(c) }));
  }
}

function seriesKey(labelNames: readonly string[], labels: Labels): string {
  return JSON.stringify(labelNames.map((n) => labels[n] ?? ""));
}

function formatLabels(labelNames: readonly string[], labels: Labels): string {
  if (labelNames.length === 0) return "";
  const pairs = labelNames.map((n) => `${n}="${escapeLabel(labels[n] ?? "")}"`);
  return `{${pairs.join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
