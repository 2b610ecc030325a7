/**
 * The first phase of a PostgresDB reconcile: what was observed, classified into one state record
 * before any action is decided, and the predicates the classification rests on. Pure.
 *
 * @module
 */

import { controllerOf, isControlledBy, type KubeObject, type TypeRef } from "../object.ts";
import type { LiveRead, Observed } from "../reconciler.ts";
import { countUnadopted, DEFAULT_CLASS_ANNOTATION, type StorageFacts } from "./storage.ts";
import {
  instanceAccountName,
  podName,
  readOnlyServiceName,
  readWriteServiceName,
  secretName,
} from "./naming.ts";
import { findInstances, type Instance } from "./instances.ts";
import { MANAGED_BY_LABEL, MANAGER, selectorLabels, sourceGeneration } from "./labels.ts";
import { DATA_CLAIM } from "./statefulset.ts";
import {
  POD,
  POSTGRESDB,
  type PostgresDB,
  PVC,
  ROLE,
  ROLE_BINDING,
  SECRET,
  SERVICE,
  SERVICE_ACCOUNT,
  STATEFULSET,
  STORAGE_CLASS,
  type UpgradeStatus,
  type ValidSpec,
} from "./types.ts";
import { type FieldProblem, MAX_REPLICAS, validatePostgresDB } from "./validate.ts";
import { DATA_MAJOR, type DataMajor, observedDataMajor, versionMajor } from "./version.ts";

/** The children a PostgresDB has, as observed (controlled by its uid). */
export interface Children {
  /** The credentials Secret: controlled by the PostgresDB, or an ownerless one it may adopt. */
  secret?: KubeObject | undefined;
  /** The headless Service controlled by the PostgresDB. */
  service?: KubeObject | undefined;
  /** The StatefulSet controlled by the PostgresDB. */
  statefulSet?: KubeObject | undefined;
  /** The Service `<name>-rw` controlled by the PostgresDB. */
  readWrite?: KubeObject | undefined;
  /** The Service `<name>-ro` controlled by the PostgresDB. */
  readOnly?: KubeObject | undefined;
  /** The agents' ServiceAccount `<name>-instance`. */
  account?: KubeObject | undefined;
  /** The agents' Role `<name>-instance`. */
  role?: KubeObject | undefined;
  /** The agents' RoleBinding `<name>-instance`. */
  roleBinding?: KubeObject | undefined;
  /** The StatefulSet's pods, with their agents' reports. */
  instances?: Instance[];
  /** The names of the data volumes (PVCs) that exist. */
  volumes?: string[];
  /** What storage growth observes: the volumes, their StorageClass, pods to adopt. */
  storage?: StorageFacts;
  /**
   * The credentials Secret has no controller (a retained one, or the user's) and lacks the labels
   * that bring it into the operator's cache: this reconcile labels it, and writes nothing else.
   */
  labelSecret?: boolean;
}

/** A same-named object the operator must not touch. */
export interface Blocker {
  /** The object in the way. */
  object: KubeObject;
  /** True when it belongs to an earlier PostgresDB of the same name (GC will remove it). */
  previous: boolean;
}

/** A change of major the operator refuses: what the data holds and what the spec asks for. */
export interface MajorChange {
  /** The major the data was initialised by, and where that was read. */
  data: DataMajor;
  /** The major of `version`. */
  major: number;
  /** `spec.version` as written. */
  version: string;
}

/** The state a PostgresDB is in, decided before any action. */
export type PostgresState =
  | { kind: "deleting" }
  | { kind: "invalid"; problems: FieldProblem[] }
  | { kind: "blocked"; blockers: Blocker[] }
  | { kind: "credentialsMissing"; volumes: string[] }
  | { kind: "staleView"; child: KubeObject; generation: number }
  | ({ kind: "majorChange" } & MajorChange)
  | { kind: "upgrading"; spec: ValidSpec; children: Children; data: DataMajor; major: number }
  | { kind: "reconciling"; spec: ValidSpec; children: Children };

