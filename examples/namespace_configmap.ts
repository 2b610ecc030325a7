/**
 * A second controller written with the library: it keeps a ConfigMap `namespace-info` in every
 * Namespace, restores it when someone edits or deletes it, and lets garbage collection remove it
 * with its Namespace. Namespaces labelled `example.com/namespace-info: "off"` are left alone.
 *
 * Run it in the simulated cluster with `deno test examples/`; it is ~40 lines of decisions and
 * no I/O, like the PostgresDB reconciler.
 *
 * @module
 */

import {
  type Action,
  compareDesired,
  controllerReference,
  type KubeObject,
  type Observed,
  type Reconciler,
  type ReconcileResult,
} from "../mod.ts";

/** The ConfigMap's name. */
export const CONFIGMAP_NAME = "namespace-info";

/** The label that turns the controller off for a namespace. */
export const OFF_LABEL = "example.com/namespace-info";

/** The desired ConfigMap for a Namespace. */
export function buildNamespaceInfo(namespace: KubeObject): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: CONFIGMAP_NAME,
      namespace: namespace.metadata.name,
      labels: { "app.kubernetes.io/managed-by": "namespace-info" },
      ownerReferences: [controllerReference(namespace)],
    },
    data: {
      namespace: namespace.metadata.name,
      team: namespace.metadata.labels?.team ?? "unassigned",
    },
  };
}

/** Decides what to do for one Namespace. */
export function reconcileNamespace(observed: Observed): ReconcileResult {
  const namespace = observed.object;
  if (namespace.metadata.deletionTimestamp) return { actions: [] };
  if (namespace.metadata.labels?.[OFF_LABEL] === "off") return { actions: [] };
  const desired = buildNamespaceInfo(namespace);
  const current = observed.owned.find((o) => o.metadata.name === CONFIGMAP_NAME);
  const diff = current ? compareDesired(desired, current) : undefined;
  if (diff?.equal) return { actions: [] };
  const action: Action = { kind: "apply", object: desired, reason: diff?.reason ?? "missing" };
  return { actions: [action] };
}

/** The reconciler, ready for `new Controller(client, namespaceInfoReconciler, options)`. */
export const namespaceInfoReconciler: Reconciler = {
  name: "namespace-info",
  for: { apiVersion: "v1", kind: "Namespace" },
  owns: [{ apiVersion: "v1", kind: "ConfigMap" }],
  reconcile: reconcileNamespace,
};
