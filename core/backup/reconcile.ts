/**
 * The PostgresBackup reconciler: starts a backup Job when a run is due (once, or at each slot of
 * the schedule), records how it ended in the status, and removes the Job.
 *
 * Guarantees:
 * - **Never two backups of one database at once.** Every run for PostgresDB `db` is the Job
 *   `db-backup` ({@link backupJobName}); the API server refuses a second one while it exists, and
 *   the Job is deleted only after its outcome is in the status.
 * - **A slot runs at most once, across restarts and replicas.** A Job is created only on a live
 *   read (not the cache) of the PostgresBackup and of the Job, and only for a slot later than
 *   `status.lastScheduledSlot`; that field is written with the Job's creation and kept.
 * - **A missed slot is reported, never run late.** A slot not started within
 *   `startingDeadlineSeconds` (the database not ready, another backup still running, the
 *   operator down) is counted in `status.missedSlots` with a Warning `BackupMissed`; slots skipped
 *   while the operator was down are counted too, and only the latest slot may still run.
 * - **Success only with a manifest.** A run counts as succeeded only when its runner reported a
 *   backup, which it does only after the manifest is written.
 * - Failures end in the status (`lastBackup`, condition `Ready=False` with the reason) and a
 *   Warning Event: the store unreachable, credentials refused, the database gone.
 *
 * Assumptions: the runner (`runtime/backup_runner.ts`) applies retention and reports what it
 * deleted, so the status lists what the store keeps without the operator reading the store.
 *
 * @module
 */

import type { Action, EmitEventAction } from "../actions.ts";
import { fromTimestamp, toTimestamp } from "../clock.ts";
import { setCondition } from "../conditions.ts";
import { controllerOf, type KubeObject, objectKey, refOf } from "../object.ts";
import type {
  LiveRead,
  Observed,
  ReconcileContext,
  Reconciler,
  ReconcileResult,
} from "../reconciler.ts";
import { statusAction } from "../status.ts";
import { MANAGED_BY_LABEL, MANAGER } from "../postgres/labels.ts";
import { describeProblems } from "../postgres/validate.ts";
import { POD, POSTGRESDB, type PostgresDB, SECRET } from "../postgres/types.ts";
import { latestSlot, nextSlot, slotsBetween } from "./cron.ts";
import {
  BACKUP_ID_LABEL,
  BACKUP_LABEL,
  backupJob,
  backupJobName,
  COMPONENT_LABEL,
  SLOT_ANNOTATION,
} from "./job.ts";
import { runState } from "./runs.ts";
import {
  type BackupRecord,
  JOB,
  POSTGRESBACKUP,
  type PostgresBackup,
  type PostgresBackupStatus,
  type RunnerResult,
  type RunRecord,
} from "./types.ts";
import { validateBackup, type ValidBackupSpec } from "./validate.ts";

/** The backup controller's name (logs, metrics, field manager). */
export const BACKUP_CONTROLLER = "postgres-backup";

/** How often a run that waits (the database not ready, the lock taken) looks again. */
export const WAIT_RECHECK_MS = 5_000;
/** The longest requeue: a schedule is looked at again at least this often. */
export const MAX_REQUEUE_MS = 3_600_000;

/**
 * A backup's id: the UTC time of its slot (or of the PostgresBackup's creation, for a one-shot
 * backup) as `YYYYMMDDTHHMMSSZ`, then five characters of the PostgresBackup's uid, so backups
 * of one database sort by time and two PostgresBackups never share one.
 */
