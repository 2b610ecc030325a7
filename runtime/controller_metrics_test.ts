// Goal: ControllerMetrics moves with a controller's reconciles under controller-runtime's names,
// exports each series at 0 before the first reconcile, and pins client-go's workqueue buckets.
// Method: the PostgresDB controller on the simulated cluster with the metrics hooks plugged in;
// the text is read back with the strict parser.
import assert from "node:assert/strict";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { POSTGRESDB } from "../core/postgres/types.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { SimCluster } from "../sim/cluster.ts";
import { Controller } from "./controller.ts";
import { ControllerMetrics, WORKQUEUE_BUCKETS } from "./controller_metrics.ts";
import { parsePrometheus } from "./prometheus.ts";

Deno.test("WORKQUEUE_BUCKETS are client-go's: 1e-8 to 1e3, times ten", () => {
  assert.equal(WORKQUEUE_BUCKETS.length, 12);
  assert.equal(WORKQUEUE_BUCKETS[0], 1e-8);
  assert.equal(WORKQUEUE_BUCKETS[11], 1000);
});

Deno.test("ControllerMetrics: controller-runtime's series move with reconciles", async () => {
  const cluster = new SimCluster({ seed: 3 });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  const metrics = new ControllerMetrics();
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
  await cluster.request(controller.start());
  const sample = {
    ...POSTGRESDB,
    metadata: { name: "my-postgres", namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "myapp" },
  };
  await cluster.request(user.apply(sample, { fieldManager: "kubectl" }));
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
