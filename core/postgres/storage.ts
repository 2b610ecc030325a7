/**
 * Storage growth: a larger `spec.storage` grows every data volume (PVC) in place, then the
 * StatefulSet's claim template follows. Pure: every decision rests on what is observed (the PVCs'
 * requests and capacities, the StatefulSet's claim template, its StorageClass) and on the stored
 * `status.storage`, so an operator that crashes at any step continues where it was.
 *
 * The order: the standbys' volumes first (highest ordinal first), the primary's last, one at a
 * time: a volume's request is raised only once every volume before it has the new capacity. Then
 * `status.storage.phase` becomes `Recreating` (a status write, nothing else); the pods (and, with
 * deletion policy `Delete`, the volumes) get an owner reference to the PostgresDB, so that one
 * deleted meanwhile takes them along; then a reconcile that sees every reference deletes the
 * StatefulSet with `propagationPolicy: Orphan` (claim templates are immutable), creates it again with the new template, and waits until the StatefulSet controller
 * has adopted the pods, which keep running. While the StatefulSet is re-created, the reconcile
 * decides nothing else (no failover, no rollout, no role label) and the status keeps its
 * readiness: the pods are untouched.
 *
 * A smaller `spec.storage` is refused (`VolumeResize=False ShrinkRefused`), a class without
 * `allowVolumeExpansion` too (`ExpansionNotSupported`): nothing about storage changes.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { toTimestamp } from "../clock.ts";
import type { ConditionInput } from "../conditions.ts";
import { findCondition } from "../conditions.ts";
import { controllerOf, type KubeObject, refOf } from "../object.ts";
import { parseQuantity } from "../quantity.ts";
import { podOrdinal } from "./naming.ts";
import { DATA_CLAIM, observedStorage } from "./statefulset.ts";
import { normalEvent } from "./step.ts";
import type { ExtraConditions } from "./status.ts";
import type { PostgresDB, StorageStatus, ValidSpec } from "./types.ts";

/** The condition that reports storage changes. */
export const VOLUME_RESIZE = "VolumeResize";

/** The annotation that marks the cluster's default StorageClass. */
export const DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class";

/** How long a volume may take to reach its new capacity before the condition says it is slow. */
export const SLOW_RESIZE_MS = 5 * 60_000;

/** How often a slow volume is looked at again (a capacity change wakes the reconcile anyway). */
export const RESIZE_RECHECK_MS = 60_000;

/** What the storage step observes. */
export interface StorageFacts {
  /** The StatefulSet the PostgresDB controls, if the cache holds it (terminating or not). */
  statefulSet?: KubeObject | undefined;
  /** The data volumes that exist, by ordinal. */
  claims: readonly KubeObject[];
  /** The StorageClass of the volumes, when found. */
  storageClass?: KubeObject | undefined;
  /** The class name the volumes ask for (absent: the default class). */
  className?: string | undefined;
  /** Pods of the instances that the StatefulSet does not control (yet): orphans to adopt. */
  unadoptedPods: number;
  /**
   * The instances' pods the cache holds, whoever controls them: before the orphaning delete, each
   * gets an owner reference to the PostgresDB. @default []
   */
  pods?: readonly KubeObject[];
  /**
   * False when a live read shows the PostgresDB gone or being deleted: orphaning its pods and
   * volumes then would keep them from the garbage collector. @default true
   */
  ownerLive?: boolean;
}

/** What the storage step decided. */
export interface StoragePlan {
  /** The claim templates a StatefulSet update must carry: the observed ones (immutable). */
  claimTemplates: unknown;
  /** Writes: at most one PVC update, or the StatefulSet's orphaning delete. */
  writes: Action[];
  /** Normal events. */
  events: Action[];
  /** `VolumeResize` to set, or its removal. */
  conditions: ExtraConditions;
  /** The next `status.storage`; null removes it. */
  status: StorageStatus | null;
  /**
   * The StatefulSet is being re-created: nothing but the storage step's writes (and creating the
   * StatefulSet when it is gone) may happen, and the status keeps its readiness.
   */
  recreating: boolean;
  /** Look again after this long (a slow volume). */
  requeueAfterMs?: number;
}

