/**
 * `metav1.Condition` helpers that keep `lastTransitionTime` stable when nothing changed, so that
 * writing the same conditions twice is a no-op.
 *
 * @module
 */

import { toTimestamp } from "./clock.ts";
import type { Condition } from "./object.ts";

/** A condition without its timestamp: what a reconcile decides. */
export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/**
 * Returns `existing` with `next` set: the transition time is kept when the status did not change,
 * and set to `nowMs` when it did. The order of other conditions is kept.
 *
 * @example
 * ```ts
 * import { setCondition } from "./conditions.ts";
 * const out = setCondition([], { type: "Ready", status: "True", reason: "Up", message: "" }, 0);
 * console.assert(out[0]?.lastTransitionTime === "1970-01-01T00:00:00Z");
 * ```
 */
export function setCondition(
  existing: readonly Condition[] | undefined,
  next: ConditionInput,
  nowMs: number,
): Condition[] {
  const list = [...(existing ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous && previous.status === next.status
    ? previous.lastTransitionTime
    : toTimestamp(nowMs);
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

/** Finds the condition of `type`. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
