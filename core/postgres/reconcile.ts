/**
 * The PostgresDB reconciler: classify what was observed (`classify.ts`), then turn that state
 * into actions with one exhaustive switch: converging writes (`converge.ts`), or the status of a
 * state that does not converge (`status_actions.ts`).
 *
 * Guarantees: the credentials Secret's data is written only when the Secret is created, so its
 * password is never regenerated; adopting or relabelling a Secret applies its labels and nothing
 * else. Children are recognised by their controller reference's uid, never by name alone, so a
 * same-named object of another owner is neither adopted nor overwritten; nothing derived from an
 * invalid field is created or changed; once the cluster matches the spec, a reconcile returns no
 * writes at all.
 *
 * A new password is decided only on live reads of the Secret and the volumes, never on the cache
 * alone (see {@link credentialsLiveReads}).
 *
 * Assumptions: garbage collection removes children when the PostgresDB goes (the Service and the
 * StatefulSet carry a controller owner reference; the Secret and, through the StatefulSet's claim
 * retention, the volumes only with deletion policy `Delete`), so deletion needs no finalizer.
 *
 * Storage grows in place when the StorageClass allows it: the volumes one at a time (standbys
 * first), then the StatefulSet is re-created with the new claim template, its pods untouched
 * (`storage.ts`). A shrink, or a class that cannot expand, is refused with a condition.
 *
 * @module
 */

import { controllerOf, objectKey } from "../object.ts";
import type { Observed, ReconcileContext, Reconciler, ReconcileResult } from "../reconciler.ts";
import { classify, credentialsLiveReads, storageLiveReads } from "./classify.ts";
import { convergeActions } from "./converge.ts";
import { restoreStep } from "./restore.ts";
import { upgradeActions } from "./upgrade.ts";
import { startingStep } from "./upgrade_step.ts";
import { RESTORE_LABEL } from "../backup/job.ts";
import { JOB, POSTGRESBACKUP } from "../backup/types.ts";
import { instanceOfVolume, managedByLabels, MANAGER, ROLE_LABEL } from "./labels.ts";
import { REPORT_ANNOTATION } from "./replication.ts";
import { ownerOfCredentialsSecret } from "./naming.ts";
import {
  blockedActions,
  credentialsMissingActions,
  invalidActions,
  majorChangeActions,
} from "./status_actions.ts";
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
} from "./types.ts";
import type { KubeObject } from "../object.ts";

export {
  type Blocker,
  type Children,
  classify,
  credentialsLiveReads,
  type MajorChange,
  type PostgresState,
} from "./classify.ts";
export { CREDENTIALS_RECHECK_MS } from "./status_actions.ts";
export type { DataMajor } from "./version.ts";
export type { StorageFacts } from "./storage.ts";

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
    case "upgrading":
      return { actions: upgradeActions(observed, state.spec, state.children, state, context) };
    case "reconciling":
      return {
        actions: convergeActions(
          db,
          state.spec,
          state.children,
          context,
          restoreStep(observed, state.spec, state.children.instances ?? [], context.nowMs),
          startingStep(observed, state.spec, state.children.instances ?? [], context.nowMs),
        ),
      };
  }
}

/**
 * The PostgresDB to wake for a change of one of its instances' pods: on a pod added or deleted, and
 * on a modified pod only when something the reconcile reads changed (its report, its role label,
 * its deletion or its owner), not on the kubelet's status updates.
 */
function instanceChangeKey(pod: KubeObject, old?: KubeObject): string | undefined {
  const restoring = pod.metadata.labels?.[RESTORE_LABEL];
  if (restoring !== undefined) {
    // A restore Job's pod: its end (the runner's report) wakes the PostgresDB.
    if (old !== undefined && JSON.stringify(old.status) === JSON.stringify(pod.status)) {
      return undefined;
    }
    return objectKey({ namespace: pod.metadata.namespace ?? "default", name: restoring });
  }
  if (old !== undefined && !instanceFactsChanged(pod, old)) return undefined;
  return instanceKey(pod);
}

function instanceFactsChanged(pod: KubeObject, old: KubeObject): boolean {
  const a = pod.metadata;
  const b = old.metadata;
  return a.annotations?.[REPORT_ANNOTATION] !== b.annotations?.[REPORT_ANNOTATION] ||
    a.labels?.[ROLE_LABEL] !== b.labels?.[ROLE_LABEL] ||
    a.deletionTimestamp !== b.deletionTimestamp || a.uid !== b.uid ||
    controllerOf(pod)?.uid !== controllerOf(old)?.uid;
}

/** The PostgresDB whose instance a pod (or a volume) is, by its selector labels. */
function instanceKey(object: KubeObject): string | undefined {
  const name = instanceOfVolume(object.metadata.labels);
  return name !== undefined
    ? objectKey({ namespace: object.metadata.namespace ?? "default", name })
    : undefined;
}

/** The PostgresDB reconciler, for the controller runtime. */
export const postgresReconciler: Reconciler<PostgresDB> = {
  name: MANAGER,
  for: POSTGRESDB,
  owns: [SECRET, SERVICE, STATEFULSET, SERVICE_ACCOUNT, ROLE, ROLE_BINDING, JOB],
  // Only the operator's own Secrets are cached; a user's is read by name when it is adopted.
  // Pods carry the template's labels, the manager's among them: only the instances are cached.
  cacheSelectors: [
    { type: SECRET, labelSelector: managedByLabels() },
    { type: POD, labelSelector: managedByLabels() },
    { type: JOB, labelSelector: managedByLabels() },
  ],
  liveReads: (observed) => [...credentialsLiveReads(observed), ...storageLiveReads(observed)],
  watches: [
    // A retained or adopted credentials Secret has no owner: its name says whose it is.
    {
      type: SECRET,
      keyOf: (secret) => {
        const name = ownerOfCredentialsSecret(secret.metadata.name);
        return name !== undefined && !controllerOf(secret)
          ? objectKey({ namespace: secret.metadata.namespace ?? "default", name })
          : undefined;
      },
    },
    // The backups a new PostgresDB restores from are read by name (a waiting restore rechecks).
    { type: POSTGRESBACKUP, keyOf: () => undefined },
    // The volumes' StorageClass, read to know whether they can grow (cluster-scoped).
    { type: STORAGE_CLASS, keyOf: () => undefined, clusterScoped: true },
    // An instance's pod (the StatefulSet's, not the PostgresDB's): a report wakes its PostgresDB.
    { type: POD, keyOf: instanceChangeKey },
    // PVCs carry the StatefulSet's selector labels: a volume coming or going wakes its PostgresDB.
    {
      type: PVC,
      keyOf: (pvc) => {
        const name = instanceOfVolume(pvc.metadata.labels);
        return name !== undefined
          ? objectKey({ namespace: pvc.metadata.namespace ?? "default", name })
          : undefined;
      },
    },
  ],
  reconcile: reconcilePostgresDB,
};
