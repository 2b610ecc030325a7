/**
 * The PostgresDB reconciler: classify what was observed, then turn that state into actions.
 *
 * Guarantees: the credentials Secret is only ever created, never updated, so its password is never
 * regenerated; children are recognised by their controller reference's uid, never by name alone,
 * so a same-named object of another owner is neither adopted nor overwritten; nothing derived from
 * an invalid field is created or changed; once the cluster matches the spec, a reconcile returns
 * no writes at all.
 *
 * A new password is decided only on live reads of the Secret and the volumes, never on the cache
 * alone (see {@link credentialsLiveReads}).
 *
 * Assumptions: garbage collection removes children when the PostgresDB goes (the Service and the
 * StatefulSet carry a controller owner reference; the Secret and, through the StatefulSet's claim
 * retention, the volumes only with deletion policy `Delete`), so deletion needs no finalizer.
 *
 * Caveats: the volume claim template of a StatefulSet is immutable, so a storage change is
 * reported (condition `VolumeResize`) but not applied to existing volumes.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { compareDesired, jsonEqual, overlay } from "../compare.ts";
import { findCondition } from "../conditions.ts";
import {
  controllerOf,
  describeRef,
  isControlledBy,
  type KubeObject,
  refOf,
  type TypeRef,
} from "../object.ts";
import type {
  LiveRead,
  Observed,
  ReconcileContext,
  Reconciler,
  ReconcileResult,
} from "../reconciler.ts";
import { buildCredentialsSecret, credentialsLabels, generatePassword } from "./secret.ts";
import { buildHeadlessService, compareService, repairedService } from "./service.ts";
import { buildStatefulSet, DATA_CLAIM, observedStorage } from "./statefulset.ts";
import {
  buildStatus,
  type ExtraConditions,
  READY,
  statefulSetReadiness,
  type StatusInput,
} from "./status.ts";
import { connectionString, secretName } from "./naming.ts";
import {
  POSTGRESDB,
  type PostgresDB,
  type PostgresDBStatus,
  PVC,
  SECRET,
  SERVICE,
  STATEFULSET,
  type ValidSpec,
} from "./types.ts";
import {
  describeProblems,
  type FieldProblem,
  MAX_REPLICAS,
  validatePostgresDB,
} from "./validate.ts";
import { MANAGER, selectorLabels, sourceGeneration } from "./labels.ts";
import { type DataMajor, observedDataMajor, versionMajor } from "./version.ts";

/** The children a PostgresDB has, as observed (controlled by its uid). */
interface Children {
  secret?: KubeObject | undefined;
  service?: KubeObject | undefined;
  statefulSet?: KubeObject | undefined;
  /**
   * The credentials Secret has no controller (a retained one, or the user's) and lacks the labels
   * that bring it into the operator's cache: this reconcile labels it, and writes nothing else.
   */
  labelSecret?: boolean;
}

/** A same-named object the operator must not touch. */
interface Blocker {
  object: KubeObject;
  /** True when it belongs to an earlier PostgresDB of the same name (GC will remove it). */
  previous: boolean;
}

/** The state a PostgresDB is in, decided before any action. */
export type PostgresState =
  | { kind: "deleting" }
  | { kind: "invalid"; problems: FieldProblem[] }
  | { kind: "blocked"; blockers: Blocker[] }
  | { kind: "credentialsMissing"; volumes: string[] }
  | { kind: "staleView"; child: KubeObject; generation: number }
  | { kind: "majorChange"; data: DataMajor; major: number; version: string }
  | { kind: "reconciling"; spec: ValidSpec; children: Children };

