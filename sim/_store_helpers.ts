/**
 * Pure helpers of the simulated API server's write path: building the object to store from what a
 * client sent (system metadata kept, status by subresource rules, defaults, generation), error
 * messages in the real server's words, and uids and generated names from a seeded source.
 *
 * @module
 */

import { ApiError } from "../core/cluster.ts";
import { type Random, toTimestamp } from "../core/clock.ts";
import type { KubeObject, ObjectMeta } from "../core/object.ts";
import { applyDefaults, type DefaultingContext, initialStatus } from "./_builtin_rules.ts";
import { deepClone, deepEqual, isRecord } from "./_json.ts";
import { resourceLabel, type ResourceType } from "./resource_types.ts";

/** What {@link prepareObject} needs from the server. */
export interface PrepareContext extends DefaultingContext {
  nowMs(): number;
  newUid(): string;
}

/**
 * Builds the object to store for a create (`old` absent) or a write over `old`: identity and
 * system metadata come from the server, labels/annotations/ownerReferences/finalizers from the
 * client (empty ones dropped, as the real server omits them), status from the client only for
 * kinds without a status subresource, then defaulting and `metadata.generation`.
 */
export function prepareObject(
  resource: ResourceType,
  incoming: KubeObject,
  old: KubeObject | undefined,
  ident: { name: string; namespace: string },
  context: PrepareContext,
): KubeObject {
  const { apiVersion: _a, kind: _k, metadata: given, status, ...body } = incoming;
  const metadata = buildMetadata(resource, given ?? { name: ident.name }, old, ident, context);
  const next: KubeObject = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata,
    ...deepClone(body),
  };
  const keptStatus = resource.statusSubresource ? (old ? old.status : initialStatus(next)) : status;
  if (keptStatus !== undefined) next.status = deepClone(keptStatus);
  applyDefaults(next, old, context);
  if (resource.schema) applySchemaDefaults(next, resource.schema);
  if (resource.generation !== false) {
    const before = old?.metadata.generation ?? 0;
    metadata.generation = !old || specChanged(resource, next, old) ? before + 1 : before;
  }
  return next;
}

function buildMetadata(
  resource: ResourceType,
  given: ObjectMeta,
  old: KubeObject | undefined,
  ident: { name: string; namespace: string },
  context: PrepareContext,
): ObjectMeta {
  const meta: ObjectMeta = { name: ident.name };
  const generateName = old ? old.metadata.generateName : given.generateName;
  if (generateName) meta.generateName = generateName;
  if (resource.namespaced) meta.namespace = ident.namespace;
  meta.uid = old?.metadata.uid ?? context.newUid();
  // A placeholder keeps the field's place; the commit sets the real version.
  meta.resourceVersion = old?.metadata.resourceVersion ?? "";
  if (resource.generation !== false) meta.generation = old?.metadata.generation ?? 1;
  meta.creationTimestamp = old?.metadata.creationTimestamp ?? toTimestamp(context.nowMs());
  if (old?.metadata.deletionTimestamp) {
    meta.deletionTimestamp = old.metadata.deletionTimestamp;
    meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds ?? 0;
  }
  if (given.labels && Object.keys(given.labels).length > 0) meta.labels = deepClone(given.labels);
  if (given.annotations && Object.keys(given.annotations).length > 0) {
    meta.annotations = deepClone(given.annotations);
  }
  if (given.ownerReferences && given.ownerReferences.length > 0) {
    meta.ownerReferences = deepClone(given.ownerReferences);
  }
  if (given.finalizers && given.finalizers.length > 0) {
    meta.finalizers = [...new Set(given.finalizers)];
  }
  return meta;
}

/** True when something outside metadata (and outside a status subresource) differs. */
export function specChanged(resource: ResourceType, next: KubeObject, old: KubeObject): boolean {
  for (const key of new Set([...Object.keys(next), ...Object.keys(old)])) {
    if (key === "metadata" || (key === "status" && resource.statusSubresource)) continue;
    if (!deepEqual(next[key], old[key])) return true;
  }
  return false;
}

/** Sorts objects by kind, apiVersion, namespace and name, in place, and returns them. */
export function sortObjects(objects: KubeObject[]): KubeObject[] {
  return objects.sort((a, b) =>
    compare(a.kind, b.kind) || compare(a.apiVersion, b.apiVersion) ||
    compare(a.metadata.namespace ?? "", b.metadata.namespace ?? "") ||
    compare(a.metadata.name, b.metadata.name)
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when every pair of the equality selector is among the object's labels. */
export function matchesLabels(object: KubeObject, selector: Record<string, string>): boolean {
  const labels = object.metadata.labels ?? {};
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}

/** True when a write leaves a terminating object without finalizers: it must go. */
export function isGone(object: KubeObject): boolean {
  if (!object.metadata.deletionTimestamp || (object.metadata.finalizers ?? []).length > 0) {
    return false;
  }
  if (object.kind !== "Namespace") return true;
  const spec = object.spec as { finalizers?: unknown[] } | undefined;
  return (spec?.finalizers ?? []).length === 0;
}

/** `statefulsets.apps "x" not found`. */
export function notFoundError(resource: ResourceType, name: string): ApiError {
  return new ApiError("NotFound", `${resourceLabel(resource)} "${name}" not found`);
}

/** `Operation cannot be fulfilled on statefulsets.apps "x": detail`. */
export function conflictError(resource: ResourceType, name: string, detail: string): ApiError {
  return new ApiError(
    "Conflict",
    `Operation cannot be fulfilled on ${resourceLabel(resource)} "${name}": ${detail}`,
  );
}

/** The detail of a stale resourceVersion conflict. */
export const MODIFIED_DETAIL =
  "the object has been modified; please apply your changes to the latest version and try again";

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** A version-4-shaped uid drawn from `random`. */
export function randomUid(random: Random): string {
  let hex = "";
  for (let i = 0; i < 4; i++) hex += random.int(0x100000000).toString(16).padStart(8, "0");
  const variant = "89ab"[random.int(4)]!;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}

/** The 5-character suffix of a generated name, from the alphabet the real server uses. */
export function randomNameSuffix(random: Random): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[random.int(NAME_ALPHABET.length)];
  return suffix;
}

/**
 * Fills the `default`s of a structural schema into `value`, in place: a missing property with a
 * default gets it (a copy), and objects and array items that are present are defaulted in turn,
 * as the real API server does on every write of a custom resource. Metadata is left alone.
 */
export function applySchemaDefaults(value: unknown, schema: Record<string, unknown>): void {
  if (Array.isArray(value)) {
    if (isRecord(schema.items)) {
      for (const item of value) applySchemaDefaults(item, schema.items);
    }
    return;
  }
  if (!isRecord(value) || !isRecord(schema.properties)) return;
  for (const [key, property] of Object.entries(schema.properties)) {
    if (!isRecord(property) || key === "metadata") continue;
    if (value[key] === undefined && property.default !== undefined) {
      value[key] = deepClone(property.default);
    }
    if (value[key] !== undefined) applySchemaDefaults(value[key], property);
  }
}
