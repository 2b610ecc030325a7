/**
 * The PostgresBackup kind (`database.thegeekyway.com/v1alpha1`) and the contracts around a backup:
 * the object store a backup goes to ({@link ObjectStore}), the database it is taken from and
 * restored into ({@link DatabaseDumper}, {@link DatabaseRestorer}), the manifest written last
 * ({@link BackupManifest}), and what the runner in the Job's pod reports ({@link RunnerResult}).
 *
 * The same runner (`runtime/backup_runner.ts`) runs against the real store and PostgreSQL in a
 * Job's pod and against the simulated ones on virtual time.
 *
 * @module
 */

import type { Condition, KubeObject, TypeRef } from "../object.ts";

/** The PostgresBackup type. */
export const POSTGRESBACKUP: TypeRef = {
  apiVersion: "database.thegeekyway.com/v1alpha1",
  kind: "PostgresBackup",
};

/** The Job type (batch/v1): one per backup or restore run. */
export const JOB: TypeRef = { apiVersion: "batch/v1", kind: "Job" };

/** What the user asks for: backups of one PostgresDB, once or on a schedule. */
export interface PostgresBackupSpec {
  /** The PostgresDB to back up, in the same namespace. */
  postgresRef: string;
  /** A cron schedule (five fields, UTC); absent: one backup, taken once. */
  schedule?: string;
  /** Where backups go: `s3://bucket/prefix/`. */
  destination: string;
  /** The S3 endpoint URL (path-style addressing). @default "https://s3.<region>.amazonaws.com" */
  endpoint?: string;
  /** The store's region, for request signing. @default "us-east-1" */
  region?: string;
  /**
   * A Secret in the same namespace with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
   */
  credentialsSecret: string;
  /** How many successful backups to keep. */
  retention?: RetentionSpec;
  /** Restore every backup into a throwaway instance and compare it with its manifest. */
  verify?: boolean;
  /** A scheduled slot not started within this many seconds is missed. @default 300 */
  startingDeadlineSeconds?: number;
  /** Take no new scheduled backup while true. @default false */
  suspend?: boolean;
}

/** How many backups are kept. */
export interface RetentionSpec {
  /** Successful backups kept; the newest is never deleted. @default 7 */
  keepLast?: number;
}

/** One backup kept in the store, as the status lists it. */
export interface BackupRecord {
  /** The backup's id, unique per PostgresDB: `<UTC start, YYYYMMDDTHHMMSSZ>-<suffix>`. */
  id: string;
  /** The dump's object key (in the destination's bucket). */
  key: string;
  /** The dump's size in bytes. */
  sizeBytes: number;
  /** The dump's sha256, hex. */
  sha256: string;
  /** When the dump started (RFC 3339). */
  startedAt: string;
  /** When the manifest was written (RFC 3339). */
  completedAt: string;
  /** From start to manifest written, in seconds. */
  durationSeconds: number;
  /** Whether a throwaway restore matched the manifest (absent: not verified). */
  verified?: boolean;
}

/** The outcome of one run, as the status records it. */
export interface RunRecord {
  /** The backup's id. */
  id: string;
  /** The scheduled slot it ran for (RFC 3339), absent for a one-shot backup. */
  slot?: string;
  /** `Succeeded` or `Failed`. */
  outcome: "Succeeded" | "Failed";
  /** Why it failed ({@link FailureReason}). */
  reason?: string;
  /** A sentence for people. */
  message?: string;
  /** When the run ended (RFC 3339). */
  completedAt: string;
}

/** What the operator reports. */
export interface PostgresBackupStatus {
  /** `Pending`, `Running`, `Succeeded`, `Failed` (one-shot), or `Scheduled` (recurring). */
  phase?: string;
  /** The generation the status describes. */
  observedGeneration?: number;
  /** `Ready` (the last run succeeded, or nothing failed yet) and `Running`. */
  conditions?: Condition[];
  /** The run in flight: its Job and id. */
  active?: { job: string; id: string; slot?: string; startedAt: string };
  /** The last scheduled slot handled (run or missed), RFC 3339: never run again. */
  lastScheduledSlot?: string;
  /** How many slots were missed, ever. */
  missedSlots?: number;
  /** The last run. */
  lastBackup?: RunRecord;
  /** The last successful run. */
  lastSuccessfulBackup?: RunRecord;
  /** The backups kept in the store, oldest first. */
  backups?: BackupRecord[];
}

/** A PostgresBackup object. */
export interface PostgresBackup extends KubeObject {
  /** What the user asks for. */
  spec: PostgresBackupSpec;
  /** What the operator reports. */
  status?: PostgresBackupStatus;
}

// ------------------------------------------------------------------ the object store

/** How an object store call failed. */
export type StoreErrorCode =
  /** The endpoint did not answer (connection refused, reset, timeout). */
  | "Unreachable"
  /** The credentials were refused (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied). */
  | "BadCredentials"
  /** The bucket does not exist. */
  | "NoSuchBucket"
  /** The object does not exist. */
  | "NotFound"
  /** Anything else the store answered with an error. */
  | "Failed";

/** An object store call that failed, with its class. */
export class StoreError extends Error {
  /** The failure's class. */
  readonly code: StoreErrorCode;
  /** Makes one: `message` says what was tried and what the store answered. */
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
  }
}

/** One object of a listing. */
export interface StoredObject {
  /** The key. */
  key: string;
  /** Its size in bytes. */
  sizeBytes: number;
}

/** A part of a multipart upload, once uploaded. */
export interface UploadedPart {
  /** 1-based. */
  partNumber: number;
  /** The store's ETag for it, as returned. */
  etag: string;
}

/**
 * The S3 operations a backup needs, against one bucket. Every method throws {@link StoreError}
 * on failure. Keys are full keys in the bucket (no leading slash).
 */
