/**
 * A simulation-first controller library for Kubernetes, and a PostgreSQL operator built on it.
 *
 * A controller is a pure {@link Reconciler}: observed state in, {@link Action}s out. The same
 * {@link Controller} runtime runs it against a real API server or the deterministic
 * {@link SimCluster}, where a seed fixes every interleaving.
 *
 * @example
 * ```ts
 * import { Controller, postgresReconciler, SimCluster } from "./mod.ts";
 *
 * const cluster = new SimCluster({ seed: 42 });
 * const controller = new Controller(cluster.client(), postgresReconciler, {
 *   clock: cluster.clock,
 *   random: cluster.random.fork(),
 *   watchInactivityMs: 0,
 * });
 * // Install the CRD, start the controller and apply PostgresDBs, then drive virtual time:
 * // await cluster.run({ maxVirtualMs: 60_000 });
 * console.assert(controller.reconciler.name === "postgres-operator");
 * ```
 *
 * @module
 */

export * from "./core/object.ts";
export * from "./core/cluster.ts";
export * from "./core/clock.ts";
export * from "./core/actions.ts";
export * from "./core/reconciler.ts";
export * from "./core/compare.ts";
export * from "./core/conditions.ts";
export * from "./core/quantity.ts";
export * from "./core/postgres/types.ts";
export * from "./core/postgres/validate.ts";
export * from "./core/postgres/reconcile.ts";
export { buildCredentialsSecret, generatePassword } from "./core/postgres/secret.ts";
export { buildHeadlessService } from "./core/postgres/service.ts";
export { buildStatefulSet } from "./core/postgres/statefulset.ts";
export { postgresDBCrd } from "./crds/postgresdb.ts";
export * from "./runtime/controller.ts";
export * from "./runtime/informer.ts";
export * from "./runtime/queue.ts";
export * from "./runtime/executor.ts";
export * from "./runtime/log.ts";
export * from "./runtime/leader_election.ts";
export * from "./runtime/metrics.ts";
export * from "./runtime/health_server.ts";
export * from "./runtime/event_limiter.ts";
export { KubeClusterClient } from "./adapters/kube_client.ts";
export { cryptoRandom, systemClock } from "./adapters/system.ts";
export * from "./sim/mod.ts";
export * from "./core/finalizer.ts";
export * from "./core/status.ts";
export * from "./core/owned.ts";
export * from "./core/crd.ts";
