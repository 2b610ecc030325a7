/**
 * The PostgresDB CustomResourceDefinition, in TypeScript: the source of truth for
 * `crds/database.thegeekyway.com_postgresdbs.yaml` (regenerate with `deno task crds`; a test fails
 * when the committed YAML differs).
 *
 * The schema rejects what a schema can say (types, required fields, ranges, patterns, an
 * immutable databaseName); the reconciler checks the rest and reports it as `InvalidSpec`.
 *
 * @module
 */

import { buildCrd, conditionsSchema, type JsonSchema } from "../core/crd.ts";
import type { KubeObject } from "../core/object.ts";
import {
  DEFAULT_MAX_FAILOVER_LAG_BYTES,
  DELETION_POLICIES,
  DURABILITIES,
  GROUP,
  MAJOR_UPGRADE_METHODS,
} from "../core/postgres/types.ts";
import { MAX_REPLICAS, PG_IDENTIFIER } from "../core/postgres/validate.ts";
import { POSTGRES_VERSION } from "../core/postgres/version.ts";
import { postgresBackupCrd } from "./postgresbackup.ts";

/** A Kubernetes quantity as a schema pattern (kubebuilder's `resource.Quantity` pattern). */
const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

const specSchema: JsonSchema = {
  type: "object",
  description: "What the user asks for.",
  required: ["version", "storage", "databaseName"],
  "x-kubernetes-validations": [{
    rule: "has(self.restoreFrom) == has(oldSelf.restoreFrom) && " +
      "(!has(self.restoreFrom) || self.restoreFrom == oldSelf.restoreFrom)",
    message: "restoreFrom can be set only when the PostgresDB is created, and cannot change",
  }],
  properties: {
    version: {
      type: "string",
      description: 'PostgreSQL version: the tag of the postgres image, e.g. "16", "16.4" or ' +
        '"17-bookworm". A change within a major rolls out; a change of major is refused.',
      pattern: POSTGRES_VERSION.source,
      maxLength: 128,
    },
    storage: {
      type: "string",
      description: 'Storage per instance, a Kubernetes quantity such as "1Gi".',
      pattern: QUANTITY_PATTERN,
    },
    replicas: {
      type: "integer",
      format: "int32",
      description: "Number of instances.",
      default: 1,
      minimum: 1,
      maximum: MAX_REPLICAS,
    },
    databaseName: {
      type: "string",
      description: "The database created at initialisation; it cannot change afterwards.",
      pattern: PG_IDENTIFIER.source,
      maxLength: 63,
      "x-kubernetes-validations": [{
        rule: "self == oldSelf",
        message: "databaseName cannot change after the database was initialised",
      }],
    },
    deletionPolicy: {
      type: "string",
      description: "What deleting the PostgresDB does to its volumes and its generated " +
        "credentials Secret, together: Retain keeps both (a PostgresDB re-created with the same " +
        "name finds them), Delete removes both. A Secret the user brought is never deleted.",
      enum: [...DELETION_POLICIES],
      default: DELETION_POLICIES[0],
      "x-kubernetes-validations": [{
        rule: "self == oldSelf",
        message: "deletionPolicy cannot change after creation",
      }],
    },
    synchronous: {
      type: "object",
      description: "Synchronous replication: each commit waits until `number` standbys flushed " +
        "it. required (the default) blocks commits while fewer stream, and a failover promotes " +
        "only a standby guaranteed to hold every acknowledged commit; preferred waits only for " +
        "the standbys streaming now, and a failover is bounded by maxFailoverLagBytes.",
      required: ["number"],
      properties: {
        number: {
          type: "integer",
          format: "int32",
          minimum: 1,
          maximum: MAX_REPLICAS - 1,
          description: "Standbys that must confirm each commit: 1 to replicas - 1.",
        },
        durability: { type: "string", enum: [...DURABILITIES], default: DURABILITIES[0] },
      },
    },
    failoverDelay: {
      type: "integer",
      format: "int32",
      minimum: 0,
      default: 0,
      description: "Seconds the primary may be unavailable before a failover starts.",
    },
    restoreFrom: {
      type: "object",
      description: "Start from a backup: the database is not Ready until the backup taken by " +
        "this PostgresBackup (its newest successful one, or the one named by id) is restored " +
        "into it. Set it only when creating the PostgresDB; it cannot change afterwards.",
      required: ["backup"],
      properties: {
        backup: { type: "string", description: "A PostgresBackup in the same namespace." },
        id: { type: "string", description: "A backup id from its status; default: the newest." },
      },
    },
    majorUpgrade: {
      type: "string",
      enum: [...MAJOR_UPGRADE_METHODS],
      description: "How a change of version to a later major is done; absent: it is refused. " +
        "PgUpgrade checks the target image (extensions, libraries) while the database serves, " +
        "then stops the instances, runs pg_upgrade --link on the primary's volume in a Job " +
        "(a failure leaves the old data serving), starts the primary on the new major and " +
        "re-clones the standbys. A downgrade is always refused.",
    },
    maxFailoverLagBytes: {
      type: "integer",
      format: "int64",
      minimum: 0,
      default: DEFAULT_MAX_FAILOVER_LAG_BYTES,
      description: "Without required durability, a standby further behind the primary's last " +
        "known WAL than this is never promoted.",
    },
  },
};

