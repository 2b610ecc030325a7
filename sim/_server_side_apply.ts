/**
 * Field managers and server-side apply for the simulated API server, after structured-merge-diff
 * (the library behind the real server's apply):
 *
 * - every write records which manager owns which leaf fields in `metadata.managedFields` (one
 *   entry per manager and operation, `Apply` or `Update`, with `fieldsV1` and the time of its last
 *   change);
 * - an update (and a create) gives its manager the fields it changed and takes them from the
 *   others, without conflicts;
 * - an apply merges the applied object into the stored one (objects field by field, keyed lists
 *   item by item by their keys, sets as sets, other lists replaced whole), removes the fields its
 *   manager applied last time and no longer applies unless another manager owns them, and fails
 *   with a 409 conflict when it would change a field another manager owns, unless forced (then it
 *   takes the field over).
 *
 * Not modelled: the status subresource's own entries (status written through it is not tracked),
 * version conversion between entries, the cap on the number of `Update` entries.
 *
 * @module
 */

import { ApiError } from "../core/cluster.ts";
import { deepClone, isRecord, type JsonRecord } from "./_json.ts";
import {
  compareFields,
  describePath,
  fromFieldsV1,
  itemElement,
  leafFields,
  type ListType,
  listTypeAt,
  SEP,
  toFieldsV1,
} from "./_field_paths.ts";

/** One manager's fields, as the simulation keeps them between writes. */
export interface ManagerEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fields: Set<string>;
}

const decoded = new WeakMap<unknown[], ManagerEntry[]>();
/**
 * The leaves of the most recently stored objects. A leaf map is many strings, several times the
 * size of its object, so only the last {@link LEAVES_KEPT} are kept (a write usually follows the
 * one before it closely); an older object's leaves are computed again when it is written over.
 */
const leavesOf = new Map<object, Map<string, string>>();
const LEAVES_KEPT = 4096;

function keepLeaves(object: object, leaves: Map<string, string>): void {
  leavesOf.delete(object);
  leavesOf.set(object, leaves);
  if (leavesOf.size > LEAVES_KEPT) leavesOf.delete(leavesOf.keys().next().value!);
}

/** The manager entries of a stored object (cached: stored objects never change in place). */
export function managersOf(object: JsonRecord & { metadata: JsonRecord }): ManagerEntry[] {
  const raw = object.metadata.managedFields;
  if (!Array.isArray(raw)) return [];
  const cached = decoded.get(raw);
  if (cached) return cached;
  const entries: ManagerEntry[] = [];
  {
    for (const entry of raw) {
      if (!isRecord(entry) || typeof entry.manager !== "string") continue;
      entries.push({
        manager: entry.manager,
        operation: entry.operation === "Apply" ? "Apply" : "Update",
        apiVersion: String(entry.apiVersion ?? ""),
        time: String(entry.time ?? ""),
        fields: fromFieldsV1(entry.fieldsV1),
      });
    }
  }
  decoded.set(raw, entries);
  return entries;
}

/** The leaves of a stored object (cached like {@link managersOf}). */
function storedLeaves(object: JsonRecord, withStatus: boolean): Map<string, string> {
  const cached = leavesOf.get(object);
  if (cached) return cached;
  const leaves = leafFields(object, withStatus);
  keepLeaves(object, leaves);
  return leaves;
}

/**
 * The `fieldsV1` tree of each entry, encoded once: a write keeps the entries it does not change
 * (the same objects), and stored objects are never changed in place, so the trees can be shared.
 */
const encodedFields = new WeakMap<ManagerEntry, JsonRecord>();

