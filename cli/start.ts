/**
 * `deno task start`: the operator against a real cluster (kubeconfig or in-cluster), with
 * structured JSON logs, until SIGINT or SIGTERM; with `--leader-elect`, only while it holds the
 * leader Lease; with `--metrics-bind-address` and `--health-probe-bind-address`, `/metrics`,
 * `/healthz` and `/readyz` as controller-runtime's manager serves them.
 *
 * The wiring ({@link OperatorRuntime}) takes a cluster port, a clock and a random source, so the
 * same operator, leader election and event rate limit run in the simulated cluster in tests.
 *
 * Exit codes: 0 after a signal; 1 when the leader Lease was lost (Kubernetes restarts the pod,
 * as with controller-runtime); 2 for bad input.
 *
 * @module
 */

import { KubeClusterClient } from "../adapters/kube_client.ts";
import { KubeConfigError } from "../adapters/kubeconfig.ts";
import { cryptoRandom, systemClock } from "../adapters/system.ts";
import type { Clock, Random } from "../core/clock.ts";
import { type ClusterClient, isApiError } from "../core/cluster.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { POSTGRESDB } from "../core/postgres/types.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { Controller } from "../runtime/controller.ts";
import { EventRateLimiter, withEventRateLimit } from "../runtime/event_limiter.ts";
import { type Readiness, serveEndpoints } from "../runtime/health_server.ts";
import { LeaderElector, leaderFencedClient } from "../runtime/leader_election.ts";
import { errorMessage, jsonLogger, type Logger, type LogLevel } from "../runtime/log.ts";
import { OperatorMetrics } from "../runtime/metrics.ts";
import { InputError } from "./manifests.ts";

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
  /** @default "info" */
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
  /** @default 15000 */
  leaseDurationMs?: number;
  /** @default 10000 */
  renewDeadlineMs?: number;
  /** @default 2000 */
  retryPeriodMs?: number;
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

/** Leader election settings of {@link OperatorRuntime}. */
export interface RuntimeLeaderElection {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Options of {@link OperatorRuntime}. */
export interface OperatorRuntimeOptions {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Watch only this namespace; all when absent. */
  namespace?: string;
  /** @default 4 */
  maxConcurrentReconciles?: number;
  /** The informers' watchdog; 0 is off (the simulation). @default 300000 */
  watchInactivityMs?: number;
  /** Reconcile only while leading; always when absent. */
  leaderElection?: RuntimeLeaderElection;
  /** Events one object may emit at once. @default 25 */
  eventBurst?: number;
  /** One more event per object every this long. @default 300000 */
  eventRefillEveryMs?: number;
  /** Told once when the leader Lease is lost; reconciling has stopped already. */
  onLeadershipLost?: (reason: string) => void;
}

/**
 * The operator wired together: the PostgresDB controller behind the event rate limit and the
 * leader fence, its metrics, and (optionally) leader election that starts it.
 */
export class OperatorRuntime {
  readonly controller: Controller;
  readonly metrics: OperatorMetrics;
  readonly elector: LeaderElector | undefined;
  readonly events: EventRateLimiter;
  readonly #options: OperatorRuntimeOptions;
  #started = false;
  #lost: string | undefined;

