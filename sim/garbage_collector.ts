/**
 * The garbage collector of the simulated cluster: deletes dependents whose owners are gone
 * (background), deletes the dependents of an owner deleted in the foreground before letting it go,
 * and strips owner references from the dependents of an owner deleted with orphan propagation.
 *
 * It is event-driven: a commit that may concern it marks an owner uid, and one timer
 * (`delayMs` virtual) processes the marked uids in order. An idle cluster has no pending timer.
 * Owner references resolve by uid, and a namespaced owner only counts when it lives in the
 * dependent's namespace (a cross-namespace reference is treated as dangling, as the real one is).
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import type { Clock } from "../core/clock.ts";
import type { KubeObject, OwnerReference } from "../core/object.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { DelayedBatch } from "./_batch.ts";

/** The finalizer that holds an owner deleted with `propagationPolicy: Foreground`. */
export const FOREGROUND_FINALIZER = "foregroundDeletion";
/** The finalizer that holds an owner deleted with `propagationPolicy: Orphan`. */
export const ORPHAN_FINALIZER = "orphan";

/** Options of {@link GarbageCollector}. */
export interface GarbageCollectorOptions {
  /** Virtual delay between a change and the collector acting on it. @default 50 */
  delayMs?: number;
}

/**
 * The owner-reference garbage collector; {@link SimApiServer} starts one.
 *
 * @example
 * ```ts
 * import { SimApiServer } from "./api_server.ts";
 * import { VirtualClock } from "./clock.ts";
 * import { SeededRandom } from "./random.ts";
 * const clock = new VirtualClock();
 * const server = new SimApiServer(clock, new SeededRandom(1)); // starts its collector
 * const owner = server.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "o" } });
 * const ref = { apiVersion: "v1", kind: "ConfigMap", name: "o", uid: owner.metadata.uid! };
 * server.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "d", ownerReferences: [ref] } });
 * server.delete(owner, "o", "default");
 * while (clock.runNext()) { /* let the collector act *\/ }
 * console.assert(server.peek(owner, "d", "default") === undefined);
 * ```
 */
export class GarbageCollector {
  readonly #server: SimApiServer;
  readonly #batch: DelayedBatch;
  readonly #unsubscribe: () => void;

  /** Starts collecting for `server`. */
  constructor(server: SimApiServer, clock: Clock, options: GarbageCollectorOptions = {}) {
    this.#server = server;
    this.#batch = new DelayedBatch(clock, options.delayMs ?? 50, (uid) => this.#process(uid));
    this.#unsubscribe = server.subscribe((change) => this.#onChange(change));
  }

  /** Stops collecting. */
  stop(): void {
    this.#unsubscribe();
    this.#batch.cancel();
  }

  #onChange(change: StoreChange): void {
    const object = change.object;
    const uid = object.metadata.uid ?? "";
    if (change.type === "DELETED") {
      if (this.#server.dependentsOf(uid).length > 0) this.#mark(uid);
    } else {
      if (object.metadata.deletionTimestamp && holdsForDependents(object)) this.#mark(uid);
      for (const ref of object.metadata.ownerReferences ?? []) {
        if (!this.#resolves(ref, object)) this.#mark(ref.uid);
      }
    }
    // A dependent that went away (or dropped its reference) may release a foreground owner.
    const refs = [
      ...(change.oldObject?.metadata.ownerReferences ?? []),
      ...(change.type === "DELETED" ? [] : object.metadata.ownerReferences ?? []),
    ];
    for (const ref of refs) {
      const owner = this.#server.byUid(ref.uid);
      if (owner?.metadata.deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) {
        this.#mark(ref.uid);
      }
    }
  }

  #mark(uid: string): void {
    this.#batch.mark(uid);
  }

  #process(uid: string): void {
    const owner = this.#server.byUid(uid);
    if (owner?.metadata.deletionTimestamp) {
      if (hasFinalizer(owner, FOREGROUND_FINALIZER)) this.#foreground(owner);
      else if (hasFinalizer(owner, ORPHAN_FINALIZER)) this.#orphan(owner);
    }
    for (const dependent of this.#server.dependentsOf(uid)) {
      const current = this.#server.byUid(dependent.metadata.uid ?? "");
      if (!current) continue;
      const refs = current.metadata.ownerReferences ?? [];
      const ref = refs.find((r) => r.uid === uid);
      if (!ref || this.#resolves(ref, current)) continue;
      const live = refs.filter((r) => this.#resolves(r, current));
      if (live.length > 0) this.#setOwners(current, live);
      else if (!current.metadata.deletionTimestamp) this.#deleteDependent(current);
    }
  }

  /** Deletes every dependent, then releases the owner once no blocking dependent remains. */
  #foreground(owner: KubeObject): void {
    const uid = owner.metadata.uid ?? "";
    for (const dependent of this.#server.dependentsOf(uid)) {
      if (!dependent.metadata.deletionTimestamp) this.#deleteDependent(dependent);
    }
    const blocking = this.#server.dependentsOf(uid).some((dependent) =>
      (dependent.metadata.ownerReferences ?? []).some((ref) =>
        ref.uid === uid && ref.blockOwnerDeletion === true
      )
    );
    if (!blocking) this.#removeFinalizer(owner, FOREGROUND_FINALIZER);
  }

  /** Removes the owner's references from its dependents, then releases the owner. */
  #orphan(owner: KubeObject): void {
    const uid = owner.metadata.uid ?? "";
    for (const dependent of this.#server.dependentsOf(uid)) {
      const refs = (dependent.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== uid);
      this.#setOwners(dependent, refs);
    }
    this.#removeFinalizer(owner, ORPHAN_FINALIZER);
  }

  #resolves(ref: OwnerReference, dependent: KubeObject): boolean {
    const owner = this.#server.byUid(ref.uid);
    if (!owner) return false;
    const namespace = owner.metadata.namespace;
    return namespace === undefined || namespace === dependent.metadata.namespace;
  }

  #deleteDependent(dependent: KubeObject): void {
    // As the real collector does, a dependent that owns others goes in the foreground too.
    const hasDependents = this.#server.dependentsOf(dependent.metadata.uid ?? "").length > 0;
    this.#ignoreGone(() =>
      this.#server.delete(dependent, dependent.metadata.name, dependent.metadata.namespace, {
        uid: dependent.metadata.uid ?? "",
        propagationPolicy: hasDependents ? "Foreground" : "Background",
      })
    );
  }

  #setOwners(object: KubeObject, refs: OwnerReference[]): void {
    const metadata = { ...object.metadata, ownerReferences: refs };
    this.#ignoreGone(() => this.#server.update({ ...object, metadata }));
  }

  #removeFinalizer(object: KubeObject, finalizer: string): void {
    const finalizers = (object.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    const metadata = { ...object.metadata, finalizers };
    this.#ignoreGone(() => this.#server.update({ ...object, metadata }));
  }

  /** The collector acts on what it last saw; an object that changed meanwhile is left alone. */
  #ignoreGone(write: () => void): void {
    try {
      write();
    } catch (error) {
      if (!isApiError(error, "NotFound") && !isApiError(error, "Conflict")) throw error;
    }
  }
}

function hasFinalizer(object: KubeObject, finalizer: string): boolean {
  return (object.metadata.finalizers ?? []).includes(finalizer);
}

function holdsForDependents(object: KubeObject): boolean {
  return hasFinalizer(object, FOREGROUND_FINALIZER) || hasFinalizer(object, ORPHAN_FINALIZER);
}
