/**
 * The PostgresDB kind (`database.thegeekyway.com/v1alpha1`): its spec, status and constants.
 *
 * @module
 */

import type { Condition, KubeObject, TypeRef } from "../object.ts";

/** The API group of the operator's kinds. */
export const GROUP = "database.thegeekyway.com";

/** The PostgresDB type. */
export const POSTGRESDB: TypeRef = { apiVersion: `${GROUP}/v1alpha1`, kind: "PostgresDB" };

/** The credentials Secret's type: one of the built-in kinds the operator creates. */
export const SECRET: TypeRef = { apiVersion: "v1", kind: "Secret" };
/** The headless Service's type. */
export const SERVICE: TypeRef = { apiVersion: "v1", kind: "Service" };
/** The StatefulSet's type. */
export const STATEFULSET: TypeRef = { apiVersion: "apps/v1", kind: "StatefulSet" };
/** The instances' pods: read, and labelled with their role, by the operator. */
export const POD: TypeRef = { apiVersion: "v1", kind: "Pod" };
/** The instance agent's ServiceAccount. */
export const SERVICE_ACCOUNT: TypeRef = { apiVersion: "v1", kind: "ServiceAccount" };
/** The instance agent's Role. */
export const ROLE: TypeRef = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" };
/** The binding of the agent's Role to its ServiceAccount. */
export const ROLE_BINDING: TypeRef = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "RoleBinding",
};
/** The volumes the StatefulSet claims: read, never written, by the operator. */
export const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };

/** The volumes' StorageClass: read (whether it allows expansion), never written. */
export const STORAGE_CLASS: TypeRef = { apiVersion: "storage.k8s.io/v1", kind: "StorageClass" };

/** The PostgreSQL port. */
export const POSTGRES_PORT = 5432;

/** What the user asks for. */
export interface PostgresDBSpec {
  /** PostgreSQL version: the tag of the `postgres` image, e.g. "16". */
  version: string;
  /** Storage per instance, a Kubernetes quantity such as "1Gi". */
  storage: string;
  /** Number of instances. @default 1 */
  replicas?: number;
  /** The database created at initialisation. */
  databaseName: string;
  /** What deleting the PostgresDB does to its volumes and credentials. @default "Retain" */
  deletionPolicy?: DeletionPolicy;
  /** Synchronous replication; absent: asynchronous. */
  synchronous?: SynchronousSpec;
  /** Seconds the primary may be unavailable before a failover starts. @default 0 */
  failoverDelay?: number;
  /**
   * Without required durability: a standby further behind the primary's last known WAL than this
   * is never promoted. @default 16777216 (16 MiB)
   */
  maxFailoverLagBytes?: number;
  /** Start from a backup; set only at creation, immutable. */
  restoreFrom?: RestoreFromSpec;
  /**
   * How a change of `version` to a later major is done; absent: refused. `PgUpgrade`: checks the
   * target image, stops the instances, runs `pg_upgrade --link` on the primary's volume in a Job,
   * starts the primary on the new major and re-clones the standbys from it.
   */
  majorUpgrade?: MajorUpgradeMethod;
}

/** The methods of a major upgrade the operator does. */
export const MAJOR_UPGRADE_METHODS = ["PgUpgrade"] as const;
/** A method of a major upgrade. */
export type MajorUpgradeMethod = typeof MAJOR_UPGRADE_METHODS[number];

/** A major upgrade as the status records it, from its check to its end. */
export interface UpgradeStatus {
  /** The major of the data before. */
  from: number;
  /** The major asked for. */
  to: number;
  /** The image tag that served before (the StatefulSet's, kept while the upgrade is undone). */
  fromVersion: string;
  /** `spec.version` when the upgrade started. */
  toVersion: string;
  /** The PostgresDB generation the upgrade is for: a failed one is tried again on a new one. */
  generation: number;
  /** The instance whose volume is upgraded: the primary when the upgrade started. */
  primary: string;
  /**
   * `Checking` (a Job in the target image, while the database serves), `Stopping` (the
   * instances stop), `Upgrading` (the Job on the primary's volume), `Starting` (the new major
   * starts; standbys re-clone), then `Succeeded` or `Failed`.
   */
  phase: "Checking" | "Stopping" | "Upgrading" | "Starting" | "Succeeded" | "Failed";
  /** Why it failed (the runner's reason), when it failed. */
  reason?: string;
  /** What happens, or happened, in a sentence. */
  message: string;
  /** When it started (RFC 3339). */
  startedAt: string;
  /** When the check Job found the target image fit (RFC 3339). */
  checkedAt?: string;
  /** When the instances were stopped: the start of the downtime (RFC 3339). */
  stoppedAt?: string;
  /** Runs of the upgrade Job, when one was interrupted and run again. */
  attempts?: number;
  /** When it ended (RFC 3339). */
  completedAt?: string;
  /** The downtime: from the instances' stop to the new primary serving, in seconds. */
  downtimeSeconds?: number;
  /** How long `pg_upgrade` and its steps took in the Job, in seconds. */
  upgradeSeconds?: number;
}