  constructor(client: ClusterClient, options: OperatorRuntimeOptions) {
    this.#options = options;
    const logger = options.logger;
    this.metrics = new OperatorMetrics();
    this.events = new EventRateLimiter({
      clock: options.clock,
      ...(options.eventBurst !== undefined ? { burst: options.eventBurst } : {}),
      ...(options.eventRefillEveryMs !== undefined
        ? { refillEveryMs: options.eventRefillEveryMs }
        : {}),
      onDrop: (event) => {
        const reason = String((event as { reason?: unknown }).reason ?? "");
        this.metrics.eventsDropped.inc({ reason });
        logger.log("debug", "Event dropped by the rate limit", { reason });
      },
    });
    const election = options.leaderElection;
    this.elector = election
      ? new LeaderElector(client, {
        ...election,
        clock: options.clock,
        // Jittered retries, so that replicas do not contend in lockstep.
        random: options.random,
        logger,
      })
      : undefined;
    const elector = this.elector;
    const fenced = elector ? leaderFencedClient(client, () => elector.isLeader) : client;
    this.controller = new Controller(withEventRateLimit(fenced, this.events), postgresReconciler, {
      clock: options.clock,
      random: options.random,
      logger,
      metrics: this.metrics,
      maxConcurrentReconciles: options.maxConcurrentReconciles ?? 4,
      ...(options.watchInactivityMs !== undefined
        ? { watchInactivityMs: options.watchInactivityMs }
        : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
    });
    this.metrics.watchController(this.controller);
    if (election) this.metrics.leaderStatus.set({ name: election.name }, 0);
  }

  /** Starts reconciling, or campaigning for the Lease first. */
  start(): void {
    const elector = this.elector;
    if (!elector) return this.#startController();
    const name = this.#options.leaderElection!.name;
    this.#options.logger.log("info", "Waiting for the leader lease", {
      lease: `${this.#options.leaderElection!.namespace}/${name}`,
      identity: elector.identity,
    });
    elector.start({
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name }, 1);
        this.#startController();
      },
      onStoppedLeading: (reason) => {
        this.metrics.leaderStatus.set({ name }, 0);
        this.#lost = reason;
        // Stop at once: no new reconcile starts, and the fence refuses the writes of those in
        // flight; stop() only waits for them to notice.
        void this.controller.stop();
        this.#options.onLeadershipLost?.(reason);
      },
      onNewLeader: (identity) => {
        this.#options.logger.log("info", "Observed the leader", { leader: identity });
      },
    });
  }

  /**
   * Ready once the caches have synced; a standby replica (leader election on, not leading) is
   * ready once it has read the Lease, since it has no cache to fill until it leads.
   */
  ready(): Readiness {
    if (this.#lost !== undefined) return { ready: false, reason: `lost the lease: ${this.#lost}` };
    const elector = this.elector;
    if (elector && !elector.isLeader) {
      return elector.leader !== undefined
        ? { ready: true, reason: `standby, the leader is "${elector.leader}"` }
        : { ready: false, reason: "the leader Lease has not been read yet" };
    }
    if (!this.#started || !this.controller.synced) {
      return { ready: false, reason: "caches not synced" };
    }
    return { ready: true, reason: "caches synced" };
  }

  /** Stops reconciling (waiting for reconciles in flight), then releases the Lease. */
  async stop(): Promise<void> {
    await this.controller.stop();
    await this.elector?.stop({ release: true });
  }

  #startController(): void {
    this.#started = true;
    void this.controller.start().catch((error) => {
      this.#options.logger.log("error", "Controller failed to start", {
        error: errorMessage(error),
      });
    });
  }
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
  let runtime: OperatorRuntime;
  try {
    runtime = new OperatorRuntime(client, {
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
  runtime.metrics.watchClient(client.stats);
  const endpoints = serveOperatorEndpoints(options, runtime);
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
  runtime.start();
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
  await runtime.stop();
  await endpoints.shutdown();
  client.close();
  logger.log("info", "Stopped", {
    reconciles: runtime.controller.stats.reconciles,
    writes: runtime.controller.stats.writes,
  });
  return 0;
}

function leaderElection(options: StartOptions, client: KubeClusterClient): RuntimeLeaderElection {
  const election: RuntimeLeaderElection = {
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

function serveOperatorEndpoints(options: StartOptions, runtime: OperatorRuntime) {
  try {
    return serveEndpoints({
      metricsAddress: options.metricsBindAddress ?? "0",
      healthAddress: options.healthProbeBindAddress ?? "0",
      metrics: () => runtime.metrics.registry.render(),
      ready: () => runtime.ready(),
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
