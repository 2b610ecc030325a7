/**
 * Field paths as server-side apply names them, for the simulated API server's field managers: how
 * each list merges (atomic, a set, or a map keyed by some of its items' fields, as the built-in
 * kinds' schemas declare), the leaf fields of an object with their values, and the `fieldsV1`
 * encoding of a set of paths that `metadata.managedFields` carries.
 *
 * A path is a list of elements joined by NUL: `f:<field>` for a field, `k:{"port":5432,...}` for
 * an item of a keyed list (key fields sorted, defaults filled in), `v:<json>` for an item of a set.
 * The leaves of an object are its scalars, nulls, empty objects, atomic lists, and the items of
 * keyed lists and sets (an item is owned as a whole as well as field by field), as
 * structured-merge-diff counts them.
 *
 * @module
 */

import { canonicalJson, isRecord, type JsonRecord } from "./_json.ts";

/** How a list merges: replaced whole, a set of values, or a map keyed by its items' fields. */
export type ListType = { kind: "atomic" } | { kind: "set" } | { kind: "map"; keys: string[] };

/** The elements of a path are joined by this character, which no field name contains. */
export const SEP = "\u0000";

const ATOMIC: ListType = { kind: "atomic" };
const SET: ListType = { kind: "set" };
const BY_NAME: ListType = { kind: "map", keys: ["name"] };

/** Keyed lists of the built-in kinds, by field name (a few need their parent, below). */
const KEYED: Record<string, ListType> = {
  containers: BY_NAME,
  initContainers: BY_NAME,
  ephemeralContainers: BY_NAME,
  env: BY_NAME,
  volumes: BY_NAME,
  imagePullSecrets: BY_NAME,
  volumeMounts: { kind: "map", keys: ["mountPath"] },
  volumeDevices: { kind: "map", keys: ["devicePath"] },
  conditions: { kind: "map", keys: ["type"] },
};
const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);
const BUILTIN_API_VERSIONS = new Set([
  "v1",
  "apps/v1",
  "coordination.k8s.io/v1",
  "apiextensions.k8s.io/v1",
]);

/**
 * How the list at `fields` (the field names from the root, list items skipped) of an object of
 * `kind` merges. Lists of custom resources are atomic (no CRD here declares a list type), and so
 * is every list of a built-in kind that its schema does not declare otherwise.
 */
export function listTypeAt(apiVersion: string, kind: string, fields: readonly string[]): ListType {
  const last = fields[fields.length - 1] ?? "";
  if (fields.length === 2 && fields[0] === "metadata") {
    if (last === "finalizers") return SET;
    if (last === "ownerReferences") return { kind: "map", keys: ["uid"] };
    return ATOMIC;
  }
  if (!BUILTIN_API_VERSIONS.has(apiVersion)) return ATOMIC;
  if (last === "ports") {
    if (kind === "Service" && fields.length === 2 && fields[0] === "spec") {
      return { kind: "map", keys: ["port", "protocol"] };
    }
    if (CONTAINER_LISTS.has(fields[fields.length - 2] ?? "")) {
      return { kind: "map", keys: ["containerPort", "protocol"] };
    }
    return ATOMIC;
  }
  return KEYED[last] ?? ATOMIC;
}

/** The key fields that default when an item omits them (both port lists default `protocol`). */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };

/** The path element of one list item: `k:{...}` for a keyed list, `v:<json>` for a set. */
export function itemElement(type: ListType, item: unknown): string {
  if (type.kind !== "map") return `v:${canonicalJson(item)}`;
  const key: JsonRecord = {};
  const record = isRecord(item) ? item : {};
  for (const field of [...type.keys].sort()) {
    const value = record[field] ?? KEY_DEFAULTS[field];
    if (value !== undefined) key[field] = value;
  }
  return `k:${canonicalJson(key)}`;
}

/** The fields of an object that field managers never own (identity and server bookkeeping). */
const UNOWNED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

/**
 * The leaves of `object` that a manager can own, path to canonical value (an item's value is
 * empty: an item is present or not). Identity metadata is left out, and so is `status` when
 * `withStatus` is false (kinds with a status subresource: the main resource's writes reset it).
 */
