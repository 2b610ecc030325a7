/**
 * The kinds the simulated API server serves: how each is named in URLs and messages, whether it
 * is namespaced, whether it has a status subresource and whether it keeps `metadata.generation`.
 *
 * @module
 */

import { groupOf, type KubeObject, type TypeRef } from "../core/object.ts";
import { isRecord } from "./_json.ts";

/** A kind served by the simulated API server. */
export interface ResourceType {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  /** The kind, e.g. `StatefulSet`. */
  kind: string;
  /** The lower-case plural used in URLs and messages, e.g. `statefulsets`. */
  plural: string;
  /** True when objects live in a namespace. */
  namespaced: boolean;
  /**
   * True when `status` is a subresource: spec writes ignore it and status writes touch nothing
   * else.
   */
  statusSubresource: boolean;
  /**
   * Whether the server maintains `metadata.generation` (1 at create, +1 on every change outside
   * metadata and, with a status subresource, status). Real clusters do this for workloads and
   * custom resources but not for ConfigMaps, Secrets or Services.
   * @default true
   */
  generation?: boolean;
  /**
   * The `openAPIV3Schema` of a custom resource's version: the server fills its `default`s on
   * every write, as a real one does for structural schemas.
   */
  schema?: Record<string, unknown>;
}

function builtin(
  apiVersion: string,
  kind: string,
  plural: string,
  flags: { namespaced?: boolean; status?: boolean; generation?: boolean } = {},
): ResourceType {
  return {
    apiVersion,
    kind,
    plural,
    namespaced: flags.namespaced ?? true,
    statusSubresource: flags.status ?? false,
    generation: flags.generation ?? false,
  };
}

/** The built-in kinds every simulated cluster serves. */
export const BUILTIN_TYPES: readonly ResourceType[] = [
  builtin("v1", "Namespace", "namespaces", { namespaced: false, status: true }),
  builtin("v1", "ConfigMap", "configmaps"),
  builtin("v1", "Secret", "secrets"),
  builtin("v1", "Service", "services", { status: true }),
  builtin("v1", "Pod", "pods", { status: true }),
  builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", { status: true }),
  builtin("v1", "Event", "events"),
  builtin("v1", "ServiceAccount", "serviceaccounts"),
  builtin("apps/v1", "StatefulSet", "statefulsets", { status: true, generation: true }),
  builtin("batch/v1", "Job", "jobs", { status: true, generation: true }),
  builtin("storage.k8s.io/v1", "StorageClass", "storageclasses", { namespaced: false }),
  builtin("coordination.k8s.io/v1", "Lease", "leases"),
  builtin("rbac.authorization.k8s.io/v1", "Role", "roles"),
  builtin("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
  builtin("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", {
    namespaced: false,
    status: true,
    generation: true,
  }),
];

// One definition for the library and the simulation (two `export *` of one binding agree).
export { groupOf };

/** The resource as messages name it: `statefulsets.apps`, or `pods` in the core group. */
export function resourceLabel(type: ResourceType): string {
  const group = groupOf(type.apiVersion);
  return group ? `${type.plural}.${group}` : type.plural;
}

/** The kind as validation messages name it: `StatefulSet.apps`, or `Pod` in the core group. */
export function kindLabel(type: ResourceType): string {
  const group = groupOf(type.apiVersion);
  return group ? `${type.kind}.${group}` : type.kind;
}

/** True when `ref` names the same kind as `type`. */
export function sameType(type: TypeRef, ref: TypeRef): boolean {
  return type.apiVersion === ref.apiVersion && type.kind === ref.kind;
}

/**
 * The kinds a CustomResourceDefinition declares: one per served version, namespaced by
 * `spec.scope`, with a status subresource when that version declares one, and its schema (for
 * defaults).
 */
export function typesFromCrd(crd: KubeObject): ResourceType[] {
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const names = isRecord(spec.names) ? spec.names : {};
  const group = typeof spec.group === "string" ? spec.group : "";
  const kind = typeof names.kind === "string" ? names.kind : "";
  const plural = typeof names.plural === "string" ? names.plural : kind.toLowerCase() + "s";
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  const types: ResourceType[] = [];
  for (const version of versions) {
    if (!isRecord(version) || version.served === false || typeof version.name !== "string") {
      continue;
    }
    const subresources = isRecord(version.subresources) ? version.subresources : {};
    const schema = isRecord(version.schema) && isRecord(version.schema.openAPIV3Schema)
      ? version.schema.openAPIV3Schema
      : undefined;
    types.push({
      ...(schema ? { schema } : {}),
      apiVersion: group ? `${group}/${version.name}` : version.name,
      kind,
      plural,
      namespaced: spec.scope !== "Cluster",
      statusSubresource: subresources.status !== undefined,
      generation: true,
    });
  }
  return kind ? types : [];
}
