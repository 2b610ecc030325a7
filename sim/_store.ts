/**
 * The storage core under {@link SimApiServer}: the global resourceVersion, the indexes, the watch
 * log and the in-process listeners, joined in one commit path. The API semantics (validation,
 * defaulting, preconditions, deletion) live in `api_server.ts`.
 *
 * @module
 */

import type { WatchHandle, WatchOptions } from "../core/cluster.ts";
import type { Clock } from "../core/clock.ts";
import { type KubeObject, typeKey, type TypeRef } from "../core/object.ts";
import { deepClone, deepFreeze } from "./_json.ts";
import { ObjectIndex, type TypeStore } from "./_object_index.ts";
import { sortObjects } from "./_store_helpers.ts";
import { type ChangeType, type DeliveryFilter, WatchHub } from "./_watch_hub.ts";
import type { ResourceType } from "./resource_types.ts";

/** A committed change, as in-process controllers see it through `subscribe`. */
export interface StoreChange {
  /** `ADDED`, `MODIFIED` or `DELETED`. */
  type: ChangeType;
  /** The kind of the object. */
  resource: ResourceType;
  /** The stored object after the change (its last state for DELETED). Read-only. */
  object: KubeObject;
  /** The stored object before the change, absent for ADDED. Read-only. */
  oldObject?: KubeObject | undefined;
}

/** Called synchronously after each commit; must not modify the objects it is given. */
export type StoreListener = (change: StoreChange) => void;

/** Seams for a later fault layer. */
export interface SimApiServerHooks {
  /** Decides whether a watch event is delivered; return false to drop it. */
  beforeDeliver?: DeliveryFilter;
}

/** Timing and size of the watch machinery. */
export interface StoreWatchOptions {
  /** How long a committed change takes to reach watchers, in virtual milliseconds. */
  watchDelayMs: number;
  /** How many past events a watch can resume from before it gets 410 Gone. */
  historyEvents: number;
  /** How often watches that asked for bookmarks receive one. */
  bookmarkIntervalMs: number;
}

/**
 * Storage, watch log and listeners of the simulated API server.
 *
 * Guarantees: stored objects are never modified in place (each write stores a new object, and
 * the commit deep-freezes it, sharing the unchanged parts with the version before), so snapshots
 * in the watch log and in listener notifications stay valid. The read-only accessors
 * (`peek`, `peekList`, `byUid`, `dependentsOf`, `objectsInNamespace`) return stored objects
 * without copying them, for in-process controllers; callers must not modify them.
 */
export class SimStore {
  /** The clock that timestamps objects and paces watches and the built-in controllers. */
  readonly clock: Clock;
  /** Fault-injection seams; empty by default. */
  hooks: SimApiServerHooks = {};
  /**
   * Objects by kind, namespace, name, uid and owner uid.
   *
   * @ignore
   */
  protected readonly index: ObjectIndex = new ObjectIndex();
  readonly #hub: WatchHub;
  #rv = 0;
  #listeners: StoreListener[] = [];
  #notes: StoreChange[] = [];
  #notifying = false;
  #sharing = 0;

  /** An empty store on `clock`. */
  constructor(clock: Clock, options: StoreWatchOptions) {
    this.clock = clock;
    this.#hub = new WatchHub(clock, options, () => this.hooks.beforeDeliver);
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** How many watches are open. */
  get openWatches(): number {
    return this.#hub.openWatches;
  }

  /** Registers an in-process listener of every commit; returns the function that removes it. */
  subscribe(listener: StoreListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Runs `operation` (a call of this server's methods) so that it answers with the stored,
   * deep-frozen objects themselves instead of copies, and so that a watch it opens delivers them
   * too: for a caller that never modifies what it reads (a modification would throw). The
   * answers are the same data either way; only the copying is saved.
   */
  withoutCopies<T>(operation: () => T): T {
    this.#sharing++;
    try {
      return operation();
    } finally {
      this.#sharing--;
    }
  }

  /**
   * What a method answers for a stored object: a copy, or the object itself inside
   * {@link SimStore.withoutCopies}.
   *
   * @ignore
   */
  protected answer(object: KubeObject): KubeObject {
    return this.#sharing > 0 ? object : deepClone(object);
  }

  /** Every stored object, sorted by kind, namespace and name (copies). */
  objects(): KubeObject[] {
    const all: KubeObject[] = [];
    for (const store of this.index.types.values()) {
      for (const object of this.index.sorted(store, undefined)) all.push(deepClone(object));
    }
    return sortObjects(all);
  }

  /** The stored object, or undefined; not a copy. */
  peek(type: TypeRef, name: string, namespace?: string): KubeObject | undefined {
    const store = this.index.store(type);
    return store && this.index.find(store, name, namespaceOf(store.resource, namespace));
  }

  /** The stored objects of one kind sorted by namespace and name; not copies. */
  peekList(type: TypeRef, namespace?: string): KubeObject[] {
    const store = this.index.store(type);
    return store ? this.index.sorted(store, namespace) : [];
  }

  /** The stored object with this uid, or undefined; not a copy. */
  byUid(uid: string): KubeObject | undefined {
    return this.index.byUid(uid);
  }

  /** The stored objects whose ownerReferences name `uid`, in the order they gained it. */
  dependentsOf(uid: string): KubeObject[] {
    return this.index.dependentsOf(uid);
  }

  /** The stored namespaced objects of `namespace`, by kind then name; not copies. */
  objectsInNamespace(namespace: string): KubeObject[] {
    return this.index.inNamespace(namespace);
  }

  /**
   * The one place a change is stored: bumps the resourceVersion, updates the indexes, appends to
   * the watch log and notifies listeners. `next` must be a fresh object (for DELETED, a copy of
   * the last state). A fault layer may wrap this method.
   */
  protected commit(
    resource: ResourceType,
    type: ChangeType,
    next: KubeObject,
    old: KubeObject | undefined,
  ): KubeObject {
    const rv = ++this.#rv;
    next.metadata.resourceVersion = String(rv);
    deepFreeze(next);
    const store = this.index.store(resource)!;
    if (type === "DELETED") this.index.remove(store, old ?? next);
    else this.index.put(store, next, old);
    const namespace = next.metadata.namespace ?? "";
    this.#hub.record({ rv, type, typeKey: typeKey(resource), namespace, object: next, old });
    this.#notify({ type, resource, object: next, oldObject: old });
    return next;
  }

  /**
   * Opens a watch on the hub; `fromRv` undefined sends the current objects first.
   *
   * @ignore
   */
  protected openWatch(
    store: TypeStore,
    options: WatchOptions,
    fromRv: number | undefined,
  ): WatchHandle {
    return this.#hub.open(
      typeKey(store.resource),
      options,
      fromRv,
      this.#rv,
      () => this.index.sorted(store, options.namespace),
      this.#sharing > 0,
    );
  }

  #notify(change: StoreChange): void {
    this.#notes.push(change);
    if (this.#notifying) return;
    // Listeners that write cause nested commits; queue them so every listener sees commit order.
    this.#notifying = true;
    try {
      for (let i = 0; i < this.#notes.length; i++) {
        for (const listener of this.#listeners) listener(this.#notes[i]!);
      }
    } finally {
      this.#notes = [];
      this.#notifying = false;
    }
  }
}

/** Namespaced kinds default to `default`, as kubectl and client-node's object API do. */
export function namespaceOf(resource: ResourceType, namespace: string | undefined): string {
  return resource.namespaced ? (namespace || "default") : "";
}
