/**
 * The Jobs of backups and restores: one pod that runs the backup runner (`RUNNER_COMMAND`) in the
 * database's own `postgres:<version>` image (so `pg_dump` and `pg_restore` match the server), with
 * the runner copied in by an init container from the operator's image, as the instances' agent is.
 *
 * A Job's name is the lock that keeps two backups of one database from running at once: every
 * backup of PostgresDB `db` runs as the Job `db-backup`, whoever asked for it, so the API server
 * refuses a second while one exists. A restore runs as `db-restore`.
 *
 * Guarantees: a backup Job never retries (`backoffLimit: 0`): a failed run is reported with its
 * reason and the next slot tries again; a restore retries twice, which is safe because a restore
 * commits in one transaction with its marker. Both stop after {@link JOB_DEADLINE_SECONDS}.
 *
 * @module
 */

import { controllerReference, type KubeObject } from "../object.ts";
import { MANAGED_BY_LABEL, MANAGER } from "../postgres/labels.ts";
import { readWriteServiceName, secretName, serviceHost } from "../postgres/naming.ts";
import {
  AGENT_INSTALL_COMMAND,
  AGENT_MOUNT,
  CONTAINER_SECURITY,
  OPERATOR_IMAGE,
  POD_SECURITY,
  secretEnv,
} from "../postgres/statefulset.ts";
import { POSTGRES_PORT, type PostgresDB } from "../postgres/types.ts";
import { RUNNER_COMMAND, RUNNER_ENV } from "./runner_env.ts";
import type { PostgresBackup } from "./types.ts";
import type { ValidBackupSpec } from "./validate.ts";

/** The label that names the PostgresBackup a backup Job (and its pod) runs for. */
export const BACKUP_LABEL = "database.thegeekyway.com/backup";
/** The label that names the PostgresDB a restore Job (and its pod) restores into. */
export const RESTORE_LABEL = "database.thegeekyway.com/restore-of";
/** The component label: `backup` or `restore` on a run's Job and pod. */
export const COMPONENT_LABEL = "app.kubernetes.io/component";
/** The label and annotation that carry a run's backup id. */
export const BACKUP_ID_LABEL = "database.thegeekyway.com/backup-id";
/** The annotation that carries a scheduled run's slot (RFC 3339). */
export const SLOT_ANNOTATION = "database.thegeekyway.com/slot";

/** A run that takes longer than this is stopped by the Job controller. */
export const JOB_DEADLINE_SECONDS = 6 * 3600;

/** The name of every backup Job of PostgresDB `db`: the lock of its backups. */
export function backupJobName(db: string): string {
  return `${db}-backup`;
}

/** The name of the restore Job of PostgresDB `db`. */
export function restoreJobName(db: string): string {
  return `${db}-restore`;
}

/**
 * The key prefix of the backups one PostgresBackup takes of one PostgresDB:
 * `<prefix><namespace>/<db>/<backup>/`. Retention applies under it, so a PostgresBackup never
 * deletes another's backups (a one-off before a migration outlives the nightly retention).
 */
export function backupPrefix(
  prefix: string,
  namespace: string,
  db: string,
  backup: string,
): string {
  return `${prefix}${namespace}/${db}/${backup}/`;
}

/**
 * The init container's command: the agent's install (Deno and the sources), plus aws4fetch's
 * module from the operator image's node_modules, where the runner's import map points.
 */
export const RUNNER_INSTALL_COMMAND: readonly string[] = [
  "sh",
  "-c",
  `${AGENT_INSTALL_COMMAND[2]} && mkdir -p ${AGENT_MOUNT}/app/vendor && ` +
  `cp /app/node_modules/aws4fetch/dist/aws4fetch.esm.mjs ${AGENT_MOUNT}/app/vendor/`,
];

/** Where an object store is, for a run. */
export interface StoreTarget {
  /** The endpoint URL. */
  endpoint: string;
  /** The region. */
  region: string;
  /** The bucket. */
  bucket: string;
  /** The key prefix of the database's backups (ends with `/`). */
  prefix: string;
  /** The Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. */
  credentialsSecret: string;
}

