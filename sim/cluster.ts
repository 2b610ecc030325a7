/**
 * The simulated cluster: a {@link VirtualClock}, a {@link SeededRandom}, the in-memory
 * {@link SimApiServer} (with its garbage collector and namespace controller), the built-in
 * {@link StatefulSetController}, the {@link JobController}, the {@link PodLifecycle} (scheduler,
 * kubelet, volume binder), the data plane, the in-memory object stores and the backup runner's host.
 * One seed determines the whole run; {@link SimCluster.run} drives virtual time.
 *
 * What it models and what it does not is listed in `sim/README.md`. In short, not modelled:
 * server-side apply managed fields and conflicts, CRD schema validation and defaulting,
 * admission (webhooks, quotas, RBAC), most built-in defaulting and validation, PersistentVolumes
 * and storage classes, graceful pod termination, probes, the node controller, Deployments and
 * other workload controllers, ControllerRevisions, watch timeouts and fault injection.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./cluster.ts";
 * const cluster = new SimCluster({ seed: 42 });
 * const client = cluster.client({ name: "example" });
 * void client.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default" } });
 * const result = await cluster.run({ maxVirtualMs: 60_000 });
 * console.assert(result.quiescent);
 * ```
 *
 * @module
 */

import type { KubeObject } from "../core/object.ts";
import { SimApiServer, type SimApiServerOptions } from "./api_server.ts";
import { SimClient, type SimClientOptions } from "./client.ts";
import { settle, VIRTUAL_EPOCH_MS, VirtualClock } from "./clock.ts";
import { PodLifecycle, type PodLifecycleOptions } from "./pod_lifecycle.ts";
import { VolumeResizer, type VolumeResizerOptions } from "./volume_resizer.ts";
import { type DataPlaneOptions, SimDataPlane } from "./data_plane.ts";
import { SeededRandom } from "./random.ts";
import { JobController, type JobControllerOptions } from "./job_controller.ts";
import { JobRunner, type JobRunnerOptions } from "./job_runner.ts";
import { UpgradeHost, type UpgradeHostOptions } from "./upgrade_host.ts";
import { SimObjectStores, type SimObjectStoresOptions } from "./object_store.ts";
import {
  StatefulSetController,
  type StatefulSetControllerOptions,
} from "./statefulset_controller.ts";

/**
 * Options of {@link SimCluster}: the seed, the start time, the client latency, and every knob of
 * the server ({@link SimApiServerOptions}: `watchDelayMs`, `watchHistoryEvents`,
 * `bookmarkIntervalMs`, `gcDelayMs`), the StatefulSet controller (`controllerDelayMs`) and the
 * pod lifecycle ({@link PodLifecycleOptions}: `nodes`, `nodeSelection`, `scheduleDelayMs`,
 * `readyDelayMs`, `readyJitterMs`, `bindDelayMs`, `keepPodsUnready`), the default StorageClass
 * (`volumeExpansion`) and the volume resizer (`resizeDelayMs`).
 */
export interface SimClusterOptions
  extends
    SimApiServerOptions,
    StatefulSetControllerOptions,
    JobControllerOptions,
    PodLifecycleOptions,
    VolumeResizerOptions {
  /** The seed of every random choice in the run. @default 1 */
  seed?: number;
  /** Virtual time at the start, in epoch milliseconds. @default 2026-01-01T00:00:00Z */
  startMs?: number;
  /** The default latency of clients made by {@link SimCluster.client}. @default 1 */
  latencyMs?: number;
  /** The PostgresDB pods' simulated instances and agents, or false for none. @default {} */
  dataPlane?: DataPlaneOptions | false;
  /** The in-memory S3 endpoints' latency and rate. @default {} */
  objectStores?: SimObjectStoresOptions;
  /** The backup runner in pods that run `RUNNER_COMMAND`, or false for none. @default {} */
  jobRunner?: JobRunnerOptions | false;
  /** The upgrade runner in pods that run `UPGRADE_COMMAND`, or false for none. @default {} */
  upgradeHost?: UpgradeHostOptions | false;
}

/** Options of {@link SimCluster.run}. */
export interface RunOptions {
  /** Stop once the next timer is due later than this much virtual time after the start. */
  maxVirtualMs: number;
  /** Checked before every step (after pending promises settle); true stops the run. */
  until?: () => boolean;
}

/** The outcome of {@link SimCluster.run}. */
export interface RunResult {
  /** True when the run ended because no timer was pending (unref'd timers aside). */
  quiescent: boolean;
  /** Virtual time that passed during this run. */
  virtualMs: number;
  /** How many instants of virtual time were processed. */
  steps: number;
}

