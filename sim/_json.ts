/**
 * Plain-JSON helpers for the simulated API server: fast deep copies, structural equality, RFC 7386
 * merge patches, a canonical encoding and a small stable hash. Values are JSON-shaped (objects,
 * arrays, strings, numbers, booleans, null); `undefined` members count as absent, as they vanish
 * on the wire.
 *
 * @module
 */

/** A JSON object. */
export type JsonRecord = Record<string, unknown>;

/** True for a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy of JSON data; members whose value is `undefined` are dropped. */
export function deepClone<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = deepClone(value[i]);
    return out as T;
  }
  const out: JsonRecord = {};
  for (const key of Object.keys(value)) {
    const member = (value as JsonRecord)[key];
    if (member !== undefined) out[key] = deepClone(member);
  }
  return out as T;
}

/**
 * Freezes JSON data deeply, in place, and returns it. A frozen member is taken to be frozen
 * deeply already (this function froze it), so data that shares its unchanged parts with an earlier
 * frozen version costs only its new parts.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    for (const key of Object.keys(value)) deepFreeze((value as JsonRecord)[key]);
  }
  return value;
}

/** Structural equality of JSON data; key order is irrelevant and `undefined` members are absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as JsonRecord;
  const rb = b as JsonRecord;
  let countA = 0;
  for (const key of Object.keys(ra)) {
    if (ra[key] === undefined) continue;
    countA++;
    if (!deepEqual(ra[key], rb[key])) return false;
  }
  let countB = 0;
  for (const key of Object.keys(rb)) if (rb[key] !== undefined) countB++;
  return countA === countB;
}

/**
 * Applies an RFC 7386 JSON merge patch and returns the result; `target` is not modified. Objects
 * merge recursively, `null` removes a member, anything else (arrays included) replaces.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return deepClone(patch);
  const out: JsonRecord = isRecord(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === undefined) continue;
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** JSON with object keys sorted, so equal data always encodes to the same string. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as JsonRecord;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    if (record[key] !== undefined) {
      parts.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    }
  }
  return `{${parts.join(",")}}`;
}

/** The 32-bit FNV-1a hash of a string's UTF-16 code units. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Base64 of the UTF-8 bytes of `text`, as the API server stores `Secret.data`. */
export function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary);
}
