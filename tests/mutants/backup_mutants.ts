/**
 * Backup mutants: the backup runner, the PostgresBackup reconciler or the PostgresDB reconciler,
 * each with one deliberate bug injected from outside (a wrapped reconciler, or the runner's
 * programs in the simulation), never by editing the real code. The backup campaign
 * (`tests/property/backup_campaign.ts`) must catch each one with the named checker.
 *
 * @module
 */

import type { Action } from "../../core/actions.ts";
import type { KubeObject, ObjectRef } from "../../core/object.ts";
import type { Observed, Reconciler } from "../../core/reconciler.ts";
import { backupReconciler } from "../../core/backup/reconcile.ts";
import { backupJobName } from "../../core/backup/job.ts";
import { groupBackups } from "../../core/backup/retention.ts";
import { MANIFEST_OBJECT } from "../../core/backup/runner_env.ts";
import type { ObjectStore, PostgresBackup } from "../../core/backup/types.ts";
import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { runBackup, runRestore } from "../../runtime/backup_runner.ts";
import { runnerPrograms } from "../../sim/job_runner.ts";
import { type BackupWorldOptions, CHECKERS } from "../property/backup_world.ts";

/** One backup mutant. */
export interface BackupMutant {
  /** A short name. */
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  /** The checker that must catch it (one of {@link CHECKERS}). */
  caughtBy: string;
  /** Fresh world options for one schedule. */
  options: () => BackupWorldOptions;
}

/** A store whose manifest writes answer success and store nothing. */
function withoutManifests(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "putObject") {
        return (key: string, ...rest: unknown[]) =>
          key.endsWith(`/${MANIFEST_OBJECT}`)
            ? Promise.resolve()
            : (target.putObject as (...a: unknown[]) => Promise<void>)(key, ...rest);
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The runner that reports success without its manifest in the store. */
const skipsManifest = runnerPrograms({
  runBackup: (options) => runBackup({ ...options, store: withoutManifests(options.store) }),
  runRestore,
});

/** The runner whose retention keeps the oldest backups: it deletes the newest beyond keepLast. */
const keepsOldest = runnerPrograms({
  async runBackup(options) {
    const result = await runBackup({ ...options, keepLast: Number.MAX_SAFE_INTEGER });
    if (result.outcome !== "Succeeded" || result.mode !== "backup") return result;
    const complete = groupBackups(await options.store.listObjects(options.prefix), options.prefix)
      .filter((b) => b.complete);
    const excess = complete.slice(Math.max(1, options.keepLast ?? 7));
    for (const backup of excess) {
      for (const key of backup.keys) await options.store.deleteObject(key);
    }
    return { ...result, deleted: excess.map((b) => b.id) };
  },
  runRestore,
});

/** The PostgresBackup as the real reconciler sees it, without `status.lastScheduledSlot`. */
function forgetsSlots(): Reconciler<PostgresBackup> {
  const strip = <T extends KubeObject>(object: T): T => {
    const status = (object as unknown as PostgresBackup).status;
    if (status?.lastScheduledSlot === undefined) return object;
    const { lastScheduledSlot: _forgotten, ...rest } = status;
    return { ...object, status: rest };
  };
  return {
    ...backupReconciler,
    reconcile(observed, context) {
      const self = observed.object;
      const wrapped: Observed<PostgresBackup> = {
        ...observed,
        object: strip(self),
        lookup(ref: ObjectRef) {
          const found = observed.lookup(ref);
          return found !== undefined && found.kind === self.kind &&
              found.metadata.name === self.metadata.name
            ? strip(found)
            : found;
        },
      };
      return backupReconciler.reconcile(wrapped, context);
    },
  };
}

/** The backup Jobs named per backup id (`<db>-backup-<id>`): no lock between PostgresBackups. */
function lockPerBackupId(): Reconciler<PostgresBackup> {
  return {
    ...backupReconciler,
    reconcile(observed, context) {
      const db = observed.object.spec?.postgresRef ?? "";
      const lock = backupJobName(db);
      const ownJob = () => observed.owned.find((o) => o.kind === "Job");
      const wrapped: Observed<PostgresBackup> = {
        ...observed,
        lookup(ref: ObjectRef) {
          // The lock's name finds this PostgresBackup's own Job, whatever it is called.
          if (ref.kind === "Job" && ref.name === lock) return ownJob();
          return observed.lookup(ref);
        },
      };
      const result = backupReconciler.reconcile(wrapped, context);
      const actions = result.actions.map((a): Action => {
        if (a.kind !== "create" || a.object.kind !== "Job") return a;
        const id = a.object.metadata.labels?.["database.thegeekyway.com/backup-id"] ?? "";
        const name = `${lock}-${id.toLowerCase()}`;
        return { ...a, object: { ...a.object, metadata: { ...a.object.metadata, name } } };
      });
      return { actions };
    },
  };
}

/** The PostgresDB reconciler that reports Ready while its restore is still to come. */
function readyBeforeRestore(): Reconciler<PostgresDB> {
  return {
    ...postgresReconciler,
    reconcile(observed, context) {
      const result = postgresReconciler.reconcile(observed, context);
      const db = observed.object;
      if (db.spec?.restoreFrom === undefined) return result;
      const actions = result.actions.map((a): Action => {
        if (a.kind !== "patchStatus") return a;
        const status = a.status as Record<string, unknown>;
        const restore = status.restore as { phase?: string } | undefined;
        if (restore?.phase === "Succeeded") return a;
        return { ...a, status: { ...status, ready: true, phase: "Running" } };
      });
      return { actions };
    },
  };
}

/** Every backup mutant. */
export const BACKUP_MUTANTS: readonly BackupMutant[] = [
  {
    name: "success-without-manifest",
    bug: "the runner reports a backup succeeded without writing its manifest",
    caughtBy: CHECKERS.manifest,
    options: () => ({ programs: skipsManifest }),
  },
  {
    name: "forgets-handled-slot",
    bug: "the reconciler ignores status.lastScheduledSlot and runs a handled slot again",
    caughtBy: CHECKERS.slot,
    options: () => ({ backupReconciler: forgetsSlots() }),
  },
  {
    name: "retention-deletes-newest",
    bug: "the runner's retention keeps the oldest backups and deletes the newest",
    caughtBy: CHECKERS.retention,
    options: () => ({ programs: keepsOldest }),
  },
  {
    name: "lock-per-backup-id",
    bug:
      "the backup Job is named per backup id, not per database: two backups of one database run at once",
    caughtBy: CHECKERS.oneAtATime,
    options: () => ({ backupReconciler: lockPerBackupId() }),
  },
  {
    name: "ready-before-restore",
    bug: "the PostgresDB reconciler reports Ready while its restore has not succeeded",
    caughtBy: CHECKERS.restore,
    options: () => ({ postgresReconciler: readyBeforeRestore() }),
  },
];
