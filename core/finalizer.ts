/**
 * Finalizers, the way a reconciler makes every other decision: classify first, then act. A
 * finalizer keeps a deleted object in the API server (with `metadata.deletionTimestamp` set) until
 * the controller has cleaned up what the object stood for outside the cluster's garbage collection
 * (an external resource, a goodbye, a record elsewhere), then removes its name from
 * `metadata.finalizers` and lets the deletion finish.
 *
 * {@link finalizerState} answers one of four states, and a reconciler switches on it:
 *
 * | finalizer present | being deleted | state       | the reconciler returns                  |
 * | ----------------- | ------------- | ----------- | --------------------------------------- |
 * | no                | no            | `"add"`     | `[addFinalizer(object, name)]` only     |
 * | yes               | no            | `"apply"`   | its normal actions                      |
 * | yes               | yes           | `"cleanup"` | cleanup actions, or when none are left, `[removeFinalizer(object, name)]` |
 * | no                | yes           | `"done"`    | nothing                                 |
 *
 * This is kube-rs's `finalizer()` (`kube-runtime/src/finalizer.rs`, its state record and its
 * four-way match) with the writes returned as data, and controller-runtime's
 * `controllerutil.AddFinalizer`/`RemoveFinalizer`.
 *
 * Guarantees: cleanup is decided only for an object that is being deleted and still carries the
 * finalizer, so it runs at least once before the object can go; the finalizer is added before any
 * other write, so no child exists that a deletion could leave uncleaned; both writes are updates of
 * the version that was read, so a stale cache gets a conflict (and a quiet retry), never a write
 * that drops another controller's finalizer.
 *
 * Assumptions: cleanup is idempotent (a crash after it and before the removal runs it again); the
 * finalizer name is domain-qualified (`example.com/cleanup`) and owned by one controller.
 *
 * Caveats: removal is an update, not a server-side apply: apply merges `metadata.finalizers` as a
 * set, so applying a list without the name does not remove it. A controller that stops running
 * leaves its objects undeletable until the finalizer is removed by hand. Garbage collection of
 * owned children still happens after the object is gone; a finalizer is only needed for what
 * garbage collection cannot do.
 *
 * @module
 */

import type { UpdateAction } from "./actions.ts";
import type { KubeObject } from "./object.ts";

/** Where an object stands with one finalizer: what the reconciler must do next. */
export type FinalizerState = "add" | "apply" | "cleanup" | "done";

/** True when `object` carries the finalizer `name`. */
export function hasFinalizer(object: KubeObject, name: string): boolean {
  return object.metadata.finalizers?.includes(name) === true;
}

/**
 * Classifies `object` for the finalizer `name` (see the module's table).
 *
 * @example
 * ```ts
 * import { finalizerState } from "./finalizer.ts";
 * const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } };
 * console.assert(finalizerState(object, "example.com/cleanup") === "add");
 * const deleting = {
 *   ...object,
 *   metadata: { name: "a", finalizers: ["example.com/cleanup"], deletionTimestamp: "2026-01-01T00:00:00Z" },
 * };
 * console.assert(finalizerState(deleting, "example.com/cleanup") === "cleanup");
 * ```
 */
export function finalizerState(object: KubeObject, name: string): FinalizerState {
  const present = hasFinalizer(object, name);
  const deleting = object.metadata.deletionTimestamp !== undefined;
  if (deleting) return present ? "cleanup" : "done";
  return present ? "apply" : "add";
}

/**
 * An update of the version read that adds the finalizer `name` (kept once; the object's other
 * finalizers are kept in order).
 *
 * @example
 * ```ts
 * import { addFinalizer } from "./finalizer.ts";
 * const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", resourceVersion: "7" } };
 * const action = addFinalizer(object, "example.com/cleanup");
 * console.assert(action.kind === "update" && action.object.metadata.resourceVersion === "7");
 * console.assert(action.object.metadata.finalizers?.[0] === "example.com/cleanup");
 * ```
 */
export function addFinalizer(object: KubeObject, name: string): UpdateAction {
  const finalizers = object.metadata.finalizers ?? [];
  const next = finalizers.includes(name) ? [...finalizers] : [...finalizers, name];
  return {
    kind: "update",
    object: withFinalizers(object, next),
    reason: `adding finalizer ${JSON.stringify(name)}`,
  };
}

/**
 * An update of the version read that removes the finalizer `name` and keeps the others: once the
 * list is empty, the API server finishes the deletion.
 *
 * @example
 * ```ts
 * import { removeFinalizer } from "./finalizer.ts";
 * const object = {
 *   apiVersion: "v1", kind: "ConfigMap",
 *   metadata: { name: "a", resourceVersion: "9", finalizers: ["other.io/keep", "example.com/cleanup"] },
 * };
 * const action = removeFinalizer(object, "example.com/cleanup");
 * console.assert(JSON.stringify(action.object.metadata.finalizers) === '["other.io/keep"]');
 * ```
 */
export function removeFinalizer(object: KubeObject, name: string): UpdateAction {
  const next = (object.metadata.finalizers ?? []).filter((f) => f !== name);
  return {
    kind: "update",
    object: withFinalizers(object, next),
    reason: `removing finalizer ${JSON.stringify(name)}`,
  };
}

/**
 * A copy of the object as read, to write back: same resourceVersion (the precondition), the given
 * finalizers, and neither status (the main resource ignores it) nor managed fields.
 */
function withFinalizers(object: KubeObject, finalizers: string[]): KubeObject {
  const copy = structuredClone(object);
  delete copy.status;
  delete copy.metadata.managedFields;
  copy.metadata.finalizers = finalizers;
  return copy;
}