/** Classifies an observed PostgresDB. Pure; the first matching state wins. */
export function classify(observed: Observed<PostgresDB>): PostgresState {
  const db = observed.object;
  if (db.metadata.deletionTimestamp) return { kind: "deleting" };
  const validation = validatePostgresDB(db);
  if (!validation.ok) return { kind: "invalid", problems: validation.problems };
  const spec = validation.spec;
  const { children, blockers } = findChildren(observed);
  if (blockers.length > 0) return { kind: "blocked", blockers };
  const written = children.statefulSet ? sourceGeneration(children.statefulSet) : undefined;
  if (written !== undefined && written > (db.metadata.generation ?? 0)) {
    return { kind: "staleView", child: children.statefulSet!, generation: written };
  }
  if (!children.secret) {
    // Volumes outlive their PostgresDB (Retain). A database on them was initialised with other
    // credentials: new ones would never work, so the operator asks rather than invents. The
    // runtime read the Secret and the volumes live (see `liveReads`), so this rests on the
    // server's state, not on a cache that may not have seen a volume yet.
    const volumes = existingVolumes(observed, db);
    if (volumes.length > 0) return { kind: "credentialsMissing", volumes };
  }
  // PostgreSQL does not start on another major's data directory: a new image would crash-loop.
  const upgrade = db.status?.upgrade;
  const data = committedMajor(
    observedDataMajor(children.statefulSet, dataVolumes(observed, db)),
    upgrade,
  );
  const major = versionMajor(spec.version);
  const runs = Number(children.statefulSet?.metadata.annotations?.[DATA_MAJOR]);
  if (
    (upgrade?.phase === "Stopping" || upgrade?.phase === "Upgrading") && children.statefulSet &&
    Number.isInteger(runs) && runs >= upgrade.to
  ) {
    // The StatefulSet runs the new major: it was written after the upgrade's commit was
    // recorded, so this view of the PostgresDB is from before. Acting on it would stop the
    // upgraded database again; the newer PostgresDB's event comes next.
    return {
      kind: "staleView",
      child: children.statefulSet,
      generation: db.metadata.generation ?? 0,
    };
  }
  if (upgrade?.phase === "Stopping" || upgrade?.phase === "Upgrading") {
    // The instances are stopped for pg_upgrade, which may be working on a volume: whatever the
    // spec says now, nothing starts until the upgrade's run ends and is recorded.
    return {
      kind: "upgrading",
      spec,
      children,
      data: { major: upgrade.from, source: "status.upgrade" },
      major: upgrade.to,
    };
  }
  if (
    upgrade?.phase === "Starting" && major !== undefined && data !== undefined &&
    major < upgrade.to && data.major === upgrade.to
  ) {
    // The spec went back while the upgrade ran: the data is committed to the new major. Finish
    // starting it (the downgrade is refused once it serves).
    return { kind: "reconciling", spec: { ...spec, version: upgrade.toVersion }, children };
  }
  if (data !== undefined && major !== undefined && data.major !== major) {
    if (major > data.major && spec.majorUpgrade !== undefined) {
      return { kind: "upgrading", spec, children, data, major };
    }
    return { kind: "majorChange", data, major, version: spec.version };
  }
  const initialised = children.secret ? secretDatabase(children.secret) : undefined;
  if (initialised !== undefined && initialised !== spec.databaseName) {
    return {
      kind: "invalid",
      problems: [{
        field: "spec.databaseName",
        message: `${JSON.stringify(spec.databaseName)} cannot change after the database was ` +
          `initialised as ${JSON.stringify(initialised)}`,
      }],
    };
  }
  return { kind: "reconciling", spec, children };
}

