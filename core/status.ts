/**
 * Status writes that happen only when the status changed, and only on the version they were
 * computed from. A reconciler computes the whole next status from what it observed (conditions
 * through {@link setCondition}, which keeps `lastTransitionTime` when a condition's status did not
 * change) and hands it to {@link statusAction}: an unchanged status costs no write, so a converged
 * object reconciles to no action at all.
 *
 * Guarantees: the write carries the resourceVersion the status was computed from, so a status
 * based on a stale cache is rejected with a conflict (and retried on fresh data) instead of
 * overwriting a newer one.
 *
 * The write is a JSON merge patch of the whole status in which every member the stored status has
 * and `status` lacks is `null`: the stored status becomes `status`, not a merge of the two (a
 * member the controller stopped setting, such as a field of a nested record, is removed).
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
    status: withRemovals(stored, status),
    reason: options.reason ?? describeChange(status, stored),
  };
  if (object.metadata.resourceVersion) action.resourceVersion = object.metadata.resourceVersion;
  return [action];
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

/**
 * `next` as a merge patch over `stored`: members of `stored` absent from `next` become `null`, in
 * nested records too (arrays are replaced whole, as a merge patch does).
 */
function withRemovals(stored: unknown, next: Record<string, unknown>): Record<string, unknown> {
  if (!isRecord(stored)) return next;
  const out: Record<string, unknown> = { ...next };
  for (const key of Object.keys(stored)) {
    if (!(key in next) || next[key] === undefined) out[key] = null;
    else if (isRecord(stored[key]) && isRecord(next[key])) {
      out[key] = withRemovals(stored[key], next[key] as Record<string, unknown>);
    }
  }
  return out;
}

function describeChange(status: Record<string, unknown>, stored: unknown): string {
  if (stored === undefined) return "status is missing";
  const diff = compareDesired(status, stored);
  return diff.equal ? "status has fields the controller no longer sets" : diff.reason;
}