/** Classifies an observed PostgresDB. Pure; the first matching state wins. */
export function classify(observed: Observed<PostgresDB>): PostgresState {
  const db = observed.object;
  if (db.metadata.deletionTimestamp) return { kind: "deleting" };
  const validation = validatePostgresDB(db);
  if (!validation.ok) return { kind: "invalid", problems: validation.problems };
  const spec = validation.spec;
  const namespace = db.metadata.namespace ?? "default";
  const children: Children = {};
  const blockers: Blocker[] = [];
  const wanted: ["secret" | "service" | "statefulSet", TypeRef, string][] = [
    ["secret", SECRET, secretName(db.metadata.name)],
    ["service", SERVICE, db.metadata.name],
    ["statefulSet", STATEFULSET, db.metadata.name],
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
  const data = observedDataMajor(children.statefulSet, dataVolumes(observed, db));
  const major = versionMajor(spec.version);
  if (data !== undefined && major !== undefined && data.major !== major) {
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
 * Decides what to do for one PostgresDB.
 *
 * @example
 * ```ts
 * import { reconcilePostgresDB } from "./reconcile.ts";
 * import { observe } from "../reconciler.ts";
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "my-postgres", namespace: "default", uid: "u1", generation: 1 },
 *   spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "myapp" },
 * };
 * const { actions } = reconcilePostgresDB(observe(db, []), { nowMs: 0, random: { next: () => 0.5, int: (n) => n >> 1 } });
 * console.assert(actions[0]?.kind === "create");
 * ```
 */
export function reconcilePostgresDB(
  observed: Observed<PostgresDB>,
  context: ReconcileContext,
): ReconcileResult {
  const state = classify(observed);
  const db = observed.object;
  switch (state.kind) {
    case "deleting":
      return { actions: [] };
    case "invalid":
      return { actions: invalidActions(db, state.problems, context) };
    case "blocked":
      return { actions: blockedActions(db, state.blockers, context) };
    case "staleView":
      // The children were written for a newer PostgresDB than this view shows: the cache is
      // behind. Writing now would undo newer work; the newer PostgresDB's event comes next.
      return { actions: [] };
    case "credentialsMissing":
      return { actions: credentialsMissingActions(db, state.volumes, context) };
    case "majorChange":
      return { actions: majorChangeActions(db, state, context) };
    case "reconciling":
      return { actions: convergeActions(db, state.spec, state.children, context) };
  }
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

/** The PostgresDB reconciler, for the controller runtime. */
export const postgresReconciler: Reconciler<PostgresDB> = {
  name: MANAGER,
  for: POSTGRESDB,
  owns: [SECRET, SERVICE, STATEFULSET],
  // Only the operator's own Secrets are cached; a user's is read by name when it is adopted.
  cacheSelectors: [{ type: SECRET, labelSelector: { "app.kubernetes.io/managed-by": MANAGER } }],
  liveReads: credentialsLiveReads,
  watches: [
    // A retained or adopted credentials Secret has no owner: its name says whose it is.
    {
      type: SECRET,
      keyOf: (secret) => {
        const match = /^(.+)-credentials$/.exec(secret.metadata.name);
        return match && !controllerOf(secret)
          ? `${secret.metadata.namespace ?? "default"}/${match[1]}`
          : undefined;
      },
    },
    // PVCs carry the StatefulSet's selector labels: a volume coming or going wakes its PostgresDB.
    {
      type: PVC,
      keyOf: (pvc) => {
        const labels = pvc.metadata.labels ?? {};
        const name = labels["app.kubernetes.io/instance"];
        return labels["app.kubernetes.io/name"] === "postgres" && name
          ? `${pvc.metadata.namespace ?? "default"}/${name}`
          : undefined;
      },
    },
  ],
  reconcile: reconcilePostgresDB,
};

function invalidActions(
  db: PostgresDB,
  problems: FieldProblem[],
  context: ReconcileContext,
): Action[] {
  const message = `Invalid spec: ${describeProblems(problems)}`;
  return statusActions(
    db,
    {
      phase: "Failed",
      ready: false,
      reason: "InvalidSpec",
      message,
    },
    context,
    { type: "Warning", reason: "InvalidSpec" },
  );
}

function blockedActions(db: PostgresDB, blockers: Blocker[], context: ReconcileContext): Action[] {
  const previous = blockers.every((b) => b.previous);
  const names = blockers.map((b) => describeRef(refOf(b.object))).join(", ");
  const input: StatusInput = previous
    ? {
      phase: "Pending",
      ready: false,
      reason: "WaitingForPreviousChildren",
      message: `Waiting for garbage collection of ${names} left by an earlier PostgresDB ` +
        `named ${JSON.stringify(db.metadata.name)}`,
    }
    : {
      phase: "Pending",
      ready: false,
      reason: "ChildConflict",
      message: `${names} already exists and is not controlled by this PostgresDB; ` +
        "rename or delete it (the operator never overwrites it)",
    };
  return statusActions(
    db,
    input,
    context,
    previous ? undefined : { type: "Warning", reason: "ChildConflict" },
  );
}

function credentialsMissingActions(
  db: PostgresDB,
  volumes: string[],
  context: ReconcileContext,
): Action[] {
  const secret = secretName(db.metadata.name);
  const actions = statusActions(
    db,
    {
      phase: "Pending",
      ready: false,
      reason: "CredentialsMissing",
      message: `Secret ${JSON.stringify(secret)} is missing, but ${volumes.join(", ")} already ` +
        "hold a database initialised with other credentials: re-create the Secret with its " +
        "username, password and database (the operator adopts a Secret that has no owner), or " +
        "delete the volumes to start afresh",
    },
    context,
    { type: "Warning", reason: "CredentialsMissing" },
  );
  // A user's re-created Secret carries no label the operator's cache selects: look again later.
  actions.push({
    kind: "requeueAfter",
    delayMs: CREDENTIALS_RECHECK_MS,
    reason: "waiting for the credentials Secret",
  });
  return actions;
}

/**
 * A change of major is refused and nothing is written but the status: a downgrade can never run
 * on the data, and an upgrade needs pg_upgrade or a dump and restore, which the operator does not
 * do yet.
 */
function majorChangeActions(
  db: PostgresDB,
  state: { data: DataMajor; major: number; version: string },
  context: ReconcileContext,
): Action[] {
  const upgrade = state.major > state.data.major;
  const wanted = `spec.version ${JSON.stringify(state.version)} (PostgreSQL ${state.major})`;
  const have = `the data was initialised by PostgreSQL ${state.data.major} ` +
    `(${state.data.source})`;
  const message = upgrade
    ? `${wanted} is a major upgrade, but ${have}: a major upgrade needs pg_upgrade or a dump ` +
      `and restore, which the operator does not do yet; nothing was changed. Set spec.version ` +
      `back to a ${state.data.major}.x version`
    : `${wanted} is a major downgrade, but ${have}: PostgreSQL cannot start on a newer major's ` +
      `data; nothing was changed. Set spec.version back to a ${state.data.major}.x version`;
  const reason = upgrade ? "MajorUpgradeUnsupported" : "MajorDowngradeRefused";
  return statusActions(
    db,
    { phase: "Failed", ready: false, reason, message },
    context,
    { type: "Warning", reason },
  );
}

function convergeActions(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  context: ReconcileContext,
): Action[] {
  const writes: Action[] = [];
  const events: Action[] = [];
  const event = (reason: string, message: string): void => {
    events.push({ kind: "emitEvent", regarding: db, type: "Normal", eventReason: reason, message });
  };
  if (!children.secret) {
    const secret = buildCredentialsSecret(db, spec, generatePassword(context.random));
    writes.push({ kind: "create", object: secret, reason: "credentials are missing" });
    event("Created", `Created ${describeRef(refOf(secret))}`);
  } else if (children.labelSecret) {
    // Adopting writes labels only (see credentialsLabels): the user's data stays as it is.
    const adopted = credentialsLabels(children.secret, {
      ...selectorLabels(db.metadata.name),
      "app.kubernetes.io/managed-by": MANAGER,
    });
    writes.push({ kind: "apply", object: adopted, reason: "adopting the user's credentials" });
    event("Adopted", `Adopted ${describeRef(refOf(adopted))}`);
  } else {
    // Labels only, as in adoption (see credentialsLabels).
    const labels = buildCredentialsSecret(db, spec, "").metadata.labels;
    const drift = compareDesired({ metadata: { labels } }, children.secret);
    if (!drift.equal) {
      const relabelled = credentialsLabels(children.secret, labels);
      writes.push({ kind: "apply", object: relabelled, reason: drift.reason });
    }
  }
  const service = buildHeadlessService(db, spec);
  if (!children.service) {
    // Create, never apply, a Service the cache does not hold: a lagging cache may hide an earlier
    // PostgresDB's Service, and applying over it would add a second controller reference.
    writes.push({ kind: "create", object: service, reason: "missing" });
    event("Created", `Created ${describeRef(refOf(service))}`);
  } else {
    const serviceDiff = compareService(service, children.service);
    if (!serviceDiff.equal) {
      // An update of the version read, not an apply: server-side apply merges ports by port and
      // protocol, so re-applying port 5432 beside a port someone changed to 5433 (both named
      // "postgres") is rejected as invalid forever; and it keeps items other managers added.
      // A stale cache gets a conflict and a quiet retry.
      const object = repairedService(children.service, service);
      writes.push({ kind: "update", object, reason: serviceDiff.reason });
    }
  }
  const statefulSet = buildStatefulSet(db, spec);
  const resize = keepClaimTemplates(statefulSet, children.statefulSet, spec);
  if (!children.statefulSet) {
    // Create, never apply, a StatefulSet the cache does not hold: if the cache is only behind,
    // the existing one may have other (immutable) claim templates, and creating it fails
    // harmlessly with AlreadyExists where applying would be rejected as an invalid update.
    writes.push({ kind: "create", object: statefulSet, reason: "missing" });
    event("Created", `Created ${describeRef(refOf(statefulSet))}`);
  } else {
    // The spec first, so that the reason names what changes for the database, not the bookkeeping.
    const specDiff = compareDesired({ spec: statefulSet.spec }, children.statefulSet);
    const diff = specDiff.equal ? compareDesired(statefulSet, children.statefulSet) : specDiff;
    if (!diff.equal) {
      // An update of the version that was read: if the cache was behind (the StatefulSet was
      // changed, or deleted and re-created, since), the server answers Conflict and the next
      // reconcile sees the current one.
      const object = overlay(withoutServerFields(children.statefulSet), statefulSet);
      writes.push({ kind: "update", object, reason: diff.reason });
      const before = (children.statefulSet.spec as { replicas?: number } | undefined)?.replicas;
      if (before !== spec.replicas) {
        event("Scaled", `Scaling from ${before ?? 0} to ${spec.replicas} instances`);
      }
    }
  }
  const input = readiness(db, spec, children.statefulSet, writes.length > 0);
  input.extra = resize;
  const wasReady = findCondition(db.status?.conditions, READY)?.status === "True";
  if (input.ready && !wasReady) {
    event("Ready", `${spec.replicas}/${spec.replicas} instances ready`);
  }
  return [...writes, ...statusActions(db, input, context), ...events];
}

/**
 * Readiness from the StatefulSet. When this reconcile writes, the observed StatefulSet describes
 * the old spec, so nothing is claimed ready until the next reconcile sees the result.
 */
function readiness(
  db: PostgresDB,
  spec: ValidSpec,
  statefulSet: KubeObject | undefined,
  writing: boolean,
): StatusInput {
  const namespace = db.metadata.namespace ?? "default";
  const connection = connectionString(db.metadata.name, namespace, spec.databaseName);
  if (!statefulSet || writing) {
    return {
      phase: statefulSet ? "Creating" : "Pending",
      ready: false,
      reason: "Provisioning",
      message: "Creating or updating the database's objects",
      connectionString: connection,
    };
  }
  const facts = statefulSetReadiness(statefulSet);
  const ready = facts.current && facts.readyReplicas >= spec.replicas &&
    facts.updatedReplicas >= spec.replicas;
  return {
    phase: ready ? "Running" : "Creating",
    ready,
    reason: ready ? "InstancesReady" : "InstancesNotReady",
    message: `${Math.min(facts.readyReplicas, spec.replicas)}/${spec.replicas} instances ready`,
    connectionString: connection,
    readyReplicas: facts.readyReplicas,
  };
}

/**
 * Volume claim templates are immutable: keep the observed ones and report a storage change
 * instead of failing every write of the StatefulSet.
 */
function keepClaimTemplates(
  desired: KubeObject,
  observed: KubeObject | undefined,
  spec: ValidSpec,
): ExtraConditions {
  const have = observed ? observedStorage(observed) : undefined;
  if (!observed || have === undefined) return { set: [], remove: ["VolumeResize"] };
  (desired.spec as Record<string, unknown>).volumeClaimTemplates =
    (observed.spec as Record<string, unknown>).volumeClaimTemplates;
  if (
    compareDesired({ requests: { storage: spec.storage } }, { requests: { storage: have } }).equal
  ) {
    return { set: [], remove: ["VolumeResize"] };
  }
  return {
    set: [{
      type: "VolumeResize",
      status: "False",
      reason: "NotSupported",
      message: `spec.storage ${JSON.stringify(spec.storage)} differs from the volumes' ` +
        `${JSON.stringify(have)}: resizing existing volumes is not supported yet`,
    }],
    remove: [],
  };
}

/** A status write when the status changed, and a warning event when the Ready reason changed. */
function statusActions(
  db: PostgresDB,
  input: StatusInput,
  context: ReconcileContext,
  warning?: { type: "Warning"; reason: string },
): Action[] {
  const status = buildStatus(db, input, context.nowMs);
  if (sameStatus(db.status, status)) return [];
  const patch: Action = {
    kind: "patchStatus",
    target: refOf(db),
    status: status as Record<string, unknown>,
    reason: `${input.reason}: ${input.message}`,
  };
  if (db.metadata.resourceVersion) patch.resourceVersion = db.metadata.resourceVersion;
  const actions: Action[] = [patch];
  const previous = findCondition(db.status?.conditions, READY);
  if (warning && (previous?.reason !== input.reason || previous.message !== input.message)) {
    actions.push({
      kind: "emitEvent",
      regarding: db,
      type: warning.type,
      eventReason: warning.reason,
      message: input.message,
    });
  }
  return actions;
}

function sameStatus(stored: PostgresDBStatus | undefined, next: PostgresDBStatus): boolean {
  return stored !== undefined && jsonEqual(stored, next);
}

/** A copy of a stored object to write back: no status, no managed fields. */
function withoutServerFields(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  delete copy.status;
  delete copy.metadata.managedFields;
  return copy;
}

/** How often a PostgresDB waiting for its credentials reads the Secret again. */
export const CREDENTIALS_RECHECK_MS = 30_000;

/** True when the Secret carries the labels that the operator's Secret cache selects. */
function hasCacheLabels(secret: KubeObject, db: PostgresDB): boolean {
  const labels = secret.metadata.labels ?? {};
  return labels["app.kubernetes.io/managed-by"] === MANAGER &&
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

function isPreviousIncarnation(child: KubeObject, db: PostgresDB): boolean {
  const owner = controllerOf(child);
  return owner !== undefined && owner.kind === db.kind && owner.name === db.metadata.name &&
    owner.uid !== db.metadata.uid;
}

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