/**
 * The reads a new password must rest on, when the cache holds no credentials Secret: the Secret
 * itself, then the namespace's volumes, both live. In this order, no pod can have initialised a
 * volume with a password the operator did not see: a pod needs its volume before it starts, and
 * reads the Secret when it starts; a Secret created after the GET makes the operator's create fail
 * with AlreadyExists. A converged PostgresDB (its Secret cached) costs no request.
 */
export function credentialsLiveReads(observed: Observed<PostgresDB>): LiveRead[] {
  const db = observed.object;
  const namespace = db.metadata.namespace ?? "default";
  const name = secretName(db.metadata.name);
  if (observed.lookup({ ...SECRET, namespace, name }) !== undefined) return [];
  if (db.metadata.deletionTimestamp || !validatePostgresDB(db).ok) return [];
  return [{ type: SECRET, namespace, name }, { type: PVC, namespace }];
}

/**
 * The data's major, at least the one a committed upgrade recorded: its volumes' annotations were
 * written before the record, but a cache may not have seen them yet.
 */
function committedMajor(
  observed: DataMajor | undefined,
  upgrade: UpgradeStatus | undefined,
): DataMajor | undefined {
  if (observed === undefined || upgrade === undefined) return observed;
  if (upgrade.phase !== "Starting" && upgrade.phase !== "Succeeded") return observed;
  return upgrade.to > observed.major
    ? { major: upgrade.to, source: `status.upgrade (an upgrade to ${upgrade.to})` }
    : observed;
}

/**
 * The read an orphaning delete of the StatefulSet rests on (a storage growth's re-creation): the
 * PostgresDB itself, live, so a cache that still shows a deleted one does not orphan its pods and
 * volumes. Costs a request only while `status.storage.phase` is `Recreating`.
 */
export function storageLiveReads(observed: Observed<PostgresDB>): LiveRead[] {
  const db = observed.object;
  if (db.status?.storage?.phase !== "Recreating" || db.metadata.deletionTimestamp) return [];
  return [{
    type: POSTGRESDB,
    namespace: db.metadata.namespace ?? "default",
    name: db.metadata.name,
  }];
}

/** The children found by name. */
type ChildSlot =
  | "secret"
  | "service"
  | "readWrite"
  | "readOnly"
  | "account"
  | "role"
  | "roleBinding"
  | "statefulSet";

/** The same-named children: the PostgresDB's own (by controller uid), and those in the way. */
function findChildren(
  observed: Observed<PostgresDB>,
): { children: Children; blockers: Blocker[] } {
  const db = observed.object;
  const namespace = db.metadata.namespace ?? "default";
  const children: Children = {};
  const blockers: Blocker[] = [];
  const name = db.metadata.name;
  const wanted: [ChildSlot, TypeRef, string][] = [
    ["secret", SECRET, secretName(name)],
    ["service", SERVICE, name],
    ["readWrite", SERVICE, readWriteServiceName(name)],
    ["readOnly", SERVICE, readOnlyServiceName(name)],
    ["account", SERVICE_ACCOUNT, instanceAccountName(name)],
    ["role", ROLE, instanceAccountName(name)],
    ["roleBinding", ROLE_BINDING, instanceAccountName(name)],
    ["statefulSet", STATEFULSET, name],
  ];
  for (const [slot, type, name] of wanted) {
    const found = observed.lookup({ ...type, namespace, name });
    if (found === undefined) continue;
    if (isControlledBy(found, db)) children[slot] = found;
    else if (slot === "secret" && isOwnerlessCredentials(found)) {
      children.secret = found;
      if (!hasCacheLabels(found, db)) children.labelSecret = true;
    } else blockers.push({ object: found, previous: isPreviousIncarnation(found, db) });
  }
  children.instances = findInstances(observed, children.statefulSet?.metadata.uid);
  const claims = dataVolumes(observed, db);
  children.volumes = claims.map((pvc) => pvc.metadata.name);
  // A terminating volume (a deleted PostgresDB's, say) is going: it neither grows nor waits.
  const live = claims.filter((pvc) => !pvc.metadata.deletionTimestamp);
  children.storage = storageFacts(observed, children.statefulSet, live);
  return { children, blockers };
}

