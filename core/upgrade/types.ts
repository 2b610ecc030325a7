/**
 * Major upgrades with `pg_upgrade`: the vocabulary shared by the operator, the upgrade runner in a
 * Job's pod (`runtime/upgrade_runner.ts`), its real ports (`agent/upgrade/`) and the simulated
 * ones (`sim/upgrade_host.ts`).
 *
 * Two runs, each a Job:
 * - the **check** runs in the target major's image while the database serves: it proves the image
 *   can be had and that every extension and preloaded library the databases use exists in it;
 * - the **upgrade** runs in the target major's image on the stopped primary's volume, with the
 *   old major's binaries copied in from the old image: `initdb`, `pg_upgrade --check`, then
 *   `pg_upgrade --link`, then the swap of data directories. A journal on the volume makes it
 *   resumable: a run that stops before the swap is rolled back by the next (the old cluster was
 *   never started, so it is intact once `global/pg_control.old` is renamed back); one that stops
 *   during the swap is completed by the next.
 *
 * @module
 */

/** The run a Job does. */
export type UpgradeMode = "check" | "upgrade";

/** Why a run failed; the operator reports it as the reason. */
export type UpgradeFailure =
  /** The environment is incomplete or wrong (an operator bug or a hand-made Job). */
  | "InvalidConfiguration"
  /** The check could not reach the primary. */
  | "DatabaseUnreachable"
  /** An extension or a preloaded library the databases use is missing from the target image. */
  | "ExtensionsUnavailable"
  /** Prepared transactions exist: `pg_upgrade` refuses them. */
  | "PreparedTransactions"
  /** The volume holds no data directory. */
  | "NoData"
  /** The data directory is of another major than the upgrade's source. */
  | "WrongDataMajor"
  /** The old cluster was not shut down cleanly and crash recovery failed. */
  | "RecoveryFailed"
  /** Not enough free space on the volume for the new cluster's catalogs and WAL. */
  | "InsufficientSpace"
  /** `initdb` of the new cluster failed. */
  | "InitdbFailed"
  /** `pg_upgrade --check` found the clusters incompatible. */
  | "IncompatibleClusters"
  /** `pg_upgrade` failed; the old cluster was restored. */
  | "UpgradeFailed";

/** What a run reports as its container's termination message (JSON, under 4 KiB). */
export type UpgradeResult =
  | {
    /** Discriminant. */
    outcome: "Succeeded";
    /** The run. */
    mode: UpgradeMode;
    /** The major upgraded from. */
    from: number;
    /** The major upgraded to. */
    to: number;
    /** What was done, in a sentence. */
    message: string;
    /** How long the run took. */
    durationMs: number;
    /** What went wrong after the upgrade was complete (statistics, extension updates). */
    warning?: string;
  }
  | {
    /** Discriminant. */
    outcome: "Failed";
    /** The run. */
    mode: UpgradeMode;
    /** Why. */
    reason: UpgradeFailure;
    /** What happened, in a sentence a user can act on. */
    message: string;
    /** True when the run found a half-done upgrade and restored the old cluster. */
    rolledBack?: boolean;
  };

/**
 * The journal the upgrade keeps on the volume (`pgop-upgrade.json` beside the data directory):
 * the step it entered last. A run that finds one resumes from it.
 */
export interface UpgradeJournal {
  /** The major upgraded from. */
  from: number;
  /** The major upgraded to. */
  to: number;
  /**
   * `prepare`: the new cluster is being made (`initdb`, `pg_upgrade --check`); `link`:
   * `pg_upgrade --link` runs (the old cluster's `pg_control` may be renamed); `swap`: the new
   * data directory replaces the old; `finish`: the new cluster runs once for the statistics.
   */
  step: "prepare" | "link" | "swap" | "finish";
}

/** What the upgrade finds on the volume. */
export interface VolumeFacts {
  /** The data directory's major (`PG_VERSION`), absent when there is no data directory. */
  dataMajor?: number;
  /** `pg_controldata`'s "Database cluster state" of the data directory, when it has one. */
  clusterState?: string;
  /** Data checksums are on in the data directory. */
  checksums: boolean;
  /** The new cluster's directory exists (`pgdata.next`). */
  next: boolean;
  /** The old data directory was moved aside by a swap (`pgdata.old`). */
  old: boolean;
  /** `global/pg_control.old` exists: `pg_upgrade --link` started linking. */
  controlOld: boolean;
  /** The journal, if a run left one. */
  journal?: UpgradeJournal;
  /** Free bytes on the volume. */
  freeBytes: number;
  /**
   * Bytes the new cluster needs besides the linked data files: its catalogs and WAL (the old
   * cluster's non-relation files, plus a fresh cluster's size).
   */
  neededBytes: number;
}

/** A step's outcome: done, or why not. */
export type StepResult = { ok: true } | { ok: false; message: string };

/**
 * The stopped primary's volume, as the upgrade runner acts on it. Every method does one step and
 * can be interrupted (the pod killed) at any point; the journal says where.
 */
export interface UpgradeVolume {
  /** What is on the volume now. */
  inspect(): Promise<VolumeFacts>;
  /** Writes the journal (atomically), or removes it. */
  writeJournal(journal: UpgradeJournal | undefined): Promise<void>;
  /** Runs crash recovery on the old data directory with the old binaries, then stops. */
  recover(): Promise<StepResult>;
  /** `initdb` of the new cluster into `pgdata.next`, with the same checksums setting. */
  initNext(checksums: boolean): Promise<StepResult>;
  /** `pg_upgrade --check --link` of the data directory into `pgdata.next`. */
  check(): Promise<StepResult>;
  /** `pg_upgrade --link` of the data directory into `pgdata.next`. */
  link(): Promise<StepResult>;
  /** Carries the agent's settings over into `pgdata.next` (`pg_hba.conf`, replication, roles). */
  configureNext(): Promise<void>;
  /**
   * Restores the old cluster after a run that stopped before the swap: renames
   * `global/pg_control.old` back and removes `pgdata.next`.
   */
  rollback(): Promise<void>;
  /** Moves the old data directory to `pgdata.old` and `pgdata.next` to its place (idempotent). */
  swap(): Promise<void>;
  /**
   * Starts the new cluster alone (no network), updates the extensions `pg_upgrade` named and
   * gathers optimizer statistics, then stops it cleanly.
   */
  finish(): Promise<StepResult>;
  /** Removes `pgdata.old`. */
  dropOld(): Promise<void>;
}

/** What the check reads from the serving primary and the target image. */
export interface UpgradeInspector {
  /** The extensions installed in each database that accepts connections. */
  extensions(): Promise<{ database: string; name: string }[]>;
  /** `shared_preload_libraries`, as a list. */
  preloadedLibraries(): Promise<string[]>;
  /** The number of prepared transactions. */
  preparedTransactions(): Promise<number>;
  /** Whether the target image has the extension (its control file). */
  hasExtension(name: string): Promise<boolean>;
  /** Whether the target image has the library (in its package library directory). */
  hasLibrary(name: string): Promise<boolean>;
  /**
   * The primary's volume, mounted read-only beside the serving primary: its free bytes and what
   * the upgrade will need; undefined when the check has no volume to look at.
   */
  space(): Promise<{ freeBytes: number; neededBytes: number } | undefined>;
}
