/**
 * The instances of a PostgresDB as the operator sees them: its StatefulSet's pods and the reports
 * their agents wrote on them; the role label each pod must carry; and the replication facts of the
 * status (target and current primary, streaming standbys, the `Replicating` condition). Pure.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { type ConditionInput, findCondition } from "../conditions.ts";
import { controllerOf, type KubeObject } from "../object.ts";
import type { Observed } from "../reconciler.ts";
import { ROLE_LABEL, type RoleLabel } from "./labels.ts";
import { podName } from "./naming.ts";
import { isFresh, type PodReport, readReport } from "./replication.ts";
import { PRIMARY_DATA_LOST, type TargetChoice } from "./target.ts";
import type { FailoverPlan } from "./failover.ts";
import { type FailoverStatus, type InstanceStatus, POD, type PostgresDB } from "./types.ts";
import { MAX_REPLICAS } from "./validate.ts";

/** One instance: its pod and its agent's last report. */
export interface Instance {
  /** The pod, as cached. */
  pod: KubeObject;
  /** The report on it, if any. */
  report?: PodReport | undefined;
}

/** The pods of the StatefulSet `statefulSetUid` controls, by ordinal, with their reports. */
export function findInstances(
  observed: Observed<PostgresDB>,
  statefulSetUid: string | undefined,
): Instance[] {
  if (statefulSetUid === undefined) return [];
  const db = observed.object;
  const found: Instance[] = [];
  for (let ordinal = 0; ordinal < MAX_REPLICAS; ordinal++) {
    const name = podName(db.metadata.name, ordinal);
    const pod = observed.lookup({ ...POD, namespace: db.metadata.namespace, name });
    if (!pod || controllerOf(pod)?.uid !== statefulSetUid || pod.metadata.deletionTimestamp) {
      continue;
    }
    found.push({ pod, report: readReport(pod) });
  }
  return found;
}

/**
 * The role label a pod must carry: `primary` on the target primary once its report of the current
 * term says primary; `standby` on a pod whose report says standby; none otherwise.
 */
export function wantedRole(
  instance: Instance,
  targetPrimary: string,
  primaryTerm: number,
): RoleLabel | undefined {
  const report = instance.report;
  if (instance.pod.metadata.name === targetPrimary) {
    return isFresh(report, primaryTerm) && report!.role === "primary" ? "primary" : undefined;
  }
  return report?.role === "standby" ? "standby" : undefined;
}

/** Updates (of the version read) of the pods whose role label differs from {@link wantedRole}. */
export function roleLabelWrites(
  instances: readonly Instance[],
  targetPrimary: string,
  primaryTerm: number,
): Action[] {
  const writes: Action[] = [];
  for (const instance of instances) {
    const want = wantedRole(instance, targetPrimary, primaryTerm);
    const have = instance.pod.metadata.labels?.[ROLE_LABEL];
    if (have === want) continue;
    // A shallow copy without status and managed fields: the write sends it, nothing changes it.
    const { status: _status, ...body } = instance.pod;
    const { managedFields: _fields, ...metadata } = instance.pod.metadata;
    const labels = { ...metadata.labels };
    if (want === undefined) delete labels[ROLE_LABEL];
    else labels[ROLE_LABEL] = want;
    const pod: KubeObject = { ...body, metadata: { ...metadata, labels } };
    const reason = `role label: want ${JSON.stringify(want ?? null)}, have ${
      JSON.stringify(have ?? null)
    }`;
    writes.push({ kind: "update", object: pod, reason });
  }
  return writes;
}

/** The replication part of the status. */
export interface ReplicationStatus {
  /** The target primary. */
  targetPrimary: string;
  /** Its term. */
  primaryTerm: number;
  /** The target, once its report of this term says primary. */
  currentPrimary?: string;
  /** Each pod's report, by ordinal. */
  instances: InstanceStatus[];
  /** Pods whose report says ready. */
  readyInstances: number;
  /** Standbys that stream from the current primary. */
  streamingStandbys: number;
  /** The `Replicating` condition. */
  condition: ConditionInput;
  /** When the operator first saw the target not serving, while it does not. */
  primaryUnavailableSince?: string;
  /** The last failover or switchover. */
  failover?: FailoverStatus;
  /** The last switchover annotation acted on. */
  switchoverHandled?: string;
}

/**
 * The replication facts of the status, from the reports, for `replicas` instances asked for, with
 * the target `choice` made for this reconcile.
 */
export function replicationStatus(
  db: PostgresDB,
  instances: readonly Instance[],
  replicas: number,
  choice: TargetChoice,
  plan?: FailoverPlan,
): ReplicationStatus {
  const { targetPrimary, primaryTerm } = choice;
  const target = instances.find((i) => i.pod.metadata.name === targetPrimary);
  const primary = target && wantedRole(target, targetPrimary, primaryTerm) === "primary"
    ? targetPrimary
    : undefined;
  const streaming =
    instances.filter((i) =>
      primary !== undefined && i.report?.role === "standby" && i.report.streamingFrom === primary
    ).length;
  const status: ReplicationStatus = {
    targetPrimary,
    primaryTerm,
    instances: instances.map(instanceStatus),
    readyInstances: instances.filter((i) => i.report?.ready === true).length,
    streamingStandbys: streaming,
    condition: replicatingCondition(targetPrimary, primary, streaming, replicas - 1),
  };
  const previous = findCondition(db.status?.conditions, "Replicating");
  if (choice.retarget !== undefined) {
    status.condition = {
      type: "Replicating",
      status: "False",
      reason: PRIMARY_DATA_LOST,
      message: choice.retarget.message,
    };
  } else if (primary === undefined && previous?.reason === PRIMARY_DATA_LOST) {
    // Until the new primary runs, the condition keeps saying why it was chosen.
    status.condition = {
      type: "Replicating",
      status: "False",
      reason: PRIMARY_DATA_LOST,
      message: previous.message ?? "",
    };
  }
  if (primary !== undefined) status.currentPrimary = primary;
  if (plan?.condition !== undefined && choice.retarget === undefined) {
    status.condition = plan.condition;
  }
  if (plan?.unavailableSince !== undefined) {
    status.primaryUnavailableSince = plan.unavailableSince;
  }
  if (plan?.failover !== undefined) status.failover = plan.failover;
  if (plan?.switchoverHandled !== undefined) status.switchoverHandled = plan.switchoverHandled;
  return status;
}

function replicatingCondition(
  target: string,
  primary: string | undefined,
  streaming: number,
  wanted: number,
): ConditionInput {
  const type = "Replicating";
  if (primary === undefined) {
    return {
      type,
      status: "False",
      reason: "PrimaryNotRunning",
      message: `Waiting for ${JSON.stringify(target)} to run as the primary`,
    };
  }
  const message = `${Math.min(streaming, wanted)}/${wanted} standbys stream from ` +
    JSON.stringify(primary);
  return streaming >= wanted
    ? { type, status: "True", reason: "Streaming", message }
    : { type, status: "False", reason: "StandbysNotStreaming", message };
}

function instanceStatus(instance: Instance): InstanceStatus {
  const report = instance.report;
  const status: InstanceStatus = {
    name: instance.pod.metadata.name,
    role: report?.role ?? "none",
    ready: report?.ready ?? false,
  };
  if (report?.timeline !== undefined) status.timeline = report.timeline;
  if (report?.lagBytes !== undefined) status.lagBytes = report.lagBytes;
  if (report?.streamingFrom !== undefined) status.streamingFrom = report.streamingFrom;
  return status;
}
