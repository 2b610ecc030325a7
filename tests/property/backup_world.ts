/**
 * The world of the backup campaign: one schedule, drawn from a seed, run end to end in the
 * simulation with the operator's two controllers, the simulated Job controller and kubelet, the
 * backup runner (the real one by default) and the in-memory S3 store.
 *
 * A schedule: a converged source PostgresDB `src` (one or two instances) with WAL, a store with
 * credentials, the PostgresBackup `minutely` (every minute, `keepLast` 1 to 4, sometimes
 * `verify: true`), sometimes `pair` (the same database every two minutes) and `once` (a one-shot),
 * then a new PostgresDB `copy` restored from one of them. Faults over about ten virtual minutes:
 * the store down for a window, an upload cut, slowness, failing calls, the access key revoked for
 * a while, the backup controller or the PostgresDB controller crashed (after one of its writes)
 * and restarted as a new Controller, a backup or restore Job's pod deleted while it runs, the
 * source primary's pod deleted.
 *
 * The five checkers of `sim/backup_checks.ts` run after every step; at the end, once the faults
 * stopped and some quiet time passed, liveness: the latest scheduled backup of each scheduled
 * PostgresBackup succeeded after the faults ended, and `copy` is Ready (unless its restore failed
 * during the faults, or its PostgresBackup never had a backup).
 *
 * {@link BackupWorldOptions} swaps the reconcilers and the runner's programs, for the mutants.
 *
 * @module
 */

import { postgresBackup, postgresDB, STORE_SECRET, STORE_URL } from "../support/backup_fixtures.ts";
import type { KubeObject } from "../../core/object.ts";
import { fromTimestamp } from "../../core/clock.ts";
import type { Action } from "../../core/actions.ts";
import type { Reconciler } from "../../core/reconciler.ts";
import { backupReconciler } from "../../core/backup/reconcile.ts";
import type { PostgresBackup } from "../../core/backup/types.ts";
import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { CRDS } from "../../crds/postgresdb.ts";
import { Controller } from "../../runtime/controller.ts";
import { BackupCheckers } from "../../sim/backup_checks.ts";
import { SimCluster } from "../../sim/cluster.ts";
import type { RunnerPrograms } from "../../sim/job_runner.ts";
import { SeededRandom } from "../../sim/random.ts";

const BACKUP = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup" };
const DB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
const POD = { apiVersion: "v1", kind: "Pod" };
const MINUTE = 60_000;

/** The faults a schedule can hold. */
export type BackupFaultKind =
  | "storeDown"
  | "uploadCut"
  | "slowStore"
  | "failNext"
  | "badCredentials"
  | "backupControllerCrash"
  | "postgresControllerCrash"
  | "backupPodKill"
  | "restorePodKill"
  | "primaryPodKill";

/** One fault, at a time after the PostgresBackups were applied. */
export interface BackupFault {
  /** When it starts, after the PostgresBackups were applied. */
  atMs: number;
  /** What it is. */
  kind: BackupFaultKind;
  /** How long it lasts (a window, a controller's down time, how long a pod kill waits for a run). */
  durationMs: number;
  /** `failNext`: calls that fail; `uploadCut`: bytes after which the upload is cut. */
  amount?: number;
}

/** One schedule of the campaign. */
export interface BackupSchedule {
  /** Its seed (it draws everything else). */
  seed: number;
  /** Instances of the source database. */
  replicas: number;
  /** `minutely`'s keepLast. */
  keepLast: number;
  /** `minutely` verifies its backups. */
  verify: boolean;
  /** `pair`: a second PostgresBackup of the same database every two minutes, with its keepLast. */
  pair?: { keepLast: number };
  /** `once`: a one-shot backup applied at `atMs`. */
  once?: { atMs: number; verify: boolean };
  /** `copy`: a new PostgresDB restored from `from`, applied at `atMs`. */
  restore: { atMs: number; from: string; replicas: number };
  /** The faults. */
  faults: BackupFault[];
}

/** A broken rule. */
export interface BackupViolation {
  /** The checker: one of {@link CHECKERS}, or `liveness`. */
  checker: string;
  /** Virtual time since the PostgresBackups were applied. */
  atMs: number;
  /** What was wrong. */
  message: string;
}

