/**
 * A small Prometheus registry: counters, gauges, histograms, and families whose samples are read
 * at scrape time, rendered in the text exposition format 0.0.4; and a strict parser of that
 * format for tests and tools. No client library: a controller needs a dozen families and no
 * dependency. (controller-runtime's `pkg/metrics/registry.go` plays this part there; the
 * controller families are in `controller_metrics.ts`.)
 *
 * @example
 * ```ts
 * import { MetricsRegistry, parsePrometheus } from "./prometheus.ts";
 * const registry = new MetricsRegistry();
 * const total = registry.counter("jobs_total", "Jobs run.", ["result"]);
 * total.inc({ result: "ok" });
 * console.assert(registry.render().includes('jobs_total{result="ok"} 1'));
 * console.assert(parsePrometheus(registry.render()).samples[0]!.value === 1);
 * ```
 *
 * @module
 */

/** Label values by label name. */
export type Labels = Record<string, string>;

/** The content type of the text format this module writes. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

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

  /** A counter whose series are told apart by `labelNames`; use {@link MetricsRegistry.counter}. */
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

  /** A gauge whose series are told apart by `labelNames`; use {@link MetricsRegistry.gauge}. */
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
  /** The upper bounds of the buckets, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];

  /** A histogram with these buckets per label set; use {@link MetricsRegistry.histogram}. */
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
  /** The series' label values. */
  labels: Labels;
  /** Its value now. */
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

/** One sample line of the text format, parsed. */
export interface PrometheusSample {
  /** The metric name, with its `_bucket`, `_sum` or `_count` suffix. */
  name: string;
  /** Label values by label name, unescaped. */
  labels: Labels;
  /** The value (`+Inf`, `-Inf` and `NaN` included). */
  value: number;
}

/** What {@link parsePrometheus} reads from a text: the families' types and every sample. */
export interface ParsedPrometheus {
  /** The TYPE of each family, by name. */
  types: Map<string, string>;
  /** The samples, in the order of the text. */
  samples: PrometheusSample[];
}

/**
 * Parses text format 0.0.4 strictly: every line is a HELP, a TYPE, or `name{labels} value`.
 *
 * @throws {SyntaxError} naming the first line that is none of these
 */
export function parsePrometheus(text: string): ParsedPrometheus {
  const types = new Map<string, string>();
  const samples: PrometheusSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/
      .exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new SyntaxError(`Not a sample line: ${JSON.stringify(line)}`);
    const raw = sample[4]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN") throw new SyntaxError(`Bad value: ${raw}`);
    samples.push({ name: sample[1]!, labels: parseLabels(sample[3] ?? ""), value });
  }
  return { types, samples };
}

function parseLabels(body: string): Labels {
  const labels: Labels = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  let at = 0;
  while (at < body.length) {
    pair.lastIndex = at;
    const m = pair.exec(body);
    if (!m) throw new SyntaxError(`Bad labels: ${JSON.stringify(body)}`);
    // One pass, so that an escaped backslash before an `n` stays a backslash and an `n`.
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c);
    at = pair.lastIndex;
  }
  return labels;
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
