/**
 * `deno task start`: the operator against a real cluster (kubeconfig or in-cluster), with
 * structured JSON logs, until SIGINT or SIGTERM; with `--leader-elect`, only while it holds the
 * leader Lease; with `--metrics-bind-address` and `--health-probe-bind-address`, `/metrics`,
 * `/healthz` and `/readyz` as controller-runtime's manager serves them.
 *
 * The wiring ({@link operatorManager}) is the library's {@link Manager} with the PostgresDB
 * controller; this module adds the command line: flags, kubeconfig, signals and exit codes.
 *
 * Exit codes: 0 after a signal; 1 when the leader Lease was lost (Kubernetes restarts the pod,
 * as with controller-runtime); 2 for bad input.
 *
 * @module
 */

import { KubeClusterClient } from "../adapters/kube_client.ts";
import { KubeConfigError } from "../adapters/kubeconfig.ts";
import { cryptoRandom, systemClock } from "../adapters/system.ts";
import { type ClusterClient, isApiError } from "../core/cluster.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { backupReconciler } from "../core/backup/reconcile.ts";
import type { PostgresBackup } from "../core/backup/types.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import { CRDS } from "../crds/postgresdb.ts";
import type { Controller } from "../runtime/controller.ts";
import type { Endpoints } from "../runtime/health_server.ts";
import { errorMessage, jsonLogger, type LogLevel } from "../runtime/log.ts";
import { Manager, type ManagerLeaderElection, type ManagerOptions } from "../runtime/manager.ts";
import { InputError } from "./input_error.ts";

/** The default name of the leader Lease. */
export const DEFAULT_LEADER_ELECTION_ID = "postgres-operator-leader";

/** Options of {@link startOperator}. */
export interface StartOptions {
  /** A kubeconfig file; KUBECONFIG, ~/.kube/config or in-cluster when absent. */
  kubeconfig?: string;
  /** A kubeconfig context; the current one when absent. */
  context?: string;
  /** Watch only this namespace; all when absent. */
  namespace?: string;
  /** The lowest level logged. @default "info" */
  logLevel?: LogLevel;
  /** Reconciles at once. @default 4 */
  maxConcurrentReconciles?: number;
  /** Where `/metrics` listens (`host:port`, `:port` for every interface); `0` is off. @default "0" */
  metricsBindAddress?: string;
  /** Where `/healthz` and `/readyz` listen; may equal the metrics address. @default "0" */
  healthProbeBindAddress?: string;
  /** Reconcile only while holding the leader Lease. @default false */
  leaderElect?: boolean;
  /** The Lease's namespace. @default POD_NAMESPACE, else the kubeconfig's namespace */
  leaderElectionNamespace?: string;
  /** The Lease's name. @default "postgres-operator-leader" */
  leaderElectionId?: string;
  /** How long a standby waits after the last renewal it saw before taking over. @default 15000 */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it stops leading. @default 10000 */
  renewDeadlineMs?: number;
  /** The interval between tries to acquire or renew the Lease. @default 2000 */
  retryPeriodMs?: number;
}

/** Connects with the kubeconfig, turning a user's mistake into an {@link InputError}. */
export async function connect(options: StartOptions): Promise<KubeClusterClient> {
  try {
    return await KubeClusterClient.connect({
      // The caches hold every object the operator watches; its decisions never read managedFields.
      stripManagedFields: true,
      ...(options.kubeconfig ? { path: options.kubeconfig } : {}),
      ...(options.context ? { context: options.context } : {}),
    });
  } catch (error) {
    if (error instanceof KubeConfigError) throw new InputError(error.message);
    throw error;
  }
}

/** The operator on a manager: the manager, and its PostgresDB controller. */
export interface OperatorManager {
  /** Leader election, the fence, Event rate limits, metrics and health. */
  manager: Manager;
  /** The PostgresDB controller, the manager's only one. */
  controller: Controller<PostgresDB>;
  /** The PostgresBackup controller. */
  backups: Controller<PostgresBackup>;
}