/** `metadata.managedFields` for `entries`, in the real server's shape. */
export function encodeManagers(entries: ManagerEntry[]): JsonRecord[] {
  const encoded = entries.map((entry) => {
    let fieldsV1 = encodedFields.get(entry);
    if (fieldsV1 === undefined) {
      fieldsV1 = toFieldsV1(entry.fields);
      encodedFields.set(entry, fieldsV1);
    }
    return {
      manager: entry.manager,
      operation: entry.operation,
      apiVersion: entry.apiVersion,
      time: entry.time,
      fieldsType: "FieldsV1",
      fieldsV1,
    };
  });
  decoded.set(encoded, entries);
  return encoded;
}

/** Who writes, and how. */
export interface WriteManager {
  manager: string;
  operation: "Apply" | "Update";
  /** The object's apiVersion, recorded in the entry. */
  apiVersion: string;
  /** The write's time, for entries that change. */
  time: string;
  /** True when the kind has a status subresource (status is then not owned through this write). */
  statusSubresource: boolean;
}

/**
 * The entries after an update (or a create, `stored` absent) that turned `stored` into `next`:
 * the writer gains the fields it added or changed, others lose them and every removed field.
 */
export function managersAfterUpdate(
  stored: (JsonRecord & { metadata: JsonRecord }) | undefined,
  next: JsonRecord,
  writer: WriteManager,
): ManagerEntry[] {
  const withStatus = !writer.statusSubresource;
  const before = stored ? storedLeaves(stored, withStatus) : new Map<string, string>();
  const after = leafFields(next, withStatus);
  // `next` is what the server stores: its leaves are those of the next write's `stored`.
  keepLeaves(next, after);
  const changes = compareFields(before, after);
  const taken = new Set([...changes.modified, ...changes.added]);
  const entries = stored ? managersOf(stored) : [];
  const out = withoutFields(entries, writer, [taken, changes.removed]);
  const mine = entries.find((e) => isWriter(e, writer));
  const fields = new Set(mine?.fields ?? []);
  for (const path of changes.removed) fields.delete(path);
  for (const path of taken) fields.add(path);
  return withEntry(out, mine, fields, writer);
}

/** The object an apply stores (before defaulting) and the entries after it. */
export interface ApplyOutcome {
  object: JsonRecord;
  managers: ManagerEntry[];
}

/**
 * Server-side apply of `applied` over `stored`: merge, prune what the manager stopped applying,
 * then check conflicts with the other managers (a 409 unless `force`). `applied` carries no status
 * when the kind has a status subresource.
 */
export function serverSideApply(
  stored: JsonRecord & { metadata: JsonRecord },
  applied: JsonRecord & { metadata: JsonRecord },
  writer: WriteManager & { force: boolean },
): ApplyOutcome {
  const withStatus = !writer.statusSubresource;
  const apiVersion = String(stored.apiVersion);
  const kind = String(stored.kind);
  const merged = mergeValue(stored, applied, [], apiVersion, kind) as JsonRecord;
  const config = leafFields(applied, withStatus);
  const entries = managersOf(stored);
  const mine = entries.find((e) => isWriter(e, writer));
  // Prune: fields applied last time and no longer, unless some manager (this one's new set
  // included) still owns them or something inside them.
  if (mine) {
    const owned = new Set<string>();
    const own = (path: string): void => {
      for (let i = path.indexOf(SEP); i >= 0; i = path.indexOf(SEP, i + 1)) {
        owned.add(path.slice(0, i));
      }
      owned.add(path);
    };
    for (const path of config.keys()) own(path);
    for (const entry of entries) if (entry !== mine) { for (const path of entry.fields) own(path); }
    for (const path of mine.fields) {
      if (!config.has(path) && !owned.has(path)) removePath(merged, path, apiVersion, kind);
    }
  }
  const changes = compareFields(storedLeaves(stored, withStatus), leafFields(merged, withStatus));
  const touched = new Set([...changes.modified, ...changes.added]);
  const conflicts: { manager: ManagerEntry; path: string }[] = [];
  for (const entry of entries) {
    if (entry === mine) continue;
    for (const path of entry.fields) {
      if (touched.has(path)) conflicts.push({ manager: entry, path });
    }
  }
  if (conflicts.length > 0 && !writer.force) throw conflictError(conflicts);
  const out = withoutFields(entries, writer, [touched, changes.removed]);
  return { object: merged, managers: withEntry(out, mine, new Set(config.keys()), writer) };
}

