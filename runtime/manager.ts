/**
 * The manager: runs any number of controllers under one leader election, behind one leader write
 * fence and one per-object Event rate limit, with one metrics registry and named health and
 * readiness checks, as controller-runtime's `pkg/manager` does (`mgr.Add`, `AddHealthzCheck`,
 * `AddReadyzCheck`, `Start`).
 *
 * Guarantees:
 * - Without leader election the controllers start with {@link Manager.start}. With it they start
 *   only once this replica holds the Lease, and every write of theirs goes through the fence: a
 *   write made while not leading fails with a `NotLeaderError` before a request is sent.
 * - On a lost Lease every controller stops at once (no new reconcile starts; the fence refuses
 *   the writes of those in flight), `onLeadershipLost` is told, and the manager is not ready
 *   from then on. The manager does not campaign again: a process exits and is restarted, as with
 *   controller-runtime.
 * - Ready only when every readiness check passes; the built-in one, `controllers`, passes once
 *   every controller's caches have synced (a standby: once it has read the Lease, since it has
 *   no cache to fill until it leads).
 * - The metric families are registered once, whatever the number of controllers; each series
 *   carries its controller's name.
 * - {@link Manager.stop} (or aborting the start's signal) stops the controllers, waiting for
 *   reconciles in flight, then releases the Lease, then shuts the endpoints down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Manager } from "./manager.ts";
 * import { controllerReference } from "../core/object.ts";
 * import type { Reconciler } from "../core/reconciler.ts";
 * import { SimCluster } from "../sim/cluster.ts";
 *
 * // Every ConfigMap gets a Secret of the same name, owned by it.
 * const mirror: Reconciler = {
 *   name: "mirror",
 *   for: { apiVersion: "v1", kind: "ConfigMap" },
 *   owns: [{ apiVersion: "v1", kind: "Secret" }],
 *   reconcile: ({ object, owned }) => ({
 *     actions: owned.length > 0 ? [] : [{
 *       kind: "create",
 *       reason: "missing",
 *       object: {
 *         apiVersion: "v1",
 *         kind: "Secret",
 *         metadata: {
 *           name: object.metadata.name,
 *           namespace: object.metadata.namespace ?? "default",
 *           ownerReferences: [controllerReference(object)],
 *         },
 *       },
 *     }],
 *   }),
 * };
 * const cluster = new SimCluster({ seed: 1 });
 * const manager = new Manager(cluster.client(), {
 *   clock: cluster.clock,
 *   random: cluster.random.fork(),
 *   watchInactivityMs: 0,
 * });
 * const controller = manager.add(mirror);
 * manager.start();
 * const user = cluster.client({ name: "kubectl" });
 * await cluster.request(user.create({
 *   apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "default" },
 * }));
 * await cluster.run({ maxVirtualMs: 10_000 });
 * assert.ok(manager.ready().ready);
 * assert.ok(cluster.objects().some((o) => o.kind === "Secret" && o.metadata.name === "a"));
 * assert.equal(controller.stats.writes, 1);
 * await cluster.request(manager.stop());
 * ```
 *
 * @module
 */

import type { Clock, Random } from "../core/clock.ts";
import type { ClusterClient } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import type { Reconciler } from "../core/reconciler.ts";
import { Controller, type ControllerOptions } from "./controller.ts";
import { ControllerMetrics } from "./controller_metrics.ts";
import { EventRateLimiter, withEventRateLimit } from "./event_limiter.ts";
import { type Endpoints, type Readiness, serveEndpoints } from "./health_server.ts";
import { type LeaderElectionOptions, LeaderElector } from "./leader_election.ts";
import { leaderFencedClient } from "./leader_fence.ts";
import { errorMessage, type Logger, silentLogger } from "./log.ts";

/** Leader election of a {@link Manager}: which Lease, who this replica is, and the timings. */
export type ManagerLeaderElection = Pick<
  LeaderElectionOptions,
  "namespace" | "name" | "identity" | "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"
>;

/** Options of {@link Manager}. */
export interface ManagerOptions {
  /** The time source of every controller, the elector and the Event rate limit. */
  clock: Clock;
  /** The random source of the controllers (backoff jitter) and the elector (retry jitter). */
  random: Random;
  /** Where the manager, its controllers and the elector log. @default silentLogger */
  logger?: Logger;
  /** The controllers watch only this namespace; all when absent. */
  namespace?: string;
  /** Reconciles at once, per controller. @default 4 */
  maxConcurrentReconciles?: number;
  /** The informers' watchdog; 0 is off (the simulation). @default 300000 */
  watchInactivityMs?: number;
  /** Reconcile only while holding this Lease; always when absent. */
  leaderElection?: ManagerLeaderElection;
  /** Events one object may emit at once. @default 25 */
  eventBurst?: number;
  /** One more Event per object every this long. @default 300000 */
  eventRefillEveryMs?: number;
  /** Told once when the Lease is lost; the controllers have stopped already. */
  onLeadershipLost?: (reason: string) => void;
  /** The registry the families go into. @default a new one */
  metrics?: ControllerMetrics;
}

