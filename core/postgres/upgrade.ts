/**
 * A major upgrade (`spec.majorUpgrade: PgUpgrade`), from the change of `spec.version` to a later
 * major until the data is the new major's. The sequence, recorded in `status.upgrade.phase`:
 *
 * 1. **Checking**, while the database serves on the old image: the Job `<db>-upgrade-check`
 *    runs in the target image (so it must be there) and compares the extensions and preloaded
 *    libraries the databases use with what the image has. If the primary is not `<db>-0`, a
 *    switchover moves it there first: the StatefulSet starts its pods in order, and after the
 *    upgrade the first pod must be the one whose data was upgraded (the others cannot start on
 *    old-major data until they re-clone from it).
 * 2. **Stopping**: the StatefulSet is scaled to zero on the old image; the agents stop
 *    PostgreSQL cleanly. The downtime starts here.
 * 3. **Upgrading**: once no instance pod is left, the Job `<db>-upgrade` runs `pg_upgrade --link`
 *    on the primary's volume (`runtime/upgrade_runner.ts`). A run that is interrupted is run
 *    again, and resumes or rolls back; the instances stay stopped until a run ends with a result.
 * 4. On success the data volumes' annotation {@link DATA_MAJOR} becomes the new major: from then
 *    on the data is the new major's and the normal converge runs the new image (**Starting**, see
 *    `upgrade_step.ts`). On failure the runner left the old data as it was: **Failed**, the
 *    database runs again on the old image, and the reason is in the status and an Event. A
 *    failed upgrade is tried again when the PostgresDB's spec changes (a new generation).
 *
 * Guarantees: no instance runs while the upgrade Job may touch its volume; a failure before the
 * data is committed leaves the old major serving; a downgrade is never attempted.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { toTimestamp } from "../clock.ts";
import type { KubeObject } from "../object.ts";
import type { Observed, ReconcileContext } from "../reconciler.ts";
import { JOB } from "../backup/types.ts";
import { imageProblem, runState } from "../backup/runs.ts";
import {
  parseUpgradeResult,
  upgradeCheckJob,
  upgradeCheckJobName,
  upgradeJob,
  upgradeJobName,
} from "../upgrade/job.ts";
import type { Children } from "./classify.ts";
import { convergeActions, statefulSetStep } from "./converge.ts";
import { podName } from "./naming.ts";
import { withoutServerFields } from "./step.ts";
import { statusActions } from "./status_actions.ts";
import { NO_RESTORE } from "./restore.ts";
import { POD, type PostgresDB, PVC, type UpgradeStatus, type ValidSpec } from "./types.ts";
import { ROLE_LABEL } from "./labels.ts";
import { DATA_CLAIM } from "./statefulset.ts";
import { jobDeletion, UPGRADE_RECHECK_MS, upgradeEvent, type UpgradeStep } from "./upgrade_step.ts";
import { DATA_MAJOR, type DataMajor, imageMajor } from "./version.ts";
import { MAX_REPLICAS } from "./validate.ts";

/** Check failures that say nothing about the target image: the check runs again. */
const CHECK_RETRIED = new Set<string>(["DatabaseUnreachable"]);

/** The upgrade a PostgresDB is in: the data's major and the one asked for. */
export interface Upgrading {
  /** The data's major, and where it was read. */
  data: DataMajor;
  /** The major of `spec.version`. */
  major: number;
}

/** The image tag of an observed StatefulSet's `postgres` container, if any. */
function servingVersion(statefulSet: KubeObject | undefined): string | undefined {
  const spec = statefulSet?.spec as
    | { template?: { spec?: { containers?: { name?: string; image?: string }[] } } }
    | undefined;
  const image = spec?.template?.spec?.containers?.find((c) => c.name === "postgres")?.image;
  const tag = image === undefined ? undefined : /:([^:@/]+)$/.exec(image)?.[1];
  return tag;
}

/** True when a pod of the StatefulSet's ordinals still exists (running or terminating). */
function anyInstancePod(observed: Observed<PostgresDB>): boolean {
  const db = observed.object;
  for (let ordinal = 0; ordinal < MAX_REPLICAS; ordinal++) {
    const name = podName(db.metadata.name, ordinal);
    if (observed.lookup({ ...POD, namespace: db.metadata.namespace, name }) !== undefined) {
      return true;
    }
  }
  return false;
}

