/**
 * The backup runner: takes a backup of one database into an object store, or restores one, with
 * only the ports it is given (store, dumper, restorer, verifier, clock), so the same code runs in
 * a Job's pod against the real store and PostgreSQL and in the simulation on virtual time.
 *
 * A backup streams the dump into a multipart upload (at most one part buffered and one in
 * flight), hashing it on the way; completes the upload only once the dump has ended well; then
 * writes the manifest, last: a backup without its manifest is not a backup. Only then does
 * retention run, deleting each old backup's manifest before its dump.
 *
 * Verification (`verifier` set): after the upload completes and before the manifest is written,
 * the dump is read back from the store, checked against its size and sha256 while it streams
 * into a throwaway database, and the restored row counts are compared with the dump's snapshot.
 * A backup that does not verify is reported Failed (`VerificationFailed`) and gets no manifest:
 * an engineer who asked for verified backups must never restore an unverified one, and it must
 * not count as the newest complete backup for retention, which would delete older good ones.
 * Its dump stays in the store for inspection, as an incomplete leftover that retention removes
 * once a newer complete backup exists. Retention does not run after a failed verification.
 *
 * A restore reads the manifest, checks the dump's size and sha256 while it streams into the
 * restorer (which sees an error before the end of its input when they differ, so its single
 * transaction never commits), and compares the row counts. It is idempotent: a database that
 * already holds the restore (its marker `<id>:<sha256>`) is left as it is.
 *
 * Both entry points return a {@link RunnerResult} (JSON under 4 KiB) and never throw.
 *
 * @module
 */

import { groupBackups, retentionPlan } from "../core/backup/retention.ts";
import { dumpKey, manifestKey } from "../core/backup/runner_env.ts";
import {
  type BackupManifest,
  type BackupRecord,
  type DatabaseDumper,
  type DatabaseRestorer,
  type Dump,
  type FailureReason,
  MANIFEST_FORMAT,
  type ObjectStore,
  type RunnerResult,
  StoreError,
  type TableCount,
  type UploadedPart,
} from "../core/backup/types.ts";
import {
  checksumGuard,
  databaseReason,
  describe,
  fitResult,
  type GuardState,
  sha256,
  storeReason,
} from "./_backup_streams.ts";

export type {
  BackupManifest,
  BackupRecord,
  DatabaseDumper,
  DatabaseRestorer,
  FailureReason,
  ObjectStore,
  RunnerResult,
  TableCount,
  UploadedPart,
};

/** The default part size: 8 MiB. */
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** The default number of successful backups kept. */
export const DEFAULT_KEEP_LAST = 7;

/** A throwaway database to verify a backup in, and how to dispose of it. */
export interface ThrowawayDatabase {
  /** Restores into the throwaway database. */
  restorer: DatabaseRestorer;
  /** Stops and removes the throwaway database. */
  cleanup(): Promise<void>;
}

/** Provides a fresh throwaway database; throws when it cannot. */
export type Verifier = () => Promise<ThrowawayDatabase>;

/** What {@link runBackup} needs. */
export interface BackupRunOptions {
  /** The store, on the destination's bucket. */
  store: ObjectStore;
  /** Takes the dump. */
  dumper: DatabaseDumper;
  /** The PostgresDB's key prefix, ending with `/` (`RUNNER_ENV.prefix`). */
  prefix: string;
  /** The backup's id: `<UTC start, YYYYMMDDTHHMMSSZ>-<suffix>`. */
  id: string;
  /** The namespace of the PostgresDB. */
  namespace: string;
  /** The PostgresDB's name. */
  postgresDB: string;
  /** The database dumped. */
  database: string;
  /** The PostgresBackup's name. */
  backup: string;
  /** Successful backups to keep; less than 1 counts as 1. @default 7 */
  keepLast?: number;
  /**
   * The size of every part but the last. A real S3 store needs at least 5 MiB and allows at
   * most 10,000 parts (80 GB at the default). @default 8388608
   */
  partSizeBytes?: number;
  /** When set, each backup is verified by a throwaway restore before its manifest is written. */
  verifier?: Verifier;
  /** The clock, in milliseconds since the epoch. */
  now(): number;
  /** Receives one line per step. @default nothing is logged */
  log?: (line: string) => void;
}

