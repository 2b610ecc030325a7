/**
 * The simulation's ground truth about WAL content, kept apart from what an instance reports: a
 * WAL is a run of segments, each written by one origin. An origin is one primary incarnation (a
 * start as primary or a promotion), never reused: a primary that crashes and restarts writes again
 * at LSNs it had written but not flushed, with other content, and a new origin says so. Two WALs
 * hold the same bytes over a range exactly when they name the same origin over it. Checkers
 * compare truths, so a model or an agent that lies in its metadata (timeline, history) is still
 * caught.
 *
 * @module
 */

/** A run of WAL bytes written by one origin, from the end of the previous segment to `endLsn`. */
export interface WalSegment {
  /** The primary incarnation that wrote these bytes. */
  readonly origin: number;
  /** The end (exclusive) of the run. */
  readonly endLsn: number;
}

/** A WAL's content from LSN 0: segments in order, none empty. */
export type WalTruth = readonly WalSegment[];

/** The end of a WAL (0 when empty). */
export function truthEnd(truth: WalTruth): number {
  return truth.length === 0 ? 0 : truth[truth.length - 1]!.endLsn;
}

/** `truth` with the bytes `[end, toLsn)` of `origin` appended. */
export function appendWal(truth: WalTruth, origin: number, toLsn: number): WalTruth {
  const end = truthEnd(truth);
  if (toLsn <= end) return truth;
  const last = truth[truth.length - 1];
  if (last !== undefined && last.origin === origin) {
    return [...truth.slice(0, -1), { origin, endLsn: toLsn }];
  }
  return [...truth, { origin, endLsn: toLsn }];
}

/** The bytes `[fromLsn, toLsn)` of `source` appended to `truth` (which ends at `fromLsn`). */
export function copyWal(truth: WalTruth, source: WalTruth, toLsn: number): WalTruth {
  let out = truth;
  let start = 0;
  for (const segment of source) {
    const end = Math.min(segment.endLsn, toLsn);
    if (end > truthEnd(out) && end > start) out = appendWal(out, segment.origin, end);
    start = segment.endLsn;
    if (start >= toLsn) break;
  }
  return out;
}

/** The origin that wrote the byte at `lsn`, or undefined past the end. */
export function originAt(truth: WalTruth, lsn: number): number | undefined {
  for (const segment of truth) if (lsn < segment.endLsn) return segment.origin;
  return undefined;
}

/**
 * Whether `a` is a prefix of `b`: `b` holds every byte of `a`, written on the same origin.
 *
 * @example
 * ```ts
 * import { isWalPrefix } from "./wal_truth.ts";
 * const primary = [{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 150 }];
 * console.assert(isWalPrefix([{ origin: 1, endLsn: 90 }], primary));
 * console.assert(!isWalPrefix([{ origin: 1, endLsn: 120 }], primary));
 * ```
 */
export function isWalPrefix(a: WalTruth, b: WalTruth): boolean {
  if (truthEnd(a) > truthEnd(b)) return false;
  let start = 0;
  for (const segment of a) {
    // Every segment of `b` overlapping [start, segment.endLsn) must be this origin.
    let bStart = 0;
    for (const other of b) {
      if (other.endLsn > start && bStart < segment.endLsn && other.origin !== segment.origin) {
        return false;
      }
      bStart = other.endLsn;
      if (bStart >= segment.endLsn) break;
    }
    start = segment.endLsn;
  }
  return true;
}