const statusSchema: JsonSchema = {
  type: "object",
  description: "What the operator observed.",
  properties: {
    phase: {
      type: "string",
      enum: ["Pending", "Creating", "Restoring", "Upgrading", "Running", "Failed"],
    },
    upgrade: {
      type: "object",
      description: "The last major upgrade (spec.majorUpgrade).",
      properties: {
        from: { type: "integer", format: "int32" },
        to: { type: "integer", format: "int32" },
        fromVersion: { type: "string" },
        toVersion: { type: "string" },
        generation: { type: "integer", format: "int64" },
        primary: { type: "string" },
        phase: {
          type: "string",
          enum: ["Checking", "Stopping", "Upgrading", "Starting", "Succeeded", "Failed"],
        },
        reason: { type: "string" },
        message: { type: "string" },
        startedAt: { type: "string", format: "date-time" },
        checkedAt: { type: "string", format: "date-time" },
        stoppedAt: { type: "string", format: "date-time" },
        attempts: { type: "integer", format: "int32" },
        completedAt: { type: "string", format: "date-time" },
        downtimeSeconds: { type: "number" },
        upgradeSeconds: { type: "number" },
      },
    },
    storage: {
      type: "object",
      description: "The last storage change: what was asked for and where it stands.",
      properties: {
        requested: { type: "string" },
        current: { type: "string" },
        phase: { type: "string", enum: ["Expanding", "Recreating", "Resized", "Refused"] },
        resizing: { type: "string" },
        since: { type: "string", format: "date-time" },
      },
    },
    restore: {
      type: "object",
      description: "The restore this database started from (spec.restoreFrom), once chosen.",
      properties: {
        backup: { type: "string" },
        id: { type: "string" },
        sha256: { type: "string" },
        sizeBytes: { type: "integer", format: "int64" },
        store: {
          type: "object",
          properties: {
            endpoint: { type: "string" },
            region: { type: "string" },
            bucket: { type: "string" },
            prefix: { type: "string" },
            credentialsSecret: { type: "string" },
          },
        },
        phase: { type: "string", enum: ["Pending", "Running", "Succeeded", "Failed"] },
        reason: { type: "string" },
        message: { type: "string" },
        startedAt: { type: "string", format: "date-time" },
        completedAt: { type: "string", format: "date-time" },
        rows: { type: "integer", format: "int64" },
        durationSeconds: { type: "number" },
      },
    },
    ready: { type: "boolean" },
    connectionString: { type: "string", description: "Through <name>-rw, no password." },
    readOnlyConnectionString: { type: "string", description: "Through <name>-ro, no password." },
    observedGeneration: { type: "integer", format: "int64" },
    readyReplicas: { type: "integer", format: "int32" },
    targetPrimary: {
      type: "string",
      description: "The pod the operator wants as primary; empty while a failover is pending.",
    },
    primaryTerm: { type: "integer", format: "int64" },
    primaryUnavailableSince: { type: "string", format: "date-time" },
    switchoverHandled: { type: "string" },
    failover: {
      type: "object",
      description: "The last failover or switchover.",
      properties: {
        reason: { type: "string" },
        from: { type: "string" },
        requestedTo: { type: "string" },
        to: { type: "string" },
        term: { type: "integer", format: "int64" },
        startedAt: { type: "string", format: "date-time" },
        candidatesSince: { type: "string", format: "date-time" },
        chosenAt: { type: "string", format: "date-time" },
        completedAt: { type: "string", format: "date-time" },
        durationSeconds: { type: "number" },
        timeline: { type: "integer", format: "int64" },
        lossWindowBytes: { type: "integer", format: "int64" },
        message: { type: "string" },
      },
    },
    currentPrimary: { type: "string", description: "The pod that runs as primary now." },
    readyInstances: { type: "integer", format: "int32" },
    streamingStandbys: { type: "integer", format: "int32" },
    instances: {
      type: "array",
      description: "Each instance as its agent reports it.",
      items: {
        type: "object",
        required: ["name", "role", "ready"],
        properties: {
          name: { type: "string" },
          role: { type: "string" },
          ready: { type: "boolean" },
          timeline: { type: "integer", format: "int64" },
          lagBytes: { type: "integer", format: "int64" },
          streamingFrom: { type: "string" },
        },
      },
    },
    conditions: conditionsSchema(),
  },
};

/** The PostgresDB CRD object. */
export const postgresDBCrd: KubeObject = buildCrd({
  group: GROUP,
  names: {
    kind: "PostgresDB",
    shortNames: ["pgdb"],
    categories: ["all"],
  },
  scope: "Namespaced",
  versions: [{
    name: "v1alpha1",
    description: "A PostgreSQL database managed by the operator.",
    spec: specSchema,
    status: statusSchema,
    printerColumns: [
      { name: "Version", type: "string", jsonPath: ".spec.version" },
      { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Ready", type: "boolean", jsonPath: ".status.ready" },
      { name: "Primary", type: "string", jsonPath: ".status.currentPrimary" },
      { name: "Streaming", type: "integer", jsonPath: ".status.streamingStandbys" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
  }],
});

/** Every CRD the operator installs, with the file each is written to under `crds/`. */
export const CRDS: readonly { file: string; crd: KubeObject }[] = [
  { file: "database.thegeekyway.com_postgresdbs.yaml", crd: postgresDBCrd },
  { file: "database.thegeekyway.com_postgresbackups.yaml", crd: postgresBackupCrd },
];
