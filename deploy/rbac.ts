/**
 * The operator's permissions as one table, from which `deploy/rbac.yaml` is generated, and the
 * mapping from cluster port calls to the RBAC verbs they need, with a recording client that
 * collects what a run actually asked for. `deploy/rbac_test.ts` runs the operator in the simulated
 * cluster through that client and checks that the table is exactly what it used; the integration
 * suite runs it against a real API server with only these permissions.
 *
 * @example
 * ```ts
 * import { accessFor, OPERATOR_RULES } from "./rbac.ts";
 * const access = accessFor("apply", { apiVersion: "v1", kind: "Secret" });
 * console.assert(access.verb === "patch" && access.resource === "secrets");
 * console.assert(OPERATOR_RULES.some((r) => r.resource === "secrets" && r.verbs.includes("patch")));
 * ```
 *
 * @module
 */

import { type ClusterClient, interceptClient, type PortOperation } from "../core/cluster.ts";
import type { TypeRef } from "../core/object.ts";

/** A Kubernetes RBAC verb. */
export type RbacVerb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete";

/** One line of the permission table: a resource of a group and the verbs used on it. */
export interface PermissionRule {
  /** The API group; empty for the core group. */
  apiGroup: string;
  /** The resource, with `/subresource` when it is one. */
  resource: string;
  /** The verbs, sorted. */
  verbs: readonly RbacVerb[];
  /** Which calls of the operator need it. */
  why: string;
  /**
   * Held only to be granted: the operator creates a Role with it (RBAC refuses to grant what the
   * granter does not hold), and makes no call that uses it. @default false
   */
  delegated?: boolean;
}

/** What the operator does cluster-wide (a ClusterRole: it watches every namespace). */
export const OPERATOR_RULES: readonly PermissionRule[] = [
  {
    apiGroup: "database.thegeekyway.com",
    resource: "postgresdbs",
    verbs: ["get", "list", "watch"],
    why: "the PostgresDB informer (list at start, then watch); read live before a storage " +
      "growth orphans the StatefulSet's pods (and granted to the agents' Role)",
  },
  {
    apiGroup: "database.thegeekyway.com",
    resource: "postgresdbs/status",
    verbs: ["patch"],
    why: "status written as a merge patch with a resourceVersion precondition",
  },
  {
    apiGroup: "",
    resource: "secrets",
    verbs: ["create", "get", "list", "patch", "update", "watch"],
    why: "the credentials Secret: created once, never regenerated; read by name (live) before a " +
      "new password and to adopt a user's Secret, which gets labels by a server-side apply; the " +
      "informer lists and watches only the operator's own (label selector); a Secret without " +
      "the replication password gets it (and the read-only URI) by an update of the version read",
  },
  {
    apiGroup: "",
    resource: "persistentvolumeclaims",
    verbs: ["list", "update", "watch"],
    why: "the PVC informer: a volume coming or going wakes its PostgresDB; a consistent list " +
      "(live, not the cache) before a new password; a larger storage raises a volume's request " +
      "and, after pg_upgrade, the data-major annotation of each data volume is updated (both " +
      "updates of the version read)",
  },
  {
    apiGroup: "storage.k8s.io",
    resource: "storageclasses",
    verbs: ["list", "watch"],
    why: "the StorageClass informer: a volume grows only when its class allows expansion",
  },
  {
    apiGroup: "",
    resource: "services",
    verbs: ["create", "list", "update", "watch"],
    why:
      "the headless Service: created when missing (never applied over what a lagging cache may " +
      "hide); a drifted one is updated with the version read",
  },
  {
    apiGroup: "apps",
    resource: "statefulsets",
    verbs: ["create", "delete", "list", "update", "watch"],
    why: "the StatefulSet: created when missing, updated (with the version read) on a change; " +
      "deleted with propagation Orphan (its pods keep running) and created again when the " +
      "volumes grew, since claim templates are immutable",
  },
  {
    apiGroup: "",
    resource: "events",
    verbs: ["create"],
    why: "core/v1 Events on the PostgresDB (Created, Scaled, Ready, InvalidSpec, ChildConflict)",
  },
  {
    apiGroup: "",
    resource: "pods",
    verbs: ["delete", "list", "update", "watch"],
    why: "the instances' pods (label selector): the agents' reports are read from them, the " +
      "role label is set with an update of the version read, and a rolling update deletes them " +
      "one at a time (uid precondition)",
  },
  {
    apiGroup: "",
    resource: "serviceaccounts",
    verbs: ["create", "list", "watch"],
    why: "the agents' ServiceAccount <name>-instance: created when missing",
  },
  {
    apiGroup: "rbac.authorization.k8s.io",
    resource: "roles",
    verbs: ["create", "list", "update", "watch"],
    why: "the agents' Role <name>-instance: created when missing, its rules updated on drift",
  },
  {
    apiGroup: "rbac.authorization.k8s.io",
    resource: "rolebindings",
    verbs: ["create", "list", "update", "watch"],
    why: "the agents' RoleBinding <name>-instance: created when missing, updated on drift",
  },
  {
    apiGroup: "database.thegeekyway.com",
    resource: "postgresbackups",
    verbs: ["get", "list", "watch"],
    why: "the PostgresBackup informer; a live read (get) before a backup Job is created, so a " +
      "slot runs at most once; a restore reads the backup it starts from",
  },
  {
    apiGroup: "database.thegeekyway.com",
    resource: "postgresbackups/status",
    verbs: ["patch"],
    why: "status written as a merge patch with a resourceVersion precondition",
  },
  {
    apiGroup: "batch",
    resource: "jobs",
    verbs: ["create", "delete", "get", "list", "watch"],
    why: "a backup or restore runs as a Job (label selector): created when due (a backup's name " +
      "is the database's backup lock, read live before), deleted (uid precondition) once its " +
      "outcome is in the status",
  },
  {
    apiGroup: "",
    resource: "pods",
    verbs: ["get", "patch"],
    why: "granted to the agents' Role (escalation rule: only what the operator holds)",
    delegated: true,
  },
  {
    apiGroup: "coordination.k8s.io",
    resource: "leases",
    verbs: ["create", "get", "update"],
    why: "granted to the agents' Role for the primary Lease (escalation rule: only what the " +
      "operator holds); the operator never calls it",
    delegated: true,
  },
];