/** What one schedule did. */
export interface BackupReport {
  /** The schedule's seed. */
  seed: number;
  /** The violations (at most the first step's worth: a run ends at its first violation). */
  violations: BackupViolation[];
  /** Virtual time from the apply of the PostgresBackups to the end. */
  virtualMs: number;
  /** When the faults ended, after the apply. */
  faultsEndMs: number;
  /** Distinct slots (and one-shot runs) that got a Job. */
  slotsRun: number;
  /** Backup runs recorded, by outcome and reason. */
  outcomes: Record<string, number>;
  /** Faults that took effect, by kind. */
  injected: Record<string, number>;
  /** How `copy`'s restore ended (`Succeeded`, `Failed: <reason>`, `Pending: <reason>`...). */
  restore: string;
  /** Its status message, and when it completed (after the apply). */
  restoreDetail?: string;
}

/** Swaps parts of the world, for the mutants. */
export interface BackupWorldOptions {
  /** The PostgresBackup reconciler. @default the real one */
  backupReconciler?: Reconciler<PostgresBackup>;
  /** The PostgresDB reconciler. @default the real one */
  postgresReconciler?: Reconciler<PostgresDB>;
  /** The runner's programs. @default the real runner's */
  programs?: RunnerPrograms;
}

/** The five checkers, by the sentence their violation says. */
export const CHECKERS = {
  manifest: "no success without a manifest",
  slot: "a slot runs at most once",
  retention: "retention keeps the newest success",
  oneAtATime: "never two backups of one database at once",
  restore: "no Ready before the restore",
} as const;

/** The checker a violation of `sim/backup_checks.ts` comes from. */
export function checkerOf(message: string): string {
  if (message.includes("no manifest of it was ever written")) return CHECKERS.manifest;
  if (message.includes("ran twice")) return CHECKERS.slot;
  if (message.startsWith("retention deleted")) return CHECKERS.retention;
  if (message.startsWith("two backups of")) return CHECKERS.oneAtATime;
  if (message.includes("is Ready, but")) return CHECKERS.restore;
  return "unknown";
}

/** The length of the fault period. */
export const FAULT_WINDOW_MS = 10 * MINUTE;
/** Quiet time after the faults, before liveness is judged. */
export const QUIET_MS = 4 * MINUTE;

const KINDS: readonly BackupFaultKind[] = [
  "storeDown",
  "uploadCut",
  "slowStore",
  "failNext",
  "badCredentials",
  "backupControllerCrash",
  "postgresControllerCrash",
  "backupPodKill",
  "restorePodKill",
  "primaryPodKill",
];

/** Draws the schedule of `seed`. */
export function generateBackupSchedule(seed: number): BackupSchedule {
  const random = new SeededRandom(seed);
  const schedule: BackupSchedule = {
    seed,
    replicas: 1 + random.int(2),
    keepLast: 1 + random.int(4),
    verify: random.chance(1 / 3),
    restore: { atMs: 0, from: "minutely", replicas: 1 + random.int(2) },
    faults: [],
  };
  if (random.chance(1 / 2)) schedule.pair = { keepLast: 1 + random.int(4) };
  if (random.chance(1 / 2)) {
    schedule.once = { atMs: random.int(8 * MINUTE), verify: random.chance(1 / 2) };
  }
  const sources = [
    "minutely",
    ...(schedule.pair ? ["pair"] : []),
    ...(schedule.once ? ["once"] : []),
  ];
  schedule.restore.from = sources[random.int(sources.length)]!;
  schedule.restore.atMs = 90_000 + random.int(8 * MINUTE);
  const count = 2 + random.int(7);
  for (let i = 0; i < count; i++) {
    const kind = KINDS[random.int(KINDS.length)]!;
    // Half the faults start near a slot, where the runs are.
    const atMs = random.chance(1 / 2)
      ? Math.max(1000, (1 + random.int(9)) * MINUTE - 3000 + random.int(8000))
      : 1000 + random.int(FAULT_WINDOW_MS - 1000);
    const fault: BackupFault = { atMs, kind, durationMs: 1000 + random.int(90_000) };
    if (kind === "failNext") fault.amount = 1 + random.int(4);
    if (kind === "uploadCut") fault.amount = random.int(4_000_000);
    if (kind === "slowStore") fault.amount = 2 + random.int(200);
    schedule.faults.push(fault);
  }
  schedule.faults.sort((a, b) => a.atMs - b.atMs);
  return schedule;
}

