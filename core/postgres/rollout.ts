/**
 * Rolling updates in the order a database needs: the StatefulSet's update strategy is `OnDelete`,
 * and the operator replaces the pods that do not run the StatefulSet's update revision one at a
 * time: the standbys first (highest ordinal first), then, when only the primary is left, it
 * switches over to the most advanced updated standby (a clean demotion, see `failover.ts`), and
 * the old primary, now a standby, is replaced last. A single instance is restarted in place.
 *
 * One pod at a time: nothing is deleted while another instance is not ready, while a failover or
 * switchover runs, or while the StatefulSet controller has not seen its current spec. A pod of an
 * old revision that is not ready is replaced at once (a StatefulSet's own rolling update would
 * wait for it forever). Pure.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { type KubeObject, refOf } from "../object.ts";
import type { Instance } from "./instances.ts";
import { podOrdinal } from "./naming.ts";
import { isFresh } from "./replication.ts";
import type { PostgresDB } from "./types.ts";

/** The label the StatefulSet controller puts on each pod: the revision it was created from. */
export const REVISION_LABEL = "controller-revision-hash";

/** What the rollout does in this reconcile. */
export interface RolloutStep {
  /** A pod delete (with its uid as precondition), and its event. */
  actions: Action[];
  /** The standby the primary should switch over to, when only the primary is left. */
  switchoverTo?: string;
}

/** Nothing to do. */
const NOTHING: RolloutStep = { actions: [] };

/**
 * The next step of a rolling update of `statefulSet`'s pods.
 *
 * @example
 * ```ts
 * import { rolloutStep } from "./rollout.ts";
 * const sts = {
 *   apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "db", generation: 2 },
 *   status: { observedGeneration: 2, updateRevision: "new" },
 * };
 * const pod = (name: string, revision: string) => ({
 *   apiVersion: "v1", kind: "Pod",
 *   metadata: { name, uid: name, labels: { "controller-revision-hash": revision } },
 *   status: { conditions: [{ type: "Ready", status: "True" }] },
 * });
 * const db = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata: { name: "db" } };
 * const step = rolloutStep(db, sts, [{ pod: pod("db-0", "old") }, { pod: pod("db-1", "old") }], "db-0", 1, 2);
 * const [remove] = step.actions;
 * console.assert(remove?.kind === "delete" && remove.target.name === "db-1");
 * ```
 */
export function rolloutStep(
  db: PostgresDB,
  statefulSet: KubeObject | undefined,
  instances: readonly Instance[],
  targetPrimary: string,
  primaryTerm: number,
  replicas: number,
): RolloutStep {
  const status = statefulSet?.status as
    | { updateRevision?: string; observedGeneration?: number }
    | undefined;
  const revision = status?.updateRevision;
  if (statefulSet === undefined || revision === undefined || targetPrimary === "") return NOTHING;
  if ((status?.observedGeneration ?? -1) < (statefulSet.metadata.generation ?? 0)) return NOTHING;
  const name = db.metadata.name;
  const members = instances.filter((i) => {
    const o = podOrdinal(name, i.pod.metadata.name);
    return o !== undefined && o < replicas;
  });
  const stale = members.filter((i) => i.pod.metadata.labels?.[REVISION_LABEL] !== revision);
  if (stale.length === 0) return NOTHING;
  // One at a time: every instance but at most one stale one is ready, and a broken (not ready)
  // pod of an old revision is replaced first: waiting for it would wait forever. That holds
  // while the StatefulSet still has pods to create too: it creates them in order, after the
  // broken one is ready, which it never is (an old image on data a major upgrade moved on).
  const notReady = members.filter((i) => !ready(i));
  if (notReady.length > 1) return NOTHING;
  if (notReady.length === 1) {
    const broken = notReady[0]!;
    if (!stale.includes(broken)) return NOTHING;
    const role = broken.pod.metadata.name === targetPrimary ? "primary" : "standby";
    return replace(db, broken.pod, role, " (not ready)");
  }
  if (members.length < replicas) return NOTHING;
  const standbys = stale.filter((i) => i.pod.metadata.name !== targetPrimary)
    .sort((a, b) =>
      (podOrdinal(name, b.pod.metadata.name) ?? 0) - (podOrdinal(name, a.pod.metadata.name) ?? 0)
    );
  const next = standbys[0];
  if (next !== undefined) return replace(db, next.pod, "standby");
  const primary = stale[0]!;
  const report = primary.report;
  // No agent reports (no data plane) or nobody to switch to: restart it in place.
  if (report === undefined || replicas === 1) return replace(db, primary.pod, "instance");
  const updated = members.filter((i) => {
    const r = i.report;
    return i !== primary && isFresh(r, primaryTerm) && r!.role === "standby" &&
      r!.streamingFrom === targetPrimary;
  }).sort((a, b) => b.report!.receivedLsn - a.report!.receivedLsn);
  const to = updated[0];
  return to === undefined ? NOTHING : { actions: [], switchoverTo: to.pod.metadata.name };
}

function replace(db: PostgresDB, pod: KubeObject, what: string, note = ""): RolloutStep {
  const podName = pod.metadata.name;
  const message = `Restarting the ${what} ${JSON.stringify(podName)}${note} on the new revision`;
  return {
    actions: [
      {
        kind: "delete",
        target: refOf(pod),
        uid: pod.metadata.uid ?? "",
        reason: `rolling update: ${podName} runs an old revision`,
      },
      { kind: "emitEvent", regarding: db, type: "Normal", eventReason: "RollingUpdate", message },
    ],
  };
}

/**
 * An instance's readiness: its agent's report when it has one (the pod's readiness probe asks the
 * agent, and a pod's condition changing wakes no reconcile, a report does), else the pod's Ready.
 */
function ready(instance: Instance): boolean {
  return instance.report !== undefined ? instance.report.ready : podReady(instance.pod);
}

function podReady(pod: KubeObject): boolean {
  const conditions = (pod.status as { conditions?: { type?: string; status?: string }[] })
    ?.conditions;
  return conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}
