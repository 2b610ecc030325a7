/**
 * Validation of a PostgresDB: every problem names the field and the value, so the user can fix it
 * from the condition message alone. The CRD schema says as much as a schema can; this says the
 * rest (quantities, identifiers) and guards the operator when the schema is not installed.
 *
 * @module
 */

import { parseQuantity } from "../quantity.ts";
import {
  DEFAULT_MAX_FAILOVER_LAG_BYTES,
  DELETION_POLICIES,
  type DeletionPolicy,
  DURABILITIES,
  type Durability,
  MAJOR_UPGRADE_METHODS,
  type MajorUpgradeMethod,
  type PostgresDB,
  type RestoreFromSpec,
  type ValidSpec,
} from "./types.ts";
import { POSTGRES_VERSION } from "./version.ts";

/** The largest `replicas` the operator accepts. */
export const MAX_REPLICAS = 16;

/** The longest PostgresDB name: the StatefulSet's pods add `-<ordinal>` and a revision hash. */
export const MAX_NAME_LENGTH = 52;

/** Image tag grammar (the OCI distribution spec's tag rule). */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The smallest storage accepted: 1Mi (initdb alone needs tens of MiB). */
export const MIN_STORAGE_BYTES = 2 ** 20;

/** The largest storage accepted: 1Ei, far above any volume and well inside int64. */
export const MAX_STORAGE_BYTES = 2 ** 60;

/** An unquoted PostgreSQL identifier: lowercase, at most 63 bytes. */
export const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A DNS-1035 label, as Service names need. */
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Databases that initdb creates itself and that must not be the application database. */
const RESERVED_DATABASES = new Set(["template0", "template1"]);

/** One problem with one field. */
export interface FieldProblem {
  /** The field path, e.g. `spec.storage`. */
  field: string;
  /** What is wrong, as a sentence fragment after the field and value. */
  message: string;
}

/** The result of {@link validatePostgresDB}. */
export type Validation = { ok: true; spec: ValidSpec } | { ok: false; problems: FieldProblem[] };

/**
 * Checks a PostgresDB's name and spec and fills in defaults.
 *
 * @example
 * ```ts
 * import { validatePostgresDB } from "./validate.ts";
 * const v = validatePostgresDB({
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "db" }, spec: { version: "16", storage: "10 gigs", databaseName: "app" },
 * });
 * console.assert(!v.ok && v.problems[0]?.field === "spec.storage");
 * ```
 */
