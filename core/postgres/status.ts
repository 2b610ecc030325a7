/**
 * The PostgresDB status: phase, readiness, the connection string and conditions, computed from
 * what was observed. Written only when it differs from the stored status.
 *
 * @module
 */

import { setCondition } from "../conditions.ts";
import type { ConditionInput } from "../conditions.ts";
import type { KubeObject } from "../object.ts";
import type { ReplicationStatus } from "./instances.ts";
import type {
  Phase,
  PostgresDB,
  PostgresDBStatus,
  RestoreStatus,
  StorageStatus,
  UpgradeStatus,
} from "./types.ts";

/** The condition that `kubectl wait --for=condition=Ready` reads. */
export const READY = "Ready";

/** Reasons of the Ready condition. */
export type ReadyReason =
  | "InstancesReady"
  | "InstancesNotReady"
  | "Provisioning"
  | "InvalidSpec"
  | "ChildConflict"
  | "CredentialsMissing"
  | "WaitingForPreviousChildren"
  | "MajorUpgradeUnsupported"
  | "MajorDowngradeRefused"
  | "Restoring"
  | "RestoreFailed"
  | "Upgrading"
  | "MajorUpgradeFailed"
  | "RecreatingStatefulSet";

/** Extra conditions to set, and condition types to remove. */
export interface ExtraConditions {
  /** Conditions to set (their transition time kept when the status does not change). */
  set: ConditionInput[];
  /** Condition types to remove. */
  remove: string[];
}

/** What the status is built from. */
export interface StatusInput {
  /** The phase `kubectl get postgresdbs` shows. */
  phase: Phase;
  /** The `ready` field, and the Ready condition's status. */
  ready: boolean;
  /** The Ready condition's reason. */
  reason: ReadyReason;
  /** The Ready condition's message. */
  message: string;
  /** The connection string. Absent to keep the stored one. */
  connectionString?: string;
  /** The read-only connection string. Absent to keep the stored one. */
  readOnlyConnectionString?: string;
  /** The StatefulSet's ready instances. Absent to keep the stored count. */
  readyReplicas?: number;
  /** The replication facts (primary, instances, streaming standbys). Absent to keep the stored. */
  replication?: ReplicationStatus;
  /** Extra conditions to set, and types to remove. */
  extra?: ExtraConditions;
  /** The restore's record. Absent to keep the stored one. */
  restore?: RestoreStatus;
  /** The major upgrade's record. Absent to keep the stored one. */
  upgrade?: UpgradeStatus;
  /** The storage change's record. Absent to keep the stored one; null to remove it. */
  storage?: StorageStatus | null;
}

/** Builds the next status from the stored one, keeping transition times where nothing changed. */
export function buildStatus(db: PostgresDB, input: StatusInput, nowMs: number): PostgresDBStatus {
  const previous = db.status ?? {};
  const generation = db.metadata.generation ?? 0;
  let conditions = setCondition(previous.conditions, {
    type: READY,
    status: input.ready ? "True" : "False",
    reason: input.reason,
    message: input.message,
    observedGeneration: generation,
  }, nowMs);
  for (const extra of input.extra?.set ?? []) {
    conditions = setCondition(conditions, { ...extra, observedGeneration: generation }, nowMs);
  }
  const removed = new Set(input.extra?.remove ?? []);
  conditions = conditions.filter((c) => !removed.has(c.type));
  const status: PostgresDBStatus = {
    phase: input.phase,
    ready: input.ready,
    observedGeneration: generation,
    conditions,
  };
  const connection = input.connectionString ?? previous.connectionString;
  if (connection !== undefined) status.connectionString = connection;
  const readOnly = input.readOnlyConnectionString ?? previous.readOnlyConnectionString;
  if (readOnly !== undefined) status.readOnlyConnectionString = readOnly;
  const readyReplicas = input.readyReplicas ?? previous.readyReplicas;
  if (readyReplicas !== undefined) status.readyReplicas = readyReplicas;
  const restore = input.restore ?? previous.restore;
  if (restore !== undefined) status.restore = restore;
  const upgrade = input.upgrade ?? previous.upgrade;
  if (upgrade !== undefined) status.upgrade = upgrade;
  const storage = input.storage === undefined ? previous.storage : input.storage;
  if (storage !== undefined && storage !== null) status.storage = storage;
  return { ...status, ...replicationFields(previous, input.replication) };
}

/** The replication fields of the status: from `replication`, or kept from `previous`. */
function replicationFields(
  previous: PostgresDBStatus,
  replication: ReplicationStatus | undefined,
): PostgresDBStatus {
  if (replication === undefined) {
    const { targetPrimary, primaryTerm, currentPrimary, instances, readyInstances } = previous;
    const { primaryUnavailableSince, failover, switchoverHandled } = previous;
    const kept = {
      targetPrimary,
      primaryTerm,
      currentPrimary,
      instances,
      readyInstances,
      primaryUnavailableSince,
      failover,
      switchoverHandled,
    };
    const out = Object.fromEntries(
      Object.entries({ ...kept, streamingStandbys: previous.streamingStandbys })
        .filter(([, v]) => v !== undefined),
    );
    return out as PostgresDBStatus;
  }
  const out: PostgresDBStatus = {
    targetPrimary: replication.targetPrimary,
    primaryTerm: replication.primaryTerm,
    instances: replication.instances,
    readyInstances: replication.readyInstances,
    streamingStandbys: replication.streamingStandbys,
  };
  if (replication.currentPrimary !== undefined) out.currentPrimary = replication.currentPrimary;
  if (replication.primaryUnavailableSince !== undefined) {
    out.primaryUnavailableSince = replication.primaryUnavailableSince;
  }
  if (replication.failover !== undefined) out.failover = replication.failover;
  if (replication.switchoverHandled !== undefined) {
    out.switchoverHandled = replication.switchoverHandled;
  }
  return out;
}

/** The readiness facts of an observed StatefulSet. */
export interface StatefulSetReadiness {
  /** Instances that pass their readiness probe. */
  readyReplicas: number;
  /**
   * Instances running the current pod template: during a rolling update (a version change) the
   * ready ones may still be old. Equal to `readyReplicas` when the status does not say.
   */
  updatedReplicas: number;
  /** The StatefulSet controller has seen the StatefulSet's current spec. */
  current: boolean;
}

/** Reads readiness from a StatefulSet's status. */
export function statefulSetReadiness(statefulSet: KubeObject): StatefulSetReadiness {
  const status = (statefulSet.status ?? {}) as {
    readyReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
  };
  const generation = statefulSet.metadata.generation ?? 0;
  return {
    readyReplicas: status.readyReplicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? status.readyReplicas ?? 0,
    current: (status.observedGeneration ?? -1) >= generation,
  };
}
