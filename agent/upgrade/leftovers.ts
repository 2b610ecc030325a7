/**
 * What an interrupted major upgrade leaves on a volume, and how it is settled by file operations
 * alone (no PostgreSQL binaries needed), so that both the upgrade runner and the instance agent
 * can do it:
 *
 * - a journal at `prepare` or `link`: the old cluster never ran on the new binaries, so it is
 *   restored by renaming `global/pg_control.old` back and removing `pgdata.next`;
 * - a journal at `swap` or `finish`: the upgrade is committed, so the new data directory takes the
 *   old one's place (the first start that updates extensions and statistics is skipped).
 *
 * The instance agent settles them before it looks at its data directory: a volume whose upgrade
 * was abandoned (its PostgresDB deleted and made again, say) never looks empty to it, and it never
 * clones over an upgraded primary's data.
 *
 * @module
 */

import type { UpgradeJournal } from "../../core/upgrade/types.ts";

/** The journal's file name, beside the data directory. */
export const JOURNAL_FILE = "pgop-upgrade.json";
/** `pg_upgrade`'s working directory, beside the data directory. */
export const WORK_DIR = "pgop-upgrade-work";

/** True when `path` exists (a dangling link too). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The directory `path` is in. */
export function parentOf(path: string): string {
  const at = path.replace(/\/+$/, "").lastIndexOf("/");
  return at <= 0 ? "/" : path.slice(0, at);
}

/** Syncs a directory's entries to disk (renames in it), where the filesystem allows. */
export function syncDir(dir: string): void {
  try {
    const handle = Deno.openSync(dir, { read: true });
    handle.syncSync();
    handle.close();
  } catch {
    // Not every filesystem syncs a directory handle; the renames stand.
  }
}

/** The journal beside `pgdata`, if a run left one. */
export function readJournal(pgdata: string): UpgradeJournal | undefined {
  const path = `${parentOf(pgdata)}/${JOURNAL_FILE}`;
  return exists(path) ? JSON.parse(Deno.readTextFileSync(path)) as UpgradeJournal : undefined;
}

/** Restores the old cluster: `pg_control` back, the new cluster and the work directory gone. */
export function rollbackFiles(pgdata: string): void {
  const control = `${pgdata}/global/pg_control`;
  if (exists(`${control}.old`) && !exists(control)) Deno.renameSync(`${control}.old`, control);
  for (const dir of [`${pgdata}.next`, `${parentOf(pgdata)}/${WORK_DIR}`]) {
    if (exists(dir)) Deno.removeSync(dir, { recursive: true });
  }
  syncDir(parentOf(pgdata));
}

/** Puts `pgdata.next` in the data directory's place, the old one aside (idempotent). */
export function swapFiles(pgdata: string): void {
  const next = `${pgdata}.next`;
  const old = `${pgdata}.old`;
  if (!exists(next)) return;
  if (exists(pgdata)) {
    if (exists(old)) Deno.removeSync(old, { recursive: true });
    Deno.renameSync(pgdata, old);
  }
  Deno.renameSync(next, pgdata);
  syncDir(parentOf(pgdata));
}

/**
 * Settles what an interrupted upgrade left beside `pgdata` (see the module documentation), and
 * returns what was done, or undefined when nothing was left.
 */
export function settleUpgradeLeftovers(pgdata: string): string | undefined {
  const journal = readJournal(pgdata);
  if (journal === undefined) return undefined;
  let done: string;
  if (journal.step === "prepare" || journal.step === "link") {
    rollbackFiles(pgdata);
    done = `rolled back an upgrade to ${journal.to} interrupted at "${journal.step}"`;
  } else {
    swapFiles(pgdata);
    for (const dir of [`${pgdata}.old`, `${parentOf(pgdata)}/${WORK_DIR}`]) {
      if (exists(dir)) Deno.removeSync(dir, { recursive: true });
    }
    done = `completed an upgrade to ${journal.to} interrupted at "${journal.step}"`;
  }
  Deno.removeSync(`${parentOf(pgdata)}/${JOURNAL_FILE}`);
  syncDir(parentOf(pgdata));
  return done;
}