/** The store a PostgresBackup named `backup` in `namespace` writes to. */
export function storeTarget(spec: ValidBackupSpec, namespace: string, backup: string): StoreTarget {
  return {
    endpoint: spec.endpoint,
    region: spec.region,
    bucket: spec.bucket,
    prefix: backupPrefix(spec.prefix, namespace, spec.postgresRef, backup),
    credentialsSecret: spec.credentialsSecret,
  };
}

const env = (name: string, value: string) => ({ name, value });

function storeEnv(store: StoreTarget): unknown[] {
  return [
    env(RUNNER_ENV.endpoint, store.endpoint),
    env(RUNNER_ENV.region, store.region),
    env(RUNNER_ENV.bucket, store.bucket),
    env(RUNNER_ENV.prefix, store.prefix),
    secretEnv(RUNNER_ENV.accessKeyId, store.credentialsSecret, "AWS_ACCESS_KEY_ID"),
    secretEnv(RUNNER_ENV.secretAccessKey, store.credentialsSecret, "AWS_SECRET_ACCESS_KEY"),
  ];
}

/** libpq's variables for the PostgresDB's primary, through its `-rw` Service. */
export function databaseEnv(db: string, namespace: string): unknown[] {
  const credentials = secretName(db);
  return [
    env("PGHOST", serviceHost(readWriteServiceName(db), namespace)),
    env("PGPORT", String(POSTGRES_PORT)),
    secretEnv("PGUSER", credentials, "username"),
    secretEnv("PGPASSWORD", credentials, "password"),
    secretEnv("PGDATABASE", credentials, "database"),
    env("PGCONNECT_TIMEOUT", "10"),
  ];
}

/** What a runner's Job is made of (backups, restores, and major upgrades' runs). */
export interface RunJobInput {
  /** The controller owner. */
  owner: KubeObject;
  /** The Job's name: the lock of its kind of run. */
  name: string;
  /** Its namespace. */
  namespace: string;
  /** Labels of the Job and its pod (the manager's label is added). */
  labels: Record<string, string>;
  /** Annotations of the Job and its pod. */
  annotations: Record<string, string>;
  /** The `postgres` image tag the runner runs in. */
  version: string;
  /** The runner's environment. */
  env: unknown[];
  /** Retries of the pod. */
  backoffLimit: number;
  /** The runner's command. @default RUNNER_COMMAND */
  command?: readonly string[];
  /** Init containers after the runner's install. */
  initContainers?: unknown[];
  /** Volumes besides `pgop` and `scratch`. */
  volumes?: unknown[];
  /** Mounts of the runner besides `pgop` and `scratch`. */
  volumeMounts?: unknown[];
}

/** A Job of one pod that runs the runner (copied in from the operator's image). */
export function runJob(input: RunJobInput): KubeObject {
  const labels = { [MANAGED_BY_LABEL]: MANAGER, ...input.labels };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels,
      annotations: input.annotations,
      ownerReferences: [controllerReference(input.owner)],
    },
    spec: {
      backoffLimit: input.backoffLimit,
      activeDeadlineSeconds: JOB_DEADLINE_SECONDS,
      template: {
        metadata: { labels, annotations: input.annotations },
        spec: {
          restartPolicy: "Never",
          enableServiceLinks: false,
          // The runner talks to PostgreSQL and the store, never to the API server.
          automountServiceAccountToken: false,
          securityContext: POD_SECURITY,
          initContainers: [{
            name: "install-runner",
            image: OPERATOR_IMAGE,
            imagePullPolicy: "IfNotPresent",
            command: [...RUNNER_INSTALL_COMMAND],
            securityContext: CONTAINER_SECURITY,
            volumeMounts: [{ name: "pgop", mountPath: AGENT_MOUNT }],
          }, ...(input.initContainers ?? [])],
          containers: [{
            name: "runner",
            image: `postgres:${input.version}`,
            imagePullPolicy: "IfNotPresent",
            command: [...(input.command ?? RUNNER_COMMAND)],
            env: [
              ...input.env,
              { name: "DENO_DIR", value: `${AGENT_MOUNT}/app/.deno` },
              { name: "DENO_NO_UPDATE_CHECK", value: "1" },
            ],
            terminationMessagePolicy: "File",
            securityContext: CONTAINER_SECURITY,
            volumeMounts: [
              { name: "pgop", mountPath: AGENT_MOUNT },
              { name: "scratch", mountPath: "/tmp" },
              ...(input.volumeMounts ?? []),
            ],
          }],
          volumes: [
            { name: "pgop", emptyDir: {} },
            { name: "scratch", emptyDir: {} },
            ...(input.volumes ?? []),
          ],
        },
      },
    },
  };
}