/**
 * The next step of a storage change.
 *
 * @example
 * ```ts
 * import { planStorage } from "./storage.ts";
 * const db = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata: { name: "db" } };
 * const spec = {
 *   version: "16", storage: "1Gi", replicas: 1, databaseName: "app", deletionPolicy: "Retain" as const,
 *   failoverDelay: 0, maxFailoverLagBytes: 0,
 * };
 * const plan = planStorage(db, spec, { facts: { claims: [], unadoptedPods: 0 }, nowMs: 0 });
 * console.assert(plan.writes.length === 0 && plan.conditions.remove[0] === "VolumeResize");
 * ```
 */
export function planStorage(
  db: PostgresDB,
  spec: ValidSpec,
  options: PlanStorageOptions,
): StoragePlan {
  const { facts, nowMs } = options;
  const sts = facts.statefulSet;
  const previous = db.status?.storage;
  const claimTemplates = sts
    ? (sts.spec as Record<string, unknown>).volumeClaimTemplates
    : undefined;
  const base = { claimTemplates, writes: [], events: [], recreating: false };
  const want = bytes(spec.storage);
  const recreatingBefore = previous?.phase === "Recreating";
  // The StatefulSet is gone or going, or not yet in charge of the pods: re-creation under way.
  if (recreatingBefore && (!sts || sts.metadata.deletionTimestamp || !adopted(sts, facts))) {
    return recreating(db, spec, facts, previous, "the pods keep running");
  }
  const haveText = sts ? observedStorage(sts) : undefined;
  if (sts === undefined || haveText === undefined) {
    return { ...base, conditions: removeResize(), status: previous ?? null };
  }
  const have = bytes(haveText);
  const current = smallestCapacity(facts.claims) ?? haveText;
  if (want < have) {
    const message = `spec.storage ${JSON.stringify(spec.storage)} is smaller than the volumes' ` +
      `${JSON.stringify(haveText)}: volumes cannot shrink; nothing about storage was changed`;
    return refused(db, base, "ShrinkRefused", message, { requested: spec.storage, current });
  }
  const small = facts.claims.filter((c) => !grown(c, want));
  if (small.length > 0) {
    const expandable = facts.storageClass?.allowVolumeExpansion === true;
    if (!expandable) {
      const name = facts.className ?? "(the default class)";
      const why = facts.storageClass === undefined
        ? `the StorageClass ${JSON.stringify(name)} was not found`
        : `the StorageClass ${JSON.stringify(name)} does not allow volume expansion`;
      const message = `spec.storage ${JSON.stringify(spec.storage)} is larger than the volumes' ` +
        `${JSON.stringify(current)}, but ${why}; nothing about storage was changed`;
      return refused(db, base, "ExpansionNotSupported", message, {
        requested: spec.storage,
        current,
      });
    }
    return { ...base, ...expandStep(db, spec, facts.claims, nowMs), recreating: false };
  }
  if (have < want) {
    // Every volume has the new size: the claim template follows, once nothing else moves (every
    // instance ready on the current template, no failover): the new StatefulSet then adopts the
    // pods and takes their volumes back at once.
    if (!quiet(db)) {
      return {
        ...base,
        conditions: resizing(
          `Volumes grown to ${spec.storage}; waiting for every instance to be ready before ` +
            "re-creating the StatefulSet",
        ),
        status: {
          requested: spec.storage,
          current,
          phase: recreatingBefore ? "Recreating" : "Expanding",
        },
      };
    }
    if (!recreatingBefore) {
      return {
        ...base,
        events: expandedEvents(db, spec, facts.claims, previous),
        conditions: resizing(`Volumes grown to ${spec.storage}; re-creating the StatefulSet`),
        status: { requested: spec.storage, current, phase: "Recreating" },
      };
    }
    // Read live before orphaning: a cache that still shows a deleted PostgresDB would leave its
    // pods and volumes to nobody.
    if (facts.ownerLive === false) {
      return recreating(db, spec, facts, previous, "orphaning the pods");
    }
    // The pods (and, with deletion policy Delete, the volumes) are the PostgresDB's too before
    // the StatefulSet lets them go: a PostgresDB deleted while it is re-created takes them along.
    const tie = tieToOwner(db, spec, facts);
    if (tie.length > 0) {
      return recreatingWrites(db, spec, facts, previous, tie, "tying the pods to the database");
    }
    const plan = recreating(db, spec, facts, previous, "orphaning the pods");
    plan.writes.push({
      kind: "delete",
      target: refOf(sts),
      uid: sts.metadata.uid ?? "",
      propagationPolicy: "Orphan",
      reason: `the claim template asks for ${haveText}, the volumes have ${spec.storage}`,
    });
    return plan;
  }
  if (recreatingBefore && spec.deletionPolicy === "Delete") {
    // Orphaning took every volume from the StatefulSet; the new one takes back only those of its
    // replicas. A volume kept from a scale-down must go with the database too.
    const writes = reclaimVolumes(sts, facts.claims);
    if (writes.length > 0) {
      return recreatingWrites(
        db,
        spec,
        facts,
        previous,
        writes,
        "its volumes are handed back to it",
      );
    }
  }
  return settled(db, spec, base, previous, current);
}