/** The backup a new PostgresDB starts from. */
export interface RestoreFromSpec {
  /** A PostgresBackup in the same namespace. */
  backup: string;
  /** One of its backups' ids; default: its newest successful backup when the restore starts. */
  id?: string;
}

/** The restore a PostgresDB started from, as its status records it once chosen. */
export interface RestoreStatus {
  /** The PostgresBackup that took the backup. */
  backup: string;
  /** The backup's id (absent while none could be chosen). */
  id?: string;
  /** The dump's sha256. */
  sha256?: string;
  /** The dump's size. */
  sizeBytes?: number;
  /** Where the backup is: pinned when chosen, so the PostgresBackup may change or go. */
  store?: {
    endpoint: string;
    region: string;
    bucket: string;
    prefix: string;
    credentialsSecret: string;
  };
  /** `Pending`, `Running`, `Succeeded` or `Failed`. */
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  /** Why it waits or failed. */
  reason?: string;
  /** A sentence for people. */
  message?: string;
  /** When the restore Job was created (RFC 3339). */
  startedAt?: string;
  /** When it ended (RFC 3339). */
  completedAt?: string;
  /** Rows restored, in all tables. */
  rows?: number;
  /** How long the restore took in the Job, in seconds (download, restore, ANALYZE, counts). */
  durationSeconds?: number;
}

/**
 * Synchronous replication: each commit waits until `number` standbys have flushed it.
 * `required` (the default) blocks commits while fewer stream, and a failover promotes only a
 * standby that is guaranteed to hold every acknowledged commit (a quorum of the standbys must
 * report); `preferred` waits only for the standbys that stream now (none: asynchronous), and a
 * failover is bounded by `maxFailoverLagBytes` instead.
 */
export interface SynchronousSpec {
  /** How many standbys must confirm each commit: 1 to `replicas - 1`. */
  number: number;
  /** `required` or `preferred`. @default "required" */
  durability?: Durability;
}

/** Whether synchronous replication may degrade when standbys are missing. */
export type Durability = "required" | "preferred";

/** The durabilities, the default first. */
export const DURABILITIES: readonly Durability[] = ["required", "preferred"];

/** The default `maxFailoverLagBytes`: 16 MiB. */
export const DEFAULT_MAX_FAILOVER_LAG_BYTES = 16 * 2 ** 20;

/**
 * What deleting a PostgresDB does to the data and the credentials that open it, together:
 * `Retain` keeps the volumes and the generated credentials Secret (a PostgresDB re-created with the
 * same name finds both); `Delete` removes both with it. A Secret the user brought is never deleted.
 */
export type DeletionPolicy = "Retain" | "Delete";

/** The deletion policies, the default first. */
export const DELETION_POLICIES: readonly DeletionPolicy[] = ["Retain", "Delete"];

/** The lifecycle phase shown by `kubectl get postgresdbs`. */
export type Phase = "Pending" | "Creating" | "Restoring" | "Upgrading" | "Running" | "Failed";

/** What the operator reports. */
export interface PostgresDBStatus {
  /** The lifecycle phase. */
  phase?: Phase;
  /** True when as many instances as asked for are ready on the current spec. */
  ready?: boolean;
  /** `postgresql://<name>-rw.<namespace>.svc.cluster.local:5432/<databaseName>`, no password. */
  connectionString?: string;
  /** The same through `<name>-ro`: the standbys, read-only. */
  readOnlyConnectionString?: string;
  /**
   * The pod the operator wants as the primary (`<name>-0` at bootstrap); empty while a failover
   * or switchover is pending (the old primary is told to stop and the new one is being chosen).
   */
  targetPrimary?: string;
  /** 1 at bootstrap; +1 when a failover or switchover starts, and when a lost volume retargets. */
  primaryTerm?: number;
  /** When the operator first saw the target primary not serving (RFC 3339), while it does not. */
  primaryUnavailableSince?: string;
  /** The last failover or switchover: why, from and to whom, and how long it took. */
  failover?: FailoverStatus;
  /** The last `switchover-to` annotation value the operator acted on (or refused). */
  switchoverHandled?: string;
  /** The pod whose report of the current term says it runs as the primary. */
  currentPrimary?: string;
  /** Each instance, as its agent last reported it. */
  instances?: InstanceStatus[];
  /** Instances whose agent reports them ready. */
  readyInstances?: number;
  /** Standbys streaming from the current primary. */
  streamingStandbys?: number;
  /** The generation this status was computed for. */
  observedGeneration?: number;
  /** The StatefulSet's ready instances. */
  readyReplicas?: number;
  /** `Ready`, and `VolumeResize` when a storage change is not applied. */
  conditions?: Condition[];
  /** The restore the database started from (`spec.restoreFrom`), once chosen. */
  restore?: RestoreStatus;
  /** The last major upgrade. */
  upgrade?: UpgradeStatus;
  /** The last storage change: asked for, where it stands. */
  storage?: StorageStatus;
}

