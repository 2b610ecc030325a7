/**
 * Restoring a new PostgresDB from a backup (`spec.restoreFrom`), a step of the converge phase.
 *
 * The sequence:
 * 1. **Choose** the backup once: the id asked for, or the PostgresBackup's newest successful
 *    backup. The choice, with the store's location and the dump's sha256, is pinned in
 *    `status.restore`, so a later backup or a deleted PostgresBackup changes nothing.
 * 2. **Hold** the StatefulSet at one instance (the primary, initialised empty as usual) until the
 *    restore succeeded: standbys are cloned from the restored primary afterwards, instead of
 *    replaying the whole restore as WAL, and none ever shows a half-restored database.
 * 3. **Run** the Job `<name>-restore` once the primary serves (through `<name>-rw`): it checks the
 *    dump against its manifest and the pinned sha256, and restores it in one transaction that
 *    also records a marker, so a retried run does nothing twice.
 * 4. **Record** the outcome: `Succeeded` lets the database be Ready and scale out; `Failed` keeps
 *    it not Ready with the reason (a failed restore is not retried: recreate the PostgresDB).
 *
 * Guarantees: the database is never Ready before its restore succeeded; a restore is never run
 * into a database that already served without one (restoreFrom added later is refused).
 *
 * @module
 */

import type { Action, EmitEventAction } from "../actions.ts";
import { toTimestamp } from "../clock.ts";
import { controllerOf, type KubeObject, refOf } from "../object.ts";
import type { Observed } from "../reconciler.ts";
import { BACKUP_ID_LABEL, restoreJob, restoreJobName, storeTarget } from "../backup/job.ts";
import { runState } from "../backup/runs.ts";
import { JOB, POSTGRESBACKUP, type PostgresBackup } from "../backup/types.ts";
import { validateBackup } from "../backup/validate.ts";
import type { Instance } from "./instances.ts";
import { ROLE_LABEL } from "./labels.ts";
import type { PostgresDB, RestoreStatus, ValidSpec } from "./types.ts";

/** How often a restore that waits (for its backup, or for the primary) looks again. */
export const RESTORE_RECHECK_MS = 5_000;

/** What the restore step decided. */
export interface RestoreStep {
  /** The next `status.restore` (absent: no restore). */
  status?: RestoreStatus;
  /** Hold the StatefulSet at one instance. */
  hold: boolean;
  /** While not restored: the readiness to report instead of the instances'. */
  notReady?: {
    phase: "Restoring" | "Failed";
    reason: "Restoring" | "RestoreFailed";
    message: string;
  };
  /** Writes to run after the children's (the Job's creation). */
  writes: Action[];
  /** Writes to run after the status (the finished Job's deletion). */
  after: Action[];
  /** Events. */
  events: EmitEventAction[];
  /** Look again after this long. */
  requeueMs?: number;
}

const NONE: RestoreStep = { hold: false, writes: [], after: [], events: [] };

/** No restore: the step of a database without `spec.restoreFrom`. */
export const NO_RESTORE: RestoreStep = NONE;

function event(db: PostgresDB, type: "Normal" | "Warning", reason: string, message: string) {
  return { kind: "emitEvent" as const, regarding: db, type, eventReason: reason, message };
}

/** Whether the primary serves: its pod carries the primary role label and reports ready. */
function primaryServes(instances: readonly Instance[]): boolean {
  return instances.some((i) =>
    i.pod.metadata.labels?.[ROLE_LABEL] === "primary" && i.report?.role === "primary" &&
    i.report.ready === true
  );
}

/**
 * Decides the restore's next move for `db`.
 *
 * @example
 * ```ts
 * import { restoreStep } from "./restore.ts";
 * import { observe } from "../reconciler.ts";
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "copy", namespace: "default", uid: "u" },
 *   spec: { version: "16", storage: "1Gi", databaseName: "app", restoreFrom: { backup: "nightly" } },
 * };
 * const spec = { version: "16", storage: "1Gi", replicas: 3, databaseName: "app",
 *   deletionPolicy: "Retain" as const, failoverDelay: 0, maxFailoverLagBytes: 0,
 *   restoreFrom: { backup: "nightly" } };
 * const step = restoreStep(observe(db, []), spec, [], 0);
 * console.assert(step.hold && step.status?.reason === "BackupNotFound");
 * ```
 */