export function validatePostgresDB(db: PostgresDB): Validation {
  const problems: FieldProblem[] = [...nameProblems(db.metadata.name)];
  const spec = db.spec;
  if (typeof spec !== "object" || spec === null) {
    return { ok: false, problems: [...problems, { field: "spec", message: "is required" }] };
  }
  const version = checkString(spec.version, "spec.version", problems);
  if (version !== undefined) problems.push(...versionProblems(version));
  const storage = checkString(spec.storage, "spec.storage", problems);
  if (storage !== undefined) problems.push(...storageProblems(storage));
  const replicas = spec.replicas ?? 1;
  if (
    typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 1 ||
    replicas > MAX_REPLICAS
  ) {
    problems.push({
      field: "spec.replicas",
      message: `${JSON.stringify(replicas)} must be a whole number from 1 to ${MAX_REPLICAS}`,
    });
  }
  const databaseName = checkString(spec.databaseName, "spec.databaseName", problems);
  if (databaseName !== undefined) problems.push(...databaseNameProblems(databaseName));
  const deletionPolicy = spec.deletionPolicy ?? DELETION_POLICIES[0]!;
  if (!DELETION_POLICIES.includes(deletionPolicy as DeletionPolicy)) {
    problems.push({
      field: "spec.deletionPolicy",
      message: `${JSON.stringify(deletionPolicy)} must be one of ${
        DELETION_POLICIES.map(quote).join(", ")
      }`,
    });
  }
  const synchronous = synchronousSpec(spec.synchronous, replicas, problems);
  const failoverDelay = wholeNumber(spec.failoverDelay ?? 0, "spec.failoverDelay", problems);
  const maxLag = wholeNumber(
    spec.maxFailoverLagBytes ?? DEFAULT_MAX_FAILOVER_LAG_BYTES,
    "spec.maxFailoverLagBytes",
    problems,
  );
  const restoreFrom = restoreFromSpec(db, problems);
  const majorUpgrade = spec.majorUpgrade;
  if (
    majorUpgrade !== undefined &&
    !MAJOR_UPGRADE_METHODS.includes(majorUpgrade as MajorUpgradeMethod)
  ) {
    problems.push({
      field: "spec.majorUpgrade",
      message: `${JSON.stringify(majorUpgrade)} must be one of ${
        MAJOR_UPGRADE_METHODS.map(quote).join(", ")
      } (or absent: a major upgrade is refused)`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const valid: ValidSpec = {
    version: version!,
    storage: storage!,
    replicas: replicas as number,
    databaseName: databaseName!,
    deletionPolicy: deletionPolicy as DeletionPolicy,
    failoverDelay: failoverDelay!,
    maxFailoverLagBytes: maxLag!,
  };
  if (synchronous !== undefined) valid.synchronous = synchronous;
  if (restoreFrom !== undefined) valid.restoreFrom = restoreFrom;
  if (majorUpgrade !== undefined) valid.majorUpgrade = majorUpgrade as MajorUpgradeMethod;
  return { ok: true, spec: valid };
}

/**
 * `spec.restoreFrom`: a PostgresBackup's name and, optionally, a backup id. Once a restore was
 * chosen (`status.restore`), it cannot change or go: the data came from it.
 */
function restoreFromSpec(db: PostgresDB, problems: FieldProblem[]): RestoreFromSpec | undefined {
  const value = (db.spec as { restoreFrom?: unknown }).restoreFrom;
  const stored = db.status?.restore;
  if (value === undefined || value === null) {
    if (stored !== undefined) {
      problems.push({
        field: "spec.restoreFrom",
        message: `was removed, but the database was restored from PostgresBackup ${
          quote(stored.backup)
        }: it cannot change after creation`,
      });
    }
    return undefined;
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    problems.push({ field: "spec.restoreFrom", message: "must be an object with a backup name" });
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const backup = checkString(v.backup, "spec.restoreFrom.backup", problems);
  if (backup !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(backup)) {
    problems.push({
      field: "spec.restoreFrom.backup",
      message: `${quote(backup)} is not a PostgresBackup name`,
    });
  }
  let id: string | undefined;
  if (v.id !== undefined && v.id !== null) {
    id = checkString(v.id, "spec.restoreFrom.id", problems);
    if (id !== undefined && !/^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{5}$/.test(id)) {
      problems.push({
        field: "spec.restoreFrom.id",
        message: `${quote(id)} is not a backup id (such as "20260301T020000Z-1a2b3")`,
      });
    }
  }
  if (backup === undefined) return undefined;
  if (
    stored !== undefined &&
    (stored.backup !== backup || (id !== undefined && stored.id !== undefined && stored.id !== id))
  ) {
    problems.push({
      field: "spec.restoreFrom",
      message: `cannot change after creation: the database was restored from PostgresBackup ${
        quote(stored.backup)
      }${stored.id ? ` (backup ${quote(stored.id)})` : ""}`,
    });
  }
  return id === undefined ? { backup } : { backup, id };
}

/** A whole number from 0 up, or a problem. */
function wholeNumber(value: unknown, field: string, problems: FieldProblem[]): number | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  problems.push({ field, message: `${JSON.stringify(value)} must be a whole number from 0 up` });
  return undefined;
}

/** `spec.synchronous`: a number of standbys from 1 to `replicas - 1`, and a durability. */
function synchronousSpec(
  value: unknown,
  replicas: unknown,
  problems: FieldProblem[],
): { number: number; durability: Durability } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    problems.push({
      field: "spec.synchronous",
      message: `${JSON.stringify(value)} must be an object`,
    });
    return undefined;
  }
  const sync = value as { number?: unknown; durability?: unknown };
  const durability = sync.durability ?? DURABILITIES[0]!;
  if (!DURABILITIES.includes(durability as Durability)) {
    problems.push({
      field: "spec.synchronous.durability",
      message: `${JSON.stringify(durability)} must be one of ${DURABILITIES.map(quote).join(", ")}`,
    });
  }
  const most = typeof replicas === "number" ? replicas - 1 : MAX_REPLICAS - 1;
  const number = sync.number;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 1 || number > most) {
    problems.push({
      field: "spec.synchronous.number",
      message: most < 1
        ? `${JSON.stringify(number)}: synchronous replication needs at least 2 replicas`
        : `${JSON.stringify(number)} must be a whole number from 1 to ${most} (replicas - 1)`,
    });
    return undefined;
  }
  return { number, durability: durability as Durability };
}