/** A controller that can crash right after one of its writes, and be replaced. */
class CrashableController<T extends KubeObject> {
  #controller: Controller | undefined;
  #armed = false;
  /** True once it crashed and was not yet restarted. */
  crashed = false;
  readonly #cluster: SimCluster;
  readonly #reconciler: Reconciler<T>;
  #generation = 0;

  constructor(cluster: SimCluster, reconciler: Reconciler<T>) {
    this.#cluster = cluster;
    this.#reconciler = reconciler;
  }

  start(): Promise<void> {
    const name = `${this.#reconciler.name}-${++this.#generation}`;
    const controller = new Controller(
      this.#cluster.client({ name }),
      this.#reconciler as unknown as Reconciler,
      {
        clock: this.#cluster.clock,
        random: this.#cluster.random.fork(),
        watchInactivityMs: 0,
        afterWrite: (_action: Action) => {
          if (!this.#armed) return;
          this.#armed = false;
          this.crashed = true;
          throw new Error("crash (injected)");
        },
      },
    );
    this.#controller = controller;
    return controller.start();
  }

  /** Crashes after its next write. */
  arm(): void {
    this.#armed = true;
  }

  get armed(): boolean {
    return this.#armed;
  }

  /** Stops it now (the crash itself). */
  async stop(): Promise<void> {
    this.#armed = false;
    this.crashed = true;
    await this.#controller?.stop();
    this.#controller = undefined;
  }

  get running(): boolean {
    return this.#controller !== undefined;
  }
}

type Event =
  | { atMs: number; run: () => void | Promise<void> }
  | { atMs: number; until: () => boolean; then: () => void | Promise<void>; deadlineMs: number };

/** Runs one schedule and judges it. */
export async function runBackupSchedule(
  schedule: BackupSchedule,
  options: BackupWorldOptions = {},
): Promise<BackupReport> {
  const cluster = new SimCluster({
    seed: schedule.seed,
    ...(options.programs ? { jobRunner: { programs: options.programs } } : {}),
  });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) {
    await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  }
  const apply = async (object: KubeObject) => {
    await cluster.request(user.apply(object, { fieldManager: "kubectl" }));
  };
  const postgres = new CrashableController(
    cluster,
    options.postgresReconciler ?? postgresReconciler,
  );
  const backups = new CrashableController(cluster, options.backupReconciler ?? backupReconciler);
  await cluster.request(postgres.start());
  await cluster.request(backups.start());

  const endpoint = cluster.objectStores.endpoint(STORE_URL);
  endpoint.createBucket("backups");
  endpoint.addCredentials("AKID", "SECRET");
  await apply(STORE_SECRET);
  await apply(postgresDB("src", schedule.replicas));
  await cluster.run({ maxVirtualMs: 600_000 });
  const primary = () => {
    const db = cluster.server.peek(DB, "src", "default") as PostgresDB | undefined;
    return db?.status?.currentPrimary ?? "src-0";
  };
  const instance = cluster.dataPlane!.instanceOfPod("default", primary());
  instance?.commit(2_000_000);
  instance?.advance(60_000);

  const checkers = new BackupCheckers(cluster);
  const t0 = cluster.clock.nowMs();
  const violations: BackupViolation[] = [];
  const injected: Record<string, number> = {};
  const count = (kind: string) => injected[kind] = (injected[kind] ?? 0) + 1;
  const check = () => {
    for (const message of checkers.check()) {
      violations.push({ checker: checkerOf(message), atMs: cluster.clock.nowMs() - t0, message });
    }
    return violations.length > 0;
  };

  await apply(postgresBackup("minutely", {
    schedule: "* * * * *",
    retention: { keepLast: schedule.keepLast },
    ...(schedule.verify ? { verify: true } : {}),
  }));
  if (schedule.pair) {
    await apply(postgresBackup("pair", {
      schedule: "*/2 * * * *",
      retention: { keepLast: schedule.pair.keepLast },
    }));
  }

