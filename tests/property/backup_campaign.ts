/**
 * The backup campaign: schedules drawn from seeds (`backup_world.ts`), each run with the five
 * backup checkers after every step and liveness at the end. A failure is shrunk by dropping
 * faults while it still fails, and printed with its schedule seed.
 *
 * Run: `deno run -A tests/property/backup_campaign.ts [--runs N] [--seed S]`, or replay one
 * schedule with `--schedule-seed N` (prints the schedule and its report).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type BackupReport,
  type BackupSchedule,
  type BackupWorldOptions,
  generateBackupSchedule,
  runBackupSchedule,
} from "./backup_world.ts";

/** Options of {@link runBackupCampaign}. */
export interface BackupCampaignOptions {
  /** Schedules to run. */
  runs: number;
  /** The first schedule's seed; schedule `i` has seed `seed + i`. */
  seed: number;
  /** World options for each schedule (fresh per schedule). */
  options?: () => BackupWorldOptions;
  /** Stop at the first report this holds for. @default a violation */
  until?: (report: BackupReport) => boolean;
  /** Shrink the failure. @default true */
  shrink?: boolean;
}

/** What a campaign found. */
export interface BackupCampaignResult {
  /** True when some schedule failed. */
  failed: boolean;
  /** Schedules run (up to and with the failing one). */
  runs: number;
  /** The failing schedule's seed. */
  scheduleSeed?: number;
  /** The failing schedule, shrunk. */
  schedule?: BackupSchedule;
  /** Its report. */
  report?: BackupReport;
  /** Totals over every schedule run. */
  totals: {
    virtualMs: number;
    slotsRun: number;
    outcomes: Record<string, number>;
    injected: Record<string, number>;
    restores: Record<string, number>;
  };
}

function add(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** Runs schedules `seed .. seed + runs - 1`; stops at the first failure (or `until`). */
export async function runBackupCampaign(
  campaign: BackupCampaignOptions,
): Promise<BackupCampaignResult> {
  const totals = { virtualMs: 0, slotsRun: 0, outcomes: {}, injected: {}, restores: {} };
  const options = campaign.options ?? (() => ({}));
  const stop = campaign.until ?? ((r: BackupReport) => r.violations.length > 0);
  for (let i = 0; i < campaign.runs; i++) {
    const schedule = generateBackupSchedule(campaign.seed + i);
    const report = await runBackupSchedule(schedule, options());
    totals.virtualMs += report.virtualMs;
    totals.slotsRun += report.slotsRun;
    add(totals.outcomes, report.outcomes);
    add(totals.injected, report.injected);
    add(totals.restores, { [report.restore]: 1 });
    if (stop(report)) {
      const shrunk = campaign.shrink === false
        ? { schedule, report }
        : await shrink(schedule, options, stop);
      return {
        failed: true,
        runs: i + 1,
        scheduleSeed: schedule.seed,
        schedule: shrunk.schedule,
        report: shrunk.report,
        totals,
      };
    }
  }
  return { failed: false, runs: campaign.runs, totals };
}

/** Drops faults one at a time while the schedule still fails. */
async function shrink(
  schedule: BackupSchedule,
  options: () => BackupWorldOptions,
  fails: (r: BackupReport) => boolean,
): Promise<{ schedule: BackupSchedule; report: BackupReport }> {
  let current = schedule;
  let report = await runBackupSchedule(current, options());
  for (let i = current.faults.length - 1; i >= 0; i--) {
    const candidate = { ...current, faults: current.faults.filter((_, j) => j !== i) };
    const candidateReport = await runBackupSchedule(candidate, options());
    if (fails(candidateReport)) {
      current = candidate;
      report = candidateReport;
    }
  }
  return { schedule: current, report };
}

/**
 * The lines that describe a failure and, unless `replay` is false (a mutant's run, which the
 * command line cannot rebuild), the command that replays it.
 */
export function describeBackupFailure(result: BackupCampaignResult, replay = true): string[] {
  if (!result.failed) return [];
  const lines = [
    `Schedule seed ${result.scheduleSeed}; schedule: ${JSON.stringify(result.schedule)}`,
    ...(result.report?.violations ?? []).map((v) =>
      `  [${v.checker}] at ${v.atMs}ms: ${v.message}`
    ),
  ];
  if (replay) {
    lines.push(
      `Replay: SEED=${result.scheduleSeed} deno test -A tests/property/backup_property_test.ts` +
        ` (or deno run -A tests/property/backup_campaign.ts --schedule-seed ${result.scheduleSeed})`,
    );
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      "schedule-seed": { type: "string" },
    },
  });
  const replay = values["schedule-seed"];
  if (replay !== undefined) {
    const schedule = generateBackupSchedule(Number(replay));
    const report = await runBackupSchedule(schedule);
    console.log(JSON.stringify({ schedule, report }, null, 2));
    if (report.violations.length > 0) Deno.exit(1);
  } else {
    const started = performance.now();
    const result = await runBackupCampaign({
      runs: Number(values.runs),
      seed: Number(values.seed),
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      result.failed
        ? describeBackupFailure(result).join("\n")
        : `${result.runs} schedules passed in ${seconds.toFixed(1)}s (${
          (result.runs / seconds).toFixed(2)
        } schedules/s); ${JSON.stringify(result.totals)}`,
    );
    if (result.failed) Deno.exit(1);
  }
}