/** A deterministic, in-memory Kubernetes cluster on virtual time. */
export class SimCluster {
  /** The seed of this run. */
  readonly seed: number;
  /** Virtual time. */
  readonly clock: VirtualClock;
  /** The root generator; components draw from their own forks of it. */
  readonly random: SeededRandom;
  /** The API server store. */
  readonly server: SimApiServer;
  /** The built-in StatefulSet controller. */
  readonly statefulSets: StatefulSetController;
  /** The built-in Job controller (with the TTL-after-finished controller). */
  readonly jobs: JobController;
  /** The scheduler, kubelet and volume binder. */
  readonly pods: PodLifecycle;
  /** The volume resizer: a larger request becomes the claim's capacity. */
  readonly volumes: VolumeResizer;
  /** The PostgresDB pods' instances and agents, unless turned off. */
  readonly dataPlane: SimDataPlane | undefined;
  /** The in-memory S3-compatible endpoints, by URL (see `object_store.ts`). */
  readonly objectStores: SimObjectStores;
  /** The backup runner's host in Job pods, unless turned off. */
  readonly jobRunner: JobRunner | undefined;
  /** The upgrade runner's host in Job pods, unless turned off. */
  readonly upgradeHost: UpgradeHost | undefined;
  readonly #latencyMs: number;
  #clients = 0;

  /** Builds a cluster with the `default` and `kube-system` namespaces. */
  constructor(options: SimClusterOptions = {}) {
    this.seed = options.seed ?? 1;
    this.clock = new VirtualClock(options.startMs ?? VIRTUAL_EPOCH_MS);
    this.random = new SeededRandom(this.seed);
    this.#latencyMs = options.latencyMs ?? 1;
    this.server = new SimApiServer(this.clock, this.random.fork(), options);
    this.statefulSets = new StatefulSetController(this.server, this.clock, options);
    this.jobs = new JobController(this.server, this.clock, options);
    this.pods = new PodLifecycle(this.server, this.clock, this.random.fork(), options);
    this.volumes = new VolumeResizer(this.server, this.clock, options);
    this.dataPlane = options.dataPlane === false ? undefined : new SimDataPlane(
      this.server,
      this.clock,
      this.pods,
      new SimClient(this.server, this.clock, { name: "pgop-agent", latencyMs: this.#latencyMs }),
      options.dataPlane ?? {},
    );
    this.objectStores = new SimObjectStores(this.clock, options.objectStores ?? {});
    this.jobRunner = options.jobRunner === false ? undefined : new JobRunner({
      server: this.server,
      clock: this.clock,
      pods: this.pods,
      stores: this.objectStores,
      dataPlane: this.dataPlane,
    }, options.jobRunner ?? {});
    this.upgradeHost = options.upgradeHost === false ? undefined : new UpgradeHost({
      server: this.server,
      clock: this.clock,
      pods: this.pods,
      dataPlane: this.dataPlane,
    }, options.upgradeHost ?? {});
  }

  /** A new client of this cluster; each has its own name and request counters. */
  client(options: SimClientOptions = {}): SimClient {
    this.#clients++;
    return new SimClient(this.server, this.clock, {
      name: options.name ?? `sim-client-${this.#clients}`,
      latencyMs: options.latencyMs ?? this.#latencyMs,
      shareObjects: options.shareObjects ?? false,
    });
  }

  /** The current virtual time in epoch milliseconds. */
  nowMs(): number {
    return this.clock.nowMs();
  }

  /**
   * Runs virtual time until `promise` settles (a client's calls answer on virtual time), then
   * returns its outcome; fails when it has not settled within `maxVirtualMs`, or when `stop()`
   * says to give up first.
   */
  async request<T>(
    promise: Promise<T>,
    options: { maxVirtualMs?: number; stop?: () => boolean } = {},
  ): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    tracked.catch(() => {});
    const maxVirtualMs = options.maxVirtualMs ?? 3_600_000;
    await this.run({ maxVirtualMs, until: () => settled || (options.stop?.() ?? false) });
    if (!settled) {
      throw new Error(`The request was not answered within ${maxVirtualMs}ms of virtual time`);
    }
    return await tracked;
  }

  /**
   * Runs virtual time: lets pending promises settle, then fires the next due timers, until
   * `until()` holds, nothing is pending (quiescent) or the next timer lies beyond `maxVirtualMs`
   * (then the clock is moved to that deadline).
   */
  async run(options: RunOptions): Promise<RunResult> {
    const startMs = this.clock.nowMs();
    const deadlineMs = startMs + options.maxVirtualMs;
    let steps = 0;
    const result = (quiescent: boolean): RunResult => ({
      quiescent,
      virtualMs: this.clock.nowMs() - startMs,
      steps,
    });
    for (;;) {
      await settle();
      if (options.until?.()) return result(this.clock.pending === 0);
      if (this.clock.pending === 0) return result(true);
      const dueMs = this.clock.nextDueMs();
      if (dueMs === undefined) return result(true);
      if (dueMs > deadlineMs) {
        this.clock.advanceTo(deadlineMs);
        return result(false);
      }
      this.clock.runNext();
      steps++;
    }
  }

  /** Every stored object (copies), sorted by kind, namespace and name. */
  objects(): KubeObject[] {
    return this.server.objects();
  }
}
