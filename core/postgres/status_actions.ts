/**
 * The status phase of a PostgresDB reconcile: the status write and warning events, and the
 * actions of the states that do not converge (an invalid spec, a child in the way, missing
 * credentials, a refused change of major), which write nothing but the status. Pure.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { findCondition } from "../conditions.ts";
import { describeRef, refOf } from "../object.ts";
import type { ReconcileContext } from "../reconciler.ts";
import { statusAction } from "../status.ts";
import type { Blocker, MajorChange } from "./classify.ts";
import { secretName } from "./naming.ts";
import { buildStatus, READY, type StatusInput } from "./status.ts";
import type { PostgresDB } from "./types.ts";
import { describeProblems, type FieldProblem } from "./validate.ts";

/** How often a PostgresDB waiting for its credentials reads the Secret again. */
export const CREDENTIALS_RECHECK_MS = 30_000;

/** A warning event to emit when the Ready condition's reason or message changes. */
export interface StatusWarning {
  /** Always a warning: normal events come from the converging writes. */
  type: "Warning";
  /** The event's reason, e.g. `InvalidSpec`. */
  reason: string;
}

/**
 * A status write when the status changed (with the observed resourceVersion as a precondition),
 * and a warning event when the Ready reason or message changed.
 */
export function statusActions(
  db: PostgresDB,
  input: StatusInput,
  context: ReconcileContext,
  warning?: StatusWarning,
): Action[] {
  const status = buildStatus(db, input, context.nowMs);
  const actions: Action[] = statusAction(db, status as Record<string, unknown>, {
    reason: `${input.reason}: ${input.message}`,
  });
  if (actions.length === 0) return [];
  const previous = findCondition(db.status?.conditions, READY);
  if (warning && (previous?.reason !== input.reason || previous.message !== input.message)) {
    actions.push({
      kind: "emitEvent",
      regarding: db,
      type: warning.type,
      eventReason: warning.reason,
      message: input.message,
    });
  }
  return actions;
}

/** The actions for an invalid spec: a Failed status naming every problem, and a warning. */
export function invalidActions(
  db: PostgresDB,
  problems: FieldProblem[],
  context: ReconcileContext,
): Action[] {
  const message = `Invalid spec: ${describeProblems(problems)}`;
  return statusActions(
    db,
    { phase: "Failed", ready: false, reason: "InvalidSpec", message },
    context,
    { type: "Warning", reason: "InvalidSpec" },
  );
}

/**
 * The actions for same-named objects in the way: wait quietly for the garbage collection of an
 * earlier PostgresDB's children, or report a conflict with someone else's.
 */
export function blockedActions(
  db: PostgresDB,
  blockers: Blocker[],
  context: ReconcileContext,
): Action[] {
  const previous = blockers.every((b) => b.previous);
  const names = blockers.map((b) => describeRef(refOf(b.object))).join(", ");
  const input: StatusInput = previous
    ? {
      phase: "Pending",
      ready: false,
      reason: "WaitingForPreviousChildren",
      message: `Waiting for garbage collection of ${names} left by an earlier PostgresDB ` +
        `named ${JSON.stringify(db.metadata.name)}`,
    }
    : {
      phase: "Pending",
      ready: false,
      reason: "ChildConflict",
      message: `${names} already exists and is not controlled by this PostgresDB; ` +
        "rename or delete it (the operator never overwrites it)",
    };
  return statusActions(
    db,
    input,
    context,
    previous ? undefined : { type: "Warning", reason: "ChildConflict" },
  );
}

/**
 * The actions when the credentials Secret is gone but volumes remain: a status that says what to
 * do, a warning, and a requeue to read the Secret again (a user's Secret is not in the cache).
 */
export function credentialsMissingActions(
  db: PostgresDB,
  volumes: string[],
  context: ReconcileContext,
): Action[] {
  const secret = secretName(db.metadata.name);
  const status = statusActions(
    db,
    {
      phase: "Pending",
      ready: false,
      reason: "CredentialsMissing",
      message: `Secret ${JSON.stringify(secret)} is missing, but ${volumes.join(", ")} already ` +
        "hold a database initialised with other credentials: re-create the Secret with its " +
        "username, password and database (the operator adopts a Secret that has no owner), or " +
        "delete the volumes to start afresh",
    },
    context,
    { type: "Warning", reason: "CredentialsMissing" },
  );
  // A user's re-created Secret carries no label the operator's cache selects: look again later.
  return [...status, {
    kind: "requeueAfter",
    delayMs: CREDENTIALS_RECHECK_MS,
    reason: "waiting for the credentials Secret",
  }];
}

/**
 * A change of major is refused and nothing is written but the status: a downgrade can never run
 * on the data, and an upgrade needs pg_upgrade or a dump and restore, which the operator does not
 * do yet.
 */
export function majorChangeActions(
  db: PostgresDB,
  state: MajorChange,
  context: ReconcileContext,
): Action[] {
  const upgrade = state.major > state.data.major;
  const wanted = `spec.version ${JSON.stringify(state.version)} (PostgreSQL ${state.major})`;
  const have = `the data was initialised by PostgreSQL ${state.data.major} ` +
    `(${state.data.source})`;
  const message = upgrade
    ? `${wanted} is a major upgrade, but ${have}: a major upgrade needs pg_upgrade or a dump ` +
      `and restore, which the operator does not do yet; nothing was changed. Set spec.version ` +
      `back to a ${state.data.major}.x version`
    : `${wanted} is a major downgrade, but ${have}: PostgreSQL cannot start on a newer major's ` +
      `data; nothing was changed. Set spec.version back to a ${state.data.major}.x version`;
  const reason = upgrade ? "MajorUpgradeUnsupported" : "MajorDowngradeRefused";
  return statusActions(
    db,
    { phase: "Failed", ready: false, reason, message },
    context,
    { type: "Warning", reason },
  );
}
