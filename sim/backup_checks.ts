/**
 * The checkers of backups and restores, run after every step of a simulation (see
 * `tests/scenario/backup_test.ts` and the backup campaign):
 *
 * 1. **No success without a manifest.** Every backup a PostgresBackup's status lists, and its last
 *    successful run, had its manifest written (a successful `putObject` of
 *    `<prefix><id>/manifest.json`) before the status said so.
 * 2. **A slot runs at most once.** No two Jobs (distinct uids) ever ran for one PostgresBackup's
 *    slot (or, for a one-shot backup, its one run).
 * 3. **Retention keeps the newest success.** Under each backup prefix, the newest manifest ever
 *    written is still in the store.
 * 4. **Never two backups of one database at once.** No two backup runs of one PostgresDB were in
 *    flight at the same virtual instant.
 * 5. **No Ready before the restore.** A PostgresDB with `spec.restoreFrom` that reports Ready has
 *    a primary whose data holds the restore's marker (`<id>:<sha256>`).
 *
 * Caveat: the checkers read the simulated API server and store directly (not through a client),
 * so they see the truth, not a cache.
 *
 * @module
 */

import type { KubeObject } from "../core/object.ts";
import { BACKUP_ID_LABEL, BACKUP_LABEL, SLOT_ANNOTATION } from "../core/backup/job.ts";
import { MANIFEST_OBJECT } from "../core/backup/runner_env.ts";
import type { PostgresBackup } from "../core/backup/types.ts";
import type { PostgresDB } from "../core/postgres/types.ts";
import type { SimCluster } from "./cluster.ts";

const JOB = { apiVersion: "batch/v1", kind: "Job" };
const BACKUP = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup" };
const DB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };

/** The backup checkers over one simulated cluster; {@link BackupCheckers.check} after each step. */
export class BackupCheckers {
  readonly #cluster: SimCluster;
  /** `<backup uid>/<slot or id>` → the uid of the Job that ran it. */
  readonly #slots = new Map<string, string>();
  /** Manifest keys already seen written, by prefix: the newest id per prefix. */
  readonly #newest = new Map<string, string>();
  #logSeen = 0;
  readonly #written = new Set<string>();

  /** Checks `cluster` from now on. */
  constructor(cluster: SimCluster) {
    this.#cluster = cluster;
  }

  /** How many distinct slots (or one-shot runs) got a Job. */
  slotsRun(): number {
    return this.#slots.size;
  }

  /** The violations now, one sentence each (empty: all hold). */
  check(): string[] {
    const out: string[] = [];
    this.#readLog();
    const server = this.#cluster.server;
    const backups = server.peekList(BACKUP) as PostgresBackup[];
    for (const b of backups) out.push(...this.#manifestsFirst(b));
    for (const job of server.peekList(JOB)) out.push(...this.#onceForSlot(job));
    out.push(...this.#newestKept());
    out.push(...this.#oneAtATime());
    for (const db of server.peekList(DB) as PostgresDB[]) out.push(...this.#readyAfterRestore(db));
    return out;
  }

  #readLog(): void {
    const log = this.#cluster.objectStores.log;
    for (; this.#logSeen < log.length; this.#logSeen++) {
      const op = log[this.#logSeen]!;
      if (op.op !== "putObject" || !op.ok || !op.key.endsWith(`/${MANIFEST_OBJECT}`)) continue;
      const full = `${op.endpoint}/${op.bucket}/${op.key}`;
      this.#written.add(full);
      const parts = full.split("/");
      const id = parts[parts.length - 2]!;
      const prefix = parts.slice(0, -2).join("/");
      const newest = this.#newest.get(prefix);
      if (newest === undefined || id > newest) this.#newest.set(prefix, id);
    }
  }

  #manifestsFirst(b: PostgresBackup): string[] {
    const ids = new Set((b.status?.backups ?? []).map((r) => r.id));
    if (b.status?.lastSuccessfulBackup) ids.add(b.status.lastSuccessfulBackup.id);
    const out: string[] = [];
    for (const id of ids) {
      const written = [...this.#written].some((k) => k.endsWith(`/${id}/${MANIFEST_OBJECT}`));
      if (!written) {
        out.push(
          `PostgresBackup ${b.metadata.name} reports backup "${id}" succeeded, but no manifest of it was ever written`,
        );
      }
    }
    return out;
  }

  #onceForSlot(job: KubeObject): string[] {
    const backup = job.metadata.labels?.[BACKUP_LABEL];
    if (backup === undefined) return [];
    const owner = job.metadata.ownerReferences?.find((r) => r.controller)?.uid ?? backup;
    const slot = job.metadata.annotations?.[SLOT_ANNOTATION] ??
      job.metadata.labels?.[BACKUP_ID_LABEL] ?? "";
    const key = `${owner}/${slot}`;
    const seen = this.#slots.get(key);
    const uid = job.metadata.uid ?? "";
    if (seen === undefined) {
      this.#slots.set(key, uid);
      return [];
    }
    return seen === uid
      ? []
      : [`PostgresBackup ${backup}: the slot "${slot}" ran twice (Jobs ${seen} and ${uid})`];
  }

  #newestKept(): string[] {
    const out: string[] = [];
    for (const [prefix, id] of this.#newest) {
      const [scheme, , host, bucket, ...rest] = prefix.split("/");
      const endpoint = this.#cluster.objectStores.endpointOf(`${scheme}//${host}`);
      const key = `${rest.join("/")}/${id}/${MANIFEST_OBJECT}`;
      if (endpoint !== undefined && endpoint.object(bucket!, key) === undefined) {
        out.push(`retention deleted the newest successful backup "${id}" under ${prefix}`);
      }
    }
    return out;
  }

  #oneAtATime(): string[] {
    const runner = this.#cluster.jobRunner;
    if (runner === undefined) return [];
    const inFlight = new Map<string, string[]>();
    for (const run of runner.runs) {
      if (run.mode !== "backup" || run.endedAtMs !== undefined) continue;
      // The database the run names, not its pod's name: a Job named otherwise (a bug of the
      // lock) must not hide two runs of one database.
      const db = `${run.namespace}/${
        run.postgresDB ?? run.pod.replace(/-backup-[a-z0-9]{5}$/, "")
      }`;
      inFlight.set(db, [...(inFlight.get(db) ?? []), run.pod]);
    }
    return [...inFlight].filter(([, pods]) => pods.length > 1).map(([db, pods]) =>
      `two backups of ${db} at once: ${pods.join(", ")}`
    );
  }

  #readyAfterRestore(db: PostgresDB): string[] {
    if (db.spec?.restoreFrom === undefined || db.status?.ready !== true) return [];
    const restore = db.status.restore;
    const primary = db.status.currentPrimary ?? db.status.targetPrimary ?? `${db.metadata.name}-0`;
    const instance = this.#cluster.dataPlane?.instanceOfPod(
      db.metadata.namespace ?? "default",
      primary,
    );
    const want = `${restore?.id}:${restore?.sha256}`;
    if (restore?.phase !== "Succeeded" || instance?.restored?.marker !== want) {
      return [
        `PostgresDB ${db.metadata.name} is Ready, but its primary ${primary} holds ${
          instance?.restored?.marker ?? "no restore"
        }, not "${want}"`,
      ];
    }
    return [];
  }
}
