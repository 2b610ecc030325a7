/**
 * Status writes that happen only when the status changed, and only on the version they were
 * computed from. A reconciler computes the whole next status from what it observed (conditions
 * through {@link setCondition}, which keeps `lastTransitionTime` when a condition's status did not
 * change) and hands it to {@link statusAction}: an unchanged status costs no write, so a converged
 * object reconciles to no action at all.
 *
 * Guarantees: the write carries the resourceVersion the status was computed from, so a status
 * based on a stale cache is rejected with a conflict (and retried on fresh data) instead of
 * overwriting a newer one; the write is a merge patch that also removes what the stored status
 * has and the next one does not (a `null` for each such field, at any depth of plain objects), so
 * the stored status becomes exactly the one computed.
 *
 * Caveats: the comparison is of JSON values with keys in any order; a status field the controller
 * does not compute but the stored status has counts as a change (compute the whole status, or copy
 * such fields from the stored one).
 *
 * @module
 */

import type { PatchStatusAction } from "./actions.ts";
import { compareDesired, isRecord, jsonEqual } from "./compare.ts";
import { setCondition } from "./conditions.ts";
import { type Condition, type KubeObject, refOf } from "./object.ts";

/** Options of {@link statusAction}. */
export interface StatusActionOptions {
  /** Why, for plans and logs. @default the first difference, e.g. `phase: want "Ready", have "Pending"` */
  reason?: string;
}

/**
 * Returns `[]` when `status` equals the stored `object.status`, and otherwise one status write of
 * `status` with `object`'s resourceVersion as precondition.
 *
 * @example
 * ```ts
 * import { statusAction } from "./status.ts";
 * const object = {
 *   apiVersion: "example.com/v1", kind: "Greeting",
 *   metadata: { name: "hi", namespace: "default", resourceVersion: "12" },
 *   status: { phase: "Pending" },
 * };
 * console.assert(statusAction(object, { phase: "Pending" }).length === 0);
 * const [write] = statusAction(object, { phase: "Ready" });
 * console.assert(write?.kind === "patchStatus" && write.resourceVersion === "12");
 * console.assert(write?.reason === 'phase: want "Ready", have "Pending"');
 * ```
 */
export function statusAction(
  object: KubeObject,
  status: Record<string, unknown>,
  options: StatusActionOptions = {},
): PatchStatusAction[] {
  const stored = object.status;
  if (stored !== undefined && jsonEqual(stored, status)) return [];
  const action: PatchStatusAction = {
    kind: "patchStatus",
    target: refOf(object),
    status: isRecord(stored) ? withRemovals(status, stored) : status,
    reason: options.reason ?? describeChange(status, stored),
  };
  if (object.metadata.resourceVersion) action.resourceVersion = object.metadata.resourceVersion;
  return [action];
}

/**
 * `desired` as a merge patch over `stored` (RFC 7386): a field `stored` has and `desired` lacks
 * becomes `null`, which removes it; plain objects on both sides are compared field by field.
 */
function withRemovals(
  desired: Record<string, unknown>,
  stored: Record<string, unknown>,
): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...desired };
  for (const [key, value] of Object.entries(stored)) {
    if (value === undefined || value === null) continue;
    const next = desired[key];
    if (next === undefined) patch[key] = null;
    else if (isRecord(next) && isRecord(value) && !Array.isArray(next) && !Array.isArray(value)) {
      patch[key] = withRemovals(next, value);
    }
  }
  return patch;
}

/** The conditions of `object.status`, if it has a list of them. */
export function conditionsOf(object: KubeObject): Condition[] | undefined {
  const status = object.status;
  if (!isRecord(status) || !Array.isArray(status.conditions)) return undefined;
  return status.conditions as Condition[];
}

/**
 * The stored conditions of `object` with `condition` set (see {@link setCondition}): the list to
 * put in the next status. `observedGeneration` is the object's generation unless given.
 *
 * @example
 * ```ts
 * import { withCondition } from "./status.ts";
 * const object = { apiVersion: "example.com/v1", kind: "Greeting", metadata: { name: "hi", generation: 2 } };
 * const [ready] = withCondition(object, { type: "Ready", status: "True", reason: "Done", message: "" }, 0);
 * console.assert(ready?.observedGeneration === 2 && ready.lastTransitionTime === "1970-01-01T00:00:00Z");
 * ```
 */
export function withCondition(
  object: KubeObject,
  condition: Omit<Condition, "lastTransitionTime">,
  nowMs: number,
): Condition[] {
  const input =
    condition.observedGeneration === undefined && object.metadata.generation !== undefined
      ? { ...condition, observedGeneration: object.metadata.generation }
      : condition;
  return setCondition(conditionsOf(object), input, nowMs);
}

function describeChange(status: Record<string, unknown>, stored: unknown): string {
  if (stored === undefined) return "status is missing";
  const diff = compareDesired(status, stored);
  return diff.equal ? "status has fields the controller no longer sets" : diff.reason;
}
