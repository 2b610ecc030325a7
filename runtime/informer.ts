/**
 * An informer: list, then watch, one kind into an in-memory cache, and keep it current.
 *
 * Guarantees: handlers see every change the cache takes, in order; after a 410 Gone the informer
 * lists again and reports the difference (added, changed and vanished objects) so nothing is
 * missed; any other watch end or error restarts the watch from the last seen version with
 * exponential backoff; an inactivity watchdog restarts a watch that went silent (client-node's
 * own informer stops on errors, and a half-open connection never errors at all).
 *
 * Caveats: the cache is as stale as the watch; consumers must tolerate lag.
 *
 * @module
 */

import type { Clock, Timer } from "../core/clock.ts";
import {
  type ClusterReader,
  isApiError,
  type ListOptions,
  type WatchEvent,
  type WatchHandle,
} from "../core/cluster.ts";
import { controllerOf, type KubeObject, objectKey, type TypeRef } from "../core/object.ts";
import { errorMessage, type Logger, silentLogger } from "./log.ts";

/** A watch that stayed up this long is healthy: its end resets the backoff. */
const HEALTHY_WATCH_MS = 5_000;

/** A change the cache took. */
export interface CacheChange {
  /** What happened to the object. */
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The object after the change (its last state for `DELETED`). */
  object: KubeObject;
  /** The previous state, for MODIFIED and DELETED. */
  old?: KubeObject;
}

/** Options of {@link Informer}. */
export interface InformerOptions {
  /** Time for backoff and the inactivity watchdog. */
  clock: Clock;
  /** Only this namespace; all when absent. */
  namespace?: string;
  /** Only objects with these labels (the server filters, so nothing else reaches the cache). */
  labelSelector?: Record<string, string>;
  /**
   * Restart a watch that delivered nothing (no event, no bookmark) for this long; 0 turns the
   * watchdog off. @default 300000
   */
  watchInactivityMs?: number;
  /** First delay before retrying a failed list or watch. @default 200 */
  retryBaseMs?: number;
  /** Longest delay between retries. @default 30000 */
  retryMaxMs?: number;
  /** Where the informer logs; silent when absent. */
  logger?: Logger;
  /** Called for each change, after the cache took it. */
  onChange?: (change: CacheChange) => void;
}

/** Counters of an informer's life, for tests and metrics. */
export interface InformerStats {
  /** Successful LIST calls. */
  lists: number;
  /** WATCH calls opened. */
  watches: number;
  /** LISTs made again after a watch expired (410 Gone) or failed. */
  relists: number;
  /** Watches restarted because nothing arrived within the inactivity limit. */
  watchdogRestarts: number;
  /** Failed LIST or WATCH calls. */
  errors: number;
  /** Watch events applied to the cache. */
  events: number;
}

/** A list+watch cache of one kind. */
export class Informer {
  /** The kind this informer lists and watches. */
  readonly type: TypeRef;
  readonly #client: ClusterReader;
  readonly #options: InformerOptions;
  readonly #logger: Logger;
  readonly #store = new Map<string, KubeObject>();
  readonly #byController = new Map<string, Set<string>>();
  #resourceVersion = "";
  #watch: WatchHandle | undefined;
  #generation = 0;
  #watchdog: Timer | undefined;
  #retry: Timer | undefined;
  #retryDelayMs: number;
  #synced = false;
  #stopped = false;
  #syncWaiters: (() => void)[] = [];
  /** Counters for metrics and tests. */
  readonly stats: InformerStats = {
    lists: 0,
    watches: 0,
    relists: 0,
    watchdogRestarts: 0,
    errors: 0,
    events: 0,
  };

  /** Builds a stopped informer; `start` lists, then watches. */
  constructor(client: ClusterReader, type: TypeRef, options: InformerOptions) {
    this.#client = client;
    this.type = type;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#retryDelayMs = options.retryBaseMs ?? 200;
  }

  /** True once the first list has filled the cache. */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Starts listing and watching; resolves once the cache has synced (at once when it already
   * had, after a `stop()`), or when `stop()` is called first.
   */
  start(): Promise<void> {
    this.#stopped = false;
    const synced = this.#synced
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.#syncWaiters.push(resolve));
    void this.#list();
    return synced;
  }

