/**
 * The contract between the operator and the backup runner in a Job's pod: the command the pod
 * runs and the environment it reads. The operator writes these (`job.ts`); the real runner
 * (`agent/backup/main.ts`) and the simulated one read them.
 *
 * @module
 */

import { AGENT_MOUNT } from "../postgres/statefulset.ts";

/** The runner's entry point in the pod, once the init container copied the sources. */
export const RUNNER_MAIN = `${AGENT_MOUNT}/app/agent/backup/main.ts`;

/**
 * The import map the runner runs with in the pod: it maps `aws4fetch` to the copy the init
 * container made, so the pod needs no npm registry and no node_modules.
 */
export const RUNNER_IMPORT_MAP = `${AGENT_MOUNT}/app/agent/backup/pod_imports.json`;

/** The backup container's command: recognised by the simulation as "runs the backup runner". */
export const RUNNER_COMMAND: readonly string[] = [
  `${AGENT_MOUNT}/deno`,
  "run",
  "--no-config",
  `--import-map=${RUNNER_IMPORT_MAP}`,
  "--cached-only",
  "--allow-all",
  RUNNER_MAIN,
];

/** The environment variables the runner reads. */
export const RUNNER_ENV = {
  /** `backup` or `restore`. */
  mode: "PGOP_RUN_MODE",
  /** The S3 endpoint URL. */
  endpoint: "PGOP_STORE_ENDPOINT",
  /** The region to sign for. */
  region: "PGOP_STORE_REGION",
  /** The bucket. */
  bucket: "PGOP_STORE_BUCKET",
  /** The key prefix of the backups, ending with `/`: `<prefix><namespace>/<db>/<backup>/`. */
  prefix: "PGOP_STORE_PREFIX",
  /** The access key id (from the credentials Secret). */
  accessKeyId: "AWS_ACCESS_KEY_ID",
  /** The secret access key (from the credentials Secret). */
  secretAccessKey: "AWS_SECRET_ACCESS_KEY",
  /** The backup's id (backup: the one to take; restore: the one to restore). */
  id: "PGOP_BACKUP_ID",
  /** The PostgresBackup's name. */
  backup: "PGOP_BACKUP_NAME",
  /** The PostgresDB's name. */
  postgresDB: "PGOP_POSTGRESDB",
  /** The namespace. */
  namespace: "POD_NAMESPACE",
  /** Successful backups to keep (backup). */
  keepLast: "PGOP_KEEP_LAST",
  /** `1`: verify the backup by a throwaway restore (backup). */
  verify: "PGOP_VERIFY",
  /** The sha256 the restored dump must have (restore; from the status, checked on the manifest too). */
  sha256: "PGOP_RESTORE_SHA256",
  /** Where the result goes. @default "/dev/termination-log" */
  resultPath: "PGOP_RESULT_PATH",
} as const;

/** libpq's own variables, which the runner's tools read: host, port, user, password, database. */
export const LIBPQ_ENV = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] as const;

/** The dump's object name under a backup's prefix. */
export const DUMP_OBJECT = "dump.pgc";
/** The manifest's object name under a backup's prefix: written last. */
export const MANIFEST_OBJECT = "manifest.json";

/** The dump's key: `<prefix><id>/dump.pgc`. */
export function dumpKey(prefix: string, id: string): string {
  return `${prefix}${id}/${DUMP_OBJECT}`;
}

/** The manifest's key: `<prefix><id>/manifest.json`. */
export function manifestKey(prefix: string, id: string): string {
  return `${prefix}${id}/${MANIFEST_OBJECT}`;
}