/** The record of a new attempt. */
function newAttempt(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  state: Upgrading,
  nowMs: number,
): UpgradeStatus {
  const fromVersion = servingVersion(children.statefulSet);
  return {
    from: state.data.major,
    to: state.major,
    // The StatefulSet's image, when it is of the data's major; else the major alone.
    fromVersion: fromVersion !== undefined && imageMajor(`postgres:${fromVersion}`) ===
        state.data.major
      ? fromVersion
      : String(state.data.major),
    toVersion: spec.version,
    generation: db.metadata.generation ?? 0,
    primary: podName(db.metadata.name, 0),
    phase: "Checking",
    message: `Checking that the postgres:${spec.version} image has what the databases use`,
    startedAt: toTimestamp(nowMs),
  };
}

/** The actions of a PostgresDB whose data is an older major than `spec.version`'s. */
export function upgradeActions(
  observed: Observed<PostgresDB>,
  spec: ValidSpec,
  children: Children,
  state: Upgrading,
  context: ReconcileContext,
): Action[] {
  const db = observed.object;
  const nowMs = context.nowMs;
  const stored = db.status?.upgrade;
  const generation = db.metadata.generation ?? 0;
  const fresh = stored === undefined || stored.to !== state.major ||
    stored.from !== state.data.major ||
    ((stored.phase === "Failed" || stored.phase === "Succeeded") &&
      generation > stored.generation);
  const upgrade = fresh ? newAttempt(db, spec, children, state, nowMs) : { ...stored! };
  const events = fresh
    ? [upgradeEvent(
      db,
      "Normal",
      "MajorUpgradeStarted",
      `Upgrading from PostgreSQL ${upgrade.from} (postgres:${upgrade.fromVersion}) to ` +
        `${upgrade.to} (postgres:${upgrade.toVersion}) with pg_upgrade`,
    )]
    : [];
  const old: ValidSpec = { ...spec, version: upgrade.fromVersion };
  switch (upgrade.phase) {
    case "Checking":
      return checking(observed, old, children, upgrade, events, context);
    case "Stopping":
    case "Upgrading":
      return stopped(observed, old, children, upgrade, events, context);
    case "Failed":
      return serveOld(db, old, children, upgrade, events, context);
    case "Starting":
    case "Succeeded":
      // Not reached: a committed record makes the data its major (classify.ts), and an upgrade
      // to another major is a new attempt. Wait rather than guess.
      return upgradingStatus(db, upgrade, context);
  }
}

/** The status while the instances are stopped for the upgrade: not Ready, phase `Upgrading`. */
function upgradingStatus(
  db: PostgresDB,
  upgrade: UpgradeStatus,
  context: ReconcileContext,
  extra: { readyReplicas?: number } = {},
): Action[] {
  return statusActions(db, {
    phase: "Upgrading",
    ready: false,
    reason: "Upgrading",
    message: upgrade.message,
    upgrade,
    ...extra,
  }, context);
}

/** The database on the old image, with the upgrade's failure reported. */
function serveOld(
  db: PostgresDB,
  old: ValidSpec,
  children: Children,
  upgrade: UpgradeStatus,
  events: UpgradeStep["events"],
  context: ReconcileContext,
): Action[] {
  const message = `The upgrade to PostgreSQL ${upgrade.to} failed (${upgrade.reason ?? ""}): ` +
    `${upgrade.message}. PostgreSQL ${upgrade.from} serves as before; fix the cause and change ` +
    `the spec to try again, or set spec.version back to ${upgrade.fromVersion}`;
  return convergeActions(db, old, children, context, NO_RESTORE, {
    status: upgrade,
    notReady: { phase: "Failed", reason: "MajorUpgradeFailed", message },
    writes: [],
    after: [],
    events,
  });
}