  /** Stops the watch and every timer; the cache keeps its content. Pending `start()`s resolve. */
  stop(): void {
    this.#stopped = true;
    this.#generation++;
    this.#watch?.stop();
    this.#watch = undefined;
    this.#watchdog?.cancel();
    this.#retry?.cancel();
    for (const resolve of this.#syncWaiters.splice(0)) resolve();
  }

  /** Reads a cached object by key (`namespace/name`). */
  get(key: string): KubeObject | undefined {
    return this.#store.get(key);
  }

  /** All cached objects. */
  list(): KubeObject[] {
    return [...this.#store.values()];
  }

  /** Cached objects whose controller reference carries `uid`. */
  controlledBy(uid: string): KubeObject[] {
    const keys = this.#byController.get(uid);
    if (!keys) return [];
    const out: KubeObject[] = [];
    for (const key of keys) {
      const object = this.#store.get(key);
      if (object) out.push(object);
    }
    return out;
  }

  /** The last resourceVersion the cache saw. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** Forces a restart of the watch from the last version, as after a lost connection. */
  restartWatch(reason: string): void {
    if (this.#stopped) return;
    this.#logger.log("info", "Restarting watch", { kind: this.type.kind, reason });
    this.#startWatch();
  }

  async #list(): Promise<void> {
    const generation = ++this.#generation;
    this.#watch?.stop();
    this.#watch = undefined;
    this.stats.lists++;
    try {
      const listOptions: ListOptions = {};
      if (this.#options.namespace) listOptions.namespace = this.#options.namespace;
      if (this.#options.labelSelector) listOptions.labelSelector = this.#options.labelSelector;
      const result = await this.#client.list(this.type, listOptions);
      if (generation !== this.#generation || this.#stopped) return;
      this.#replace(result.items);
      this.#resourceVersion = result.resourceVersion;
      this.#retryDelayMs = this.#options.retryBaseMs ?? 200;
      if (!this.#synced) {
        this.#synced = true;
        for (const resolve of this.#syncWaiters.splice(0)) resolve();
      }
      this.#startWatch();
    } catch (error) {
      if (generation !== this.#generation || this.#stopped) return;
      this.#failed("list", error, () => void this.#list());
    }
  }

  #startWatch(): void {
    const generation = ++this.#generation;
    this.#watch?.stop();
    this.#watch = undefined;
    this.stats.watches++;
    const startedMs = this.#options.clock.nowMs();
    this.#armWatchdog(generation);
    const options = {
      resourceVersion: this.#resourceVersion,
      allowBookmarks: true,
      onEvent: (event: WatchEvent) => {
        if (generation !== this.#generation) return;
        this.#armWatchdog(generation);
        // The backoff resets only once a watch has stayed up a while: a watch that fails right
        // after each event must not be retried every few milliseconds.
        if (this.#options.clock.nowMs() - startedMs >= HEALTHY_WATCH_MS) {
          this.#retryDelayMs = this.#options.retryBaseMs ?? 200;
        }
        this.#apply(event);
      },
      onDone: (error?: Error) => {
        if (generation !== this.#generation || this.#stopped) return;
        this.#watch = undefined;
        if (isApiError(error, "Expired")) {
          this.stats.relists++;
          this.#logger.log("info", "Watch expired, listing again", { kind: this.type.kind });
          void this.#list();
        } else if (error) {
          this.#failed("watch", error, () => this.#startWatch());
        } else if (this.#options.clock.nowMs() - startedMs >= HEALTHY_WATCH_MS) {
          // A normal close (the server's watch timeout): resume where we were.
          this.#startWatch();
        } else {
          // Closed as soon as it opened (a proxy, an overloaded server): back off, no hot loop.
          this.#retryLater(() => this.#startWatch());
        }
      },
    };
    if (this.#options.namespace) Object.assign(options, { namespace: this.#options.namespace });
    if (this.#options.labelSelector) {
      Object.assign(options, { labelSelector: this.#options.labelSelector });
    }
    this.#client.watch(this.type, options).then(
      (handle) => {
        if (generation !== this.#generation) handle.stop();
        else this.#watch = handle;
      },
      (error) => {
        if (generation !== this.#generation || this.#stopped) return;
        if (isApiError(error, "Expired")) {
          this.stats.relists++;
          void this.#list();
        } else this.#failed("watch", error, () => this.#startWatch());
      },
    );
  }

  #failed(what: string, error: unknown, retry: () => void): void {
    this.stats.errors++;
    const delayMs = this.#retryLater(retry);
    this.#logger.log("warn", `Cannot ${what} ${this.type.kind}, retrying`, {
      kind: this.type.kind,
      error: errorMessage(error),
      retryInMs: delayMs,
    });
  }

  /** Runs `retry` after the current backoff delay, which then doubles; returns the delay. */
  #retryLater(retry: () => void): number {
    const delayMs = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delayMs * 2, this.#options.retryMaxMs ?? 30_000);
    this.#watchdog?.cancel();
    this.#retry?.cancel();
    this.#retry = this.#options.clock.setTimer(delayMs, () => {
      this.#retry = undefined;
      if (!this.#stopped) retry();
    });
    return delayMs;
  }

  #armWatchdog(generation: number): void {
    this.#watchdog?.cancel();
    const inactivityMs = this.#options.watchInactivityMs ?? 300_000;
    if (inactivityMs <= 0) return;
    this.#watchdog = this.#options.clock.setTimer(inactivityMs, () => {
      if (generation !== this.#generation || this.#stopped) return;
      this.stats.watchdogRestarts++;
      this.restartWatch(`no event for ${inactivityMs}ms`);
    });
    this.#watchdog.unref();
  }

  #apply(event: WatchEvent): void {
    this.stats.events++;
    if (event.type === "BOOKMARK") {
      this.#resourceVersion = event.resourceVersion;
      return;
    }
    const object = event.object;
    const key = objectKey(object.metadata);
    const old = this.#store.get(key);
    if (object.metadata.resourceVersion) this.#resourceVersion = object.metadata.resourceVersion;
    if (event.type === "DELETED") {
      if (!old) return;
      this.#remove(key, old);
      this.#emit({ type: "DELETED", object, old });
      return;
    }
    this.#put(key, object, old);
    if (old) this.#emit({ type: "MODIFIED", object, old });
    else this.#emit({ type: "ADDED", object });
  }

  #replace(items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const object of items) {
      const key = objectKey(object.metadata);
      seen.add(key);
      const old = this.#store.get(key);
      if (old && old.metadata.resourceVersion === object.metadata.resourceVersion) continue;
      this.#put(key, object, old);
      if (old) this.#emit({ type: "MODIFIED", object, old });
      else this.#emit({ type: "ADDED", object });
    }
    for (const [key, old] of [...this.#store]) {
      if (seen.has(key)) continue;
      this.#remove(key, old);
      this.#emit({ type: "DELETED", object: old, old });
    }
  }

  #put(key: string, object: KubeObject, old: KubeObject | undefined): void {
    if (old) this.#unindex(key, old);
    this.#store.set(key, object);
    const uid = controllerOf(object)?.uid;
    if (uid) {
      let keys = this.#byController.get(uid);
      if (!keys) this.#byController.set(uid, keys = new Set());
      keys.add(key);
    }
  }

  #remove(key: string, old: KubeObject): void {
    this.#unindex(key, old);
    this.#store.delete(key);
  }

  #unindex(key: string, old: KubeObject): void {
    const uid = controllerOf(old)?.uid;
    if (!uid) return;
    const keys = this.#byController.get(uid);
    keys?.delete(key);
    if (keys?.size === 0) this.#byController.delete(uid);
  }

  #emit(change: CacheChange): void {
    try {
      this.#options.onChange?.(change);
    } catch (error) {
      this.#logger.log("error", "Informer handler failed", {
        kind: this.type.kind,
        error: errorMessage(error),
      });
    }
  }
}
