/**
 * The PostgreSQL operator built on the library: the `PostgresDB` resource
 * (`database.thegeekyway.com/v1alpha1`), its validation, the pure reconciler that turns one into a
 * credentials Secret, a headless Service and a StatefulSet with volumes and probes, its CRD, and
 * the checkers that judge it under the simulation's fault harness.
 *
 * @example Reconcile one PostgresDB in the simulated cluster
 * ```ts
 * import { Controller } from "./mod.ts";
 * import { SimCluster } from "./sim/mod.ts";
 * import { CRDS, postgresReconciler } from "./postgres.ts";
 *
 * const cluster = new SimCluster({ seed: 42 });
 * const user = cluster.client({ name: "user" });
 * for (const { crd } of CRDS) await cluster.request(user.create(crd));
 * const controller = new Controller(cluster.client(), postgresReconciler, {
 *   clock: cluster.clock,
 *   random: cluster.random.fork(),
 * });
 * void controller.start();
 * void user.create({
 *   apiVersion: "database.thegeekyway.com/v1alpha1",
 *   kind: "PostgresDB",
 *   metadata: { name: "my-postgres", namespace: "default" },
 *   spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
 * });
 * await cluster.run({ maxVirtualMs: 120_000 });
 * const db = cluster.objects().find((o) => o.kind === "PostgresDB")!;
 * const status = db.status as { phase?: string };
 * if (status.phase !== "Running") throw new Error(`phase ${status.phase}`);
 * await controller.stop();
 * ```
 *
 * @module
 */

export * from "./core/postgres/types.ts";
export * from "./core/postgres/validate.ts";
export * from "./core/postgres/reconcile.ts";
export { connectionString, secretName, serviceHost } from "./core/postgres/naming.ts";
export { buildCredentialsSecret, generatePassword } from "./core/postgres/secret.ts";
export { buildHeadlessService } from "./core/postgres/service.ts";
export { buildStatefulSet } from "./core/postgres/statefulset.ts";
export { POSTGRES_VERSION, versionMajor } from "./core/postgres/version.ts";
export { CRDS, postgresDBCrd } from "./crds/postgresdb.ts";
export * from "./sim/postgres_checks.ts";
export type { Instance } from "./core/postgres/instances.ts";
export type { PodReport } from "./core/postgres/replication.ts";
export type * from "./core/agent/types.ts";
export type { TimelineHistory, TimelineHistoryEntry } from "./core/agent/timeline.ts";
