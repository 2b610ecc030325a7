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

import type { KubeObject } from "../core/object.ts";
import { DELETION_POLICIES, GROUP } from "../core/postgres/types.ts";
import { MAX_REPLICAS, PG_IDENTIFIER } from "../core/postgres/validate.ts";
import { POSTGRES_VERSION } from "../core/postgres/version.ts";

/** A Kubernetes quantity as a schema pattern (kubebuilder's `resource.Quantity` pattern). */
const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

const conditionSchema = {
  type: "object",
  required: ["type", "status", "reason", "message", "lastTransitionTime"],
  properties: {
    type: { type: "string", maxLength: 316 },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: { type: "string", maxLength: 1024 },
    message: { type: "string", maxLength: 32768 },
    lastTransitionTime: { type: "string", format: "date-time" },
    observedGeneration: { type: "integer", format: "int64", minimum: 0 },
  },
};

const specSchema = {
  type: "object",
  description: "What the user asks for.",
  required: ["version", "storage", "databaseName"],
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
  },
};

const statusSchema = {
  type: "object",
  description: "What the operator observed.",
  properties: {
    phase: { type: "string", enum: ["Pending", "Creating", "Running", "Failed"] },
    ready: { type: "boolean" },
    connectionString: { type: "string" },
    observedGeneration: { type: "integer", format: "int64" },
    readyReplicas: { type: "integer", format: "int32" },
    conditions: {
      type: "array",
      items: conditionSchema,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    },
  },
};

/** The PostgresDB CRD object. */
export const postgresDBCrd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `postgresdbs.${GROUP}` },
  spec: {
    group: GROUP,
    names: {
      kind: "PostgresDB",
      listKind: "PostgresDBList",
      plural: "postgresdbs",
      singular: "postgresdb",
      shortNames: ["pgdb"],
      categories: ["all"],
    },
    scope: "Namespaced",
    versions: [{
      name: "v1alpha1",
      served: true,
      storage: true,
      subresources: { status: {} },
      additionalPrinterColumns: [
        { name: "Version", type: "string", jsonPath: ".spec.version" },
        { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
        { name: "Ready", type: "boolean", jsonPath: ".status.ready" },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
      schema: {
        openAPIV3Schema: {
          type: "object",
          description: "A PostgreSQL database managed by the operator.",
          properties: {
            apiVersion: { type: "string" },
            kind: { type: "string" },
            metadata: { type: "object" },
            spec: specSchema,
            status: statusSchema,
          },
          required: ["spec"],
        },
      },
    }],
  },
};

/** Every CRD the operator installs, with the file each is written to under `crds/`. */
export const CRDS: readonly { file: string; crd: KubeObject }[] = [
  { file: "database.thegeekyway.com_postgresdbs.yaml", crd: postgresDBCrd },
];