/** What {@link runRestore} needs. */
export interface RestoreRunOptions {
  /** The store, on the destination's bucket. */
  store: ObjectStore;
  /** Restores into the target database. */
  restorer: DatabaseRestorer;
  /** The key prefix of the PostgresDB the backup was taken from, ending with `/`. */
  prefix: string;
  /** The backup's id. */
  id: string;
  /** The sha256 the dump must have (from the PostgresBackup's status), checked on the manifest. */
  sha256?: string;
  /** The clock, in milliseconds since the epoch. */
  now(): number;
  /** Receives one line per step. @default nothing is logged */
  log?: (line: string) => void;
}

/** A failed step: its reason and message become the result. */
class RunFailure extends Error {
  readonly reason: FailureReason;
  constructor(reason: FailureReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function fail(reason: FailureReason, message: string): never {
  throw new RunFailure(reason, message);
}

function failed(mode: "backup" | "restore", error: unknown): RunnerResult {
  if (error instanceof RunFailure) {
    return { outcome: "Failed", mode, reason: error.reason, message: error.message };
  }
  const reason = mode === "backup" ? "UploadFailed" : "RestoreFailed";
  return { outcome: "Failed", mode, reason, message: `Unexpected failure: ${describe(error)}` };
}

/**
 * Takes a backup: dump, multipart upload, manifest, then retention. Never throws.
 *
 * @example
 * ```ts ignore
 * const result = await runBackup({ store, dumper, prefix: "b/default/db/", id, namespace:
 *   "default", postgresDB: "db", database: "app", backup: "nightly", now: Date.now });
 * ```
 */
export async function runBackup(options: BackupRunOptions): Promise<RunnerResult> {
  try {
    return fitResult(await backup(options));
  } catch (error) {
    return fitResult(failed("backup", error));
  }
}

/**
 * Restores a backup into the restorer's database, or does nothing when it already holds it.
 * Never throws.
 *
 * @example
 * ```ts ignore
 * const result = await runRestore({ store, restorer, prefix: "b/default/db/", id, now: Date.now });
 * ```
 */
export async function runRestore(options: RestoreRunOptions): Promise<RunnerResult> {
  try {
    return fitResult(await restore(options));
  } catch (error) {
    return fitResult(failed("restore", error));
  }
}

// ------------------------------------------------------------------ backup

async function backup(options: BackupRunOptions): Promise<RunnerResult> {
  const { store, id, prefix } = options;
  const log = options.log ?? (() => {});
  const partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
  if (!Number.isSafeInteger(partSize) || partSize < 1) {
    fail("InvalidConfiguration", `Invalid part size "${partSize}": not a positive integer`);
  }
  const started = options.now();
  const key = dumpKey(prefix, id);
  log(`Starting the dump of database "${options.database}" for backup "${id}"`);
  let dump: Dump;
  try {
    dump = await options.dumper.dump();
  } catch (error) {
    return fail(
      databaseReason(error, "DumpFailed"),
      `Cannot start the dump of database "${options.database}": ${describe(error)}`,
    );
  }
  const done = settle(dump.done);
  const tables = settle(dump.tables);
  let uploadId: string;
  try {
    uploadId = await store.createMultipartUpload(key);
  } catch (error) {
    await dump.stream.cancel().catch(() => {});
    await done;
    return fail(
      storeReason(error, "UploadFailed"),
      `Cannot start the upload of "${key}": ${describe(error)}`,
    );
  }
  log(`Uploading "${key}" in parts of ${partSize} bytes`);
  let uploaded: Uploaded;
  let counts: TableCount[];
  try {
    uploaded = await upload(store, key, uploadId, dump.stream, partSize, done, log);
    const ended = await done;
    if (!ended.ok) {
      fail(databaseReason(ended.error, "DumpFailed"), `The dump failed: ${describe(ended.error)}`);
    }
    const counted = await tables;
    if (!counted.ok) {
      fail(
        databaseReason(counted.error, "DumpFailed"),
        `Cannot count the rows in the dump's snapshot: ${describe(counted.error)}`,
      );
    }
    counts = counted.value;
    try {
      await store.completeMultipartUpload(key, uploadId, uploaded.parts);
    } catch (error) {
      fail(
        storeReason(error, "UploadFailed"),
        `Cannot complete the upload of "${key}": ${describe(error)}`,
      );
    }
  } catch (error) {
    await store.abortMultipartUpload(key, uploadId).catch((abortError) =>
      log(`Cannot abort the upload of "${key}": ${describe(abortError)}`)
    );
    throw error;
  }
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    id,
    namespace: options.namespace,
    postgresDB: options.postgresDB,
    database: options.database,
    backup: options.backup,
    key,
    dumpFormat: "custom",
    sizeBytes: uploaded.sizeBytes,
    sha256: uploaded.sha256,
    parts: uploaded.parts.length,
    startedAt: rfc3339(started),
    completedAt: rfc3339(options.now()),
    serverVersion: dump.serverVersion,
    dumpVersion: dump.dumpVersion,
    tables: counts,
  };
  log(`Uploaded "${key}": ${manifest.sizeBytes} bytes in ${manifest.parts} parts`);
  if (options.verifier !== undefined) {
    await verify(store, options.verifier, manifest, log);
    manifest.verified = true;
  }
  const manifestAt = manifestKey(prefix, id);
  try {
    const body = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
    await store.putObject(manifestAt, body, "application/json");
  } catch (error) {
    fail(
      storeReason(error, "UploadFailed"),
      `Cannot write the manifest "${manifestAt}": ${describe(error)}`,
    );
  }
  const written = options.now();
  log(`Wrote the manifest "${manifestAt}": backup "${id}" is complete`);
  const record: BackupRecord = {
    id,
    key,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    startedAt: manifest.startedAt,
    completedAt: rfc3339(written),
    durationSeconds: (written - started) / 1000,
  };
  if (manifest.verified !== undefined) record.verified = manifest.verified;
  const retention = await applyRetention(store, prefix, options.keepLast ?? DEFAULT_KEEP_LAST, id);
  for (const deleted of retention.deleted) log(`Retention deleted backup "${deleted}"`);
  const result: RunnerResult = {
    outcome: "Succeeded",
    mode: "backup",
    backup: record,
    deleted: retention.deleted,
  };
  if (retention.warning !== undefined) {
    log(retention.warning);
    result.warning = retention.warning;
  }
  return result;
}

interface Uploaded {
  sizeBytes: number;
  sha256: string;
  parts: UploadedPart[];
}

/**
 * Cuts `stream` into parts of `partSize` bytes and uploads them, one in flight while the next
 * is read. A read error fails as the dump's failure (`done` says why); an upload error cancels
 * the dump.
 */
async function upload(
  store: ObjectStore,
  key: string,
  uploadId: string,
  stream: ReadableStream<Uint8Array>,
  partSize: number,
  done: Promise<Settled<void>>,
  log: (line: string) => void,
): Promise<Uploaded> {
  const hash = sha256();
  const parts: UploadedPart[] = [];
  let sizeBytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  let uploadError: RunFailure | undefined;
  let buffer = new Uint8Array(partSize);
  let filled = 0;
  const reader = stream.getReader();
  const send = async (body: Uint8Array) => {
    await inFlight;
    if (uploadError !== undefined) throw uploadError;
    const partNumber = parts.length + 1;
    const sending = Promise.resolve().then(() => store.uploadPart(key, uploadId, partNumber, body));
    parts.push({ partNumber, etag: "" });
    inFlight = sending.then(
      (etag) => {
        parts[partNumber - 1] = { partNumber, etag };
        log(`Uploaded part ${partNumber} (${body.byteLength} bytes)`);
      },
      (error) => {
        uploadError = new RunFailure(
          storeReason(error, "UploadFailed"),
          `Cannot upload part ${partNumber} of "${key}": ${describe(error)}`,
        );
      },
    );
  };
  try {
    while (true) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (readError) {
        const ended = await done;
        const cause = ended.ok ? readError : ended.error;
        return fail(databaseReason(cause, "DumpFailed"), `The dump failed: ${describe(cause)}`);
      }
      if (next.done) break;
      const chunk = next.value;
      hash.update(chunk);
      sizeBytes += chunk.byteLength;
      let offset = 0;
      while (offset < chunk.byteLength) {
        const take = Math.min(partSize - filled, chunk.byteLength - offset);
        buffer.set(chunk.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === partSize) {
          await send(buffer);
          buffer = new Uint8Array(partSize);
          filled = 0;
        }
      }
    }
    if (filled > 0 || parts.length === 0) await send(buffer.subarray(0, filled));
    await inFlight;
    if (uploadError !== undefined) throw uploadError;
  } catch (error) {
    await reader.cancel().catch(() => {});
    await inFlight;
    throw error;
  }
  return { sizeBytes, sha256: hash.hex(), parts };
}

