/**
 * Kubernetes resource quantities ("1Gi", "500M", "1.5e3"): parsing and comparison.
 *
 * @module
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** The result of {@link parseQuantity}: the value in base units, or why the text is not one. */
export type ParsedQuantity = { ok: true; value: number } | { ok: false; reason: string };

/**
 * Parses a Kubernetes quantity into its value in base units (bytes for storage).
 *
 * @example
 * ```ts
 * import { parseQuantity } from "./quantity.ts";
 * const q = parseQuantity("1Gi");
 * console.assert(q.ok && q.value === 1073741824);
 * ```
 */
export function parseQuantity(text: string): ParsedQuantity {
  if (typeof text !== "string" || text.length === 0) {
    return { ok: false, reason: "not a Kubernetes quantity (empty)" };
  }
  const match = QUANTITY.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: "not a Kubernetes quantity (a number with an optional suffix such as Mi, Gi, M, G)",
    };
  }
  const sign = match[1] === "-" ? -1 : 1;
  const number = Number(match[2]);
  const suffix = match[3] ?? "";
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix]!;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix]!;
  else factor = 10 ** Number(suffix.slice(1));
  const value = sign * number * factor;
  if (!Number.isFinite(value)) return { ok: false, reason: "out of range" };
  return { ok: true, value };
}

/** True when both texts are quantities of the same value ("1Gi" and "1024Mi"). */
export function sameQuantity(a: string, b: string): boolean {
  const pa = parseQuantity(a);
  const pb = parseQuantity(b);
  return pa.ok && pb.ok && pa.value === pb.value;
}