  const events: Event[] = [];
  if (schedule.once) {
    const once = schedule.once;
    events.push({
      atMs: once.atMs,
      run: () => apply(postgresBackup("once", once.verify ? { verify: true } : {})),
    });
  }
  events.push({
    atMs: schedule.restore.atMs,
    run: () => apply(postgresDB("copy", schedule.restore.replicas, schedule.restore.from)),
  });
  let faultsEndMs = 0;
  const runningPod = (mode: string) =>
    cluster.jobRunner?.runs.find((r) => r.mode === mode && r.endedAtMs === undefined);
  for (const fault of schedule.faults) {
    const end = fault.atMs + fault.durationMs;
    faultsEndMs = Math.max(faultsEndMs, end);
    const at = fault.atMs;
    switch (fault.kind) {
      case "storeDown":
        events.push({ atMs: at, run: () => void (endpoint.down = true, count("storeDown")) });
        events.push({ atMs: end, run: () => void (endpoint.down = false) });
        break;
      case "slowStore":
        events.push({
          atMs: at,
          run: () => void (endpoint.latencyFactor = fault.amount ?? 10, count("slowStore")),
        });
        events.push({ atMs: end, run: () => void (endpoint.latencyFactor = 1) });
        break;
      case "uploadCut":
        events.push({
          atMs: at,
          run: () => void (endpoint.cutUploadAfter(fault.amount ?? 0), count("uploadCut")),
        });
        // An armed cut that no upload met goes with the faults.
        events.push({ atMs: end, run: () => void (endpoint.cutAfterBytes = undefined) });
        break;
      case "failNext":
        events.push({
          atMs: at,
          run: () => void (endpoint.failNext(fault.amount ?? 1), count("failNext")),
        });
        events.push({ atMs: end, run: () => endpoint.failNext(0) });
        break;
      case "badCredentials":
        events.push({
          atMs: at,
          run: () => void (endpoint.removeCredentials("AKID"), count("badCredentials")),
        });
        events.push({ atMs: end, run: () => endpoint.addCredentials("AKID", "SECRET") });
        break;
      case "backupControllerCrash":
      case "postgresControllerCrash": {
        const controller = fault.kind === "backupControllerCrash" ? backups : postgres;
        // Crashes after its next write, or after 20 s at the latest; down for the duration.
        const crashAt = Math.min(at + 20_000, end);
        events.push({
          atMs: at,
          run: () => {
            if (controller.running) controller.arm();
          },
        });
        events.push({
          atMs: at,
          until: () => controller.crashed,
          deadlineMs: crashAt,
          then: async () => {
            if (!controller.running) return;
            count(fault.kind);
            await cluster.request(controller.stop());
          },
        });
        events.push({
          atMs: end,
          run: async () => {
            if (controller.running) return;
            controller.crashed = false;
            await cluster.request(controller.start());
          },
        });
        break;
      }
      case "backupPodKill":
      case "restorePodKill": {
        const mode = fault.kind === "backupPodKill" ? "backup" : "restore";
        events.push({
          atMs: at,
          until: () => runningPod(mode) !== undefined,
          deadlineMs: end,
          then: () => {
            const run = runningPod(mode);
            if (run === undefined) return;
            try {
              cluster.server.delete(POD, run.pod, run.namespace);
              count(fault.kind);
            } catch {
              // Gone already.
            }
          },
        });
        break;
      }
      case "primaryPodKill":
        events.push({
          atMs: at,
          run: () => {
            try {
              cluster.server.delete(POD, primary(), "default");
              count("primaryPodKill");
            } catch {
              // Not there (being recreated).
            }
          },
        });
        break;
    }
  }
  // Liveness is judged on a minute's fortieth second, when the slot's runs are over.
  const endMs =
    Math.ceil((Math.max(faultsEndMs, schedule.restore.atMs, FAULT_WINDOW_MS) + QUIET_MS) / MINUTE) *
      MINUTE + 40_000;