async function verify(
  store: ObjectStore,
  verifier: Verifier,
  manifest: BackupManifest,
  log: (line: string) => void,
): Promise<void> {
  log(`Verifying backup "${manifest.id}" by a restore into a throwaway database`);
  let throwaway: ThrowawayDatabase;
  try {
    throwaway = await verifier();
  } catch (error) {
    return fail(
      "VerificationFailed",
      `Cannot start the throwaway database to verify backup "${manifest.id}": ${describe(error)}`,
    );
  }
  try {
    const counts = await restoreChecked(
      store,
      manifest.key,
      throwaway.restorer,
      manifest,
      "VerificationFailed",
      "VerificationFailed",
    );
    const difference = compareTables(manifest.tables, counts);
    if (difference !== undefined) {
      fail(
        "VerificationFailed",
        `Backup "${manifest.id}" restored into a throwaway database differs from its dump's snapshot: ${difference}`,
      );
    }
    log(`Verified backup "${manifest.id}": ${manifest.tables.length} tables match`);
  } finally {
    await throwaway.cleanup().catch((error) =>
      log(`Cannot clean up the throwaway database: ${describe(error)}`)
    );
  }
}

async function applyRetention(
  store: ObjectStore,
  prefix: string,
  keepLast: number,
  currentId: string,
): Promise<{ deleted: string[]; warning?: string }> {
  const deleted: string[] = [];
  let step = `list "${prefix}"`;
  try {
    const listing = await store.listObjects(prefix);
    const backups = new Map(groupBackups(listing, prefix).map((b) => [b.id, b]));
    for (const id of retentionPlan(listing, prefix, keepLast, currentId)) {
      // The manifest goes first (groupBackups puts it first): a backup deleted half-way is
      // incomplete, never taken for complete.
      for (const key of backups.get(id)?.keys ?? []) {
        step = `delete "${key}"`;
        await store.deleteObject(key);
      }
      deleted.push(id);
    }
    return { deleted };
  } catch (error) {
    return {
      deleted,
      warning: `Retention stopped after deleting ${deleted.length} backups: cannot ${step}: ${
        describe(error)
      }`,
    };
  }
}