/** Owner references back to the StatefulSet on the volumes that lost theirs. */
function reclaimVolumes(sts: KubeObject, claims: readonly KubeObject[]): Action[] {
  const uid = sts.metadata.uid ?? "";
  // Only a volume nobody controls: the StatefulSet controller may have taken it back already.
  return claims.filter((c) => controllerOf(c) === undefined)
    .map((claim) => {
      const object = structuredClone(claim);
      delete object.status;
      delete object.metadata.managedFields;
      object.metadata.ownerReferences = [...(claim.metadata.ownerReferences ?? []), {
        apiVersion: sts.apiVersion,
        kind: sts.kind,
        name: sts.metadata.name,
        uid,
        controller: true,
        blockOwnerDeletion: true,
      }];
      return {
        kind: "update" as const,
        object,
        reason: "the StatefulSet was re-created: its volumes go with it (deletion policy Delete)",
      };
    });
}

function recreatingWrites(
  db: PostgresDB,
  spec: ValidSpec,
  facts: StorageFacts,
  previous: StorageStatus | undefined,
  writes: Action[],
  note: string,
): StoragePlan {
  const plan = recreating(db, spec, facts, previous, note);
  plan.writes.push(...writes);
  return plan;
}

/**
 * Updates that add an owner reference to the PostgresDB (not a controller one) to each pod, and
 * with deletion policy `Delete` to each volume, that lacks it. The orphaning delete of the
 * StatefulSet strips only the StatefulSet's references: without this, a PostgresDB deleted before
 * the new StatefulSet adopts them would leave its pods running and its volumes kept, owned by
 * nobody.
 *
 * @example
 * ```ts
 * import { tieToOwner } from "./storage.ts";
 * const db = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata: { name: "db", uid: "u1" } };
 * const spec = {
 *   version: "16", storage: "2Gi", replicas: 1, databaseName: "app", deletionPolicy: "Retain" as const,
 *   failoverDelay: 0, maxFailoverLagBytes: 0,
 * };
 * const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "db-0" } };
 * const writes = tieToOwner(db, spec, { claims: [], unadoptedPods: 0, pods: [pod] });
 * console.assert(writes.length === 1);
 * ```
 */
