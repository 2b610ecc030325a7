/**
 * The headless Service that gives each instance a stable DNS name, and how a drifted one is
 * compared and repaired.
 *
 * @module
 */

import { compareDesired, type Comparison, jsonEqual, overlay } from "../compare.ts";
import { controllerReference, type KubeObject } from "../object.ts";
import { commonLabels, type RoleLabel, roleSelectorLabels, selectorLabels } from "./labels.ts";
import { readOnlyServiceName, readWriteServiceName } from "./naming.ts";
import { POSTGRES_PORT, type PostgresDB, type ValidSpec } from "./types.ts";

/** Builds the headless Service `<name>`: ClusterIP None, port 5432 named `postgres`. */
export function buildHeadlessService(db: PostgresDB, spec: ValidSpec): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: db.metadata.name,
      namespace: db.metadata.namespace ?? "default",
      labels: commonLabels(db.metadata.name, spec),
      ownerReferences: [controllerReference(db)],
    },
    spec: {
      type: "ClusterIP",
      clusterIP: "None",
      // Instances need DNS names before they are ready, for replication to bootstrap.
      publishNotReadyAddresses: true,
      selector: selectorLabels(db.metadata.name),
      ports: [{
        name: "postgres",
        port: POSTGRES_PORT,
        targetPort: POSTGRES_PORT,
        protocol: "TCP",
      }],
    },
  };
}

/**
 * Builds `<name>-rw` (role `primary`) or `<name>-ro` (role `standby`): a ClusterIP Service on port
 * 5432 that selects the PostgresDB's pods carrying that role label, which the operator alone sets.
 */
export function buildRoleService(db: PostgresDB, spec: ValidSpec, role: RoleLabel): KubeObject {
  const name = role === "primary"
    ? readWriteServiceName(db.metadata.name)
    : readOnlyServiceName(db.metadata.name);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: db.metadata.namespace ?? "default",
      labels: commonLabels(db.metadata.name, spec),
      ownerReferences: [controllerReference(db)],
    },
    spec: {
      type: "ClusterIP",
      selector: roleSelectorLabels(db.metadata.name, role),
      ports: [{
        name: "postgres",
        port: POSTGRES_PORT,
        targetPort: POSTGRES_PORT,
        protocol: "TCP",
      }],
    },
  };
}

/**
 * Compares the desired Service with the observed one. Labels may carry extra keys, but the
 * operator owns the routing whole: the selector must be exactly the desired one and the ports
 * exactly the desired list, so a port another actor added, or a selector key, is drift too.
 *
 * @example
 * ```ts
 * import { compareService } from "./service.ts";
 * const want = { spec: { selector: { a: "1" }, ports: [{ name: "p", port: 1 }] } };
 * const have = { spec: { selector: { a: "1", b: "2" }, ports: [{ name: "p", port: 1 }] } };
 * console.assert(compareService(want as never, have as never).reason.startsWith("spec.selector"));
 * ```
 */
export function compareService(desired: KubeObject, observed: KubeObject): Comparison {
  const fields = compareDesired(desired, observed);
  if (!fields.equal) return fields;
  const want = desired.spec as { selector?: unknown; ports?: unknown[] };
  const have = (observed.spec ?? {}) as { selector?: unknown; ports?: unknown[] };
  if (!jsonEqual(want.selector, have.selector)) {
    return {
      equal: false,
      reason: `spec.selector: want ${JSON.stringify(want.selector)}, have ${
        JSON.stringify(have.selector)
      }`,
    };
  }
  const wantPorts = want.ports?.length ?? 0;
  const havePorts = have.ports?.length ?? 0;
  if (wantPorts !== havePorts) {
    return { equal: false, reason: `spec.ports: want ${wantPorts} items, have ${havePorts}` };
  }
  return fields;
}

/**
 * The observed Service with the desired fields laid over it, ready for an update of the version
 * read: ports and selector replaced whole, labels merged, everything the server or other actors
 * added (cluster IPs, annotations, other owner references) kept.
 */
export function repairedService(observed: KubeObject, desired: KubeObject): KubeObject {
  const base = structuredClone(observed);
  delete base.status;
  delete base.metadata.managedFields;
  const { ownerReferences: _owners, ...metadata } = desired.metadata;
  const repaired = overlay(base, { ...desired, metadata });
  const spec = repaired.spec as Record<string, unknown>;
  const want = desired.spec as Record<string, unknown>;
  spec.selector = structuredClone(want.selector);
  return repaired;
}
