/**
 * A controller's metric families under the names controller-runtime exports, so the dashboards
 * and alerts platform engineers already have work unchanged:
 * `controller_runtime_reconcile_total{controller,result}`,
 * `controller_runtime_reconcile_errors_total`, `controller_runtime_reconcile_time_seconds`,
 * `controller_runtime_active_workers`, `workqueue_depth`, `workqueue_adds_total`,
 * `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds`,
 * `workqueue_retries_total` and `leader_election_master_status`; plus
 * `pgop_events_dropped_total` and `pgop_api_requests_total`. One {@link ControllerMetrics} serves
 * any number of controllers: the families are registered once, the series carry the controller's
 * name (controller-runtime's `pkg/internal/controller/metrics`).
 *
 * @example
 * ```ts
 * import { ControllerMetrics } from "./controller_metrics.ts";
 * const metrics = new ControllerMetrics();
 * metrics.reconciled("greeter", "success", 12);
 * console.assert(metrics.registry.render().includes(
 *   'controller_runtime_reconcile_total{controller="greeter",result="success"} 1',
 * ));
 * ```
 *
 * @module
 */

import type { ReconcileOutcome } from "./controller.ts";
import {
  type Counter,
  type Gauge,
  type Histogram,
  MetricsRegistry,
  type Sample,
} from "./prometheus.ts";

/** controller-runtime's buckets for `controller_runtime_reconcile_time_seconds`. */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1.0,
  1.25,
  1.5,
  1.75,
  2.0,
  2.5,
  3.0,
  3.5,
  4.0,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];

/** client-go's workqueue buckets: 10 ns to 1000 s, times ten each. */
export const WORKQUEUE_BUCKETS: readonly number[] = Array.from(
  { length: 12 },
  (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)),
);

/** A controller and its queue, as {@link ControllerMetrics.watchController} reads them. */
export interface WatchedController {
  /** The reconciler, for its name (the `controller` and `name` labels). */
  readonly reconciler: { readonly name: string };
  /** The work queue, read at each scrape. */
  readonly queue: {
    readonly depth: number;
    readonly active: number;
    readonly stats: { readonly adds: number; readonly retries: number };
  };
}

/**
 * The metric families of a manager's controllers under controller-runtime's names, plus
 * `pgop_events_dropped_total` and `pgop_api_requests_total`, in one registry. It implements the
 * controller's metric hooks ({@link ControllerMetrics.reconciled},
 * {@link ControllerMetrics.dequeued}); {@link ControllerMetrics.watchController} adds a
 * controller's queue.
 */
export class ControllerMetrics {
  /** The registry the families are in; render it for `/metrics`. */
  readonly registry: MetricsRegistry;
  /** `controller_runtime_reconcile_total{controller,result}`. */
  readonly reconcileTotal: Counter;
  /** `controller_runtime_reconcile_errors_total{controller}`. */
  readonly reconcileErrors: Counter;
  /** `controller_runtime_reconcile_time_seconds{controller}`. */
  readonly reconcileTime: Histogram;
  /** `workqueue_queue_duration_seconds{name}`. */
  readonly queueDuration: Histogram;
  /** `workqueue_work_duration_seconds{name}`. */
  readonly workDuration: Histogram;
  /** `leader_election_master_status{name}`: 1 while leading the Lease `name`, 0 otherwise. */
  readonly leaderStatus: Gauge;
  /** `pgop_events_dropped_total{reason}`: Events the rate limit dropped. */
  readonly eventsDropped: Counter;
  readonly #controllers: WatchedController[] = [];

  /** Registers every family in `registry` (once: a second instance on it throws). */
  constructor(registry: MetricsRegistry = new MetricsRegistry()) {
    this.registry = registry;
    this.reconcileTotal = registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      ["controller", "result"],
    );
    this.reconcileErrors = registry.counter(
      "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller",
      ["controller"],
    );
    this.reconcileTime = registry.histogram(
      "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller",
      ["controller"],
      RECONCILE_TIME_BUCKETS,
    );
    const queueGauge = (name: string, help: string, read: (c: WatchedController) => number) =>
      registry.collected(name, help, "gauge", ["name"], () => this.#perController(read));
    const queueCounter = (name: string, help: string, read: (c: WatchedController) => number) =>
      registry.collected(name, help, "counter", ["name"], () => this.#perController(read));
    queueGauge("workqueue_depth", "Current depth of workqueue", (c) => c.queue.depth);
    queueCounter(
      "workqueue_adds_total",
      "Total number of adds handled by workqueue",
      (c) => c.queue.stats.adds,
    );
    queueCounter(
      "workqueue_retries_total",
      "Total number of retries handled by workqueue",
      (c) => c.queue.stats.retries,
    );
    this.queueDuration = registry.histogram(
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being requested",
      ["name"],
      WORKQUEUE_BUCKETS,
    );
    this.workDuration = registry.histogram(
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes",
      ["name"],
      WORKQUEUE_BUCKETS,
    );
    registry.collected(
      "controller_runtime_active_workers",
      "Number of currently used workers per controller",
      "gauge",
      ["controller"],
      () =>
        this.#controllers.map((c) => ({
          labels: { controller: c.reconciler.name },
          value: c.queue.active,
        })),
    );
    this.leaderStatus = registry.gauge(
      "leader_election_master_status",
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease",
      ["name"],
    );
    this.eventsDropped = registry.counter(
      "pgop_events_dropped_total",
      "Events not sent to the API server because their object exceeded its event rate limit",
      ["reason"],
    );
  }

  /** Exports the queue of `controller` and creates its reconcile series at 0. */
  watchController(controller: WatchedController): void {
    this.#controllers.push(controller);
    const name = controller.reconciler.name;
    for (const result of ["success", "error", "requeue", "requeue_after"]) {
      this.reconcileTotal.touch({ controller: name, result });
    }
    this.reconcileErrors.touch({ controller: name });
  }

  /** Controller hook: a reconcile of `controller` ended with `outcome` after `durationMs`. */
  reconciled(controller: string, outcome: ReconcileOutcome, durationMs: number): void {
    this.reconcileTotal.inc({ controller, result: outcome });
    if (outcome === "error") this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, durationMs / 1000);
    this.workDuration.observe({ name: controller }, durationMs / 1000);
  }

  /** Controller hook: a key of `controller` waited `waitedMs` in the queue. */
  dequeued(controller: string, waitedMs: number): void {
    this.queueDuration.observe({ name: controller }, waitedMs / 1000);
  }

  /** Exports request counts by port operation, read at each scrape. */
  watchClient(stats: { readonly byVerb: Record<string, number> }): void {
    this.registry.collected(
      "pgop_api_requests_total",
      "Requests sent to the API server, by cluster port operation",
      "counter",
      ["verb"],
      () => Object.entries(stats.byVerb).map(([verb, value]) => ({ labels: { verb }, value })),
    );
  }

  #perController(read: (c: WatchedController) => number): Sample[] {
    return this.#controllers.map((c) => ({ labels: { name: c.reconciler.name }, value: read(c) }));
  }
}
