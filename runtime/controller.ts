/**
 * The controller runtime, the same for the simulated and the real cluster: informers fill a cache,
 * changes become keys in a work queue, and workers run the pure reconciler and the executor.
 *
 * Guarantees: one key is never reconciled twice at once; at most `maxConcurrentReconciles` run at
 * a time; a failed reconcile is retried with per-key exponential backoff, and a conflict is a
 * quiet retry, not an error; events of owned objects wake their controller's key; `stop()` waits
 * for reconciles in flight.
 *
 * @module
 */

import type { Clock, Random } from "../core/clock.ts";
import { type ClusterClient, isApiError } from "../core/cluster.ts";
import { controllerOf, type KubeObject, objectKey, typeKey, type TypeRef } from "../core/object.ts";
import {
  type LiveRead,
  matchesList,
  type Observed,
  type Reconciler,
  withLiveReads,
} from "../core/reconciler.ts";
import { type Action, describeAction } from "../core/actions.ts";
import { executeActions } from "./executor.ts";
import { type CacheChange, Informer, type InformerOptions } from "./informer.ts";
import { errorMessage, type Logger, silentLogger } from "./log.ts";
import { WorkQueue } from "./queue.ts";

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Time for backoff, requeues and watchdogs (virtual in the simulation). */
  clock: Clock;
  /** Randomness for jitter and for the reconciler's context. */
  random: Random;
  /** Only this namespace; all when absent. */
  namespace?: string;
  /** Reconciles running at once, over different keys. @default 4 */
  maxConcurrentReconciles?: number;
  /** First retry delay after a failed reconcile. @default 5 */
  backoffBaseMs?: number;
  /** Longest retry delay. @default 300000 */
  backoffMaxMs?: number;
  /** Watch inactivity watchdog; 0 turns it off. @default 300000 */
  watchInactivityMs?: number;
  /** The field manager of writes. @default the reconciler's name */
  fieldManager?: string;
  /** Where the controller logs; silent when absent. */
  logger?: Logger;
  /** Called after each successful write of a reconcile; a throw aborts it (crash injection). */
  afterWrite?: (action: Action, index: number) => void;
  /** Called with each reconcile's plan, before it runs (tracing). */
  onReconcile?: (key: string, actions: readonly Action[]) => void;
  /** Told of each dequeue and each reconcile's outcome (a metrics endpoint). */
  metrics?: ControllerMetricsHooks;
}

/**
 * How a reconcile ended, in controller-runtime's terms: `error` when it threw (conflicts
 * included), `requeue_after` when it asked to run again after a delay, `success` otherwise.
 * (`requeue`, an immediate requeue without error, is never produced by this runtime.)
 */
export type ReconcileOutcome = "success" | "error" | "requeue" | "requeue_after";

/** Observers of a controller's work; they must not throw. */
export interface ControllerMetricsHooks {
  /** A key of `controller` was taken from the queue after waiting `waitedMs`. */
  dequeued(controller: string, waitedMs: number): void;
  /** A reconcile of `controller` ended with `outcome` after `durationMs` of the clock. */
  reconciled(controller: string, outcome: ReconcileOutcome, durationMs: number): void;
}

/** Counters a metrics endpoint and the simulation read. */
export interface ControllerStats {
  /** Reconciles run. */
  reconciles: number;
  /** Reconciles that ended in an error (conflicts included). */
  errors: number;
  /** Reconciles that ended in a conflict or AlreadyExists (retried quietly). */
  conflicts: number;
  /** Write calls made (create, update, apply, patchStatus, delete, createEvent). */
  writes: number;
  /** Reconcile time, summed, in milliseconds of the controller's clock. */
  reconcileMs: number;
}