export function restoreStep(
  observed: Observed<PostgresDB>,
  spec: ValidSpec,
  instances: readonly Instance[],
  nowMs: number,
): RestoreStep {
  const db = observed.object;
  const from = spec.restoreFrom;
  const stored = db.status?.restore;
  if (from === undefined) return NONE;
  const namespace = db.metadata.namespace ?? "default";
  if (stored === undefined && db.status?.currentPrimary) {
    // The database served before restoreFrom appeared: never restore over its data.
    return {
      ...NONE,
      events: db.status.phase === "Running"
        ? [
          event(
            db,
            "Warning",
            "RestoreRefused",
            "spec.restoreFrom was added after the database was created: it is ignored",
          ),
        ]
        : [],
    };
  }
  if (stored?.phase === "Succeeded") {
    const job = ownJob(observed, db);
    return {
      ...NONE,
      status: stored,
      after: job ? [deleteJob(job, "the restore is recorded")] : [],
    };
  }
  const restore: RestoreStatus = stored?.id !== undefined
    ? structuredClone(stored)
    : choose(observed, from.backup, from.id, namespace);
  if (restore.id === undefined) {
    return {
      ...NONE,
      status: restore,
      hold: true,
      notReady: { phase: "Restoring", reason: "Restoring", message: restore.message ?? "" },
      requeueMs: RESTORE_RECHECK_MS,
    };
  }
  if (restore.phase === "Failed") {
    return {
      ...NONE,
      status: restore,
      hold: true,
      notReady: {
        phase: "Failed",
        reason: "RestoreFailed",
        message:
          `the restore of backup "${restore.id}" failed (${restore.reason}): ${restore.message}`,
      },
    };
  }
  const step: RestoreStep = {
    status: restore,
    hold: true,
    notReady: { phase: "Restoring", reason: "Restoring", message: "" },
    writes: [],
    after: [],
    events: [],
  };
  const job = ownJob(observed, db);
  if (job === undefined) {
    if (!primaryServes(instances)) {
      restore.phase = "Pending";
      restore.reason = "WaitingForPrimary";
      restore.message = `backup "${restore.id}" is restored once the primary serves`;
    } else if (restore.phase === "Running") {
      // The Job went before its outcome was recorded (deleted by hand): run it again; the
      // restore's marker makes a second run of a committed restore do nothing.
      step.writes.push(createJob(db, spec, restore));
    } else {
      restore.phase = "Running";
      delete restore.reason;
      restore.message = `restoring backup "${restore.id}" of PostgresBackup "${restore.backup}"`;
      restore.startedAt = toTimestamp(nowMs);
      step.writes.push(createJob(db, spec, restore));
      step.events.push(event(db, "Normal", "RestoreStarted", restore.message));
    }
    step.notReady!.message = restore.message ?? "";
    return step;
  }
  if (job.metadata.labels?.[BACKUP_ID_LABEL] !== restore.id) {
    // A Job of an earlier choice (its backup was gone): remove it before the next one runs.
    step.after.push(deleteJob(job, "a restore Job of an earlier choice"));
    step.requeueMs = 1_000;
    return step;
  }
  const run = runState(observed, job, nowMs);
  // The status write after the Job's creation may have been lost (a conflict): the Job says when.
  restore.phase = "Running";
  delete restore.reason;
  restore.startedAt ??= job.metadata.creationTimestamp ?? toTimestamp(nowMs);
  restore.message ??= `restoring backup "${restore.id}" of PostgresBackup "${restore.backup}"`;
  if (run.state === "running") {
    step.notReady!.message = restore.message ?? "";
    return step;
  }
  if (run.state === "awaitingReport") {
    step.requeueMs = 1_000;
    return step;
  }
  const { end, result } = run;
  restore.completedAt = toTimestamp(nowMs);
  if (result?.outcome === "Succeeded" && result.mode === "restore") {
    restore.phase = "Succeeded";
    restore.rows = result.rows;
    restore.durationSeconds = result.durationSeconds;
    delete restore.reason;
    restore.message = `restored backup "${restore.id}": ${result.rows} rows${
      result.alreadyRestored ? " (already restored by an earlier run)" : ""
    }`;
    step.hold = false;
    delete step.notReady;
    step.after.push(deleteJob(job, "the restore succeeded and is recorded"));
    step.events.push(event(db, "Normal", "Restored", restore.message));
    return step;
  }
  if (result?.outcome === "Failed" && result.reason === "BackupNotFound" && from.id === undefined) {
    // The newest backup when the restore chose it is gone (retention deleted it meanwhile) and
    // nothing was restored: choose the newest again.
    const again: RestoreStatus = {
      backup: restore.backup,
      phase: "Pending",
      reason: "BackupGone",
      message:
        `backup "${restore.id}" was deleted before it was restored: choosing the newest again`,
    };
    step.status = again;
    step.notReady = { phase: "Restoring", reason: "Restoring", message: again.message! };
    step.after.push(deleteJob(job, "its backup is gone; the restore chooses again"));
    step.events.push(event(db, "Warning", "RestoreRetried", again.message!));
    step.requeueMs = 1_000;
    return step;
  }
  restore.phase = "Failed";
  if (result?.outcome === "Failed") {
    restore.reason = result.reason;
    restore.message = result.message;
  } else {
    restore.reason = end.reason === "DeadlineExceeded" ? "DeadlineExceeded" : "JobFailed";
    restore.message = end.message || `the restore Job failed (${end.reason})`;
  }
  step.notReady = {
    phase: "Failed",
    reason: "RestoreFailed",
    message: `the restore of backup "${restore.id}" failed (${restore.reason}): ${restore.message}`,
  };
  step.events.push(event(db, "Warning", "RestoreFailed", step.notReady.message));
  return step;
}

