/**
 * Which backups retention deletes, from a listing of the store under a PostgresDB's prefix.
 *
 * A backup is the set of objects under `<prefix><id>/`; it is complete when its manifest
 * (`<prefix><id>/manifest.json`) exists, incomplete otherwise (an upload cut short, a manifest
 * never written, or a deletion stopped half-way, which removes the manifest first). Ids start
 * with the UTC time the backup started (`YYYYMMDDTHHMMSSZ`), so id order is time order.
 *
 * Guarantees: the newest complete backup is never deleted, nor the backup `currentId`; nothing
 * newer than the newest complete backup is deleted (an incomplete one may be a backup still
 * being taken); at most `max(1, keepLast)` complete backups remain, apart from `currentId` when
 * it is an older complete one.
 *
 * @module
 */

import type { StoredObject } from "./types.ts";
import { MANIFEST_OBJECT } from "./runner_env.ts";

export type { StoredObject };

/** One backup found in a listing. */
export interface StoredBackup {
  /** The backup's id: the key's path segment after the prefix. */
  id: string;
  /** Whether its manifest exists. */
  complete: boolean;
  /** Its objects' keys, the manifest's first when there is one. */
  keys: string[];
  /** The size of all its objects, in bytes. */
  sizeBytes: number;
}

/**
 * Groups a listing into backups by id, oldest first. Keys under `prefix` that are not inside a
 * backup's folder (`<prefix><id>/...`) and keys outside `prefix` are ignored.
 *
 * @example
 * ```ts
 * import { groupBackups } from "./retention.ts";
 * const backups = groupBackups([
 *   { key: "p/20250101T000000Z-a/dump.pgc", sizeBytes: 10 },
 *   { key: "p/20250101T000000Z-a/manifest.json", sizeBytes: 1 },
 *   { key: "p/20250102T000000Z-b/dump.pgc", sizeBytes: 5 },
 * ], "p/");
 * if (backups.length !== 2 || !backups[0]!.complete || backups[1]!.complete) throw new Error();
 * ```
 */
export function groupBackups(listing: readonly StoredObject[], prefix: string): StoredBackup[] {
  const byId = new Map<string, StoredBackup>();
  for (const object of listing) {
    if (!object.key.startsWith(prefix)) continue;
    const rest = object.key.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash <= 0 || slash === rest.length - 1) continue;
    const id = rest.slice(0, slash);
    const backup = byId.get(id) ?? { id, complete: false, keys: [], sizeBytes: 0 };
    byId.set(id, backup);
    backup.sizeBytes += object.sizeBytes;
    if (rest.slice(slash + 1) === MANIFEST_OBJECT) {
      backup.complete = true;
      backup.keys.unshift(object.key);
    } else {
      backup.keys.push(object.key);
    }
  }
  return [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
}

/**
 * The ids of the backups to delete, oldest first: complete backups beyond the newest
 * `keepLast` (less than 1 counts as 1), and incomplete ones older than the newest complete
 * backup; never the newest complete backup, never `currentId`. With no complete backup,
 * nothing is deleted.
 *
 * @param listing every object under `prefix`
 * @param prefix the PostgresDB's key prefix, ending with `/`
 * @param keepLast how many complete backups to keep
 * @param currentId the backup this run took, if any: never deleted
 * @returns ids to delete; delete each backup's manifest before its other objects
 *
 * @example
 * ```ts
 * import { retentionPlan } from "./retention.ts";
 * const listing = ["a", "b", "c"].flatMap((s, i) => [
 *   { key: `p/2025010${i + 1}T000000Z-${s}/dump.pgc`, sizeBytes: 1 },
 *   { key: `p/2025010${i + 1}T000000Z-${s}/manifest.json`, sizeBytes: 1 },
 * ]);
 * const plan = retentionPlan(listing, "p/", 2, "20250103T000000Z-c");
 * if (plan.join() !== "20250101T000000Z-a") throw new Error(plan.join());
 * ```
 */
export function retentionPlan(
  listing: readonly StoredObject[],
  prefix: string,
  keepLast: number,
  currentId?: string,
): string[] {
  const backups = groupBackups(listing, prefix);
  const complete = backups.filter((backup) => backup.complete);
  const newest = complete.at(-1);
  if (newest === undefined) return [];
  const keep = Number.isNaN(keepLast) ? 1 : Math.max(1, Math.floor(keepLast));
  const kept = new Set(complete.slice(-keep).map((backup) => backup.id));
  return backups
    .filter((backup) =>
      backup.id !== currentId &&
      !kept.has(backup.id) &&
      compareIds(backup.id, newest.id) < 0
    )
    .map((backup) => backup.id);
}

/** Orders ids by code unit, which is time order for ids that start with the same timestamp form. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