// ------------------------------------------------------------------ restore

async function restore(options: RestoreRunOptions): Promise<RunnerResult> {
  const { store, id, prefix, restorer } = options;
  const log = options.log ?? (() => {});
  const started = options.now();
  const manifest = await readManifest(store, prefix, id);
  log(
    `Read the manifest of backup "${id}": ${manifest.sizeBytes} bytes, sha256 ${manifest.sha256}`,
  );
  if (options.sha256 !== undefined && options.sha256 !== manifest.sha256) {
    fail(
      "ChecksumMismatch",
      `Backup "${id}" has sha256 "${manifest.sha256}" in its manifest, the restore asks for "${options.sha256}"`,
    );
  }
  const marker = restoreMarker(manifest);
  let existing: string | undefined;
  try {
    existing = await restorer.restoredMarker();
  } catch (error) {
    fail(
      databaseReason(error, "RestoreFailed"),
      `Cannot read the restore marker of the target database: ${describe(error)}`,
    );
  }
  const durationSeconds = () => (options.now() - started) / 1000;
  if (existing === marker) {
    log(`The target database already holds backup "${id}": nothing to do`);
    const rows = sum(manifest.tables);
    return {
      outcome: "Succeeded",
      mode: "restore",
      id,
      rows,
      alreadyRestored: true,
      durationSeconds: durationSeconds(),
    };
  }
  if (existing !== undefined) {
    fail(
      "RestoreFailed",
      `The target database already holds restore "${existing}", not "${marker}": refusing to restore over it`,
    );
  }
  const key = dumpKey(prefix, id);
  log(`Restoring "${key}" into the target database`);
  const counts = await restoreChecked(
    store,
    key,
    restorer,
    manifest,
    "ChecksumMismatch",
    "RestoreFailed",
  );
  const difference = compareTables(manifest.tables, counts);
  if (difference !== undefined) {
    fail(
      "RestoreFailed",
      `Backup "${id}" was restored and committed, but the database differs from its manifest: ${difference}`,
    );
  }
  log(`Restored backup "${id}": ${sum(counts)} rows in ${counts.length} tables`);
  return {
    outcome: "Succeeded",
    mode: "restore",
    id,
    rows: sum(counts),
    alreadyRestored: false,
    durationSeconds: durationSeconds(),
  };
}

/** The marker a restore records in its database: `<id>:<sha256>`. */
export function restoreMarker(manifest: Pick<BackupManifest, "id" | "sha256">): string {
  return `${manifest.id}:${manifest.sha256}`;
}

/**
 * Streams the dump from the store into `restorer`, guarded by the manifest's size and sha256,
 * and returns the row counts. `mismatch` is the reason when the bytes differ, `otherwise` when
 * the restore fails for another reason.
 */
