// Goal: the controller says "Caches synced" when, and only when, its caches synced: once, never
// at a shutdown that came first; it reconciles a view in the same turn as it checked that view's
// live reads. Method: a simulated cluster whose lists never answer (the informers cannot sync),
// then one that answers; a reconciler that marks the turn in which it was asked for its reads.
import assert from "node:assert/strict";
import type { ClusterClient } from "../core/cluster.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import type { Reconciler } from "../core/reconciler.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { SimCluster } from "../sim/cluster.ts";
import { Controller } from "./controller.ts";
import { memoryLogger } from "./log.ts";

function controllerOn(cluster: SimCluster, client: ClusterClient) {
  const logger = memoryLogger();
  const controller = new Controller(client, postgresReconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
    logger,
  });
  const synced = () => logger.lines.filter((l) => l.message.startsWith("Caches synced")).length;
  return { controller, synced };
}

Deno.test('Controller.start() does not log "Caches synced" when stopped before the caches synced', async () => {
  const cluster = new SimCluster({ seed: 1 });
  const inner = cluster.client({ name: "operator" });
  const hanging: ClusterClient = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === "list") return () => new Promise(() => {});
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const { controller, synced } = controllerOn(cluster, hanging);
  const started = controller.start();
  await cluster.run({ maxVirtualMs: 10_000 });
  await controller.stop();
  await started;
  assert.equal(synced(), 0);
});

Deno.test('Controller.start() logs "Caches synced" once, when the caches synced', async () => {
  const cluster = new SimCluster({ seed: 1 });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  const { controller, synced } = controllerOn(cluster, cluster.client({ name: "operator" }));
  await cluster.request(controller.start());
  assert.equal(synced(), 1);
  await controller.stop();
  assert.equal(synced(), 1);
});

for (const reads of [0, 1]) {
  Deno.test(`Controller reconciles in the turn it checked the live reads (${reads} read), so no cache event slips between`, async () => {
    // The cache is a live view: a relist that lands between the check and the reconcile (a deleted
    // Secret dropped, say) would make the reconcile rest on a read it never made. A microtask
    // queued at the check stands for that cache event: it must not run before the reconcile.
    const cluster = new SimCluster({ seed: 1 });
    const user = cluster.client({ name: "kubectl" });
    let sameTurn = false;
    const seen: boolean[] = [];
    const reconciler: Reconciler = {
      name: "probe",
      for: { apiVersion: "v1", kind: "ConfigMap" },
      owns: [],
      liveReads() {
        sameTurn = true;
        queueMicrotask(() => sameTurn = false);
        const read = {
          type: { apiVersion: "v1", kind: "Secret" },
          namespace: "default",
          name: "s",
        };
        return reads === 0 ? [] : [read];
      },
      reconcile() {
        seen.push(sameTurn);
        return { actions: [] };
      },
    };
    const controller = new Controller(cluster.client({ name: "probe" }), reconciler, {
      clock: cluster.clock,
      random: cluster.random.fork(),
      watchInactivityMs: 0,
      logger: memoryLogger(),
    });
    await cluster.request(controller.start());
    const map = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "m", namespace: "default" },
    };
    await cluster.request(user.create(map));
    await cluster.run({ maxVirtualMs: 5_000 });
    await controller.stop();
    assert.ok(seen.length > 0, "reconciled");
    assert.deepEqual(seen.filter((s) => !s), [], "every reconcile in the turn of its check");
  });
}
