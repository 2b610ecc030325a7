/**
 * The instance agents' identity: the ServiceAccount `<name>-instance` the pods run as, a Role that
 * lets an agent read its PostgresDB, read and annotate the pods (its report) and keep the primary
 * Lease `<name>-primary`, and the RoleBinding between them. All three are owned by the PostgresDB. Pure.
 *
 * @module
 */

import { controllerReference, type KubeObject } from "../object.ts";
import { GROUP, type PostgresDB, type ValidSpec } from "./types.ts";
import { commonLabels } from "./labels.ts";
import { instanceAccountName } from "./naming.ts";
export type * from "../object.ts";
export type * from "./types.ts";

/**
 * What an agent may do: read its PostgresDB; read pods, and patch its own with its report; read,
 * create and update (acquire, renew, release) the primary Lease.
 */
export const INSTANCE_RULES: readonly Record<string, unknown>[] = [
  { apiGroups: [GROUP], resources: ["postgresdbs"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "patch", "watch"] },
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "get", "update"] },
];

function metadata(db: PostgresDB, spec: ValidSpec) {
  return {
    name: instanceAccountName(db.metadata.name),
    namespace: db.metadata.namespace ?? "default",
    labels: commonLabels(db.metadata.name, spec),
    ownerReferences: [controllerReference(db)],
  };
}

/** The ServiceAccount `<name>-instance`. */
export function buildInstanceServiceAccount(db: PostgresDB, spec: ValidSpec): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(db, spec) };
}

/** The Role `<name>-instance`, with {@link INSTANCE_RULES}. */
export function buildInstanceRole(db: PostgresDB, spec: ValidSpec): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: metadata(db, spec),
    // A copy of the constant (JSON is much faster than structuredClone on every reconcile).
    rules: JSON.parse(JSON.stringify(INSTANCE_RULES)),
  };
}

/** The RoleBinding `<name>-instance`: the Role to the ServiceAccount. */
export function buildInstanceRoleBinding(db: PostgresDB, spec: ValidSpec): KubeObject {
  const name = instanceAccountName(db.metadata.name);
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: metadata(db, spec),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name, namespace: db.metadata.namespace ?? "default" }],
  };
}
