/**
 * Timelines and WAL positions, as PostgreSQL's `.history` files describe them: a promotion ends
 * the timeline it was on at its flush LSN and starts a new one. A data directory can follow a
 * primary only while its WAL is a prefix of the primary's: on the primary's timeline, or on an
 * ancestor of it and not past the point where the primary's history left that ancestor.
 *
 * @module
 */

/** One ancestor timeline and the LSN where it ended (the next timeline forked there). */
export interface TimelineHistoryEntry {
  /** The ancestor timeline. */
  timeline: number;
  /** Where it ended: the first LSN of its successor. */
  endLsn: number;
}

/** A timeline's ancestors, oldest first (the content of its `.history` file). */
export type TimelineHistory = readonly TimelineHistoryEntry[];

/** A position in a WAL: a timeline with its history, and an LSN on it. */
export interface WalPosition {
  /** The timeline. */
  timeline: number;
  /** Its ancestors. */
  history: TimelineHistory;
  /** The LSN. */
  lsn: number;
}

/** The answer of {@link canFollow}: yes, or why not. */
export type FollowVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether a data directory at `local` can stream from a primary at `primary` without a rewind or
 * a new clone. On the same timeline it always can: a standby never holds WAL the primary did not
 * flush, and a primary's report may be older than the standby's own position.
 *
 * @example
 * ```ts
 * import { canFollow } from "./timeline.ts";
 * const primary = { timeline: 2, history: [{ timeline: 1, endLsn: 100 }], lsn: 180 };
 * console.assert(canFollow({ timeline: 1, history: [], lsn: 90 }, primary).ok);
 * console.assert(!canFollow({ timeline: 1, history: [], lsn: 120 }, primary).ok);
 * ```
 */
export function canFollow(local: WalPosition, primary: WalPosition): FollowVerdict {
  if (local.timeline === primary.timeline) return { ok: true };
  const entry = primary.history.find((e) => e.timeline === local.timeline);
  if (entry === undefined) {
    return {
      ok: false,
      reason: `timeline ${local.timeline} is not in the history of the primary's timeline ` +
        `${primary.timeline}`,
    };
  }
  if (local.lsn > entry.endLsn) {
    return {
      ok: false,
      reason: `WAL ends at ${local.lsn} on timeline ${local.timeline}, past its fork at ` +
        `${entry.endLsn} to the primary's timeline ${primary.timeline}`,
    };
  }
  return { ok: true };
}