/**
 * Settings of one controller that differ from the manager's; the manager supplies the clock,
 * the random source, the logger and the metrics.
 */
export type AddControllerOptions = Omit<
  ControllerOptions,
  "clock" | "random" | "logger" | "metrics"
>;

/** A named health or readiness check: what it says now. It should not throw (a throw fails it). */
export type HealthCheck = () => Readiness;

/** Options of {@link Manager.start}. */
export interface ManagerStartOptions {
  /** Aborting it stops the manager, as {@link Manager.stop} does. */
  signal?: AbortSignal;
}

/** Where {@link Manager.serve} listens. */
export interface ManagerEndpointsOptions {
  /** Where `/metrics` is served (`host:port`, `:port`, or `0` for off). */
  metricsAddress: string;
  /** Where `/healthz` and `/readyz` are served; may equal the metrics address. */
  healthAddress: string;
}

/** Runs controllers with leader election, the leader fence, Event rate limits, metrics, health. */
export class Manager {
  /** The one metrics registry of every controller, the elector and the Event rate limit. */
  readonly metrics: ControllerMetrics;
  /** The leader election candidate, when leader election is on. */
  readonly elector: LeaderElector | undefined;
  /** The per-object Event rate limit in front of every controller's `createEvent`. */
  readonly events: EventRateLimiter;
  /** The client the controllers read and write through: fenced and Event rate limited. */
  readonly client: ClusterClient;
  readonly #options: ManagerOptions;
  readonly #logger: Logger;
  readonly #controllers: Controller<KubeObject>[] = [];
  readonly #readyChecks = new Map<string, HealthCheck>();
  readonly #healthChecks = new Map<string, HealthCheck>();
  readonly #endpoints: Endpoints[] = [];
  #state: "new" | "waiting" | "running" | "stopped" = "new";
  #lost: string | undefined;
  #stopping: Promise<void> | undefined;

  /** A manager of no controllers yet, over `client`; {@link Manager.add} adds them. */
  constructor(client: ClusterClient, options: ManagerOptions) {
    this.#options = options;
    const logger = this.#logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new ControllerMetrics();
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
    const elector = this.elector = election
      ? new LeaderElector(client, {
        ...election,
        clock: options.clock,
        // Jittered retries, so that replicas do not contend in lockstep.
        random: options.random,
        logger,
      })
      : undefined;
    const fenced = elector ? leaderFencedClient(client, () => elector.isLeader) : client;
    this.client = withEventRateLimit(fenced, this.events);
    if (election) this.metrics.leaderStatus.set({ name: election.name }, 0);
    this.#readyChecks.set("controllers", () => this.#controllersReady());
    this.#healthChecks.set("ping", () => ({ ready: true, reason: "serving" }));
  }

  /** The controllers, in the order they were added. */
  get controllers(): readonly Controller<KubeObject>[] {
    return this.#controllers;
  }

