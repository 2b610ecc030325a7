/**
 * Validation of a PostgresBackup: every problem names the field and the value, so the user can fix
 * it from the condition message alone. Defaults are filled in here.
 *
 * @module
 */

import { type FieldProblem, MAX_NAME_LENGTH } from "../postgres/validate.ts";
import { type CronSchedule, parseCron } from "./cron.ts";
import type { PostgresBackup } from "./types.ts";

/** Successful backups kept when `retention.keepLast` is not given. */
export const DEFAULT_KEEP_LAST = 7;
/** The most backups `retention.keepLast` may keep. */
export const MAX_KEEP_LAST = 1000;
/** A scheduled slot's starting deadline when none is given, in seconds. */
export const DEFAULT_STARTING_DEADLINE_SECONDS = 300;
/** The region signed for when none is given. */
export const DEFAULT_REGION = "us-east-1";

/** A PostgresBackup's spec once checked, with defaults. */
export interface ValidBackupSpec {
  /** The PostgresDB backed up. */
  postgresRef: string;
  /** The schedule, absent for one backup. */
  schedule?: CronSchedule;
  /** The bucket. */
  bucket: string;
  /** The key prefix the user gave, empty or ending with `/`. */
  prefix: string;
  /** The endpoint URL, without a trailing slash. */
  endpoint: string;
  /** The region. */
  region: string;
  /** The credentials Secret's name. */
  credentialsSecret: string;
  /** Successful backups kept. */
  keepLast: number;
  /** Whether each backup is verified by a throwaway restore. */
  verify: boolean;
  /** A slot's starting deadline, in milliseconds. */
  startingDeadlineMs: number;
  /** Whether scheduled backups are suspended. */
  suspend: boolean;
}

/** The result of {@link validateBackup}. */
export type BackupValidation =
  | { ok: true; spec: ValidBackupSpec }
  | { ok: false; problems: FieldProblem[] };

const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** S3 bucket names: 3-63 of lowercase letters, digits, dots and hyphens. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Parses `s3://bucket/prefix/` into its bucket and its prefix (empty, or ending with `/`).
 *
 * @example
 * ```ts
 * import { parseDestination } from "./validate.ts";
 * const d = parseDestination("s3://my-backups/postgres");
 * console.assert(typeof d !== "string" && d.bucket === "my-backups" && d.prefix === "postgres/");
 * ```
 */