export function leafFields(object: JsonRecord, withStatus: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const apiVersion = String(object.apiVersion ?? "");
  const kind = String(object.kind ?? "");
  const walk = (value: unknown, path: string, fields: string[]): void => {
    if (Array.isArray(value)) {
      const type = listTypeAt(apiVersion, kind, fields);
      if (type.kind === "atomic") {
        out.set(path, canonicalJson(value));
        return;
      }
      for (const item of value) {
        const itemPath = `${path}${SEP}${itemElement(type, item)}`;
        out.set(itemPath, "");
        if (type.kind === "map" && isRecord(item)) walkRecord(item, itemPath, fields);
      }
      return;
    }
    if (isRecord(value) && Object.keys(value).some((k) => value[k] !== undefined)) {
      walkRecord(value, path, fields);
      return;
    }
    out.set(path, canonicalJson(value));
  };
  const walkRecord = (record: JsonRecord, path: string, fields: string[]): void => {
    for (const key of Object.keys(record)) {
      if (record[key] === undefined) continue;
      walk(record[key], path === "" ? `f:${key}` : `${path}${SEP}f:${key}`, [...fields, key]);
    }
  };
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined || key === "apiVersion" || key === "kind") continue;
    if (key === "status" && !withStatus) continue;
    if (key === "metadata" && isRecord(value)) {
      for (const field of Object.keys(value)) {
        if (UNOWNED_METADATA.has(field) || value[field] === undefined) continue;
        walk(value[field], `f:metadata${SEP}f:${field}`, ["metadata", field]);
      }
      continue;
    }
    walk(value, `f:${key}`, [key]);
  }
  return out;
}

/** What changed between two leaf maps, as structured-merge-diff's comparison names it. */
export interface FieldChanges {
  /** Present in both with another value. */
  modified: Set<string>;
  /** Present only in the new object. */
  added: Set<string>;
  /** Present only in the old object. */
  removed: Set<string>;
}

/** Compares the leaves of an old and a new object. */
export function compareFields(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): FieldChanges {
  const changes: FieldChanges = { modified: new Set(), added: new Set(), removed: new Set() };
  for (const [path, value] of after) {
    const was = before.get(path);
    if (was === undefined) changes.added.add(path);
    else if (was !== value) changes.modified.add(path);
  }
  for (const path of before.keys()) if (!after.has(path)) changes.removed.add(path);
  return changes;
}

/** The `fieldsV1` tree of a set of paths: `{"f:data": {"f:a": {}}}`, `"."` marking a member with children. */
export function toFieldsV1(paths: Iterable<string>): JsonRecord {
  const root: JsonRecord = {};
  for (const path of paths) {
    let node = root;
    for (const element of path.split(SEP)) {
      const child = isRecord(node[element]) ? node[element] as JsonRecord : {};
      node[element] = child;
      node = child;
    }
    node["."] = {};
  }
  return pruneDots(root);
}

/** Drops the `"."` of leaves: a member without children is shown as `{}`. */
function pruneDots(node: JsonRecord): JsonRecord {
  const out: JsonRecord = {};
  const keys = Object.keys(node).filter((k) => k !== ".").sort();
  if ("." in node && keys.length > 0) out["."] = {};
  for (const key of keys) out[key] = pruneDots(node[key] as JsonRecord);
  return out;
}

/** The set of paths a `fieldsV1` tree names (the inverse of {@link toFieldsV1}). */
export function fromFieldsV1(tree: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, path: string): void => {
    if (!isRecord(node)) return;
    const keys = Object.keys(node).filter((k) => k !== ".");
    if (path !== "" && (keys.length === 0 || "." in node)) out.add(path);
    for (const key of keys) walk(node[key], path === "" ? key : `${path}${SEP}${key}`);
  };
  walk(tree, "");
  return out;
}

/** `.spec.ports[port=5432,protocol="TCP"].name`: a path as the real server's messages show it. */
export function describePath(path: string): string {
  let out = "";
  for (const element of path.split(SEP)) {
    const body = element.slice(2);
    if (element.startsWith("f:")) out += `.${body}`;
    else if (element.startsWith("v:")) out += `[${body}]`;
    else {
      const key = JSON.parse(body) as JsonRecord;
      out += `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}]`;
    }
  }
  return out;
}