  /**
   * Adds a controller for `reconciler` and exports its metrics. Added after {@link Manager.start}
   * it starts at once when the others are running.
   *
   * @throws {TypeError} when a controller of the same name was added, or the manager stopped
   */
  add<T extends KubeObject>(
    reconciler: Reconciler<T>,
    options: AddControllerOptions = {},
  ): Controller<T> {
    const name = reconciler.name;
    if (this.#state === "stopped") {
      throw new TypeError(`Cannot add controller "${name}": the manager has stopped`);
    }
    if (this.#controllers.some((c) => c.reconciler.name === name)) {
      throw new TypeError(`Cannot add controller "${name}": one of that name was added`);
    }
    const o = this.#options;
    const controller = new Controller(this.client, reconciler, {
      clock: o.clock,
      random: o.random,
      logger: this.#logger,
      metrics: this.metrics,
      maxConcurrentReconciles: o.maxConcurrentReconciles ?? 4,
      ...(o.watchInactivityMs !== undefined ? { watchInactivityMs: o.watchInactivityMs } : {}),
      ...(o.namespace ? { namespace: o.namespace } : {}),
      ...options,
    });
    this.#controllers.push(controller as unknown as Controller<KubeObject>);
    this.metrics.watchController(controller);
    if (this.#state === "running") this.#startController(controller);
    return controller;
  }

  /**
   * Adds a readiness check under `name`: `/readyz` answers 200 only while every one passes.
   *
   * @throws {TypeError} when a readiness check of that name exists
   */
  addReadyCheck(name: string, check: HealthCheck): void {
    addCheck(this.#readyChecks, "readiness", name, check);
  }

  /**
   * Adds a liveness check under `name`: `/healthz` answers 200 only while every one passes.
   *
   * @throws {TypeError} when a liveness check of that name exists
   */
  addHealthCheck(name: string, check: HealthCheck): void {
    addCheck(this.#healthChecks, "liveness", name, check);
  }

  /**
   * Starts the controllers, or campaigns for the Lease first when leader election is on.
   *
   * @throws {TypeError} when called twice
   */
  start(options: ManagerStartOptions = {}): void {
    if (this.#state !== "new") throw new TypeError("Cannot start a manager twice");
    const signal = options.signal;
    if (signal?.aborted) return void this.stop();
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    const elector = this.elector;
    if (!elector) return this.#run();
    this.#state = "waiting";
    const { namespace, name } = this.#options.leaderElection!;
    this.#logger.log("info", "Waiting for the leader lease", {
      lease: `${namespace}/${name}`,
      identity: elector.identity,
    });
    elector.start({
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name }, 1);
        if (this.#state === "waiting") this.#run();
      },
      onStoppedLeading: (reason) => {
        this.metrics.leaderStatus.set({ name }, 0);
        this.#lost = reason;
        this.#state = "stopped";
        // Stop at once: no new reconcile starts, and the fence refuses the writes of those in
        // flight; stop() only waits for them to notice.
        for (const controller of this.#controllers) void controller.stop();
        this.#options.onLeadershipLost?.(reason);
      },
      onNewLeader: (identity) => {
        this.#logger.log("info", "Observed the leader", { leader: identity });
      },
    });
  }

  /** What the readiness checks say: ready only when all pass; the reason names those failing. */
  ready(): Readiness {
    return runChecks(this.#readyChecks);
  }

  /** What the liveness checks say: healthy only when all pass. */
  healthy(): Readiness {
    return runChecks(this.#healthChecks);
  }

  /**
   * Serves `/metrics`, `/healthz` and `/readyz` from this manager until it stops.
   *
   * @throws {TypeError} for a malformed address; the server's error for a port in use
   */
  serve(options: ManagerEndpointsOptions): Endpoints {
    const endpoints = serveEndpoints({
      ...options,
      metrics: () => this.metrics.registry.render(),
      ready: () => this.ready(),
      healthy: () => this.healthy(),
    });
    this.#endpoints.push(endpoints);
    return endpoints;
  }

  /**
   * Stops the controllers (waiting for reconciles in flight), releases the Lease, and shuts the
   * endpoints down. Calling it again answers the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = "stopped";
    await Promise.all(this.#controllers.map((c) => c.stop()));
    await this.elector?.stop({ release: true });
    await Promise.all(this.#endpoints.map((e) => e.shutdown()));
  }

  #run(): void {
    this.#state = "running";
    for (const controller of this.#controllers) this.#startController(controller);
  }

  #startController<T extends KubeObject>(controller: Controller<T>): void {
    void controller.start().catch((error) => {
      this.#logger.log("error", "Controller failed to start", {
        controller: controller.reconciler.name,
        error: errorMessage(error),
      });
    });
  }

  #controllersReady(): Readiness {
    if (this.#lost !== undefined) return { ready: false, reason: `lost the lease: ${this.#lost}` };
    if (this.#state === "stopped") return { ready: false, reason: "stopped" };
    const elector = this.elector;
    if (elector && !elector.isLeader) {
      return elector.leader !== undefined
        ? { ready: true, reason: `standby, the leader is "${elector.leader}"` }
        : { ready: false, reason: "the leader Lease has not been read yet" };
    }
    const waiting = this.#controllers.filter((c) => !c.synced).map((c) => `"${c.reconciler.name}"`);
    if (this.#state !== "running" || waiting.length > 0) {
      return {
        ready: false,
        reason: waiting.length > 0 ? `caches not synced: ${waiting.join(", ")}` : "not started",
      };
    }
    return { ready: true, reason: "caches synced" };
  }
}

function addCheck(
  checks: Map<string, HealthCheck>,
  what: string,
  name: string,
  check: HealthCheck,
): void {
  if (checks.has(name)) throw new TypeError(`Cannot add ${what} check "${name}": already added`);
  checks.set(name, check);
}

function runChecks(checks: Map<string, HealthCheck>): Readiness {
  const failing: string[] = [];
  const passing: string[] = [];
  for (const [name, check] of checks) {
    let answer: Readiness;
    try {
      answer = check();
    } catch (error) {
      answer = { ready: false, reason: `the check threw: ${errorMessage(error)}` };
    }
    (answer.ready ? passing : failing).push(`${name}: ${answer.reason}`);
  }
  return failing.length > 0
    ? { ready: false, reason: failing.join("; ") }
    : { ready: true, reason: passing.join("; ") };
}
