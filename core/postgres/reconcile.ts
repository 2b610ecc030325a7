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
 * Caveats: the volume claim template of a StatefulSet is immutable, so a storage change is
 * reported (condition `VolumeResize`) but not applied to existing volumes.
 *
 * @module
 */

import { controllerOf, objectKey } from "../object.ts";
import type { Observed, ReconcileContext, Reconciler, ReconcileResult } from "../reconciler.ts";
import { classify, credentialsLiveReads } from "./classify.ts";
import { convergeActions } from "./converge.ts";
import { instanceOfVolume, managedByLabels, MANAGER } from "./labels.ts";
import { ownerOfCredentialsSecret } from "./naming.ts";
import {
  blockedActions,
  credentialsMissingActions,
  invalidActions,
  majorChangeActions,
} from "./status_actions.ts";
import { POSTGRESDB, type PostgresDB, PVC, SECRET, SERVICE, STATEFULSET } from "./types.ts";

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

/** The PostgresDB reconciler, for the controller runtime. */
export const postgresReconciler: Reconciler<PostgresDB> = {
  name: MANAGER,
  for: POSTGRESDB,
  owns: [SECRET, SERVICE, STATEFULSET],
  // Only the operator's own Secrets are cached; a user's is read by name when it is adopted.
  cacheSelectors: [{ type: SECRET, labelSelector: managedByLabels() }],
  liveReads: credentialsLiveReads,
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