function nameProblems(name: string): FieldProblem[] {
  if (name.length <= MAX_NAME_LENGTH && DNS_1035.test(name)) return [];
  return [{
    field: "metadata.name",
    message: `${quote(name)} must be a DNS-1035 label of at most ${MAX_NAME_LENGTH} characters ` +
      "(lowercase letters, digits and '-', starting with a letter)",
  }];
}

function versionProblems(version: string): FieldProblem[] {
  if (!IMAGE_TAG.test(version)) {
    return [{
      field: "spec.version",
      message: `${quote(version)} is not a safe image tag (letters, digits, '_', '.', '-'; ` +
        "at most 128 characters)",
    }];
  }
  if (!POSTGRES_VERSION.test(version)) {
    return [{
      field: "spec.version",
      message: `${quote(version)} is not a PostgreSQL version (a major from 10 up, an optional ` +
        'minor and variant suffix, such as "16", "16.4" or "17-bookworm")',
    }];
  }
  return [];
}

function storageProblems(storage: string): FieldProblem[] {
  const parsed = parseQuantity(storage);
  const problem = (message: string) => [{ field: "spec.storage", message }];
  if (!parsed.ok) return problem(`${quote(storage)} is ${parsed.reason}`);
  if (parsed.value <= 0) return problem(`${quote(storage)} must be positive`);
  if (!Number.isInteger(parsed.value)) {
    return problem(`${quote(storage)} is not a whole number of bytes`);
  }
  if (parsed.value < MIN_STORAGE_BYTES || parsed.value > MAX_STORAGE_BYTES) {
    return problem(`${quote(storage)} must be from 1Mi to 1Ei`);
  }
  return [];
}

function databaseNameProblems(databaseName: string): FieldProblem[] {
  if (!PG_IDENTIFIER.test(databaseName)) {
    return [{
      field: "spec.databaseName",
      message: `${quote(databaseName)} is not a valid PostgreSQL identifier (lowercase letters, ` +
        "digits and '_', starting with a letter or '_', at most 63 characters)",
    }];
  }
  if (RESERVED_DATABASES.has(databaseName)) {
    return [{
      field: "spec.databaseName",
      message: `${quote(databaseName)} is reserved by PostgreSQL`,
    }];
  }
  return [];
}

/** Joins problems into one message: `spec.storage: "10 gigs" is not ...; spec.version: ...`. */
export function describeProblems(problems: readonly FieldProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join("; ");
}

function checkString(value: unknown, field: string, problems: FieldProblem[]): string | undefined {
  if (value === undefined || value === null || value === "") {
    problems.push({ field, message: "is required" });
    return undefined;
  }
  if (typeof value !== "string") {
    problems.push({ field, message: `${JSON.stringify(value)} must be a string` });
    return undefined;
  }
  return value;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