export interface ObjectStore {
  /** Writes a small object in one request. */
  putObject(key: string, body: Uint8Array, contentType?: string): Promise<void>;
  /** Starts a multipart upload; returns its upload id. */
  createMultipartUpload(key: string): Promise<string>;
  /** Uploads part `partNumber` (1-based; all parts but the last at least 5 MiB). */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string>;
  /** Completes the upload: the object appears, whole, only now. */
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void>;
  /** Abandons the upload and frees its parts. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** Reads an object as a stream (`NotFound` when absent). */
  getObject(key: string): Promise<ReadableStream<Uint8Array>>;
  /** Every object whose key starts with `prefix`, across all pages, in key order. */
  listObjects(prefix: string): Promise<StoredObject[]>;
  /** Deletes an object (no error when absent). */
  deleteObject(key: string): Promise<void>;
}

// ------------------------------------------------------------------ the database side

/** A table and its row count, in the dump's snapshot. */
export interface TableCount {
  /** `schema.table`, quoted as needed. */
  table: string;
  /** Rows in the snapshot. */
  rows: number;
}

/** A dump in progress. */
export interface Dump {
  /** The archive (`pg_dump -Fc`), to be read once. */
  stream: ReadableStream<Uint8Array>;
  /** The row count of every table in the dump's snapshot. */
  tables: Promise<TableCount[]>;
  /** Settles when the dump ended: rejects when it failed (after the stream ended or errored). */
  done: Promise<void>;
  /** The server's version (`server_version`). */
  serverVersion: string;
  /** The dump tool's version (`pg_dump --version`). */
  dumpVersion: string;
}

/** Takes a consistent dump of one database. */
export interface DatabaseDumper {
  /** Starts a dump; throws {@link DatabaseError} when the database cannot be reached. */
  dump(): Promise<Dump>;
}

/** Restores an archive into one database. */
export interface DatabaseRestorer {
  /** The marker of a restore already committed into the database, if any. */
  restoredMarker(): Promise<string | undefined>;
  /**
   * Restores `archive` in one transaction that also records `marker`, so a restore is all or
   * nothing and a second run can see it was done. Returns the row counts after it.
   */
  restore(archive: ReadableStream<Uint8Array>, marker: string): Promise<TableCount[]>;
}

/** How a database call failed. */
export type DatabaseErrorCode = "Unreachable" | "Failed";

/** A database call that failed, with its class. */
export class DatabaseError extends Error {
  /** The failure's class. */
  readonly code: DatabaseErrorCode;
  /** Makes one. */
  constructor(code: DatabaseErrorCode, message: string) {
    super(message);
    this.name = "DatabaseError";
    this.code = code;
  }
}

// ------------------------------------------------------------------ manifest and result

/** The manifest's `format` value. */
export const MANIFEST_FORMAT = "pgop-backup/v1";

/**
 * Written next to the dump, after it: a backup without its manifest is not a backup. Restore
 * checks the dump's size and sha256 against it, and a verification its table counts.
 */
export interface BackupManifest {
  /** {@link MANIFEST_FORMAT}. */
  format: string;
  /** The backup's id. */
  id: string;
  /** The namespace and name of the PostgresDB. */
  namespace: string;
  /** The PostgresDB's name. */
  postgresDB: string;
  /** The database dumped. */
  database: string;
  /** The PostgresBackup that took it. */
  backup: string;
  /** The dump's object key. */
  key: string;
  /** `pg_dump -Fc`. */
  dumpFormat: "custom";
  /** The dump's size in bytes. */
  sizeBytes: number;
  /** The dump's sha256, hex. */
  sha256: string;
  /** How many parts it was uploaded in. */
  parts: number;
  /** RFC 3339. */
  startedAt: string;
  /** RFC 3339: when the dump's upload completed. */
  completedAt: string;
  /** The server's version. */
  serverVersion: string;
  /** pg_dump's version. */
  dumpVersion: string;
  /** Every table's row count in the dump's snapshot. */
  tables: TableCount[];
  /**
   * True when a throwaway restore matched this manifest before it was written (absent: not
   * verified). A backup that fails its verification gets no manifest.
   */
  verified?: boolean;
}

/** Why a run failed, as conditions and Events say it. */
export type FailureReason =
  | "StoreUnreachable"
  | "BadCredentials"
  | "BucketNotFound"
  | "DatabaseUnreachable"
  | "DumpFailed"
  | "UploadFailed"
  | "BackupNotFound"
  | "ChecksumMismatch"
  | "RestoreFailed"
  | "VerificationFailed"
  | "InvalidConfiguration";

/** What a backup run reports (the pod's termination message, JSON, under 4 KiB). */
export type RunnerResult =
  | {
    /** Discriminant. */
    outcome: "Succeeded";
    /** `backup`. */
    mode: "backup";
    /** The backup taken. */
    backup: BackupRecord;
    /** Ids of older backups retention deleted. */
    deleted: string[];
    /** What went wrong after the backup was complete (retention), which does not fail it. */
    warning?: string;
  }
  | {
    /** Discriminant. */
    outcome: "Succeeded";
    /** `restore`. */
    mode: "restore";
    /** The backup restored. */
    id: string;
    /** Rows restored, in all tables. */
    rows: number;
    /** Whether the database already held this restore (a second run did nothing). */
    alreadyRestored: boolean;
    /** Seconds from start to end. */
    durationSeconds: number;
  }
  | {
    /** Discriminant. */
    outcome: "Failed";
    /** The run's mode. */
    mode: "backup" | "restore";
    /** Why. */
    reason: FailureReason;
    /** A sentence for people: what was tried and what answered. */
    message: string;
  };
