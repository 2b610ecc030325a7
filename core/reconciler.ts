/**
 * The contract between a controller's decisions and the runtime that runs them.
 *
 * A reconciler is a pure function from an observed snapshot to actions. The runtime builds the
 * snapshot from its cache, calls the reconciler, and hands the actions to the executor.
 *
 * Guarantees (given by the runtime): one key is never reconciled twice at once; the snapshot is a
 * consistent read of the cache at one instant; `owned` holds only objects whose controller owner
 * reference carries the object's uid.
 *
 * Assumptions (made of the reconciler): it reads nothing but its arguments; it is idempotent, so
 * running it again on the same snapshot, or after a crash part-way through its actions, is safe.
 *
 * Caveats: the cache may lag behind the API server; a reconciler must tolerate seeing its own
 * writes late (create, then a cache without it, then AlreadyExists): the executor stops at the
 * failed write and the runtime retries the reconcile with backoff.
 *
 * @module
 */

import type { Action } from "./actions.ts";
import type { Random } from "./clock.ts";
import type { KubeObject, ObjectRef, TypeRef } from "./object.ts";

/** What a reconcile sees: the object and the cache around it. */
export interface Observed<T extends KubeObject = KubeObject> {
  /** The reconciled object, as the cache holds it. */
  readonly object: T;
  /** Cached objects of the owned kinds whose controller reference carries `object`'s uid. */
  readonly owned: readonly KubeObject[];
  /** Reads any cached object of a watched kind. */
  lookup(ref: ObjectRef): KubeObject | undefined;
  /**
   * Lists the cached objects of a watched kind in `namespace` that carry every label of `labels`
   * (the pods of a Job, say, whose names are random). Absent in snapshots made before it existed:
   * call it as `observed.list?.(...) ?? []`.
   */
  list?(type: TypeRef, namespace: string, labels: Record<string, string>): KubeObject[];
}

/** True when `object` is of `type`, in `namespace`, and carries every label of `labels`. */
export function matchesList(
  object: KubeObject,
  type: TypeRef,
  namespace: string,
  labels: Record<string, string>,
): boolean {
  return object.apiVersion === type.apiVersion && object.kind === type.kind &&
    (object.metadata.namespace ?? "default") === namespace &&
    Object.entries(labels).every(([k, v]) => object.metadata.labels?.[k] === v);
}

/** Inputs that are not part of the cluster: time and randomness. */
export interface ReconcileContext {
  /** The current time in epoch milliseconds (virtual in the simulation). */
  readonly nowMs: number;
  /** A random source; the only randomness a reconciler may use. */
  readonly random: Random;
}

/** What a reconcile decided. */
export interface ReconcileResult {
  /** Actions in the order they must run; the executor stops at the first failure. */
  actions: Action[];
}

/** A kind a reconciler reads without owning it. */
export interface WatchedKind {
  /** The watched kind. */
  type: TypeRef;
  /**
   * The key (`namespace/name`) of the object to reconcile when one of these changes, or undefined
   * for none. `old` is the previous state of a modified object (absent when it was added or
   * deleted), so a change that matters to no decision can be ignored.
   */
  keyOf?: (object: KubeObject, old?: KubeObject) => string | undefined;
  /**
   * True for a cluster-scoped kind (a StorageClass, say): it is listed across the cluster even
   * when the controller watches one namespace. @default false
   */
  clusterScoped?: boolean;
}

/**
 * A read a reconcile needs from the API server itself, not the cache: one object by name (GET),
 * or every object of a kind in a namespace (a consistent LIST). In the snapshot, the live answer
 * replaces the cache's view: an object the read did not find is absent, whatever the cache holds.
 */
export type LiveRead =
  | { type: TypeRef; namespace?: string | undefined; name: string }
  | { type: TypeRef; namespace: string; name?: undefined };

/** A kind whose cache holds only objects with these labels. */
export interface CacheSelector {
  /** The kind cached in part. */
  type: TypeRef;
  /** Equality-based label selector: every pair must match. */
  labelSelector: Record<string, string>;
}

/** A controller's decision logic, with the kinds it watches. */
export interface Reconciler<T extends KubeObject = KubeObject> {
  /** The controller's name, for logs, metrics and field managers. */
  readonly name: string;
  /** The kind this controller reconciles. */
  readonly for: TypeRef;
  /** Kinds it creates and owns; their events are mapped to the owner's key. */
  readonly owns: readonly TypeRef[];
  /**
   * Other kinds it reads through `lookup` (objects it does not own, such as the PVCs a
   * StatefulSet makes); `keyOf` maps an object's events to the key to reconcile, if any.
   */
  readonly watches?: readonly WatchedKind[];
  /**
   * Kinds cached only in part: the informer lists and watches just the objects with these labels,
   * so nothing else of that kind enters the process (Secrets, say). Read others with `liveReads`.
   */
  readonly cacheSelectors?: readonly CacheSelector[];
  /**
   * The reads, in order, that must come from the API server before a decision on this snapshot
   * (a decision that cannot be undone must not rest on a cache that may lag). Called with the
   * cached snapshot; the runtime performs the reads and reconciles on the snapshot they correct.
   * Return none when the cache is enough, so that a converged object costs no request.
   */
  liveReads?(observed: Observed<T>): readonly LiveRead[];
  /** The pure decision. */
  reconcile(observed: Observed<T>, context: ReconcileContext): ReconcileResult;
}

/**
 * `observed` with the answers of live reads laid over the cache: an object a read covers is what
 * the read found (or absent), whatever the cache held.
 */
export function withLiveReads<T extends KubeObject>(
  observed: Observed<T>,
  reads: readonly { read: LiveRead; found: readonly KubeObject[] }[],
): Observed<T> {
  const covers = (read: LiveRead, ref: ObjectRef) =>
    read.type.apiVersion === ref.apiVersion && read.type.kind === ref.kind &&
    (read.namespace ?? undefined) === (ref.namespace ?? undefined) &&
    (read.name === undefined || read.name === ref.name);
  return {
    object: observed.object,
    owned: observed.owned,
    lookup(ref) {
      for (let i = reads.length - 1; i >= 0; i--) {
        const { read, found } = reads[i]!;
        if (covers(read, ref)) return found.find((o) => o.metadata.name === ref.name);
      }
      return observed.lookup(ref);
    },
    list(type, namespace, labels) {
      for (let i = reads.length - 1; i >= 0; i--) {
        const { read, found } = reads[i]!;
        if (covers(read, { ...type, namespace, name: "" }) && read.name === undefined) {
          return found.filter((o) => matchesList(o, type, namespace, labels));
        }
      }
      return observed.list?.(type, namespace, labels) ?? [];
    },
  };
}

/** Builds an {@link Observed} from plain objects, for tests and for `plan`. */
export function observe<T extends KubeObject>(
  object: T,
  others: readonly KubeObject[],
): Observed<T> {
  const uid = object.metadata.uid;
  const owned = others.filter((o) =>
    uid !== undefined &&
    o.metadata.ownerReferences?.some((r) => r.controller === true && r.uid === uid)
  );
  return {
    object,
    owned,
    lookup(ref) {
      return others.find((o) =>
        o.apiVersion === ref.apiVersion && o.kind === ref.kind && o.metadata.name === ref.name &&
        (o.metadata.namespace ?? undefined) === (ref.namespace ?? undefined)
      );
    },
    list(type, namespace, labels) {
      return others.filter((o) => matchesList(o, type, namespace, labels));
    },
  };
}