/** The entries of the other managers, without `drop`'s fields; emptied entries go. */
function withoutFields(
  entries: readonly ManagerEntry[],
  writer: WriteManager,
  drop: readonly Set<string>[],
): ManagerEntry[] {
  const out: ManagerEntry[] = [];
  for (const entry of entries) {
    if (isWriter(entry, writer)) {
      out.push(entry);
      continue;
    }
    const lost = [...entry.fields].filter((path) => drop.some((set) => set.has(path)));
    if (lost.length === 0) {
      out.push(entry);
      continue;
    }
    const fields = new Set(entry.fields);
    for (const path of lost) fields.delete(path);
    if (fields.size > 0) out.push({ ...entry, fields });
  }
  return out;
}

/** `entries` with the writer's entry set to `fields` (kept in place; dropped when empty). */
function withEntry(
  entries: ManagerEntry[],
  mine: ManagerEntry | undefined,
  fields: Set<string>,
  writer: WriteManager,
): ManagerEntry[] {
  const same = mine !== undefined && mine.fields.size === fields.size &&
    [...fields].every((path) => mine.fields.has(path));
  const entry: ManagerEntry = same ? mine : {
    manager: writer.manager,
    operation: writer.operation,
    apiVersion: writer.apiVersion,
    time: writer.time,
    fields,
  };
  const index = entries.findIndex((e) => isWriter(e, writer));
  if (fields.size === 0) return index < 0 ? entries : entries.filter((_, i) => i !== index);
  if (index < 0) return [...entries, entry];
  const out = [...entries];
  out[index] = entry;
  return out;
}

function isWriter(entry: ManagerEntry, writer: WriteManager): boolean {
  return entry.manager === writer.manager && entry.operation === writer.operation;
}

