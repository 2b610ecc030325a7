/**
 * What a major upgrade adds to a converging reconcile (the {@link UpgradeStep} that
 * `converge.ts` joins in), and the upgrade's last phase, `Starting`, which runs inside the
 * normal converge once the data is the new major's: the primary starts on the new image, the
 * standbys re-clone from it, and the upgrade is recorded `Succeeded` when every instance is
 * ready. Pure.
 *
 * @module
 */

import type { Action, EmitEventAction } from "../actions.ts";
import { toTimestamp } from "../clock.ts";
import { type KubeObject, refOf } from "../object.ts";
import type { Observed } from "../reconciler.ts";
import { JOB } from "../backup/types.ts";
import { upgradeCheckJobName, upgradeJobName } from "../upgrade/job.ts";
import type { Instance } from "./instances.ts";
import { ROLE_LABEL } from "./labels.ts";
import type { ReadyReason } from "./status.ts";
import type { Phase, PostgresDB, UpgradeStatus, ValidSpec } from "./types.ts";

/** What the upgrade adds to a converging reconcile. */
export interface UpgradeStep {
  /** The next `status.upgrade` (absent: keep the stored one). */
  status?: UpgradeStatus;
  /** The readiness to report instead of the instances'. */
  notReady?: { phase: Phase; reason: ReadyReason; message: string };
  /** A switchover the upgrade needs (its volume's instance must be the first to start). */
  switchoverTo?: string;
  /** Writes after the children's. */
  writes: Action[];
  /** Writes after the status (a finished Job's deletion). */
  after: Action[];
  /** Events. */
  events: EmitEventAction[];
  /** Look again after this long. */
  requeueMs?: number;
}

/** No upgrade. */
export const NO_UPGRADE: UpgradeStep = { writes: [], after: [], events: [] };

/** How often an upgrade that waits looks again. */
export const UPGRADE_RECHECK_MS = 2_000;

/** A Normal or Warning event on the PostgresDB. */
export function upgradeEvent(
  db: PostgresDB,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): EmitEventAction {
  return { kind: "emitEvent", regarding: db, type, eventReason: reason, message };
}

/** The delete of an upgrade Job whose run is recorded (the uid it had as a precondition). */
export function jobDeletion(job: KubeObject, reason: string): Action {
  return { kind: "delete", target: refOf(job), uid: job.metadata.uid ?? "", reason };
}

/** Deletions of the upgrade's finished Jobs still in the cache. */
export function leftoverJobs(observed: Observed<PostgresDB>): Action[] {
  const db = observed.object;
  const namespace = db.metadata.namespace ?? "default";
  const deletes: Action[] = [];
  for (const name of [upgradeCheckJobName(db.metadata.name), upgradeJobName(db.metadata.name)]) {
    const job = observed.lookup({ ...JOB, namespace, name });
    if (job === undefined || job.metadata.deletionTimestamp) continue;
    deletes.push(jobDeletion(job, "the upgrade's run is recorded"));
  }
  return deletes;
}

/**
 * The `Starting` phase: the data is the new major's and the converge runs the new image. The
 * primary serving ends the downtime; every instance ready ends the upgrade.
 */
export function startingStep(
  observed: Observed<PostgresDB>,
  spec: ValidSpec,
  instances: readonly Instance[],
  nowMs: number,
): UpgradeStep {
  const db = observed.object;
  const stored = db.status?.upgrade;
  if (stored?.phase === "Checking") {
    // spec.version went back to the data's major while the check ran: the upgrade is off.
    const status: UpgradeStatus = {
      ...stored,
      phase: "Failed",
      reason: "Cancelled",
      message: `spec.version went back to PostgreSQL ${stored.from} before the instances stopped`,
      completedAt: toTimestamp(nowMs),
    };
    return {
      status,
      writes: [],
      after: leftoverJobs(observed),
      events: [upgradeEvent(db, "Normal", "MajorUpgradeCancelled", status.message)],
    };
  }
  if (stored === undefined || stored.phase !== "Starting") {
    // No upgrade runs (the data is the spec's major): an upgrade's Job left behind (its record
    // never written, or the spec went back meanwhile) is removed.
    const after = leftoverJobs(observed);
    return after.length === 0 ? NO_UPGRADE : { ...NO_UPGRADE, after };
  }
  const status: UpgradeStatus = { ...stored };
  const events: EmitEventAction[] = [];
  const serving = instances.some((i) =>
    i.pod.metadata.labels?.[ROLE_LABEL] === "primary" && i.report?.role === "primary" &&
    i.report.ready === true
  );
  if (serving && status.downtimeSeconds === undefined && status.stoppedAt !== undefined) {
    status.downtimeSeconds = Math.round((nowMs - Date.parse(status.stoppedAt)) / 100) / 10;
    events.push(
      upgradeEvent(
        db,
        "Normal",
        "MajorUpgradeServing",
        `PostgreSQL ${status.to} serves on ${JSON.stringify(status.primary)} after ` +
          `${status.downtimeSeconds} s of downtime; the standbys re-clone from it`,
      ),
    );
  }
  const ready = instances.filter((i) => i.report?.ready === true).length;
  if (serving && ready >= spec.replicas) {
    status.phase = "Succeeded";
    status.completedAt = toTimestamp(nowMs);
    status.message = `Upgraded from PostgreSQL ${status.from} to ${status.to}: ` +
      `${spec.replicas}/${spec.replicas} instances ready`;
    events.push(upgradeEvent(db, "Normal", "MajorUpgradeSucceeded", status.message));
    return { status, writes: [], after: leftoverJobs(observed), events };
  }
  status.message = serving
    ? `PostgreSQL ${status.to} serves; ${ready}/${spec.replicas} instances ready`
    : `Starting PostgreSQL ${status.to} on ${JSON.stringify(status.primary)}`;
  return {
    status,
    notReady: { phase: "Upgrading", reason: "Upgrading", message: status.message },
    writes: [],
    after: leftoverJobs(observed),
    events,
    requeueMs: UPGRADE_RECHECK_MS,
  };
}