/**
 * The operator wired as `deno task start` runs it: the PostgresDB controller on a
 * {@link Manager}. It takes a cluster port, a clock and a random source, so the same wiring runs
 * in the simulated cluster in tests.
 */
export function operatorManager(
  client: ClusterClient,
  options: ManagerOptions,
): OperatorManager {
  const manager = new Manager(client, options);
  const controller = manager.add(postgresReconciler);
  const backups = manager.add(backupReconciler);
  return { manager, controller, backups };
}

/** Runs the operator until a signal, or until the leader Lease is lost; resolves with the exit code. */
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
  let lost: (reason: string) => void = () => {};
  const leadershipLost = new Promise<string>((resolve) => lost = resolve);
  let operator: OperatorManager;
  try {
    operator = operatorManager(client, {
      clock: systemClock,
      random: cryptoRandom,
      logger,
      maxConcurrentReconciles: options.maxConcurrentReconciles ?? 4,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.leaderElect ? { leaderElection: leaderElection(options, client) } : {}),
      onLeadershipLost: (reason) => lost(reason),
    });
  } catch (error) {
    // Lease timings that cannot work (a renew deadline longer than the lease, say).
    if (error instanceof RangeError) throw new InputError(error.message);
    throw error;
  }
  const { manager, controller } = operator;
  manager.metrics.watchClient(client.stats);
  const endpoints = serveOperatorEndpoints(options, manager);
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
  logger.log("info", "Starting the operator", {
    controller: postgresReconciler.name,
    namespace: options.namespace ?? "(all)",
    leaderElection: options.leaderElect === true,
    metrics: endpoints.metricsPort ?? "off",
    health: endpoints.healthPort ?? "off",
  });
  manager.start();
  const outcome = await Promise.race([
    stopped.then((signal) => ({ signal })),
    leadershipLost.then((reason) => ({ reason })),
  ]);
  if ("reason" in outcome) {
    // Exit at once, as controller-runtime does: a restart starts a fresh candidate, and a
    // process that stopped leading must not linger with writes in flight.
    logger.log("error", "Leader election lost, exiting", { reason: outcome.reason });
    return 1;
  }
  logger.log("info", "Stopping", { signal: outcome.signal });
  await manager.stop();
  client.close();
  logger.log("info", "Stopped", {
    reconciles: controller.stats.reconciles,
    writes: controller.stats.writes,
  });
  return 0;
}

function leaderElection(options: StartOptions, client: KubeClusterClient): ManagerLeaderElection {
  const election: ManagerLeaderElection = {
    namespace: options.leaderElectionNamespace ?? Deno.env.get("POD_NAMESPACE") ??
      client.defaultNamespace,
    name: options.leaderElectionId ?? DEFAULT_LEADER_ELECTION_ID,
    identity: leaderIdentity(),
  };
  if (options.leaseDurationMs !== undefined) election.leaseDurationMs = options.leaseDurationMs;
  if (options.renewDeadlineMs !== undefined) election.renewDeadlineMs = options.renewDeadlineMs;
  if (options.retryPeriodMs !== undefined) election.retryPeriodMs = options.retryPeriodMs;
  return election;
}

/** POD_NAME in a pod; elsewhere the host name and a random suffix, as client-go does. */
export function leaderIdentity(): string {
  const pod = Deno.env.get("POD_NAME");
  if (pod) return pod;
  const suffix = crypto.randomUUID();
  try {
    return `${Deno.hostname()}_${suffix}`;
  } catch {
    return suffix;
  }
}

function serveOperatorEndpoints(options: StartOptions, manager: Manager): Endpoints {
  try {
    return manager.serve({
      metricsAddress: options.metricsBindAddress ?? "0",
      healthAddress: options.healthProbeBindAddress ?? "0",
    });
  } catch (error) {
    // A malformed address or a port in use: the command line is wrong, not the operator.
    throw new InputError(`Cannot serve metrics and health probes: ${errorMessage(error)}`);
  }
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