/** The real server's apply conflict: `Apply failed with 1 conflict: conflict with "m": .data.a`. */
function conflictError(conflicts: { manager: ManagerEntry; path: string }[]): ApiError {
  const show = (entry: ManagerEntry): string =>
    entry.operation === "Update"
      ? `${JSON.stringify(entry.manager)} using ${entry.apiVersion}`
      : JSON.stringify(entry.manager);
  if (conflicts.length === 1) {
    const only = conflicts[0]!;
    return new ApiError(
      "Conflict",
      `Apply failed with 1 conflict: conflict with ${show(only.manager)}: ${
        describePath(only.path)
      }`,
    );
  }
  const byManager = new Map<string, string[]>();
  for (const { manager, path } of conflicts) {
    const name = show(manager);
    byManager.set(name, [...(byManager.get(name) ?? []), describePath(path)]);
  }
  const lines: string[] = [];
  for (const name of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${name}:`);
    for (const path of byManager.get(name)!) lines.push(`- ${path}`);
  }
  return new ApiError(
    "Conflict",
    `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Merging and removing by path
// ---------------------------------------------------------------------------------------------

/**
 * The applied value `config` merged into the stored `live`: objects field by field (`null`
 * removes), lists by their type, anything else replaced. `live` is not changed; the result shares
 * untouched parts with it.
 */
function mergeValue(
  live: unknown,
  config: unknown,
  fields: string[],
  apiVersion: string,
  kind: string,
): unknown {
  if (Array.isArray(config)) {
    const type = listTypeAt(apiVersion, kind, fields);
    if (type.kind === "atomic" || !Array.isArray(live)) return deepClone(config);
    return mergeList(live, config, type, fields, apiVersion, kind);
  }
  if (!isRecord(config) || !isRecord(live)) return deepClone(config);
  const out: JsonRecord = { ...live };
  for (const key of Object.keys(config)) {
    const value = config[key];
    if (value === undefined) continue;
    if (value === null) delete out[key];
    else out[key] = mergeValue(live[key], value, [...fields, key], apiVersion, kind);
  }
  return out;
}

/**
 * Merges a keyed list or a set as structured-merge-diff does: the items in both are merged, live
 * items the apply does not name stay where they are, and the items the apply names keep its
 * order among themselves.
 */
function mergeList(
  live: unknown[],
  config: unknown[],
  type: ListType,
  fields: string[],
  apiVersion: string,
  kind: string,
): unknown[] {
  const lhs = live.map((item) => itemElement(type, item));
  const rhs = config.map((item) => itemElement(type, item));
  const liveBy = new Map<string, unknown>();
  lhs.forEach((key, i) => liveBy.has(key) || liveBy.set(key, live[i]));
  const configBy = new Map<string, unknown>();
  rhs.forEach((key, i) => configBy.has(key) || configBy.set(key, config[i]));
  const shared = rhs.filter((key) => liveBy.has(key));
  let nextShared = shared.shift();
  const merged = new Set<string>();
  const out: unknown[] = [];
  const mergeItem = (key: string): unknown => {
    const l = liveBy.get(key);
    const r = configBy.get(key);
    if (r === undefined) return l;
    if (l === undefined || type.kind === "set") return deepClone(r);
    return mergeValue(l, r, fields, apiVersion, kind);
  };
  let li = 0;
  let ri = 0;
  while (li < lhs.length || ri < rhs.length) {
    if (li < lhs.length && ri < rhs.length) {
      const key = lhs[li]!;
      if (key === rhs[ri]) {
        merged.add(key);
        out.push(mergeItem(key));
        li++;
        ri++;
        nextShared = shared.shift();
        continue;
      }
      if (configBy.has(key) && nextShared !== undefined && nextShared !== key) {
        li++; // a shared item, but not the next one in the apply's order
        continue;
      }
    }
    if (li < lhs.length) {
      const key = lhs[li]!;
      if (!configBy.has(key)) {
        out.push(live[li]);
        li++;
        continue;
      }
      if (merged.has(key)) {
        li++;
        continue;
      }
    }
    if (ri < rhs.length) {
      const key = rhs[ri]!;
      merged.add(key);
      out.push(mergeItem(key));
      ri++;
      if (nextShared === key) nextShared = shared.shift();
    }
  }
  return out;
}

/** Removes the field or item at `path` from `object` (modified in place along the path). */
function removePath(object: JsonRecord, path: string, apiVersion: string, kind: string): void {
  const elements = path.split(SEP);
  const fields: string[] = [];
  let node: unknown = object;
  const parents: { container: JsonRecord | unknown[]; at: string | number }[] = [];
  for (const element of elements) {
    if (element.startsWith("f:")) {
      const name = element.slice(2);
      if (!isRecord(node) || !(name in node)) return;
      parents.push({ container: node, at: name });
      fields.push(name);
      node = node[name];
      continue;
    }
    if (!Array.isArray(node)) return;
    const type = listTypeAt(apiVersion, kind, fields);
    const index = node.findIndex((item) => itemElement(type, item) === element);
    if (index < 0) return;
    parents.push({ container: node, at: index });
    node = node[index];
  }
  // Copy the containers along the path, so that shared (stored) parts are never changed.
  let copy: unknown = object;
  for (let i = 0; i < parents.length; i++) {
    const { at } = parents[i]!;
    const container = copy as JsonRecord | unknown[];
    if (i === parents.length - 1) {
      if (Array.isArray(container)) container.splice(at as number, 1);
      else delete container[at as string];
      return;
    }
    const child = (container as Record<string | number, unknown>)[at];
    const cloned = Array.isArray(child) ? [...child] : { ...(child as JsonRecord) };
    (container as Record<string | number, unknown>)[at] = cloned;
    copy = cloned;
  }
}