  const pending = [...events].sort((a, b) => a.atMs - b.atMs);
  const waiting: Extract<Event, { until: () => boolean }>[] = [];
  const now = () => cluster.clock.nowMs() - t0;
  while (violations.length === 0) {
    const nextAt = Math.min(pending[0]?.atMs ?? endMs, ...waiting.map((w) => w.deadlineMs), endMs);
    if (now() < nextAt) {
      const result = await cluster.run({
        maxVirtualMs: nextAt - now(),
        until: () => check() || waiting.some((w) => w.until()),
      });
      // Nothing pending before the next event: time passes all the same.
      if (result.quiescent && now() < nextAt) cluster.clock.advanceTo(t0 + nextAt);
    } else check();
    if (violations.length > 0) break;
    // The waits met, or past their deadline.
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i]!;
      if (w.until() || now() >= w.deadlineMs) {
        waiting.splice(i--, 1);
        await w.then();
      }
    }
    while (pending.length > 0 && pending[0]!.atMs <= now()) {
      const event = pending.shift()!;
      if ("run" in event) await event.run();
      else waiting.push(event);
    }
    if (now() >= endMs && pending.length === 0) break;
  }

  const report: BackupReport = {
    seed: schedule.seed,
    violations,
    virtualMs: now(),
    faultsEndMs,
    slotsRun: checkers.slotsRun(),
    outcomes: {},
    injected,
    restore: "none",
  };
  for (const run of cluster.jobRunner?.runs ?? []) {
    if (run.mode !== "backup") continue;
    const key = run.cut
      ? "cut"
      : run.result?.outcome === "Succeeded"
      ? "Succeeded"
      : `Failed: ${run.result?.outcome === "Failed" ? run.result.reason : run.error ?? "?"}`;
    report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
  }
  const copy = cluster.server.peek(DB, "copy", "default") as PostgresDB | undefined;
  const restore = copy?.status?.restore;
  report.restore = restore === undefined
    ? "none"
    : `${restore.phase}${restore.reason ? `: ${restore.reason}` : ""}`;
  if (restore !== undefined) {
    const completed = restore.completedAt ? fromTimestamp(restore.completedAt) - t0 : undefined;
    report.restoreDetail = `${restore.message ?? ""} (completed at ${completed ?? "-"}ms)`;
  }
  if (violations.length === 0) violations.push(...liveness(cluster, schedule, t0, faultsEndMs));
  await cluster.request(backups.stop());
  await cluster.request(postgres.stop());
  cluster.jobRunner?.stop();
  return report;
}

/** Liveness at the end: scheduled backups run again, and the copy is Ready. */
function liveness(
  cluster: SimCluster,
  schedule: BackupSchedule,
  t0: number,
  faultsEndMs: number,
): BackupViolation[] {
  const out: BackupViolation[] = [];
  const atMs = cluster.clock.nowMs() - t0;
  const faultsEnd = t0 + faultsEndMs;
  const violation = (message: string) => out.push({ checker: "liveness", atMs, message });
  for (const name of ["minutely", ...(schedule.pair ? ["pair"] : [])]) {
    const b = cluster.server.peek(BACKUP, name, "default") as PostgresBackup | undefined;
    const last = b?.status?.lastBackup;
    if (
      last?.outcome !== "Succeeded" || last.slot === undefined ||
      fromTimestamp(last.slot) < faultsEnd
    ) {
      violation(
        `PostgresBackup ${name}: the latest backup after the faults did not succeed: ${
          JSON.stringify(last)
        }`,
      );
    }
  }
  const copy = cluster.server.peek(DB, "copy", "default") as PostgresDB | undefined;
  const restore = copy?.status?.restore;
  const source = cluster.server.peek(BACKUP, schedule.restore.from, "default") as
    | PostgresBackup
    | undefined;
  const existed = (source?.status?.backups?.length ?? 0) > 0 || restore?.id !== undefined;
  const failedInFaults = restore?.phase === "Failed" && restore.reason !== "BackupNotFound" &&
    (restore.completedAt === undefined || fromTimestamp(restore.completedAt) <= faultsEnd);
  // A backup retention deleted before the restore read it is chosen again (no explicit id), so
  // that is no excuse: the restore must end Ready.
  if (existed && copy?.status?.ready !== true && !failedInFaults) {
    violation(
      `PostgresDB copy (restored from ${schedule.restore.from}) is not Ready: ${
        JSON.stringify({ phase: copy?.status?.phase, restore })
      }`,
    );
  }
  return out;
}
