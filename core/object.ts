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
  /** The owner's API version, such as `database.thegeekyway.com/v1alpha1`. */
  apiVersion: string;
  /** The owner's kind. */
  kind: string;
  /** The owner's name (same namespace as the dependent, or cluster-scoped). */
  name: string;
  /** The owner's uid: a reference to an owner recreated under the same name does not match. */
  uid: string;
  /** True for the one owner that manages the dependent. */
  controller?: boolean;
  /** With foreground deletion, the owner waits for this dependent to be gone. */
  blockOwnerDeletion?: boolean;
}

/** The object metadata fields the library reads and writes. */
export interface ObjectMeta {
  /** The object's name, unique per kind and namespace. */
  name: string;
  /** The namespace; absent for cluster-scoped kinds (and, on input, meaning `default`). */
  namespace?: string;
  /** Set by the API server at creation; never reused. */
  uid?: string;
  /** The version of this object's last write, an opaque string; the precondition of an update. */
  resourceVersion?: string;
  /** Incremented by the API server on every change to the spec (not to status or metadata). */
  generation?: number;
  /** When the object was created (RFC 3339). */
  creationTimestamp?: string;
  /** Set when deletion was requested and finalizers still hold the object. */
  deletionTimestamp?: string;
  /** The grace period of a pending deletion. */
  deletionGracePeriodSeconds?: number;
  /** Labels: selectable key/value pairs. */
  labels?: Record<string, string>;
  /** Annotations: unselectable key/value pairs. */
  annotations?: Record<string, string>;
  /** The objects this one depends on; the garbage collector deletes it when they are gone. */
  ownerReferences?: OwnerReference[];
  /** Names of controllers that must finish cleanup before the object is removed. */
  finalizers?: string[];
  /** Other metadata fields (such as `managedFields`), kept as they are. */
  [field: string]: unknown;
}

/** Any Kubernetes object: `apiVersion`, `kind`, `metadata` and whatever else the kind has. */
export interface KubeObject {
  /** Group and version, such as `apps/v1` (or `v1` for the core group). */
  apiVersion: string;
  /** The kind, such as `StatefulSet`. */
  kind: string;
  /** The object's metadata. */
  metadata: ObjectMeta;
  /** The kind's own fields: `spec`, `status`, `data` and so on. */
  [field: string]: unknown;
}

/** Which kind of object: the pair every call of the cluster port starts with. */
export interface TypeRef {
  /** Group and version, such as `apps/v1`. */
  apiVersion: string;
  /** The kind, such as `StatefulSet`. */
  kind: string;
}

/** A reference to one object by kind, namespace and name. */
export interface ObjectRef extends TypeRef {
  /** Absent for cluster-scoped objects. */
  namespace?: string | undefined;
  /** The object's name. */
  name: string;
}

/** A `metav1.Condition`. */
export interface Condition {
  /** The condition's type, such as `Ready`. */
  type: string;
  /** Whether the condition holds. */
  status: "True" | "False" | "Unknown";
  /** A CamelCase reason for the last transition. */
  reason: string;
  /** A human-readable explanation. */
  message: string;
  /** When `status` last changed (RFC 3339). */
  lastTransitionTime: string;
  /** The `metadata.generation` the condition was computed from. */
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
