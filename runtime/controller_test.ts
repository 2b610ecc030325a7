// Goal: the controller says "Caches synced" when, and only when, its caches synced: once, never
// at a shutdown that came first. Method: a simulated cluster whose lists never answer (the
// informers cannot sync), then one that answers.
import assert from "node:assert/strict";
import type { ClusterClient } from "../core/cluster.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
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