export function tieToOwner(db: PostgresDB, spec: ValidSpec, facts: StorageFacts): Action[] {
  const uid = db.metadata.uid ?? "";
  // A pod another controller runs is not the database's to take.
  const stsUid = facts.statefulSet?.metadata.uid;
  const pods = (facts.pods ?? []).filter((p) => {
    const controller = controllerOf(p);
    return controller === undefined || controller.uid === stsUid;
  });
  const objects = [
    ...pods,
    ...(spec.deletionPolicy === "Delete" ? facts.claims : []),
  ];
  return objects.filter((o) =>
    !o.metadata.deletionTimestamp &&
    !(o.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid)
  ).map((o) => {
    const { status: _status, ...body } = o;
    const { managedFields: _fields, ...metadata } = o.metadata;
    const object = structuredClone({ ...body, metadata });
    object.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), {
      apiVersion: db.apiVersion,
      kind: db.kind,
      name: db.metadata.name,
      uid,
    }];
    return {
      kind: "update" as const,
      object,
      reason: "the StatefulSet is re-created: the database owns its pods and volumes meanwhile",
    };
  });
}

/** Options of {@link planStorage}. */
export interface PlanStorageOptions {
  /** What was observed. */
  facts: StorageFacts;
  /** The current time in epoch milliseconds. */
  nowMs: number;
}

/** The claim template equals the spec and every volume has it: done, or nothing happened. */
function settled(
  db: PostgresDB,
  spec: ValidSpec,
  base: Pick<StoragePlan, "claimTemplates" | "writes" | "events" | "recreating">,
  previous: StorageStatus | undefined,
  current: string,
): StoragePlan {
  if (previous === undefined) return { ...base, conditions: removeResize(), status: null };
  if (previous.phase === "Refused") {
    // A refused change was taken back: nothing was done, nothing to say.
    return { ...base, conditions: removeResize(), status: null };
  }
  const status: StorageStatus = { requested: spec.storage, current, phase: "Resized" };
  const condition: ConditionInput = {
    type: VOLUME_RESIZE,
    status: "True",
    reason: "Resized",
    message: `Every volume and the claim template have ${spec.storage}`,
  };
  const events = previous.phase === "Resized"
    ? []
    : [normalEvent(db, "StorageResized", `Storage grown to ${spec.storage}`)];
  return { ...base, events, conditions: { set: [condition], remove: [] }, status };
}

/** A refused change: a condition, a warning when it is new, nothing else. */
function refused(
  db: PostgresDB,
  base: Pick<StoragePlan, "claimTemplates" | "writes" | "events" | "recreating">,
  reason: string,
  message: string,
  sizes: { requested: string; current: string },
): StoragePlan {
  const before = findCondition(db.status?.conditions, VOLUME_RESIZE);
  const events: Action[] = before?.reason === reason && before.message === message ? [] : [{
    kind: "emitEvent",
    regarding: db,
    type: "Warning",
    eventReason: reason,
    message,
  }];
  return {
    ...base,
    events,
    conditions: { set: [{ type: VOLUME_RESIZE, status: "False", reason, message }], remove: [] },
    status: { ...sizes, phase: "Refused" },
  };
}

/** The StatefulSet is being re-created: wait, write the status, and nothing else. */
function recreating(
  _db: PostgresDB,
  spec: ValidSpec,
  facts: StorageFacts,
  previous: StorageStatus | undefined,
  note: string,
): StoragePlan {
  const claimTemplates = facts.statefulSet
    ? (facts.statefulSet.spec as Record<string, unknown>).volumeClaimTemplates
    : undefined;
  return {
    claimTemplates,
    writes: [],
    events: [],
    conditions: resizing(`Re-creating the StatefulSet with ${spec.storage} volumes: ${note}`),
    status: {
      requested: spec.storage,
      current: smallestCapacity(facts.claims) ?? previous?.current ?? spec.storage,
      phase: "Recreating",
    },
    recreating: true,
  };
}

