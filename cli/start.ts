/**
 * `deno task start`: the operator against a real cluster (kubeconfig or in-cluster), with
 * structured JSON logs, until SIGINT or SIGTERM.
 *
 * @module
 */

import { KubeClusterClient } from "../adapters/kube_client.ts";
import { KubeConfigError } from "../adapters/kubeconfig.ts";
import { cryptoRandom, systemClock } from "../adapters/system.ts";
import { isApiError } from "../core/cluster.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { POSTGRESDB } from "../core/postgres/types.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { Controller } from "../runtime/controller.ts";
import { errorMessage, jsonLogger, type LogLevel } from "../runtime/log.ts";
import { InputError } from "./manifests.ts";

/** Options of {@link startOperator}. */
export interface StartOptions {
  /** A kubeconfig file; KUBECONFIG, ~/.kube/config or in-cluster when absent. */
  kubeconfig?: string;
  /** A kubeconfig context; the current one when absent. */
  context?: string;
  /** Watch only this namespace; all when absent. */
  namespace?: string;
  /** @default "info" */
  logLevel?: LogLevel;
  /** Reconciles at once. @default 4 */
  maxConcurrentReconciles?: number;
}

/** Connects with the kubeconfig, turning a user's mistake into an {@link InputError}. */
export async function connect(options: StartOptions): Promise<KubeClusterClient> {
  try {
    return await KubeClusterClient.connect({
      ...(options.kubeconfig ? { path: options.kubeconfig } : {}),
      ...(options.context ? { context: options.context } : {}),
    });
  } catch (error) {
    if (error instanceof KubeConfigError) throw new InputError(error.message);
    throw error;
  }
}

/** Runs the operator until a signal; resolves with the exit code. */
export async function startOperator(options: StartOptions): Promise<number> {
  const logger = jsonLogger({ level: options.logLevel ?? "info", write: (l) => console.log(l) });
  const client = await connect(options);
  try {
    await client.list(POSTGRESDB, options.namespace ? { namespace: options.namespace } : {});
  } catch (error) {
    const hint = isApiError(error, "NotFound")
      ? "the PostgresDB CRD is not installed: run `deno task install-crds` (or kubectl apply -f crds/); waiting for it"
      : errorMessage(error);
    logger.log("error", "Cannot list PostgresDBs", { error: hint });
  }
  const controller = new Controller(client, postgresReconciler, {
    clock: systemClock,
    random: cryptoRandom,
    logger,
    maxConcurrentReconciles: options.maxConcurrentReconciles ?? 4,
    ...(options.namespace ? { namespace: options.namespace } : {}),
  });
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
  logger.log("info", "Starting the operator", {
    controller: postgresReconciler.name,
    namespace: options.namespace ?? "(all)",
  });
  void controller.start().catch((error) => {
    logger.log("error", "Controller failed to start", { error: errorMessage(error) });
  });
  const signal = await stopped;
  logger.log("info", "Stopping", { signal });
  await controller.stop();
  client.close();
  logger.log("info", "Stopped", {
    reconciles: controller.stats.reconciles,
    writes: controller.stats.writes,
  });
  return 0;
}

/** Installs (server-side applies) every CRD; prints one line per CRD. */
export async function installCrds(options: StartOptions): Promise<number> {
  const client = await connect(options);
  try {
    for (const { crd } of CRDS) {
      await client.apply(crd, { fieldManager: "postgres-operator-install", force: true });
      console.log(
        `customresourcedefinition.apiextensions.k8s.io/${crd.metadata.name} serverside-applied`,
      );
    }
  } finally {
    client.close();
  }
  return 0;
}
