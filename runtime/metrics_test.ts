// Goal: the registry writes valid Prometheus text 0.0.4 (HELP, TYPE, escaped labels, cumulative
// histogram buckets with +Inf, _sum and _count), and OperatorMetrics moves with a controller's
// reconciles under controller-runtime's names.
// Method: render and parse with a strict line parser; drive the PostgresDB controller in the
// simulated cluster with the metrics hooks plugged in.
import assert from "node:assert/strict";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { parseManifests } from "../cli/manifests.ts";
import { runWhile } from "../cli/simulate.ts";
import { postgresDBCrd } from "../crds/postgresdb.ts";
import { SimCluster } from "../sim/cluster.ts";
import { Controller } from "./controller.ts";
import { MetricsRegistry, OperatorMetrics, WORKQUEUE_BUCKETS } from "./metrics.ts";
import { parsePrometheus } from "../tests/integration/support.ts";

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

Deno.test("WORKQUEUE_BUCKETS are client-go's: 1e-8 to 1e3, times ten", () => {
  assert.equal(WORKQUEUE_BUCKETS.length, 12);
  assert.equal(WORKQUEUE_BUCKETS[0], 1e-8);
  assert.equal(WORKQUEUE_BUCKETS[11], 1000);
});

Deno.test("OperatorMetrics: controller-runtime's series move with reconciles", async () => {
  const cluster = new SimCluster({ seed: 3 });
  const user = cluster.client({ name: "kubectl" });
  await runWhile(cluster, user.apply(postgresDBCrd, { fieldManager: "kubectl" }));
  const metrics = new OperatorMetrics();
  const controller = new Controller(cluster.client(), postgresReconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
    metrics,
  });
  metrics.watchController(controller);
  const before = parsePrometheus(metrics.registry.render());
  const value = (p: ReturnType<typeof parsePrometheus>, name: string, labels = {}) =>
    p.samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    assert.equal(
      value(before, "controller_runtime_reconcile_total", { result }),
      0,
      `${result} is exported at 0 before the first reconcile`,
    );
  }
  await runWhile(cluster, controller.start());
  for (
    const object of parseManifests(await Deno.readTextFile("examples/postgresdb.yaml"), "sample")
  ) {
    await runWhile(cluster, user.apply(object, { fieldManager: "kubectl" }));
  }
  await cluster.run({ maxVirtualMs: 600_000 });
  const after = parsePrometheus(metrics.registry.render());
  const name = { controller: postgresReconciler.name };
  const total = ["success", "error", "requeue", "requeue_after"].reduce(
    (n, result) => n + value(after, "controller_runtime_reconcile_total", { ...name, result })!,
    0,
  );
  assert.equal(total, controller.stats.reconciles);
  assert.ok(total > 0);
  assert.equal(
    value(after, "controller_runtime_reconcile_errors_total", name),
    controller.stats.errors,
  );
  assert.equal(value(after, "controller_runtime_reconcile_time_seconds_count", name), total);
  const queue = { name: postgresReconciler.name };
  assert.equal(value(after, "workqueue_adds_total", queue), controller.queue.stats.adds);
  assert.equal(value(after, "workqueue_retries_total", queue), controller.queue.stats.retries);
  assert.equal(value(after, "workqueue_depth", queue), 0);
  assert.equal(
    value(after, "workqueue_queue_duration_seconds_count", queue),
    controller.queue.stats.gets,
  );
  await controller.stop();
});