/** What leader election does, in the operator's own namespace only (a Role). */
export const LEADER_ELECTION_RULES: readonly PermissionRule[] = [
  {
    apiGroup: "coordination.k8s.io",
    resource: "leases",
    verbs: ["create", "get", "update"],
    why: "the leader Lease: read, created once, then renewed and released with updates",
  },
];

/** One permission a call needs. */
export interface Access {
  /** The API group; empty for the core group. */
  apiGroup: string;
  /** The resource, with `/subresource` when it is one. */
  resource: string;
  /** The verb. */
  verb: RbacVerb;
}

export type { PortOperation };

/**
 * The RBAC permissions a call of the cluster port needs. A server-side apply is a PATCH, and when
 * the object does not exist yet the API server also requires `create` (the apply creates it).
 */
export function accessesFor(operation: PortOperation, type: TypeRef): Access[] {
  const access = accessFor(operation, type);
  return operation === "apply" ? [access, { ...access, verb: "create" }] : [access];
}

/** The main RBAC permission a call of the cluster port needs (see {@link accessesFor}). */
export function accessFor(operation: PortOperation, type: TypeRef): Access {
  const apiGroup = groupOf(type.apiVersion);
  const resource = pluralOf(type.kind);
  switch (operation) {
    case "get":
    case "list":
    case "watch":
    case "create":
    case "update":
    case "delete":
      return { apiGroup, resource, verb: operation };
    case "apply":
      return { apiGroup, resource, verb: "patch" };
    case "patchStatus":
      return { apiGroup, resource: `${resource}/status`, verb: "patch" };
    case "createEvent":
      // KubeClusterClient.createEvent posts a core/v1 Event (runtime/executor.ts buildEvent).
      return { apiGroup: "", resource: "events", verb: "create" };
  }
}

/** True when `rules` allow `access`. */
export function allows(rules: readonly PermissionRule[], access: Access): boolean {
  return rules.some((r) =>
    r.apiGroup === access.apiGroup && r.resource === access.resource &&
    r.verbs.includes(access.verb)
  );
}

/** The table as a set of `group/resource:verb` strings, for comparisons. */
export function accessKeys(rules: readonly PermissionRule[]): Set<string> {
  return new Set(rules.flatMap((r) => r.verbs.map((verb) => accessKey({ ...r, verb }))));
}

/** `group/resource:verb`, the core group written as `core`. */
export function accessKey(access: Access): string {
  return `${access.apiGroup || "core"}/${access.resource}:${access.verb}`;
}

/** Kubernetes RBAC rules (one per resource) for a ClusterRole or Role. */
export function rbacRules(rules: readonly PermissionRule[]): Record<string, unknown>[] {
  return rules.map((r) => ({
    apiGroups: [r.apiGroup],
    resources: [r.resource],
    verbs: [...r.verbs].sort(),
  }));
}

/**
 * Wraps `client` and reports the permission each call needs to `onAccess`, before the call is
 * sent (so refused calls are reported too).
 */
export function recordAccess(
  client: ClusterClient,
  onAccess: (access: Access) => void,
): ClusterClient {
  return interceptClient(client, {
    before(call) {
      for (const access of accessesFor(call.operation, call.target)) onAccess(access);
    },
  });
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** The resource name of a kind, by Kubernetes' regular plural (every kind used here is regular). */
function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}
