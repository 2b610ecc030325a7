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
/** The volumes the StatefulSet claims: read, never written, by the operator. */
export const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };

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
}

/**
 * What deleting a PostgresDB does to the data and the credentials that open it, together:
 * `Retain` keeps the volumes and the generated credentials Secret (a PostgresDB re-created with the
 * same name finds both); `Delete` removes both with it. A Secret the user brought is never deleted.
 */
export type DeletionPolicy = "Retain" | "Delete";

/** The deletion policies, the default first. */
export const DELETION_POLICIES: readonly DeletionPolicy[] = ["Retain", "Delete"];

/** The lifecycle phase shown by `kubectl get postgresdbs`. */
export type Phase = "Pending" | "Creating" | "Running" | "Failed";

/** What the operator reports. */
export interface PostgresDBStatus {
  /** The lifecycle phase. */
  phase?: Phase;
  /** True when as many instances as asked for are ready on the current spec. */
  ready?: boolean;
  /** `postgresql://<name>.<namespace>.svc.cluster.local:5432/<databaseName>`, no password. */
  connectionString?: string;
  /** The generation this status was computed for. */
  observedGeneration?: number;
  /** The StatefulSet's ready instances. */
  readyReplicas?: number;
  /** `Ready`, and `VolumeResize` when a storage change is not applied. */
  conditions?: Condition[];
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
}