/** A running controller for one {@link Reconciler}. */
export class Controller<T extends KubeObject = KubeObject> {
  /** The decision logic this controller runs. */
  readonly reconciler: Reconciler<T>;
  /** The work queue of keys to reconcile. */
  readonly queue: WorkQueue;
  readonly #client: ClusterClient;
  readonly #options: ControllerOptions;
  readonly #logger: Logger;
  readonly #primary: Informer;
  readonly #owned: Informer[];
  readonly #watched: Informer[];
  readonly #byType = new Map<string, Informer>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Namespaces the server said are terminating: the executor writes nothing into them. */
  readonly #terminatingNamespaces = new Set<string>();
  #running = false;
  /** Counters for metrics and tests. */
  readonly stats: ControllerStats = {
    reconciles: 0,
    errors: 0,
    conflicts: 0,
    writes: 0,
    reconcileMs: 0,
  };

  /** Builds a stopped controller; call {@linkcode Controller.start} to run it. */
  constructor(client: ClusterClient, reconciler: Reconciler<T>, options: ControllerOptions) {
    this.#client = client;
    this.reconciler = reconciler;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.queue = new WorkQueue(options.clock, {
      backoffBaseMs: options.backoffBaseMs ?? 5,
      backoffMaxMs: options.backoffMaxMs ?? 300_000,
    });
    this.queue.onReady(() => this.#pump());
    const selectors = new Map(
      (reconciler.cacheSelectors ?? []).map((s) => [typeKey(s.type), s.labelSelector]),
    );
    const clusterScoped = new Set(
      (reconciler.watches ?? []).filter((w) => w.clusterScoped).map((w) => typeKey(w.type)),
    );
    const informerOptions = (onChange: (change: CacheChange) => void, type?: TypeRef) => {
      const o: InformerOptions = {
        clock: options.clock,
        logger: this.#logger,
        watchInactivityMs: options.watchInactivityMs ?? 300_000,
        onChange,
      };
      if (options.namespace && !(type && clusterScoped.has(typeKey(type)))) {
        o.namespace = options.namespace;
      }
      const labelSelector = type ? selectors.get(typeKey(type)) : undefined;
      if (labelSelector) o.labelSelector = labelSelector;
      return o;
    };
    this.#primary = new Informer(
      client,
      reconciler.for,
      informerOptions((change) => {
        // Nothing can be created in a terminating namespace: a new object there means the
        // namespace was deleted and made again.
        const namespace = change.object.metadata.namespace;
        if (change.type === "ADDED" && namespace) this.#terminatingNamespaces.delete(namespace);
        this.queue.add(objectKey(change.object.metadata));
      }),
    );
    this.#byType.set(typeKey(reconciler.for), this.#primary);
    // A watched kind that is also owned shares the owned kind's informer: its `keyOf` maps the
    // objects without an owner (a user's Secret waiting to be adopted, say).
    const keyOfByType = new Map<
      string,
      (object: KubeObject, old?: KubeObject) => string | undefined
    >();
    for (const { type, keyOf } of reconciler.watches ?? []) {
      if (keyOf) keyOfByType.set(typeKey(type), keyOf);
    }
    const mapWatched = (type: TypeRef, change: CacheChange) => {
      const old = change.type === "MODIFIED" ? change.old : undefined;
      const key = keyOfByType.get(typeKey(type))?.(change.object, old);
      if (key !== undefined) this.queue.add(key);
    };
    this.#owned = reconciler.owns.map((type) => {
      const informer = new Informer(
        client,
        type,
        informerOptions((c) => {
          this.#mapOwned(c);
          mapWatched(type, c);
        }, type),
      );
      this.#byType.set(typeKey(type), informer);
      return informer;
    });
    this.#watched = (reconciler.watches ?? [])
      .filter(({ type }) => !this.#byType.has(typeKey(type)))
      .map(({ type }) => {
        const informer = new Informer(
          client,
          type,
          informerOptions((c) => mapWatched(type, c), type),
        );
        this.#byType.set(typeKey(type), informer);
        return informer;
      });
  }

  /** The informers: primary, owned kinds, then other watched kinds. */
  get informers(): readonly Informer[] {
    return [this.#primary, ...this.#owned, ...this.#watched];
  }

  /** True once every informer has synced. */
  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  /** True when nothing is queued or running (delayed retries may still wait). */
  get idle(): boolean {
    return this.queue.depth === 0 && this.queue.active === 0;
  }

  /** Starts the informers; resolves when the caches have synced, then workers begin. */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.all(this.informers.map((i) => i.start()));
    // A stop() before the caches synced resolves the informers' start too: say nothing then.
    if (!this.#running || !this.informers.every((i) => i.synced)) return;
    this.#logger.log("info", "Caches synced, starting workers", {
      controller: this.reconciler.name,
    });
    this.#pump();
  }

  /** Stops watching and reconciling; waits for reconciles in flight to finish. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const informer of this.informers) informer.stop();
    this.queue.shutDown();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Builds the snapshot a reconcile of `key` sees, or undefined when the object is gone. */
  observe(key: string): Observed<T> | undefined {
    const object = this.#primary.get(key) as T | undefined;
    if (!object) return undefined;
    const uid = object.metadata.uid;
    const owned = uid ? this.#owned.flatMap((i) => i.controlledBy(uid)) : [];
    return {
      object,
      owned,
      lookup: (ref) => this.#byType.get(typeKey(ref))?.get(objectKey(ref)),
      list: (type, namespace, labels) =>
        (this.#byType.get(typeKey(type))?.list() ?? []).filter((o) =>
          matchesList(o, type, namespace, labels)
        ),
    };
  }

  #mapOwned(change: CacheChange): void {
    for (const object of change.old ? [change.object, change.old] : [change.object]) {
      const owner = controllerOf(object);
      if (!owner || owner.kind !== this.reconciler.for.kind) continue;
      if (group(owner.apiVersion) !== group(this.reconciler.for.apiVersion)) continue;
      // An owner in the child's namespace, or a cluster-scoped owner (a Namespace, say).
      const namespaced = objectKey({ namespace: object.metadata.namespace, name: owner.name });
      const clusterScoped = this.#primary.get(owner.name) !== undefined &&
        this.#primary.get(namespaced) === undefined;
      this.queue.add(clusterScoped ? owner.name : namespaced);
    }
  }

  #pump(): void {
    if (!this.#running || !this.synced) return;
    const max = this.#options.maxConcurrentReconciles ?? 4;
    while (this.queue.active < max) {
      const waitedBeforeMs = this.queue.stats.waitedMs;
      const key = this.queue.get();
      if (key === undefined) return;
      this.#observe(() =>
        this.#options.metrics?.dequeued(
          this.reconciler.name,
          this.queue.stats.waitedMs - waitedBeforeMs,
        )
      );
      const work = this.#process(key);
      this.#inFlight.add(work);
      void work.finally(() => {
        this.#inFlight.delete(work);
        this.queue.done(key);
        this.#pump();
      });
    }
  }

  async #process(key: string): Promise<void> {
    const cached = this.observe(key);
    if (!cached) {
      this.queue.forget(key);
      return;
    }
    const clock = this.#options.clock;
    const startMs = clock.nowMs();
    this.stats.reconciles++;
    let outcome: ReconcileOutcome = "success";
    try {
      // The cache is a live view: informers apply events while reads are awaited. The view is
      // reconciled in the same turn as the check that every read it asks for was made, so a cache
      // event that arrives meanwhile (a relist that drops a deleted Secret, say) cannot make the
      // reconcile rest on a read it never made.
      const answers: LiveAnswer[] = [];
      let observed = this.#liveView(cached, answers);
      for (let round = 1; observed === undefined; round++) {
        if (round > MAX_LIVE_READ_ROUNDS) {
          throw new Error(`The live reads of ${JSON.stringify(key)} kept changing: retrying`);
        }
        await this.#readMissing(cached, answers);
        observed = this.#liveView(cached, answers);
      }
      const { actions } = this.reconciler.reconcile(observed, {
        nowMs: startMs,
        random: this.#options.random,
      });
      this.#options.onReconcile?.(key, actions);
      const options = {
        fieldManager: this.#options.fieldManager ?? this.reconciler.name,
        nowMs: startMs,
        logger: this.#logger,
        terminatingNamespaces: this.#terminatingNamespaces,
      };
      const afterWrite = this.#options.afterWrite;
      const result = await executeActions(
        this.#client,
        actions,
        afterWrite ? { ...options, afterWrite } : options,
      );
      this.stats.writes += result.writes;
      if (actions.length > 0) {
        this.#logger.log("info", "Reconciled", {
          controller: this.reconciler.name,
          key,
          writes: result.writes,
          actions: actions.map(describeAction),
        });
      }
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        outcome = "requeue_after";
        this.queue.addAfter(key, result.requeueAfterMs);
      }
    } catch (error) {
      outcome = "error";
      this.stats.errors++;
      const delayMs = this.queue.addRateLimited(key);
      if (isApiError(error, "Conflict") || isApiError(error, "AlreadyExists")) {
        // The cache was behind the server: a quiet retry once it catches up.
        this.stats.conflicts++;
        this.#logger.log("debug", "Conflict, requeued", { key, retryInMs: delayMs });
      } else {
        this.#logger.log("warn", "Reconcile failed, requeued", {
          controller: this.reconciler.name,
          key,
          error: errorMessage(error),
          retryInMs: delayMs,
        });
      }
    } finally {
      const durationMs = clock.nowMs() - startMs;
      this.stats.reconcileMs += durationMs;
      this.#observe(() =>
        this.#options.metrics?.reconciled(this.reconciler.name, outcome, durationMs)
      );
    }
  }

  /** The reads the reconciler asks for on this view that were not made yet. */
  #missingReads(cached: Observed<T>, answers: readonly LiveAnswer[]): LiveRead[] {
    return (this.reconciler.liveReads?.(cached) ?? []).filter((read) =>
      !answers.some((a) => sameRead(a.read, read))
    );
  }

  /**
   * The cached view corrected by the live reads made, in the order they were made; undefined while
   * the view asks for a read not made yet.
   */
  #liveView(cached: Observed<T>, answers: readonly LiveAnswer[]): Observed<T> | undefined {
    if (this.#missingReads(cached, answers).length > 0) return undefined;
    return answers.length === 0 ? cached : withLiveReads(cached, answers);
  }

  /** Makes the reads the view asks for that were not made yet. */
  async #readMissing(cached: Observed<T>, answers: LiveAnswer[]): Promise<void> {
    for (const read of this.#missingReads(cached, answers)) {
      answers.push({ read, found: await this.#readOnce(read) });
    }
  }

  /** One live read: the named object (none when it is not found), or every object of a kind. */
  async #readOnce(read: LiveRead): Promise<KubeObject[]> {
    if (read.name !== undefined) {
      try {
        return [await this.#client.get(read.type, read.name, read.namespace)];
      } catch (error) {
        if (!isApiError(error, "NotFound")) throw error;
        return [];
      }
    }
    const { items } = await this.#client.list(read.type, {
      namespace: read.namespace,
      consistent: true,
    });
    return items;
  }

  /** Runs an observer hook; a failing one is logged, never allowed to wedge a key. */
  #observe(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.#logger.log("error", "A metrics hook failed", { error: errorMessage(error) });
    }
  }
}

function group(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** A live read and what it found. */
type LiveAnswer = { read: LiveRead; found: KubeObject[] };

/** Rounds of live reads a reconcile may need before it gives up and is retried. */
const MAX_LIVE_READ_ROUNDS = 3;

function sameRead(a: LiveRead, b: LiveRead): boolean {
  return a.type.apiVersion === b.type.apiVersion && a.type.kind === b.type.kind &&
    (a.namespace ?? "") === (b.namespace ?? "") && a.name === b.name;
}