/** A storage change as the status tells it (see `storage.ts`). */
export interface StorageStatus {
  /** `spec.storage` when this was decided. */
  requested: string;
  /** The smallest capacity among the volumes (the claim template's size when none reports). */
  current: string;
  /**
   * `Expanding` (volumes grow one at a time), `Recreating` (the StatefulSet is re-created with
   * the new claim template), `Resized` (done) or `Refused` (a shrink, or a class that cannot
   * expand: nothing changed).
   */
  phase: "Expanding" | "Recreating" | "Resized" | "Refused";
  /** The volume growing now, while expanding. */
  resizing?: string;
  /** When the operator started waiting for `resizing` (RFC 3339). */
  since?: string;
}

/** A failover or switchover as the status tells it. */
export interface FailoverStatus {
  /** `PrimaryLost` (the Lease expired), `PrimaryNotReady`, or `Switchover`. */
  reason: string;
  /** The primary it moved away from. */
  from: string;
  /** The pod a switchover asked for. */
  requestedTo?: string;
  /** The pod chosen as the new primary, once chosen. */
  to?: string;
  /** The term it started. */
  term: number;
  /** When it started (RFC 3339). */
  startedAt: string;
  /** When the first candidate's report arrived, while choosing (RFC 3339). */
  candidatesSince?: string;
  /** When the new primary was chosen. */
  chosenAt?: string;
  /** When the new primary first reported itself ready. */
  completedAt?: string;
  /** From start to the new primary's ready report, in seconds. */
  durationSeconds?: number;
  /** The new primary's timeline. */
  timeline?: number;
  /**
   * Bytes of WAL the old primary was last known to have past the chosen standby: commits that may
   * be lost (0 with required durability or a clean switchover).
   */
  lossWindowBytes?: number;
  /** Why it started, in a sentence (the events tell the rest). */
  message: string;
}

/** One instance in the status, copied from its agent's report. */
export interface InstanceStatus {
  /** The pod's name. */
  name: string;
  /** `primary`, `standby`, or `none` while PostgreSQL does not run. */
  role: string;
  /** True when it serves its role. */
  ready: boolean;
  /** The timeline, once there is data. */
  timeline?: number;
  /** Bytes of WAL behind the primary (0 on the primary). */
  lagBytes?: number;
  /** The pod a standby streams from, while it streams. */
  streamingFrom?: string;
}

/** A PostgresDB object. */
export interface PostgresDB extends KubeObject {
  /** What the user asks for, as stored: not validated yet (see `validatePostgresDB`). */
  spec?: Partial<PostgresDBSpec> & Record<string, unknown>;
  /** What the operator reports. */
  status?: PostgresDBStatus;
}

/** A spec that passed validation, with defaults filled in. */
export interface ValidSpec {
  /** PostgreSQL version: the tag of the `postgres` image, with a major from 10 up. */
  version: string;
  /** Storage per instance, a Kubernetes quantity such as "1Gi". */
  storage: string;
  /** Number of instances. */
  replicas: number;
  /** The database created at initialisation. */
  databaseName: string;
  /** What deleting the PostgresDB does to its volumes and credentials. */
  deletionPolicy: DeletionPolicy;
  /** Synchronous replication, when asked for. */
  synchronous?: { number: number; durability: Durability };
  /** Seconds the primary may be unavailable before a failover. */
  failoverDelay: number;
  /** The promotion bound without required durability. */
  maxFailoverLagBytes: number;
  /** The backup to start from, when asked for. */
  restoreFrom?: RestoreFromSpec;
  /** How a major upgrade is done, when asked for. */
  majorUpgrade?: MajorUpgradeMethod;
}
