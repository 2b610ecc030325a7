/**
 * The PostgresBackup CustomResourceDefinition, in TypeScript: the source of truth for
 * `crds/database.thegeekyway.com_postgresbackups.yaml` (regenerate with `deno task crds`).
 *
 * The schema rejects what a schema can say (types, required fields, ranges, the destination's
 * shape); the reconciler checks the rest (the schedule's fields, the endpoint URL) and reports it
 * as `InvalidSpec`.
 *
 * @module
 */

import { buildCrd, conditionsSchema, type JsonSchema } from "../core/crd.ts";
import type { KubeObject } from "../core/object.ts";
import {
  DEFAULT_KEEP_LAST,
  DEFAULT_REGION,
  DEFAULT_STARTING_DEADLINE_SECONDS,
  MAX_KEEP_LAST,
} from "../core/backup/validate.ts";
import { GROUP } from "../core/postgres/types.ts";

const specSchema: JsonSchema = {
  type: "object",
  description: "Backups of one PostgresDB (pg_dump, custom format) to an S3-compatible store.",
  required: ["postgresRef", "destination", "credentialsSecret"],
  properties: {
    postgresRef: {
      type: "string",
      description: "The PostgresDB to back up, in the same namespace.",
      maxLength: 52,
    },
    schedule: {
      type: "string",
      description: 'A cron schedule in UTC ("0 2 * * *", "@daily"); absent: one backup, once.',
      maxLength: 128,
    },
    destination: {
      type: "string",
      description: 'Where backups go: "s3://bucket/prefix/". Each PostgresDB\'s backups are ' +
        "under <prefix><namespace>/<postgresRef>/<this backup's name>/<backup id>/ as dump.pgc and " +
        "manifest.json; retention applies there.",
      pattern: "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
    },
    endpoint: {
      type: "string",
      description: "The S3 endpoint URL; path-style addressing is used. Default: AWS in region.",
      pattern: "^https?://",
    },
    region: {
      type: "string",
      description: "The region requests are signed for.",
      default: DEFAULT_REGION,
    },
    credentialsSecret: {
      type: "string",
      description:
        "A Secret in the same namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    },
    retention: {
      type: "object",
      description: "How many successful backups are kept; the newest is never deleted.",
      properties: {
        keepLast: {
          type: "integer",
          format: "int32",
          minimum: 1,
          maximum: MAX_KEEP_LAST,
          default: DEFAULT_KEEP_LAST,
        },
      },
    },
    verify: {
      type: "boolean",
      description: "Restore each backup into a throwaway instance and compare its row counts " +
        "with the manifest; a backup that does not match fails.",
      default: false,
    },
    startingDeadlineSeconds: {
      type: "integer",
      format: "int32",
      minimum: 10,
      default: DEFAULT_STARTING_DEADLINE_SECONDS,
      description: "A scheduled slot not started within this many seconds is missed (reported, " +
        "never run late).",
    },
    suspend: {
      type: "boolean",
      description: "Take no scheduled backup while true.",
      default: false,
    },
  },
};

const runSchema: JsonSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    slot: { type: "string", format: "date-time" },
    outcome: { type: "string", enum: ["Succeeded", "Failed"] },
    reason: { type: "string" },
    message: { type: "string" },
    completedAt: { type: "string", format: "date-time" },
  },
};

const statusSchema: JsonSchema = {
  type: "object",
  description: "What the operator observed.",
  properties: {
    phase: {
      type: "string",
      enum: ["Pending", "Running", "Succeeded", "Failed", "Scheduled", "Suspended", "Invalid"],
    },
    observedGeneration: { type: "integer", format: "int64" },
    conditions: conditionsSchema(),
    active: {
      type: "object",
      description: "The run in flight.",
      properties: {
        job: { type: "string" },
        id: { type: "string" },
        slot: { type: "string", format: "date-time" },
        startedAt: { type: "string" },
      },
    },
    lastScheduledSlot: {
      type: "string",
      format: "date-time",
      description: "The last slot handled (run or missed): never run again.",
    },
    missedSlots: { type: "integer", format: "int64" },
    lastBackup: runSchema,
    lastSuccessfulBackup: runSchema,
    backups: {
      type: "array",
      description: "The backups kept in the store, oldest first.",
      items: {
        type: "object",
        properties: {
          id: { type: "string" },
          key: { type: "string" },
          sizeBytes: { type: "integer", format: "int64" },
          sha256: { type: "string" },
          startedAt: { type: "string" },
          completedAt: { type: "string" },
          durationSeconds: { type: "number" },
          verified: { type: "boolean" },
        },
      },
    },
  },
};

/** The PostgresBackup CRD object. */
export const postgresBackupCrd: KubeObject = buildCrd({
  group: GROUP,
  names: { kind: "PostgresBackup", shortNames: ["pgbackup"], categories: ["all"] },
  scope: "Namespaced",
  versions: [{
    name: "v1alpha1",
    description: "Backups of a PostgresDB, once or on a schedule.",
    spec: specSchema,
    status: statusSchema,
    printerColumns: [
      { name: "Database", type: "string", jsonPath: ".spec.postgresRef" },
      { name: "Schedule", type: "string", jsonPath: ".spec.schedule" },
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Last", type: "string", jsonPath: ".status.lastBackup.outcome" },
      { name: "Last Success", type: "date", jsonPath: ".status.lastSuccessfulBackup.completedAt" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
  }],
});