function ownJob(observed: Observed<PostgresDB>, db: PostgresDB): KubeObject | undefined {
  const job = observed.lookup({
    ...JOB,
    namespace: db.metadata.namespace ?? "default",
    name: restoreJobName(db.metadata.name),
  });
  return job !== undefined && controllerOf(job)?.uid === db.metadata.uid ? job : undefined;
}

function deleteJob(job: KubeObject, why: string): Action {
  return { kind: "delete", target: refOf(job), uid: job.metadata.uid ?? "", reason: why };
}

function createJob(db: PostgresDB, spec: ValidSpec, restore: RestoreStatus): Action {
  return {
    kind: "create",
    object: restoreJob(db, spec.version, {
      backup: restore.backup,
      id: restore.id!,
      sha256: restore.sha256 ?? "",
      store: restore.store!,
    }),
    reason: `restore backup "${restore.id}" into the new database`,
  };
}

/** Chooses the backup from its PostgresBackup's status, or says why it cannot yet. */
function choose(
  observed: Observed<PostgresDB>,
  name: string,
  id: string | undefined,
  namespace: string,
): RestoreStatus {
  const waiting = (reason: string, message: string): RestoreStatus => ({
    backup: name,
    phase: "Pending",
    reason,
    message,
  });
  const backup = observed.lookup({ ...POSTGRESBACKUP, namespace, name }) as
    | PostgresBackup
    | undefined;
  if (backup === undefined) {
    return waiting("BackupNotFound", `the PostgresBackup "${name}" does not exist`);
  }
  const validation = validateBackup(backup);
  if (!validation.ok) {
    return waiting("BackupNotFound", `the PostgresBackup "${name}" is invalid`);
  }
  const kept = backup.status?.backups ?? [];
  const record = id === undefined ? kept[kept.length - 1] : kept.find((b) => b.id === id);
  if (record === undefined) {
    return waiting(
      "BackupNotFound",
      id === undefined
        ? `the PostgresBackup "${name}" has no successful backup yet`
        : `the PostgresBackup "${name}" keeps no backup "${id}"`,
    );
  }
  return {
    backup: name,
    id: record.id,
    sha256: record.sha256,
    sizeBytes: record.sizeBytes,
    store: storeTarget(validation.spec, backup.metadata.namespace ?? namespace, name),
    phase: "Pending",
  };
}
