/**
 * Measures what the operator's Secret cache holds in a cluster full of unrelated Secrets: 10
 * PostgresDBs beside N Secrets of 1 KiB that are not the operator's, once with the cache selected
 * by label (the operator as shipped) and once caching every Secret (the operator before the label
 * selector). It reports the Secrets cached, their serialized size, and the heap growth from
 * starting the operator to convergence (after a forced collection).
 *
 * Run: `deno run --allow-read --allow-env --v8-flags=--expose-gc bench/secret_cache.ts [N]`.
 */

import { Controller } from "../runtime/controller.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { CRDS } from "../crds/postgresdb.ts";
import type { Reconciler } from "../core/reconciler.ts";
import type { PostgresDB } from "../core/postgres/types.ts";
import { SimCluster } from "../sim/cluster.ts";

const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc?.();
  return Deno.memoryUsage().heapUsed / 2 ** 20;
}

/** One measured run with `secrets` unrelated Secrets. */
async function measure(secrets: number, reconciler: Reconciler<PostgresDB>) {
  const cluster = new SimCluster({ seed: 1 });
  const server = cluster.server;
  for (const { crd } of CRDS) server.create(structuredClone(crd));
  const filler = btoa("x".repeat(768));
  for (let i = 0; i < 20; i++) {
    server.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: `team-${i}` } });
  }
  for (let i = 0; i < secrets; i++) {
    server.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `app-secret-${i}`, namespace: `team-${i % 20}` },
      type: "Opaque",
      data: { token: filler },
    });
  }
  for (let i = 0; i < 10; i++) {
    server.create({
      apiVersion: "database.thegeekyway.com/v1alpha1",
      kind: "PostgresDB",
      metadata: { name: `db-${i}`, namespace: "default" },
      spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
    });
  }
  const before = heapMiB();
  const controller = new Controller(cluster.client({ name: "operator" }), reconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
  });
  void controller.start();
  await cluster.run({ maxVirtualMs: 600_000 });
  const after = heapMiB();
  const secretInformer = controller.informers.find((i) => i.type.kind === "Secret")!;
  const cached = secretInformer.list();
  const bytes = cached.reduce((sum, o) => sum + JSON.stringify(o).length, 0);
  await controller.stop();
  return { cached: cached.length, cachedKiB: bytes / 1024, heapGrowthMiB: after - before };
}

const n = Number(Deno.args[0] ?? 10_000);
const { cacheSelectors: _, ...everySecret } = postgresReconciler;
console.log(`| Secret cache | unrelated Secrets | Secrets cached | cached size | heap growth |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (
  const [label, reconciler] of [["every Secret (before)", everySecret], [
    "by label (after)",
    postgresReconciler,
  ]] as const
) {
  const r = await measure(n, reconciler);
  console.log(
    `| ${label} | ${n} | ${r.cached} | ${r.cachedKiB.toFixed(0)} KiB | ${
      r.heapGrowthMiB.toFixed(1)
    } MiB |`,
  );
}