/** Grows the next volume, or waits for the one that grows. */
function expandStep(
  db: PostgresDB,
  spec: ValidSpec,
  claims: readonly KubeObject[],
  nowMs: number,
): Pick<StoragePlan, "writes" | "events" | "conditions" | "status" | "requeueAfterMs"> {
  const want = bytes(spec.storage);
  const previous = db.status?.storage;
  const current = smallestCapacity(claims) ?? spec.storage;
  const events = expandedEvents(db, spec, claims, previous);
  const next = expansionOrder(db, claims).find((c) => !grown(c, want))!;
  const name = next.metadata.name;
  const started = previous?.phase === "Expanding" && previous.requested === spec.storage;
  // Said once, from what is observed: no volume asks for the new size yet.
  if (claims.every((c) => bytes(request(c) ?? "0") < want)) {
    events.push(normalEvent(
      db,
      "VolumeExpansionStarted",
      `Growing ${claims.length} volumes from ${current} to ${spec.storage}, standbys first`,
    ));
  }
  const since = started && previous.resizing === name && previous.since !== undefined
    ? previous.since
    : toTimestamp(nowMs);
  const status: StorageStatus = {
    requested: spec.storage,
    current,
    phase: "Expanding",
    resizing: name,
    since,
  };
  if (bytes(request(next) ?? "0") < want) {
    if ((next.status as { phase?: string } | undefined)?.phase !== "Bound") {
      const message = `Waiting for the volume ${JSON.stringify(name)} to be bound before it grows`;
      return { writes: [], events, conditions: resizing(message), status };
    }
    return {
      writes: [{
        kind: "update",
        object: withRequest(next, spec.storage),
        reason: "storage grows",
      }],
      events,
      conditions: resizing(`Growing ${JSON.stringify(name)} to ${spec.storage}`),
      status,
    };
  }
  const waitedMs = nowMs - Date.parse(since);
  const slow = waitedMs >= SLOW_RESIZE_MS;
  const message = `Waiting for ${JSON.stringify(name)} to reach ${spec.storage} (capacity ` +
    `${capacity(next) ?? "unknown"})` +
    (slow ? `: it has not followed for ${Math.floor(waitedMs / 60_000)} minutes` : "");
  return {
    writes: [],
    events,
    conditions: resizing(message),
    status,
    requeueAfterMs: RESIZE_RECHECK_MS,
  };
}

/** `VolumeExpanded` for the volume the status waited for, once it has the new capacity. */
function expandedEvents(
  db: PostgresDB,
  spec: ValidSpec,
  claims: readonly KubeObject[],
  previous: StorageStatus | undefined,
): Action[] {
  if (previous?.phase !== "Expanding" || previous.resizing === undefined) return [];
  const claim = claims.find((c) => c.metadata.name === previous.resizing);
  if (claim === undefined || bytes(capacity(claim) ?? "0") < bytes(spec.storage)) return [];
  return [
    normalEvent(
      db,
      "VolumeExpanded",
      `Volume ${JSON.stringify(claim.metadata.name)} has ${capacity(claim)}`,
    ),
  ];
}

/**
 * The order volumes grow in: the standbys' (highest ordinal first), then the primary's.
 *
 * @example
 * ```ts
 * import { expansionOrder } from "./storage.ts";
 * const db = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata: { name: "db" }, status: { targetPrimary: "db-1" } };
 * const pvc = (name: string) => ({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name } });
 * const order = expansionOrder(db, [pvc("data-db-0"), pvc("data-db-1"), pvc("data-db-2")]);
 * console.assert(order.map((c) => c.metadata.name).join() === "data-db-2,data-db-0,data-db-1");
 * ```
 */