function checking(
  observed: Observed<PostgresDB>,
  old: ValidSpec,
  children: Children,
  upgrade: UpgradeStatus,
  events: UpgradeStep["events"],
  context: ReconcileContext,
): Action[] {
  const db = observed.object;
  const namespace = db.metadata.namespace ?? "default";
  const job = observed.lookup({ ...JOB, namespace, name: upgradeCheckJobName(db.metadata.name) });
  const writes: Action[] = [];
  const after: Action[] = [];
  const finished = (job: KubeObject) =>
    after.push(jobDeletion(job, "the upgrade check is recorded"));
  // The check needs the primary serving (it reads it) and the volume to upgrade (it mounts it,
  // and a pod that mounts a volume being deleted keeps it, and itself, waiting).
  const claim = observed.lookup({ ...PVC, namespace, name: `${DATA_CLAIM}-${upgrade.primary}` });
  const volumeThere = claim !== undefined && !claim.metadata.deletionTimestamp;
  const serving = (children.instances ?? []).some((i) =>
    i.pod.metadata.labels?.[ROLE_LABEL] === "primary" && i.report?.role === "primary" &&
    i.report.ready === true
  );
  if (upgrade.checkedAt === undefined) {
    if (job !== undefined && !volumeThere && !job.metadata.deletionTimestamp) {
      finished(job);
      upgrade.message = `The volume ${JSON.stringify(`${DATA_CLAIM}-${upgrade.primary}`)} is ` +
        "gone or going: the check waits for it";
    } else if (job === undefined && !(serving && volumeThere)) {
      upgrade.message = "The check waits for the database to serve";
    } else if (job === undefined) {
      writes.push({
        kind: "create",
        object: upgradeCheckJob(
          db,
          upgrade.from,
          upgrade.to,
          upgrade.toVersion,
          upgrade.primary,
        ),
        reason: "the upgrade's check runs in the target image",
      });
    } else if (!job.metadata.deletionTimestamp) {
      const run = runState(observed, job, context.nowMs, parseUpgradeResult);
      const pull = run.state === "running" ? imageProblem(observed, job) : undefined;
      if (pull !== undefined) {
        finished(job);
        return failed(db, old, children, upgrade, "ImageUnavailable", pull, events, after, context);
      }
      if (run.state === "ended") {
        finished(job);
        const result = run.result;
        if (
          result === undefined || (result.outcome === "Failed" && CHECK_RETRIED.has(result.reason))
        ) {
          // The check could not look (its pod was killed, the primary was away for a moment):
          // nothing was found wrong, so it runs again.
          upgrade.attempts = (upgrade.attempts ?? 1) + 1;
          upgrade.message = `The check could not run (${
            result?.outcome === "Failed" ? result.message : run.end.reason
          }); running it again (attempt ${upgrade.attempts})`;
          events.push(upgradeEvent(db, "Warning", "MajorUpgradeCheckRetried", upgrade.message));
        } else if (result.outcome === "Failed") {
          return failed(
            db,
            old,
            children,
            upgrade,
            result.reason,
            result.message,
            events,
            after,
            context,
          );
        } else {
          upgrade.checkedAt = toTimestamp(context.nowMs);
          upgrade.message = result.message;
          delete upgrade.attempts;
          events.push(upgradeEvent(db, "Normal", "MajorUpgradeChecked", result.message));
        }
      }
    }
  }
  const first = podName(db.metadata.name, 0);
  const target = db.status?.targetPrimary;
  const primaryFirst = target === first && db.status?.currentPrimary === first;
  if (upgrade.checkedAt !== undefined && primaryFirst) {
    // The record first, then the stop (the next reconcile): a crash in between resumes the stop.
    upgrade.phase = "Stopping";
    upgrade.stoppedAt = toTimestamp(context.nowMs);
    upgrade.message = `Stopping the instances for pg_upgrade`;
    events.push(upgradeEvent(db, "Normal", "MajorUpgradeStopping", upgrade.message));
    return [
      ...upgradingStatus(db, upgrade, context),
      ...after,
      ...events,
      { kind: "requeueAfter", delayMs: 0, reason: upgrade.message },
    ];
  }
  if (upgrade.checkedAt !== undefined && !primaryFirst) {
    upgrade.message = `Moving the primary to ${JSON.stringify(first)} before the upgrade ` +
      "(the first instance to start afterwards must hold the upgraded data)";
  }
  return convergeActions(db, old, children, context, NO_RESTORE, {
    status: upgrade,
    ...(target !== first ? { switchoverTo: first } : {}),
    writes,
    after,
    events,
    requeueMs: UPGRADE_RECHECK_MS,
  });
}

function failed(
  db: PostgresDB,
  old: ValidSpec,
  children: Children,
  upgrade: UpgradeStatus,
  reason: string,
  message: string,
  events: UpgradeStep["events"],
  after: Action[],
  context: ReconcileContext,
): Action[] {
  const record: UpgradeStatus = {
    ...upgrade,
    phase: "Failed",
    reason,
    message,
    completedAt: toTimestamp(context.nowMs),
  };
  const warning = upgradeEvent(
    db,
    "Warning",
    "MajorUpgradeFailed",
    `${reason}: ${message}; PostgreSQL ${upgrade.from} serves as before`,
  );
  const actions = serveOld(db, old, children, record, [...events, warning], context);
  return [...actions, ...after];
}

