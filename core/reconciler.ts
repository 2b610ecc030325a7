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
  type: TypeRef;
  /** The key (`namespace/name`) of the object to reconcile when one of these changes. */
  keyOf?: (object: KubeObject) => string | undefined;
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
  /** The pure decision. */
  reconcile(observed: Observed<T>, context: ReconcileContext): ReconcileResult;
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
  };
}
