/**
 * Runs the operator on the embedded simulated cluster: apply manifests as a user would, run until
 * nothing is left to do (or a bound of virtual time passes), and report what happened.
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import { describeRef, type KubeObject, refOf } from "../core/object.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { postgresDBCrd } from "../crds/postgresdb.ts";
import { Controller } from "../runtime/controller.ts";
import type { Logger } from "../runtime/log.ts";
import { SimCluster, type SimClusterOptions } from "../sim/cluster.ts";
import { InputError } from "./manifests.ts";

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** The seed of every random choice. @default 1 */
  seed?: number;
  /** Give up after this much virtual time. @default 600000 (ten minutes) */
  maxVirtualMs?: number;
  /** More options for the simulated cluster. */
  cluster?: Omit<SimClusterOptions, "seed">;
  logger?: Logger;
}

/** What a simulated run did: the `sim --output json` object. */
export interface SimulationReport {
  /** True when the cluster came to rest: no reconcile queued, no timer pending. */
  converged: boolean;
  virtualSeconds: number;
  reconciles: number;
  /** Writes the operator made (user applies and built-in controllers not counted). */
  apiWrites: number;
  objects: KubeObject[];
  events: KubeObject[];
}

/** A simulated cluster with the operator running in it. */
export interface OperatorWorld {
  cluster: SimCluster;
  controller: Controller;
  /** Applies objects as `kubectl apply` would. Unknown kinds are an {@link InputError}. */
  apply(objects: readonly KubeObject[]): Promise<void>;
}

/** Starts a simulated cluster with the CRDs installed and the operator running. */
export async function startOperatorWorld(options: SimulateOptions = {}): Promise<OperatorWorld> {
  const cluster = new SimCluster({ ...options.cluster, seed: options.seed ?? 1 });
  const user = cluster.client({ name: "kubectl" });
  await runWhile(cluster, user.apply(postgresDBCrd, { fieldManager: "kubectl" }));
  const controllerOptions = {
    clock: cluster.clock,
    random: cluster.random.fork(),
    // The watchdog guards real connections; the simulation injects its own disruptions.
    watchInactivityMs: 0,
  };
  const controller = new Controller(
    cluster.client({ name: postgresReconciler.name }),
    postgresReconciler,
    options.logger ? { ...controllerOptions, logger: options.logger } : controllerOptions,
  );
  await runWhile(cluster, controller.start());
  return {
    cluster,
    controller,
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
  const report: SimulationReport & { nowMs: number } = {
    nowMs: world.cluster.clock.nowMs(),
    converged: result.quiescent && world.controller.idle,
    virtualSeconds: (world.cluster.clock.nowMs() - startMs) / 1000,
    reconciles: world.controller.stats.reconciles,
    apiWrites: world.controller.stats.writes,
    objects,
    events: objects.filter((o) => o.kind === "Event"),
  };
  await world.controller.stop();
  return report;
}

/** Drives the simulation until `promise` settles (the client answers on virtual time). */
export function runWhile<T>(cluster: SimCluster, promise: Promise<T>): Promise<T> {
  return cluster.request(promise);
}
