/**
 * A converging step's result: the writes one child needs and the normal events that report them,
 * as values joined by `converge.ts` in a fixed order. Pure.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { describeRef, type KubeObject, refOf } from "../object.ts";
import type { PostgresDB } from "./types.ts";

/** What one child's step decided: its writes, and the normal events that report them. */
export interface Step {
  /** The writes, in order. */
  writes: Action[];
  /** The Normal events that report them. */
  events: Action[];
}

/** A step that writes nothing. */
export const NO_STEP: Step = { writes: [], events: [] };

/** A Normal event on the PostgresDB. */
export function normalEvent(db: PostgresDB, reason: string, message: string): Action {
  return { kind: "emitEvent", regarding: db, type: "Normal", eventReason: reason, message };
}

/** A create of `object`, and the Created event that reports it. */
export function createStep(db: PostgresDB, object: KubeObject, reason: string): Step {
  return {
    writes: [{ kind: "create", object, reason }],
    events: [normalEvent(db, "Created", `Created ${describeRef(refOf(object))}`)],
  };
}

/** A copy of a stored object to write back: no status, no managed fields. */
export function withoutServerFields(object: KubeObject): KubeObject {
  // Leave the status and the managed fields out before copying: they are most of the object.
  const { status: _status, ...body } = object;
  const { managedFields: _fields, ...metadata } = object.metadata;
  return structuredClone({ ...body, metadata });
}
