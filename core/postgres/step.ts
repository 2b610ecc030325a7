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
    events: [normalEvent(db, CREATED, `Created ${describeRef(refOf(object))}`)],
  };
}

const CREATED = "Created";

/** The longest message an Event gets from {@link joinCreated} (the API's limit for a note). */
export const EVENT_MESSAGE_MAX = 1024;

/**
 * The Created events of one reconcile as one, where the first was: `Created Secret ns/a, Service
 * ns/b, StatefulSet ns/c`. Every Event is a write to the API server, and a new PostgresDB's first
 * reconcile creates eight children: one Event says what eight would, for an eighth of the writes.
 */
export function joinCreated(events: readonly Action[]): Action[] {
  const created = events.filter((e) =>
    e.kind === "emitEvent" && e.type === "Normal" && e.eventReason === CREATED
  ) as Extract<Action, { kind: "emitEvent" }>[];
  if (created.length < 2) return [...events];
  const what = created.map((e) => e.message.slice(`${CREATED} `.length));
  let message = `${CREATED} ${what.join(", ")}`;
  if (message.length > EVENT_MESSAGE_MAX) message = `${message.slice(0, EVENT_MESSAGE_MAX - 1)}…`;
  const first = created[0]!;
  const rest = new Set<Action>(created.slice(1));
  return events.filter((e) => !rest.has(e)).map((e) => e === first ? { ...first, message } : e);
}

/** A copy of a stored object to write back: no status, no managed fields. */
export function withoutServerFields(object: KubeObject): KubeObject {
  // Leave the status and the managed fields out before copying: they are most of the object.
  const { status: _status, ...body } = object;
  const { managedFields: _fields, ...metadata } = object.metadata;
  return structuredClone({ ...body, metadata });
}
