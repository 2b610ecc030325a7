// Goal: the registry writes valid Prometheus text 0.0.4 (HELP, TYPE, escaped labels, cumulative
// histogram buckets with +Inf, _sum and _count), refuses bad registrations, and the parser reads
// back what it writes and refuses what is not the format.
// Method: render and parse with the module's own strict line parser.
import assert from "node:assert/strict";
import { MetricsRegistry, parsePrometheus } from "./prometheus.ts";

Deno.test("MetricsRegistry: counters, gauges and histograms render as text format 0.0.4", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("requests_total", "Requests.\nSecond line", ["path"]);
  counter.inc({ path: 'a"b\\c\nd' }, 2);
  registry.gauge("temperature", "Degrees.").set({}, 21.5);
  const histogram = registry.histogram("latency_seconds", "Latency.", ["op"], [0.1, 1]);
  histogram.observe({ op: "get" }, 0.05);
  histogram.observe({ op: "get" }, 0.5);
  histogram.observe({ op: "get" }, 5);
  const text = registry.render();
  assert.match(text, /^# HELP requests_total Requests\.\\nSecond line$/m);
  const { types, samples } = parsePrometheus(text);
  assert.equal(types.get("latency_seconds"), "histogram");
  assert.deepEqual(samples.find((s) => s.name === "requests_total")?.labels, {
    path: 'a"b\\c\nd',
  });
  const buckets = samples.filter((s) => s.name === "latency_seconds_bucket").map((s) => [
    s.labels.le,
    s.value,
  ]);
  assert.deepEqual(buckets, [["0.1", 1], ["1", 2], ["+Inf", 3]]);
  assert.equal(samples.find((s) => s.name === "latency_seconds_count")?.value, 3);
  assert.equal(samples.find((s) => s.name === "latency_seconds_sum")?.value, 5.55);
  assert.equal(samples.find((s) => s.name === "temperature")?.value, 21.5);
});

Deno.test("MetricsRegistry: refuses a duplicate or invalid name, and a negative increment", () => {
  const registry = new MetricsRegistry();
  registry.counter("a_total", "A.");
  assert.throws(() => registry.counter("a_total", "A."), TypeError);
  assert.throws(() => registry.gauge("1bad", "Bad."), TypeError);
  assert.throws(() => registry.counter("b_total", "B.").inc({}, -1), RangeError);
});

Deno.test("parsePrometheus() reads labels and special values back, and refuses a malformed line", () => {
  const registry = new MetricsRegistry();
  registry.gauge("g", "G.", ["a", "b"]).set({ a: 'q"\\n\nx', b: "" }, Infinity);
  registry.collected("c_total", "C.", "counter", [], () => [{ labels: {}, value: NaN }]);
  const { types, samples } = parsePrometheus(registry.render());
  assert.deepEqual([...types], [["g", "gauge"], ["c_total", "counter"]]);
  assert.deepEqual(samples[0], { name: "g", labels: { a: 'q"\\n\nx', b: "" }, value: Infinity });
  assert.ok(Number.isNaN(samples[1]!.value));
  assert.throws(() => parsePrometheus("not a sample\n"), SyntaxError);
  assert.throws(() => parsePrometheus('x{a="1} 2\n'), SyntaxError);
  assert.throws(() => parsePrometheus("x one\n"), /Bad value: one/);
});