/** What a backup run needs besides its PostgresBackup. */
export interface BackupRun {
  /** The backup's id. */
  id: string;
  /** The scheduled slot, in epoch milliseconds, absent for a one-shot backup. */
  slotMs?: number;
  /** The PostgresDB's image tag (its `spec.version`). */
  version: string;
}

/**
 * The Job of one backup run.
 *
 * @example
 * ```ts
 * import { backupJob } from "./job.ts";
 * import { validateBackup } from "./validate.ts";
 * const backup = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup",
 *   metadata: { name: "nightly", namespace: "default", uid: "u1" },
 *   spec: { postgresRef: "db", destination: "s3://bucket/", credentialsSecret: "s3" },
 * };
 * const v = validateBackup(backup);
 * if (!v.ok) throw new Error("invalid");
 * const job = backupJob(backup, v.spec, { id: "20260101T000000Z-u1", version: "16" });
 * console.assert(job.metadata.name === "db-backup");
 * ```
 */
export function backupJob(
  backup: PostgresBackup,
  spec: ValidBackupSpec,
  run: BackupRun,
): KubeObject {
  const namespace = backup.metadata.namespace ?? "default";
  const annotations: Record<string, string> = { [BACKUP_ID_LABEL]: run.id };
  if (run.slotMs !== undefined) annotations[SLOT_ANNOTATION] = new Date(run.slotMs).toISOString();
  return runJob({
    owner: backup,
    name: backupJobName(spec.postgresRef),
    namespace,
    labels: {
      [COMPONENT_LABEL]: "backup",
      [BACKUP_LABEL]: backup.metadata.name,
      [BACKUP_ID_LABEL]: run.id,
    },
    annotations,
    version: run.version,
    backoffLimit: 0,
    env: [
      env(RUNNER_ENV.mode, "backup"),
      env(RUNNER_ENV.id, run.id),
      env(RUNNER_ENV.backup, backup.metadata.name),
      env(RUNNER_ENV.postgresDB, spec.postgresRef),
      env(RUNNER_ENV.namespace, namespace),
      env(RUNNER_ENV.keepLast, String(spec.keepLast)),
      env(RUNNER_ENV.verify, spec.verify ? "1" : "0"),
      ...storeEnv(storeTarget(spec, namespace, backup.metadata.name)),
      ...databaseEnv(spec.postgresRef, namespace),
    ],
  });
}

/** What a restore restores: a backup, where it is, and the sha256 its dump must have. */
export interface RestoreSource {
  /** The PostgresBackup it was taken by (for messages). */
  backup: string;
  /** The backup's id. */
  id: string;
  /** The dump's sha256. */
  sha256: string;
  /** Where the backup is. */
  store: StoreTarget;
}

/** The Job that restores `source` into PostgresDB `db`. */
export function restoreJob(db: PostgresDB, version: string, source: RestoreSource): KubeObject {
  const namespace = db.metadata.namespace ?? "default";
  const name = db.metadata.name;
  return runJob({
    owner: db,
    name: restoreJobName(name),
    namespace,
    labels: { [COMPONENT_LABEL]: "restore", [RESTORE_LABEL]: name, [BACKUP_ID_LABEL]: source.id },
    annotations: { [BACKUP_ID_LABEL]: source.id },
    version,
    backoffLimit: 2,
    env: [
      env(RUNNER_ENV.mode, "restore"),
      env(RUNNER_ENV.id, source.id),
      env(RUNNER_ENV.backup, source.backup),
      env(RUNNER_ENV.postgresDB, name),
      env(RUNNER_ENV.namespace, namespace),
      env(RUNNER_ENV.sha256, source.sha256),
      ...storeEnv(source.store),
      ...databaseEnv(name, namespace),
    ],
  });
}