/** Stopping and Upgrading: the StatefulSet at zero, then the upgrade Job on the volume. */
function stopped(
  observed: Observed<PostgresDB>,
  old: ValidSpec,
  children: Children,
  upgrade: UpgradeStatus,
  events: UpgradeStep["events"],
  context: ReconcileContext,
): Action[] {
  const db = observed.object;
  const namespace = db.metadata.namespace ?? "default";
  const writes: Action[] = [];
  const after: Action[] = [];
  // The claim templates as they are (immutable; a storage change waits for the upgrade).
  const claimTemplates =
    (children.statefulSet?.spec as { volumeClaimTemplates?: unknown } | undefined)
      ?.volumeClaimTemplates;
  const zero = statefulSetStep(db, old, children.statefulSet, claimTemplates, 0);
  writes.push(...zero.writes);
  events.push(...zero.events.filter((e) => e.kind === "emitEvent"));
  const job = observed.lookup({ ...JOB, namespace, name: upgradeJobName(db.metadata.name) });
  if (upgrade.phase === "Stopping" && writes.length === 0 && !anyInstancePod(observed)) {
    upgrade.phase = "Upgrading";
    upgrade.message = `pg_upgrade runs on the volume of ${JSON.stringify(upgrade.primary)}`;
  }
  if (upgrade.phase === "Upgrading") {
    if (job === undefined) {
      writes.push({
        kind: "create",
        object: upgradeJob(db, upgrade),
        reason: "the instances are stopped: pg_upgrade runs",
      });
    } else if (!job.metadata.deletionTimestamp) {
      const run = runState(observed, job, context.nowMs, parseUpgradeResult);
      const pull = run.state === "running" ? imageProblem(observed, job) : undefined;
      const deleteJob = jobDeletion(job, "the upgrade run is recorded");
      if (pull !== undefined) {
        // The runner never ran: the data was not touched.
        return failed(db, old, children, upgrade, "ImageUnavailable", pull, events, [
          deleteJob,
        ], context);
      }
      if (run.state === "ended") {
        const result = run.result;
        if (result === undefined) {
          // Interrupted (pod killed, deadline): the volume may hold a half-done upgrade. A new
          // run resumes or rolls it back; nothing starts on the volume before one ends.
          upgrade.attempts = (upgrade.attempts ?? 1) + 1;
          upgrade.message = `The upgrade run was interrupted (${run.end.reason}); running it ` +
            `again to complete or roll back (attempt ${upgrade.attempts})`;
          after.push(deleteJob);
          events.push(upgradeEvent(db, "Warning", "MajorUpgradeInterrupted", upgrade.message));
        } else if (result.outcome === "Failed") {
          return failed(db, old, children, upgrade, result.reason, result.message, events, [
            deleteJob,
          ], context);
        } else {
          // Committed: the volumes now hold (or will hold, once re-cloned) the new major.
          writes.push(...dataMajorWrites(observed, upgrade.to));
          upgrade.phase = "Starting";
          upgrade.upgradeSeconds = Math.round(
            (result.outcome === "Succeeded" ? result.durationMs : 0) / 100,
          ) / 10;
          upgrade.message = `pg_upgrade done in ${upgrade.upgradeSeconds} s: starting ` +
            `PostgreSQL ${upgrade.to}`;
          events.push(upgradeEvent(db, "Normal", "MajorUpgradeApplied", upgrade.message));
        }
      }
    }
  }
  const message = upgrade.message;
  return [
    ...writes,
    ...upgradingStatus(db, upgrade, context, { readyReplicas: 0 }),
    ...after,
    ...events,
    { kind: "requeueAfter", delayMs: UPGRADE_RECHECK_MS, reason: message },
  ];
}

/**
 * Updates (of the version read) of the data volumes whose {@link DATA_MAJOR} annotation is not
 * `major`: the upgraded one holds it, and the others are re-cloned from it before they serve.
 */
function dataMajorWrites(observed: Observed<PostgresDB>, major: number): Action[] {
  const db = observed.object;
  const writes: Action[] = [];
  for (let ordinal = 0; ordinal < MAX_REPLICAS; ordinal++) {
    const name = `data-${podName(db.metadata.name, ordinal)}`;
    const pvc = observed.lookup({ ...PVC, namespace: db.metadata.namespace, name });
    if (pvc === undefined || pvc.metadata.annotations?.[DATA_MAJOR] === String(major)) continue;
    const object = withoutServerFields(pvc);
    object.metadata.annotations = { ...object.metadata.annotations, [DATA_MAJOR]: String(major) };
    writes.push({
      kind: "update",
      object,
      reason: `the data is PostgreSQL ${major} after pg_upgrade`,
    });
  }
  return writes;
}
