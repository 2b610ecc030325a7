/**
 * Runs the operator on the embedded simulated cluster: apply manifests as a user would, run until
 * nothing is left to do (or a bound of virtual time passes), and report what happened.
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import { describeRef, type KubeObject, refOf } from "../core/object.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { backupReconciler } from "../core/backup/reconcile.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { Controller } from "../runtime/controller.ts";
import type { Logger } from "../runtime/log.ts";
import type { SimClient } from "../sim/client.ts";
import { SimCluster, type SimClusterOptions } from "../sim/cluster.ts";
import { checkPostgresConverged } from "../sim/postgres_checks.ts";
import { InputError } from "./manifests.ts";

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** The seed of every random choice. @default 1 */
  seed?: number;
  /** Give up after this much virtual time. @default 600000 (ten minutes) */
  maxVirtualMs?: number;
  /** More options for the simulated cluster. */
  cluster?: Omit<SimClusterOptions, "seed">;
  /** Where the operator logs. @default no logs */
  logger?: Logger;
}

/** What a simulated run did: the `sim --output json` object. */
export interface SimulationReport {
  /**
   * True when the cluster came to rest (no reconcile queued, no timer pending) with every
   * PostgresDB at its spec or at a refusal it reports (`InvalidSpec`, `ChildConflict`,
   * `CredentialsMissing`, a refused change of major): the same rule as `sim --faults`.
   */
  converged: boolean;
  /** Why the end state is not converged, when it came to rest: one line per PostgresDB. */
  problems?: string[];
  /** Virtual time from the first apply to the end. */
  virtualSeconds: number;
  /** Reconciles the operator ran. */
  reconciles: number;
  /**
   * The operator's write requests that reached the API server, as the server counts them:
   * committed or rejected (user applies and built-in controllers not counted).
   */
  apiWrites: number;
  /** Every object in the simulated cluster at the end. */
  objects: KubeObject[];
  /** The Events among them. */
  events: KubeObject[];
}

/** A simulated cluster with the operator running in it. */
export interface OperatorWorld {
  /** The simulated cluster. */
  cluster: SimCluster;
  /** The operator's client, at the server's side: its stats count what reached the server. */
  operatorClient: SimClient;
  /** The operator's controller. */
  controller: Controller;
  /** The PostgresBackup controller. */
  backups: Controller;
  /** Applies objects as `kubectl apply` would. Unknown kinds are an {@link InputError}. */
  apply(objects: readonly KubeObject[]): Promise<void>;
}

/** Starts a simulated cluster with the CRDs installed and the operator running. */
export async function startOperatorWorld(options: SimulateOptions = {}): Promise<OperatorWorld> {
  const cluster = new SimCluster({ ...options.cluster, seed: options.seed ?? 1 });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await runWhile(cluster, user.apply(crd, { fieldManager: "kubectl" }));
  const controllerOptions = {
    clock: cluster.clock,
    random: cluster.random.fork(),
    // The watchdog guards real connections; the simulation injects its own disruptions.
    watchInactivityMs: 0,
  };
  // The operator's runtime never modifies what it reads: it may share the stored objects.
  const operatorClient = cluster.client({ name: postgresReconciler.name, shareObjects: true });
  const controller = new Controller(
    operatorClient,
    postgresReconciler,
    options.logger ? { ...controllerOptions, logger: options.logger } : controllerOptions,
  );
  await runWhile(cluster, controller.start());
  const backups = new Controller(
    cluster.client({ name: backupReconciler.name, shareObjects: true }),
    backupReconciler,
    options.logger ? { ...controllerOptions, logger: options.logger } : controllerOptions,
  );
  await runWhile(cluster, backups.start());
  return {
    cluster,
    operatorClient,
    controller,
    backups,
    async apply(objects) {
      for (const object of objects) {
        try {
          await runWhile(cluster, user.apply(object, { fieldManager: "kubectl" }));
        } catch (error) {
          if (isApiError(error, "NotFound") || isApiError(error, "Invalid")) {
            throw new InputError(`Cannot apply ${describeRef(refOf(object))}: ${error.message}`);
          }
          throw error;
        }
      }
    },
  };
}

/** Applies manifests to a fresh simulated cluster, runs the operator, and reports. */
export async function simulate(
  manifests: readonly KubeObject[],
  options: SimulateOptions = {},
): Promise<SimulationReport & { nowMs: number }> {
  const world = await startOperatorWorld(options);
  await world.apply(manifests);
  const startMs = world.cluster.clock.nowMs();
  const result = await world.cluster.run({ maxVirtualMs: options.maxVirtualMs ?? 600_000 });
  const objects = world.cluster.objects();
  const rested = result.quiescent && world.controller.idle && world.backups.idle;
  const problems = rested ? checkPostgresConverged(world) : [];
  const report: SimulationReport & { nowMs: number } = {
    nowMs: world.cluster.clock.nowMs(),
    converged: rested && problems.length === 0,
    problems,
    virtualSeconds: (world.cluster.clock.nowMs() - startMs) / 1000,
    reconciles: world.controller.stats.reconciles,
    apiWrites: world.operatorClient.stats.writes,
    objects,
    events: objects.filter((o) => o.kind === "Event"),
  };
  await world.controller.stop();
  await world.backups.stop();
  return report;
}

/**
 * Applies manifests to a fresh simulated cluster and discards it: throws the {@link InputError}
 * that {@link simulate} would, so that `sim --faults` refuses the same input as plain `sim`.
 */
export async function checkManifestsApply(
  manifests: readonly KubeObject[],
  options: SimulateOptions = {},
): Promise<void> {
  const world = await startOperatorWorld(options);
  try {
    await world.apply(manifests);
  } finally {
    await world.controller.stop();
    await world.backups.stop();
    await world.backups.stop();
  }
}

/** Drives the simulation until `promise` settles (the client answers on virtual time). */
export function runWhile<T>(cluster: SimCluster, promise: Promise<T>): Promise<T> {
  return cluster.request(promise);
}