export function backupId(atMs: number, uid: string): string {
  const stamp = new Date(atMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const suffix = (uid.replace(/[^a-z0-9]/gi, "").toLowerCase() + "00000").slice(0, 5);
  return `${stamp}-${suffix}`;
}

interface Wait {
  reason: string;
  message: string;
}

/**
 * Decides what to do for one PostgresBackup.
 *
 * @example
 * ```ts
 * import { reconcileBackup } from "./reconcile.ts";
 * import { observe } from "../reconciler.ts";
 * const backup = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup",
 *   metadata: { name: "once", namespace: "default", uid: "u1", creationTimestamp: "2026-01-01T00:00:00Z" },
 *   spec: { postgresRef: "db", destination: "s3://bucket/", credentialsSecret: "s3" },
 * };
 * const { actions } = reconcileBackup(observe(backup, []), { nowMs: 0, random: { next: () => 0.5, int: () => 0 } });
 * // No PostgresDB "db": the backup waits, and says why.
 * console.assert(actions.some((a) => a.kind === "patchStatus"));
 * ```
 */
export function reconcileBackup(
  observed: Observed<PostgresBackup>,
  context: ReconcileContext,
): ReconcileResult {
  const cached = observed.object;
  if (cached.metadata.deletionTimestamp) return { actions: [] };
  // A live read of the object itself (see liveReads) is fresher than the cache.
  const backup = (observed.lookup(refOf(cached)) as PostgresBackup | undefined) ?? cached;
  const validation = validateBackup(backup);
  if (!validation.ok) {
    return {
      actions: invalidActions(backup, describeProblems(validation.problems), context.nowMs),
    };
  }
  return {
    actions: new BackupDecision(backup, validation.spec, observed, context.nowMs).actions(),
  };
}

function invalidActions(backup: PostgresBackup, message: string, nowMs: number): Action[] {
  const previous = backup.status ?? {};
  const conditions = setCondition(previous.conditions, {
    type: "Ready",
    status: "False",
    reason: "InvalidSpec",
    message,
    observedGeneration: backup.metadata.generation ?? 0,
  }, nowMs);
  const status: PostgresBackupStatus = {
    ...previous,
    phase: "Invalid",
    observedGeneration: backup.metadata.generation ?? 0,
    conditions,
  };
  const write = statusAction(backup, status as Record<string, unknown>);
  if (write.length === 0) return [];
  return [...write, event(backup, "Warning", "InvalidSpec", message)];
}

function event(
  backup: PostgresBackup,
  type: "Normal" | "Warning",
  eventReason: string,
  message: string,
): EmitEventAction {
  return { kind: "emitEvent", regarding: backup, type, eventReason, message };
}

class BackupDecision {
  readonly #backup: PostgresBackup;
  readonly #spec: ValidBackupSpec;
  readonly #observed: Observed<PostgresBackup>;
  readonly #now: number;
  readonly #namespace: string;
  readonly #status: PostgresBackupStatus;
  readonly #writes: Action[] = [];
  readonly #after: Action[] = [];
  readonly #events: EmitEventAction[] = [];
  #requeueMs: number | undefined;
  #wait: Wait | undefined;

  constructor(
    backup: PostgresBackup,
    spec: ValidBackupSpec,
    observed: Observed<PostgresBackup>,
    nowMs: number,
  ) {
    this.#backup = backup;
    this.#spec = spec;
    this.#observed = observed;
    this.#now = nowMs;
    this.#namespace = backup.metadata.namespace ?? "default";
    this.#status = structuredClone(backup.status ?? {});
    delete this.#status.active;
  }

  actions(): Action[] {
    const job = this.#observed.lookup({
      ...JOB,
      namespace: this.#namespace,
      name: backupJobName(this.#spec.postgresRef),
    });
    const ours = job !== undefined && controllerOf(job)?.uid === this.#backup.metadata.uid;
    if (ours) this.#ownRun(job);
    else {
      if (this.#backup.status?.active !== undefined) this.#vanished(this.#backup.status.active);
      this.#maybeStart(job);
    }
    return [
      ...this.#writes,
      ...statusAction(this.#backup, this.#finalStatus() as Record<string, unknown>),
      ...this.#after,
      ...this.#events,
      ...(this.#requeueMs === undefined ? [] : [{
        kind: "requeueAfter" as const,
        delayMs: Math.max(1, Math.min(this.#requeueMs, MAX_REQUEUE_MS)),
        reason: this.#wait?.message ?? "the next scheduled slot",
      }]),
    ];
  }

  #requeue(ms: number): void {
    this.#requeueMs = this.#requeueMs === undefined ? ms : Math.min(this.#requeueMs, ms);
  }

  /** Our Job exists: show it running, or record how it ended and remove it. */
  #ownRun(job: KubeObject): void {
    const id = job.metadata.labels?.[BACKUP_ID_LABEL] ?? "";
    const slot = job.metadata.annotations?.[SLOT_ANNOTATION];
    const run = runState(this.#observed, job, this.#now);
    // The status write that went with the Job's creation may have been lost (a crash, a
    // conflict): the Job's slot is handled all the same, running or finished, or it runs again.
    if (slot !== undefined) this.#handled(slot);
    if (run.state !== "ended") {
      // Running, or ended with the pod's report not in the cache yet: still the active run.
      this.#status.active = {
        job: job.metadata.name,
        id,
        startedAt: job.metadata.creationTimestamp ??
          (run.state === "running" ? toTimestamp(this.#now) : ""),
      };
      if (slot !== undefined) this.#status.active.slot = slot;
      if (run.state === "awaitingReport") this.#requeue(1_000);
      return;
    }
    const { end, result } = run;
    if (this.#status.lastBackup?.id !== id) this.#record(id, slot, end, result);
    this.#after.push({
      kind: "delete",
      target: refOf(job),
      uid: job.metadata.uid ?? "",
      reason: `backup "${id}" ended and is recorded; the database's backup lock is free`,
    });
  }

  /** Marks `slot` (RFC 3339) handled, unless a later slot already is. */
  #handled(slot: string): void {
    const slotMs = fromTimestamp(slot);
    if (Number.isNaN(slotMs)) return;
    const handled = this.#status.lastScheduledSlot;
    if (handled === undefined || !(fromTimestamp(handled) >= slotMs)) {
      this.#status.lastScheduledSlot = toTimestamp(slotMs);
    }
  }

  #record(
    id: string,
    slot: string | undefined,
    end: { outcome: "Succeeded" | "Failed"; reason: string; message: string },
    result: RunnerResult | undefined,
  ): void {
    const record: RunRecord = { id, outcome: "Failed", completedAt: toTimestamp(this.#now) };
    if (slot !== undefined) record.slot = slot;
    if (result?.outcome === "Succeeded" && result.mode === "backup") {
      record.outcome = "Succeeded";
      const kept = (this.#status.backups ?? []).filter((b) =>
        b.id !== result.backup.id && !result.deleted.includes(b.id)
      );
      this.#status.backups = [...kept, cleanRecord(result.backup)].sort((a, b) =>
        a.id < b.id ? -1 : a.id > b.id ? 1 : 0
      );
      this.#status.lastSuccessfulBackup = record;
      const deleted = result.deleted.length === 0
        ? ""
        : `; retention deleted ${result.deleted.length} older backup${
          result.deleted.length === 1 ? "" : "s"
        }`;
      this.#events.push(event(
        this.#backup,
        "Normal",
        "BackupSucceeded",
        `Backup "${id}" of "${this.#spec.postgresRef}": ${result.backup.sizeBytes} bytes in ${result.backup.durationSeconds}s, sha256 ${
          result.backup.sha256.slice(0, 12)
        }${result.backup.verified ? ", verified by a restore" : ""}${deleted}`,
      ));
    } else {
      if (result?.outcome === "Failed") {
        record.reason = result.reason;
        record.message = result.message;
      } else if (result === undefined && end.outcome === "Succeeded") {
        record.reason = "ResultMissing";
        record.message =
          "the Job completed but its pod's report was not found; the backup is not counted";
      } else {
        record.reason = end.reason === "DeadlineExceeded" ? "DeadlineExceeded" : "JobFailed";
        record.message = end.message || `the Job failed (${end.reason})`;
      }
      this.#events.push(event(
        this.#backup,
        "Warning",
        "BackupFailed",
        `Backup "${id}" of "${this.#spec.postgresRef}" failed (${record.reason}): ${record.message}`,
      ));
    }
    this.#status.lastBackup = record;
  }

  /** The status says a run is active, but its Job is gone (a live read confirmed it). */
  #vanished(active: NonNullable<PostgresBackupStatus["active"]>): void {
    if (this.#status.lastBackup?.id === active.id) return;
    const record: RunRecord = {
      id: active.id,
      outcome: "Failed",
      reason: "JobDeleted",
      message: `the Job "${active.job}" was deleted before its outcome was recorded`,
      completedAt: toTimestamp(this.#now),
    };
    if (active.slot !== undefined) record.slot = active.slot;
    this.#status.lastBackup = record;
    this.#events.push(
      event(
        this.#backup,
        "Warning",
        "BackupFailed",
        `Backup "${active.id}" failed (JobDeleted): ${record.message}`,
      ),
    );
  }

  /** No run of ours: start one if one is due and nothing stands in the way. */
  #maybeStart(lockJob: KubeObject | undefined): void {
    const due = this.#due();
    if (due === undefined) return;
    const wait = this.#blocker(lockJob);
    if (due.slotMs !== undefined && this.#now - due.slotMs > this.#spec.startingDeadlineMs) {
      // Too late for this slot: reported, never run late.
      this.#missed(
        due.slotMs,
        due.skipped + 1,
        wait?.message ?? "the operator did not run in time",
      );
      return;
    }
    if (wait !== undefined) {
      this.#wait = wait;
      const left = due.slotMs === undefined
        ? WAIT_RECHECK_MS
        : due.slotMs + this.#spec.startingDeadlineMs - this.#now + 1;
      this.#requeue(Math.min(WAIT_RECHECK_MS, Math.max(1, left)));
      return;
    }
    const version = this.#database()?.spec?.version ?? "";
    const id = backupId(due.slotMs ?? this.#createdMs(), this.#backup.metadata.uid ?? "");
    const run = due.slotMs === undefined ? { id, version } : { id, version, slotMs: due.slotMs };
    const job = backupJob(this.#backup, this.#spec, run);
    this.#writes.push({ kind: "create", object: job, reason: `backup "${id}" is due` });
    const slot = due.slotMs === undefined ? undefined : toTimestamp(due.slotMs);
    this.#status.active = { job: job.metadata.name, id, startedAt: toTimestamp(this.#now) };
    if (slot !== undefined) {
      this.#status.active.slot = slot;
      this.#status.lastScheduledSlot = slot;
      if (due.skipped > 0) {
        this.#missed(due.slotMs!, due.skipped, "the operator was not running", false);
      }
    }
    this.#events.push(event(
      this.#backup,
      "Normal",
      "BackupStarted",
      `Backup "${id}" of "${this.#spec.postgresRef}" started${slot ? ` for the slot ${slot}` : ""}`,
    ));
  }

  #createdMs(): number {
    const created = this.#backup.metadata.creationTimestamp;
    return created ? fromTimestamp(created) : this.#now;
  }

  /** The run due now, if any: a one-shot backup not yet run, or the latest unhandled slot. */
  #due(): { slotMs?: number; skipped: number } | undefined {
    const schedule = this.#spec.schedule;
    if (schedule === undefined) {
      return this.#status.lastBackup === undefined ? { skipped: 0 } : undefined;
    }
    if (this.#spec.suspend) return undefined;
    const handled = this.#status.lastScheduledSlot
      ? fromTimestamp(this.#status.lastScheduledSlot)
      : this.#createdMs();
    const slot = latestSlot(schedule, this.#now);
    const next = nextSlot(schedule, this.#now);
    if (next !== undefined) this.#requeue(next - this.#now);
    if (slot === undefined || slot <= handled) return undefined;
    return { slotMs: slot, skipped: slotsBetween(schedule, handled, slot) };
  }

  #missed(slotMs: number, count: number, why: string, advance = true): void {
    if (advance) this.#status.lastScheduledSlot = toTimestamp(slotMs);
    this.#status.missedSlots = (this.#status.missedSlots ?? 0) + count;
    this.#events.push(event(
      this.#backup,
      "Warning",
      "BackupMissed",
      `${count} scheduled backup${
        count === 1 ? "" : "s"
      } of "${this.#spec.postgresRef}" missed, up to the slot ${toTimestamp(slotMs)}: ${why}`,
    ));
  }

  #database(): PostgresDB | undefined {
    return this.#observed.lookup({
      ...POSTGRESDB,
      namespace: this.#namespace,
      name: this.#spec.postgresRef,
    }) as PostgresDB | undefined;
  }

  /** What keeps a due run from starting now, if anything. */
  #blocker(lockJob: KubeObject | undefined): Wait | undefined {
    const ref = this.#spec.postgresRef;
    const db = this.#database();
    if (db === undefined || db.metadata.deletionTimestamp) {
      return { reason: "DatabaseNotFound", message: `the PostgresDB "${ref}" does not exist` };
    }
    if (db.status?.ready !== true) {
      return {
        reason: "DatabaseNotReady",
        message: `the PostgresDB "${ref}" is not ready (${db.status?.phase ?? "no status yet"})`,
      };
    }
    const secret = this.#observed.lookup({
      ...SECRET,
      namespace: this.#namespace,
      name: this.#spec.credentialsSecret,
    });
    const data = secret?.data as Record<string, unknown> | undefined;
    const missing = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].filter((k) => !data?.[k]);
    if (secret === undefined) {
      return {
        reason: "CredentialsMissing",
        message: `the Secret "${this.#spec.credentialsSecret}" does not exist`,
      };
    }
    if (missing.length > 0) {
      return {
        reason: "CredentialsMissing",
        message: `the Secret "${this.#spec.credentialsSecret}" lacks ${
          missing.map((k) => `"${k}"`).join(" and ")
        }`,
      };
    }
    if (lockJob !== undefined) {
      const other = lockJob.metadata.labels?.[BACKUP_LABEL] ?? "another owner";
      return {
        reason: "AnotherBackupRunning",
        message:
          `a backup of "${ref}" is running (PostgresBackup "${other}", Job "${lockJob.metadata.name}")`,
      };
    }
    return undefined;
  }

  #finalStatus(): PostgresBackupStatus {
    const status = this.#status;
    const generation = this.#backup.metadata.generation ?? 0;
    status.observedGeneration = generation;
    const last = status.lastBackup;
    const oneShot = this.#spec.schedule === undefined;
    status.phase = status.active !== undefined
      ? "Running"
      : oneShot
      ? (last?.outcome ?? "Pending")
      : this.#spec.suspend
      ? "Suspended"
      : "Scheduled";
    const ready = this.#wait !== undefined
      ? { status: "False" as const, reason: this.#wait.reason, message: this.#wait.message }
      : last === undefined
      ? {
        status: "True" as const,
        reason: "NoBackupYet",
        message: status.active ? "the first backup is running" : "no backup has run yet",
      }
      : last.outcome === "Succeeded"
      ? {
        status: "True" as const,
        reason: "BackupSucceeded",
        message: `the last backup "${last.id}" succeeded`,
      }
      : {
        status: "False" as const,
        reason: last.reason ?? "BackupFailed",
        message: last.message ?? "",
      };
    let conditions = setCondition(status.conditions, {
      type: "Ready",
      ...ready,
      observedGeneration: generation,
    }, this.#now);
    conditions = setCondition(conditions, {
      type: "Running",
      status: status.active ? "True" : "False",
      reason: status.active ? "BackupRunning" : "Idle",
      message: status.active
        ? `Job "${status.active.job}" runs backup "${status.active.id}"`
        : "no backup is running",
      observedGeneration: generation,
    }, this.#now);
    status.conditions = conditions;
    return status;
  }
}

/** The record with only the fields the status keeps. */
function cleanRecord(b: BackupRecord): BackupRecord {
  const out: BackupRecord = {
    id: b.id,
    key: b.key,
    sizeBytes: b.sizeBytes,
    sha256: b.sha256,
    startedAt: b.startedAt,
    completedAt: b.completedAt,
    durationSeconds: b.durationSeconds,
  };
  if (b.verified !== undefined) out.verified = b.verified;
  return out;
}

/**
 * The live reads a decision to start a run rests on: the PostgresBackup, the database's backup
 * Job and the credentials Secret. None while our own run is in flight (the cache is enough to
 * watch it), so a running or invalid backup costs no extra request.
 */
export function backupLiveReads(observed: Observed<PostgresBackup>): readonly LiveRead[] {
  const backup = observed.object;
  if (backup.metadata.deletionTimestamp) return [];
  const validation = validateBackup(backup);
  if (!validation.ok) return [];
  const spec = validation.spec;
  const namespace = backup.metadata.namespace ?? "default";
  const job = observed.lookup({ ...JOB, namespace, name: backupJobName(spec.postgresRef) });
  if (job !== undefined && controllerOf(job)?.uid === backup.metadata.uid) return [];
  const status = backup.status ?? {};
  const mayStart = spec.schedule === undefined ? status.lastBackup === undefined : !spec.suspend;
  if (!mayStart && status.active === undefined) return [];
  return [
    { type: POSTGRESBACKUP, namespace, name: backup.metadata.name },
    { type: JOB, namespace, name: backupJobName(spec.postgresRef) },
    { type: SECRET, namespace, name: spec.credentialsSecret },
  ];
}

/** The labels of the backup Jobs' pods, which the backup controller caches. */
export function backupPodLabels(): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGER, [COMPONENT_LABEL]: "backup" };
}

/** The PostgresBackup reconciler, for the controller runtime. */
export const backupReconciler: Reconciler<PostgresBackup> = {
  name: BACKUP_CONTROLLER,
  for: POSTGRESBACKUP,
  owns: [JOB],
  cacheSelectors: [
    { type: JOB, labelSelector: { [MANAGED_BY_LABEL]: MANAGER } },
    { type: POD, labelSelector: backupPodLabels() },
  ],
  liveReads: backupLiveReads,
  watches: [
    // The PostgresDBs are read by name; their changes wake no backup (a waiting run rechecks).
    { type: POSTGRESDB, keyOf: () => undefined },
    // A backup pod's end wakes its PostgresBackup (the Job's condition may come first).
    {
      type: POD,
      keyOf: (pod, old) => {
        const name = pod.metadata.labels?.[BACKUP_LABEL];
        if (name === undefined) return undefined;
        if (old !== undefined && JSON.stringify(old.status) === JSON.stringify(pod.status)) {
          return undefined;
        }
        return objectKey({ namespace: pod.metadata.namespace ?? "default", name });
      },
    },
  ],
  reconcile: reconcileBackup,
};
