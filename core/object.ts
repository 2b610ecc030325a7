/**
 * The shape of Kubernetes objects as the library sees them: plain JSON with typed metadata.
 *
 * The library never depends on generated client types in its core, so the same values travel
 * through the pure reconcile functions, the simulated API server and the real adapter.
 *
 * @module
 */

/** An owner reference, as in `metadata.ownerReferences`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The object metadata fields the library reads and writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [field: string]: unknown;
}

/** Any Kubernetes object: `apiVersion`, `kind`, `metadata` and whatever else the kind has. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Which kind of object: the pair every call of the cluster port starts with. */
export interface TypeRef {
  apiVersion: string;
  kind: string;
}

/** A reference to one object by kind, namespace and name. */
export interface ObjectRef extends TypeRef {
  /** Absent for cluster-scoped objects. */
  namespace?: string | undefined;
  name: string;
}

/** A `metav1.Condition`. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * Returns the cache key of an object or reference: `namespace/name`, or `name` when
 * cluster-scoped (the same keys controller-runtime and client-go use).
 *
 * @example
 * ```ts
 * import { objectKey } from "./object.ts";
 * console.assert(objectKey({ namespace: "default", name: "db" }) === "default/db");
 * ```
 */
export function objectKey(ref: { namespace?: string | undefined; name: string }): string {
  return ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name;
}

/** Splits a key made by {@link objectKey} back into namespace and name. */
export function parseObjectKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf("/");
  if (slash < 0) return { name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Returns the `group/version/kind` string that names a type, e.g. `apps/v1/StatefulSet`. */
export function typeKey(type: TypeRef): string {
  return `${type.apiVersion}/${type.kind}`;
}

/** Returns the reference that names `object`. */
export function refOf(object: KubeObject): ObjectRef {
  const ref: ObjectRef = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
  };
  if (object.metadata.namespace) ref.namespace = object.metadata.namespace;
  return ref;
}

/** Describes a reference for messages and plans: `StatefulSet default/my-postgres`. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${objectKey(ref)}`;
}

/** Returns the owner reference marked `controller: true`, if any. */
export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

/** Builds the controller owner reference that makes `owner` the controller of a child. */
export function controllerReference(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** True when `child` names `owner` as its controller by uid, not merely by name. */
export function isControlledBy(child: KubeObject, owner: KubeObject): boolean {
  const ref = controllerOf(child);
  return ref !== undefined && ref.uid !== "" && ref.uid === owner.metadata.uid;
}

/** A deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * The namespace of a namespaced object or reference: its own, or `"default"` when the manifest
 * names none (the rule kubectl and the API server apply). Do not use it for cluster-scoped kinds.
 *
 * @example
 * ```ts
 * import { namespaceOf } from "./object.ts";
 * console.assert(namespaceOf({ metadata: { name: "a" } }) === "default");
 * console.assert(namespaceOf({ metadata: { name: "a", namespace: "prod" } }) === "prod");
 * ```
 */
export function namespaceOf(object: Pick<KubeObject, "metadata">): string {
  return object.metadata.namespace || "default";
}

/**
 * The API group of an `apiVersion`: `"apps"` for `apps/v1`, `""` for the core group's `v1`.
 *
 * @example
 * ```ts
 * import { groupOf } from "./object.ts";
 * console.assert(groupOf("apps/v1") === "apps");
 * console.assert(groupOf("v1") === "");
 * ```
 */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