export function parseDestination(text: string): { bucket: string; prefix: string } | string {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(text);
  if (!match) return `${quote(text)} must be an S3 URL: s3://bucket/prefix/`;
  const bucket = match[1]!;
  if (!BUCKET.test(bucket)) {
    return `${quote(text)} names the bucket ${
      quote(bucket)
    }: a bucket name has 3-63 lowercase letters, digits, dots and hyphens`;
  }
  const rawPrefix = (match[2] ?? "").replace(/^\/+/, "");
  if (rawPrefix.split("/").some((part, i, all) => part === "" && i < all.length - 1)) {
    return `${quote(text)} has an empty path segment`;
  }
  if (/[^A-Za-z0-9!_.*'()/-]/.test(rawPrefix)) {
    return `${
      quote(text)
    } has characters a key prefix should not have (use letters, digits and !_.*'()-/)`;
  }
  const prefix = rawPrefix === "" || rawPrefix.endsWith("/") ? rawPrefix : `${rawPrefix}/`;
  return { bucket, prefix };
}

/**
 * Checks a PostgresBackup's spec and fills in defaults.
 *
 * @example
 * ```ts
 * import { validateBackup } from "./validate.ts";
 * const v = validateBackup({
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup",
 *   metadata: { name: "nightly" },
 *   spec: { postgresRef: "my-postgres", schedule: "0 2 * * *", destination: "s3://backups/x/",
 *     credentialsSecret: "s3" },
 * });
 * console.assert(v.ok && v.spec.keepLast === 7 && v.spec.bucket === "backups");
 * ```
 */
export function validateBackup(backup: PostgresBackup): BackupValidation {
  const problems: FieldProblem[] = [];
  const spec = backup.spec as unknown;
  if (typeof spec !== "object" || spec === null) {
    return { ok: false, problems: [{ field: "spec", message: "is required" }] };
  }
  const s = spec as Record<string, unknown>;
  const postgresRef = requiredString(s.postgresRef, "spec.postgresRef", problems);
  if (
    postgresRef !== undefined &&
    (!DNS_1035.test(postgresRef) || postgresRef.length > MAX_NAME_LENGTH)
  ) {
    problems.push({
      field: "spec.postgresRef",
      message: `${
        quote(postgresRef)
      } is not a PostgresDB name (a DNS label of at most ${MAX_NAME_LENGTH} characters)`,
    });
  }
  let schedule: CronSchedule | undefined;
  if (s.schedule !== undefined && s.schedule !== null) {
    if (typeof s.schedule !== "string") {
      problems.push({
        field: "spec.schedule",
        message: `${JSON.stringify(s.schedule)} must be a string`,
      });
    } else {
      const parsed = parseCron(s.schedule);
      if (parsed.ok) schedule = parsed.schedule;
      else problems.push({ field: "spec.schedule", message: parsed.problem });
    }
  }
  let bucket = "";
  let prefix = "";
  const destination = requiredString(s.destination, "spec.destination", problems);
  if (destination !== undefined) {
    const parsed = parseDestination(destination);
    if (typeof parsed === "string") problems.push({ field: "spec.destination", message: parsed });
    else ({ bucket, prefix } = parsed);
  }
  const region = optionalString(s.region, "spec.region", problems) ?? DEFAULT_REGION;
  if (!REGION.test(region)) {
    problems.push({ field: "spec.region", message: `${quote(region)} is not a region name` });
  }
  const endpointText = optionalString(s.endpoint, "spec.endpoint", problems) ??
    `https://s3.${region}.amazonaws.com`;
  let endpoint = endpointText;
  try {
    const url = new URL(endpointText);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("scheme");
    if (url.search !== "" || url.hash !== "" || url.username !== "") throw new Error("extra");
    endpoint = endpointText.replace(/\/+$/, "");
  } catch {
    problems.push({
      field: "spec.endpoint",
      message: `${
        quote(endpointText)
      } must be an http or https URL such as "https://s3.example.com:9000"`,
    });
  }
  const credentialsSecret = requiredString(
    s.credentialsSecret,
    "spec.credentialsSecret",
    problems,
  );
  if (credentialsSecret !== undefined && !DNS_1123_SUBDOMAIN.test(credentialsSecret)) {
    problems.push({
      field: "spec.credentialsSecret",
      message: `${quote(credentialsSecret)} is not a Secret name`,
    });
  }
  let keepLast = DEFAULT_KEEP_LAST;
  const retention = s.retention;
  if (retention !== undefined && retention !== null) {
    if (typeof retention !== "object") {
      problems.push({ field: "spec.retention", message: "must be an object" });
    } else {
      const value = (retention as Record<string, unknown>).keepLast ?? DEFAULT_KEEP_LAST;
      if (
        typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_KEEP_LAST
      ) {
        problems.push({
          field: "spec.retention.keepLast",
          message: `${JSON.stringify(value)} must be a whole number from 1 to ${MAX_KEEP_LAST}`,
        });
      } else keepLast = value;
    }
  }
  const verify = optionalBoolean(s.verify, "spec.verify", problems) ?? false;
  const suspend = optionalBoolean(s.suspend, "spec.suspend", problems) ?? false;
  const deadline = s.startingDeadlineSeconds ?? DEFAULT_STARTING_DEADLINE_SECONDS;
  if (typeof deadline !== "number" || !Number.isInteger(deadline) || deadline < 10) {
    problems.push({
      field: "spec.startingDeadlineSeconds",
      message: `${JSON.stringify(deadline)} must be a whole number of seconds, at least 10`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const valid: ValidBackupSpec = {
    postgresRef: postgresRef!,
    bucket,
    prefix,
    endpoint,
    region,
    credentialsSecret: credentialsSecret!,
    keepLast,
    verify,
    startingDeadlineMs: (deadline as number) * 1000,
    suspend,
  };
  if (schedule !== undefined) valid.schedule = schedule;
  return { ok: true, spec: valid };
}

function requiredString(value: unknown, field: string, problems: FieldProblem[]) {
  if (value === undefined || value === null || value === "") {
    problems.push({ field, message: "is required" });
    return undefined;
  }
  return optionalString(value, field, problems);
}

function optionalString(value: unknown, field: string, problems: FieldProblem[]) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    problems.push({ field, message: `${JSON.stringify(value)} must be a string` });
    return undefined;
  }
  return value;
}

function optionalBoolean(value: unknown, field: string, problems: FieldProblem[]) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") {
    problems.push({ field, message: `${JSON.stringify(value)} must be true or false` });
    return undefined;
  }
  return value;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