async function restoreChecked(
  store: ObjectStore,
  key: string,
  restorer: DatabaseRestorer,
  manifest: BackupManifest,
  mismatch: FailureReason,
  otherwise: FailureReason,
): Promise<TableCount[]> {
  let source: ReadableStream<Uint8Array>;
  try {
    source = await store.getObject(key);
  } catch (error) {
    if (error instanceof StoreError && error.code === "NotFound") {
      fail("BackupNotFound", `Backup "${manifest.id}" has a manifest but no dump "${key}"`);
    }
    return fail(storeReason(error, otherwise), `Cannot read "${key}": ${describe(error)}`);
  }
  const guarded = checksumGuard(source, manifest);
  let counts: TableCount[];
  try {
    counts = await restorer.restore(guarded.stream, restoreMarker(manifest));
  } catch (error) {
    checkGuard(guarded.state, key, mismatch, "nothing was restored");
    if (guarded.state.sourceError !== undefined) {
      fail(
        storeReason(guarded.state.sourceError, otherwise),
        `Reading "${key}" failed during the restore, nothing was restored: ${
          describe(guarded.state.sourceError)
        }`,
      );
    }
    return fail(
      databaseReason(error, otherwise),
      `Restoring "${key}" failed, nothing was restored: ${describe(error)}`,
    );
  }
  checkGuard(guarded.state, key, mismatch, "yet the restorer committed it");
  return counts;
}

function checkGuard(state: GuardState, key: string, reason: FailureReason, outcome: string): void {
  if (state.mismatch !== undefined) {
    fail(reason, `The dump "${key}" does not match its manifest, ${outcome}: ${state.mismatch}`);
  }
}

async function readManifest(
  store: ObjectStore,
  prefix: string,
  id: string,
): Promise<BackupManifest> {
  const key = manifestKey(prefix, id);
  let text: string;
  try {
    text = await new Response(await store.getObject(key)).text();
  } catch (error) {
    if (error instanceof StoreError && error.code === "NotFound") {
      fail(
        "BackupNotFound",
        `Backup "${id}" has no manifest "${key}": it is missing or incomplete`,
      );
    }
    return fail(
      storeReason(error, "RestoreFailed"),
      `Cannot read the manifest "${key}": ${describe(error)}`,
    );
  }
  const problem = manifestProblem(text, id);
  if (typeof problem === "string") {
    fail("BackupNotFound", `Backup "${id}" has a malformed manifest "${key}": ${problem}`);
  }
  return problem;
}

/** The manifest in `text`, or what is wrong with it. */
function manifestProblem(text: string, id: string): BackupManifest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null) return "not an object";
  const m = value as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) {
    return `format "${String(m.format)}" is not "${MANIFEST_FORMAT}"`;
  }
  if (m.id !== id) return `id "${String(m.id)}" is not "${id}"`;
  if (typeof m.key !== "string") return "no dump key";
  if (!Number.isSafeInteger(m.sizeBytes) || (m.sizeBytes as number) < 0) {
    return `size "${String(m.sizeBytes)}" is not a byte count`;
  }
  if (typeof m.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.sha256)) {
    return `sha256 "${String(m.sha256)}" is not 64 hex digits`;
  }
  const tables = m.tables;
  if (
    !Array.isArray(tables) ||
    !tables.every((t) =>
      typeof t === "object" && t !== null && typeof t.table === "string" &&
      Number.isSafeInteger(t.rows) && t.rows >= 0
    )
  ) {
    return "tables are not a list of table names and row counts";
  }
  return value as BackupManifest;
}

// ------------------------------------------------------------------ helpers

/** The first difference between the manifest's row counts and the restored ones, if any. */
export function compareTables(
  expected: readonly TableCount[],
  actual: readonly TableCount[],
): string | undefined {
  const restored = new Map(actual.map((t) => [t.table, t.rows]));
  for (const { table, rows } of expected) {
    const found = restored.get(table);
    if (found === undefined) return `table "${table}" is missing`;
    if (found !== rows) return `table "${table}" has ${found} rows, the dump had ${rows}`;
  }
  const known = new Set(expected.map((t) => t.table));
  const extra = actual.find((t) => !known.has(t.table));
  if (extra !== undefined) return `table "${extra.table}" is not in the dump`;
  return undefined;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects, so an early return leaves no unhandled rejection. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
}

function sum(tables: readonly TableCount[]): number {
  return tables.reduce((total, t) => total + t.rows, 0);
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