/** The storage facts: the volumes' class (named, else the default one) and unadopted pods. */
function storageFacts(
  observed: Observed<PostgresDB>,
  statefulSet: KubeObject | undefined,
  claims: KubeObject[],
): StorageFacts {
  const db = observed.object;
  const named = claims.map((c) =>
    (c.spec as { storageClassName?: unknown } | undefined)
      ?.storageClassName
  ).find((n): n is string => typeof n === "string" && n !== "");
  // StorageClasses are cluster-scoped: the cache's list matches them under "default".
  const storageClass = named !== undefined
    ? observed.lookup({ ...STORAGE_CLASS, name: named })
    : (observed.list?.(STORAGE_CLASS, "default", {}) ?? []).find((c) =>
      c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true"
    );
  const pods: KubeObject[] = [];
  for (let ordinal = 0; ordinal < MAX_REPLICAS; ordinal++) {
    const name = podName(db.metadata.name, ordinal);
    const pod = observed.lookup({ ...POD, namespace: db.metadata.namespace, name });
    if (pod) pods.push(pod);
  }
  const live = observed.lookup({
    ...POSTGRESDB,
    namespace: db.metadata.namespace,
    name: db.metadata.name,
  });
  return {
    statefulSet,
    claims,
    ownerLive: live !== undefined && live.metadata.uid === db.metadata.uid &&
      !live.metadata.deletionTimestamp,
    storageClass,
    className: named ?? storageClass?.metadata.name,
    unadoptedPods: countUnadopted(pods, statefulSet),
    pods,
  };
}

/** True when the Secret carries the labels that the operator's Secret cache selects. */
function hasCacheLabels(secret: KubeObject, db: PostgresDB): boolean {
  const labels = secret.metadata.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGER &&
    Object.entries(selectorLabels(db.metadata.name)).every(([k, v]) => labels[k] === v);
}

/** A Secret with no controller that holds the credential keys the StatefulSet reads. */
function isOwnerlessCredentials(secret: KubeObject): boolean {
  if (controllerOf(secret) !== undefined || secret.metadata.deletionTimestamp) return false;
  const data = {
    ...(secret.data as object | undefined),
    ...(secret.stringData as object | undefined),
  };
  return ["username", "password", "database"].every((key) => key in data);
}

/** The names of data volumes the StatefulSet would mount, if any exist already. */
function existingVolumes(observed: Observed<PostgresDB>, db: PostgresDB): string[] {
  return dataVolumes(observed, db).map((pvc) => pvc.metadata.name);
}

/** The data volumes the StatefulSet would mount that exist already, by ordinal. */
function dataVolumes(observed: Observed<PostgresDB>, db: PostgresDB): KubeObject[] {
  const found: KubeObject[] = [];
  for (let ordinal = 0; ordinal < MAX_REPLICAS; ordinal++) {
    const name = `${DATA_CLAIM}-${db.metadata.name}-${ordinal}`;
    const pvc = observed.lookup({ ...PVC, namespace: db.metadata.namespace, name });
    if (pvc) found.push(pvc);
  }
  return found;
}

/** True when `child` is controlled by an earlier PostgresDB of the same name (another uid). */
function isPreviousIncarnation(child: KubeObject, db: PostgresDB): boolean {
  const owner = controllerOf(child);
  return owner !== undefined && owner.kind === db.kind && owner.name === db.metadata.name &&
    owner.uid !== db.metadata.uid;
}

/** The database name a credentials Secret records, if it records one. */
function secretDatabase(secret: KubeObject): string | undefined {
  const data = secret.data as Record<string, string> | undefined;
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (stringData?.database !== undefined) return stringData.database;
  if (data?.database === undefined) return undefined;
  try {
    return atob(data.database);
  } catch {
    return undefined;
  }
}
