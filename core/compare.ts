/**
 * Comparison of a desired object with the observed one, the way a controller decides whether a
 * write is needed: every field the controller sets must be present with the same value; fields the
 * API server or other actors added are ignored.
 *
 * @module
 */

import { sameQuantity } from "./quantity.ts";

/** The answer of a comparison: equal, or the first difference found. */
export interface Comparison {
  /** True when the observed object already has every desired value. */
  equal: boolean;
  /** Names the first difference, e.g. `spec.replicas: want 3, have 1`. Empty when equal. */
  reason: string;
}

const QUANTITY_PARENTS = new Set(["requests", "limits", "capacity"]);

/**
 * Compares `desired` against `observed`: objects must hold every desired key with an equal value
 * (extra observed keys are fine); lists whose desired items all have a `name` are matched by name
 * (extra observed items are fine, as server-side apply keeps items other managers own); other lists
 * must match item by item. Quantities under `requests`, `limits` and `capacity` compare by value.
 *
 * @example
 * ```ts
 * import { compareDesired } from "./compare.ts";
 * const c = compareDesired({ spec: { replicas: 3 } }, { spec: { replicas: 1, paused: false } });
 * console.assert(!c.equal && c.reason === "spec.replicas: want 3, have 1");
 * ```
 */
export function compareDesired(desired: unknown, observed: unknown, path = ""): Comparison {
  if (desired === observed) return EQUAL;
  if (Array.isArray(desired)) return compareLists(desired, observed, path);
  if (isRecord(desired)) {
    if (!isRecord(observed)) return differ(path, desired, observed);
    for (const [key, value] of Object.entries(desired)) {
      if (value === undefined) continue;
      const child = compareDesired(value, observed[key], path ? `${path}.${key}` : key);
      if (!child.equal) return child;
    }
    return EQUAL;
  }
  if (
    typeof desired === "string" && typeof observed === "string" &&
    QUANTITY_PARENTS.has(parentKey(path)) && sameQuantity(desired, observed)
  ) {
    return EQUAL;
  }
  return differ(path, desired, observed);
}

function compareLists(desired: unknown[], observed: unknown, path: string): Comparison {
  if (!Array.isArray(observed)) return differ(path, desired, observed);
  const byName = desired.length > 0 &&
    desired.every((d) => isRecord(d) && typeof d.name === "string");
  if (byName) {
    for (const item of desired as Record<string, unknown>[]) {
      const match = observed.find((o) => isRecord(o) && o.name === item.name);
      const itemPath = `${path}[name=${String(item.name)}]`;
      if (match === undefined) return { equal: false, reason: `${itemPath}: missing` };
      const child = compareDesired(item, match, itemPath);
      if (!child.equal) return child;
    }
    return EQUAL;
  }
  if (desired.length !== observed.length) {
    return {
      equal: false,
      reason: `${path}: want ${desired.length} items, have ${observed.length}`,
    };
  }
  for (let i = 0; i < desired.length; i++) {
    const child = compareDesired(desired[i], observed[i], `${path}[${i}]`);
    if (!child.equal) return child;
  }
  return EQUAL;
}

const EQUAL: Comparison = { equal: true, reason: "" };

function differ(path: string, desired: unknown, observed: unknown): Comparison {
  return {
    equal: false,
    reason: `${path || "(root)"}: want ${show(desired)}, have ${show(observed)}`,
  };
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parentKey(path: string): string {
  const parts = path.split(".");
  return parts[parts.length - 2] ?? "";
}

/** True for plain objects (not arrays, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values, with object keys in any order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * `base` with `patch` laid over it: objects merge key by key, anything else (lists included) is
 * replaced, `undefined` leaves the base value. Neither argument is changed.
 *
 * @example
 * ```ts
 * import { overlay } from "./compare.ts";
 * const out = overlay({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 4 } });
 * console.assert(JSON.stringify(out) === '{"a":1,"b":{"c":4,"d":3}}');
 * ```
 */
export function overlay<T>(base: T, patch: unknown): T {
  if (!isRecord(base) || !isRecord(patch)) {
    return (patch === undefined ? structuredClone(base) : structuredClone(patch)) as T;
  }
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    out[key] = key in out ? overlay(out[key], value) : structuredClone(value);
  }
  return out as T;
}
