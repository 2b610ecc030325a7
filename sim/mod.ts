/**
 * The simulated cluster: a deterministic, in-memory Kubernetes API server on virtual time, with
 * the built-in controllers an operator depends on (garbage collector, namespace cleanup,
 * StatefulSets, a pod lifecycle), and a {@link SimClient} that implements the cluster port.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./mod.ts";
 * const cluster = new SimCluster({ seed: 1 });
 * const client = cluster.client({ name: "my-controller" });
 * const pending = client.apply(
 *   { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "default" }, data: { a: "1" } },
 *   { fieldManager: "my-controller" },
 * );
 * await cluster.run({ maxVirtualMs: 1_000 });
 * console.assert((await pending).metadata.resourceVersion !== undefined);
 * ```
 *
 * @module
 */

export * from "./api_server.ts";
export * from "./client.ts";
export * from "./clock.ts";
export * from "./cluster.ts";
export * from "./garbage_collector.ts";
export * from "./namespace_controller.ts";
export * from "./pod_lifecycle.ts";
export * from "./volume_resizer.ts";
export * from "./random.ts";
export * from "./resource_types.ts";
export * from "./statefulset_controller.ts";
export * from "./faults.ts";
export * from "./recording_client.ts";
export * from "./harness.ts";
export * from "./checkers.ts";
export * from "./schedule.ts";
export * from "./data_plane.ts";
export * from "./postgres_instance.ts";
export * from "./job_controller.ts";
export * from "./job_runner.ts";
export * from "./object_store.ts";
export * from "./backup_ports.ts";
export * from "./upgrade_host.ts";
export * from "./upgrade_checks.ts";
export type * from "../core/upgrade/types.ts";
export type { CheckRunOptions, UpgradeRunOptions } from "../runtime/upgrade_runner.ts";
export type { WalSegment, WalTruth } from "./wal_truth.ts";
export type {
  BackupRunOptions,
  RestoreRunOptions,
  ThrowawayDatabase,
  Verifier,
} from "../runtime/backup_runner.ts";
export type {
  BackupRecord,
  DatabaseDumper,
  DatabaseErrorCode,
  DatabaseRestorer,
  Dump,
  FailureReason,
  ObjectStore,
  RunnerResult,
  StoredObject,
  StoreErrorCode,
  TableCount,
  UploadedPart,
} from "../core/backup/types.ts";
