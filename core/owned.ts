/**
 * Owned children: objects a controller makes for a parent, marked with a controller owner
 * reference so that the runtime maps their events to the parent and the garbage collector removes
 * them with it. {@link ownedBy} marks a desired child; {@link decideChild} compares it with the
 * observed one and decides what to write, if anything.
 *
 * Guarantees: a child that exists but is not controlled by the same parent (by uid, not by name)
 * is reported as `"foreign"` and never written; a child that matches is not written, so a
 * converged parent costs no write.
 *
 * Caveats: a missing child is created, not applied: if the cache is only behind, a create fails
 * harmlessly with AlreadyExists, where an apply could take over an object of another owner.
 *
 * @module
 */

import type { ApplyAction, CreateAction, UpdateAction } from "./actions.ts";
import { compareDesired, overlay } from "./compare.ts";
import {
  controllerOf,
  controllerReference,
  type KubeObject,
  namespaceOf,
  type OwnerReference,
} from "./object.ts";

/**
 * A copy of `child` controlled by `parent`: in the parent's namespace, with a controller owner
 * reference to it (replacing any other controller reference; other owners are kept).
 *
 * @example
 * ```ts
 * import { ownedBy } from "./owned.ts";
 * const parent = {
 *   apiVersion: "example.com/v1", kind: "Greeting",
 *   metadata: { name: "hi", namespace: "default", uid: "u-1" },
 * };
 * const child = ownedBy(parent, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "hi-greeting" } });
 * console.assert(child.metadata.namespace === "default");
 * console.assert(child.metadata.ownerReferences?.[0]?.uid === "u-1");
 * ```
 */
export function ownedBy(parent: KubeObject, child: KubeObject): KubeObject {
  const copy = structuredClone(child);
  copy.metadata.namespace = namespaceOf(parent);
  const others = (copy.metadata.ownerReferences ?? []).filter((r) => r.controller !== true);
  copy.metadata.ownerReferences = [controllerReference(parent), ...others];
  return copy;
}

/** What to do about one desired child. */
export type ChildDecision =
  | { kind: "create"; action: CreateAction }
  | { kind: "change"; action: ApplyAction | UpdateAction }
  | { kind: "unchanged" }
  | {
    kind: "foreign";
    /** The observed child's controller, if it has one. */
    owner: OwnerReference | undefined;
  };

/** Options of {@link decideChild}. */
export interface DecideChildOptions {
  /**
   * How a drifted child is written: `"apply"` (server-side apply of the desired fields: fields
   * other managers own are kept) or `"update"` (the observed object with the desired fields laid
   * over it, on the version read: for fields that apply merges instead of replacing, such as
   * lists keyed by more than a name).
   * @default "apply"
   */
  write?: "apply" | "update";
}

/**
 * Decides what to do about `desired` (built with {@link ownedBy}) given the `observed` child from
 * the cache: create it, change it (the reason names the first difference, see
 * {@link compareDesired}), leave it, or leave it because another owner controls it.
 *
 * @example
 * ```ts
 * import { decideChild, ownedBy } from "./owned.ts";
 * const parent = { apiVersion: "example.com/v1", kind: "Greeting", metadata: { name: "hi", namespace: "default", uid: "u-1" } };
 * const desired = ownedBy(parent, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "hi" }, data: { text: "hello" } });
 * console.assert(decideChild(desired, undefined).kind === "create");
 * const observed = { ...structuredClone(desired), data: { text: "bye" } };
 * const decision = decideChild(desired, observed);
 * console.assert(decision.kind === "change" && decision.action.reason === 'data.text: want "hello", have "bye"');
 * console.assert(decideChild(desired, desired).kind === "unchanged");
 * ```
 */
export function decideChild(
  desired: KubeObject,
  observed: KubeObject | undefined,
  options: DecideChildOptions = {},
): ChildDecision {
  if (observed === undefined) {
    return { kind: "create", action: { kind: "create", object: desired, reason: "missing" } };
  }
  const owner = controllerOf(observed);
  const wanted = controllerOf(desired);
  if (!owner || !wanted || owner.uid === "" || owner.uid !== wanted.uid) {
    return { kind: "foreign", owner };
  }
  const diff = compareDesired(desired, observed);
  if (diff.equal) return { kind: "unchanged" };
  if (options.write === "update") {
    const object = overlay(withoutServerFields(observed), desired);
    return { kind: "change", action: { kind: "update", object, reason: diff.reason } };
  }
  return { kind: "change", action: { kind: "apply", object: desired, reason: diff.reason } };
}

/** A copy of a stored object to write back: no status, no managed fields. */
function withoutServerFields(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  delete copy.status;
  delete copy.metadata.managedFields;
  return copy;
}