export function expansionOrder(db: PostgresDB, claims: readonly KubeObject[]): KubeObject[] {
  const name = db.metadata.name;
  const primary = db.status?.currentPrimary || db.status?.targetPrimary || `${name}-0`;
  const primaryClaim = `${DATA_CLAIM}-${primary}`;
  const ordinal = (c: KubeObject) =>
    podOrdinal(name, c.metadata.name.slice(DATA_CLAIM.length + 1)) ?? -1;
  return [...claims].sort((a, b) => {
    const pa = a.metadata.name === primaryClaim ? 1 : 0;
    const pb = b.metadata.name === primaryClaim ? 1 : 0;
    return pa - pb || ordinal(b) - ordinal(a);
  });
}

/** Every instance ready on the current template, and no failover or switchover under way. */
function quiet(db: PostgresDB): boolean {
  const failover = db.status?.failover;
  return db.status?.ready === true &&
    (failover === undefined || failover.completedAt !== undefined);
}

/** True once the StatefulSet controller runs the current StatefulSet and controls every pod. */
function adopted(sts: KubeObject, facts: StorageFacts): boolean {
  const status = sts.status as { observedGeneration?: number } | undefined;
  return facts.unadoptedPods === 0 &&
    (status?.observedGeneration ?? -1) >= (sts.metadata.generation ?? 0);
}

/** The pods named like the instances that the StatefulSet does not control. */
export function countUnadopted(pods: readonly KubeObject[], sts: KubeObject | undefined): number {
  return pods.filter((p) =>
    !p.metadata.deletionTimestamp && controllerOf(p)?.uid !== sts?.metadata.uid
  ).length;
}

function resizing(message: string): ExtraConditions {
  return {
    set: [{ type: VOLUME_RESIZE, status: "False", reason: "Resizing", message }],
    remove: [],
  };
}

function removeResize(): ExtraConditions {
  return { set: [], remove: [VOLUME_RESIZE] };
}

/** A PVC with a new request, to write back as an update of the version read. */
function withRequest(pvc: KubeObject, storage: string): KubeObject {
  const { status: _status, ...body } = pvc;
  const { managedFields: _fields, ...metadata } = pvc.metadata;
  const copy = structuredClone({ ...body, metadata }) as KubeObject & {
    spec?: { resources?: { requests?: Record<string, string> } };
  };
  copy.spec ??= {};
  copy.spec.resources ??= {};
  copy.spec.resources.requests = { ...copy.spec.resources.requests, storage };
  return copy;
}

/** A PVC's `spec.resources.requests.storage`. */
export function request(pvc: KubeObject): string | undefined {
  const value = (pvc.spec as { resources?: { requests?: { storage?: unknown } } } | undefined)
    ?.resources?.requests?.storage;
  return typeof value === "string" ? value : undefined;
}

/** A PVC's `status.capacity.storage`. */
export function capacity(pvc: KubeObject): string | undefined {
  const value = (pvc.status as { capacity?: { storage?: unknown } } | undefined)?.capacity
    ?.storage;
  return typeof value === "string" ? value : undefined;
}

/**
 * True when a volume has `want` bytes: its capacity, or for a claim not bound yet its request
 * (it is provisioned at that size).
 */
function grown(claim: KubeObject, want: number): boolean {
  const bound = (claim.status as { phase?: string } | undefined)?.phase === "Bound";
  return bound ? bytes(capacity(claim) ?? "0") >= want : bytes(request(claim) ?? "0") >= want;
}

/** The smallest capacity among the volumes, as written, or undefined when none reports one. */
function smallestCapacity(claims: readonly KubeObject[]): string | undefined {
  let smallest: string | undefined;
  for (const claim of claims) {
    const text = capacity(claim);
    if (text !== undefined && (smallest === undefined || bytes(text) < bytes(smallest))) {
      smallest = text;
    }
  }
  return smallest;
}

/** Bytes of a quantity (0 for text that is not one: it never counts as grown). */
function bytes(text: string): number {
  const parsed = parseQuantity(text);
  return parsed.ok ? parsed.value : 0;
}
