/**
 * The replication campaign: schedules generated from seeds (2 to 4 instances; process crashes,
 * pod kills, slow disks and cut links, a third of them aimed at the primary), each run in the
 * simulated data plane with every checker after every step and convergence at the end. A failure
 * is shrunk by dropping faults while it still fails, and printed with its schedule seed.
 *
 * Run: `deno run tests/property/replication_campaign.ts [--runs N] [--seed S] [--failover]`
 * (`--failover`: the failover schedules), or replay one
 * schedule with `--schedule-seed N` (prints the report).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type DurabilityMode,
  generateSchedule,
  type ReplicationReport,
  type ReplicationRunOptions,
  type ReplicationSchedule,
  runReplication,
  type ScheduleOptions,
} from "../../sim/replication_world.ts";

/** Options of {@link runReplicationCampaign}. */
export interface ReplicationCampaignOptions {
  /** Schedules to run. */
  runs: number;
  /** The first schedule's seed; schedule `i` has seed `seed + i`. */
  seed: number;
  /** Run options for each schedule (fresh per schedule: mutants keep state). */
  options?: () => ReplicationRunOptions;
  /** Stop at the first schedule whose violations include this checker. */
  until?: (report: ReplicationReport) => boolean;
  /** How schedules are generated (`failover: true` for the failover campaign). */
  generate?: ScheduleOptions;
}

/** Per durability mode: schedules, failovers and the acknowledged commits they lost. */
export interface DurabilityTotals {
  /** Schedules run in this mode. */
  schedules: number;
  /** New primaries chosen after a pending failover or switchover. */
  failovers: number;
  /** Of which switchovers. */
  switchovers: number;
  /** Acknowledged commits missing from a new primary. */
  lostCommits: number;
  /** Their bytes. */
  lostBytes: number;
  /** Commits acknowledged. */
  acks: number;
}

/** What a campaign found. */
export interface ReplicationCampaignResult {
  /** True when some schedule failed. */
  failed: boolean;
  /** Schedules run. */
  runs: number;
  /** The failing schedule's seed. */
  scheduleSeed?: number;
  /** The failing schedule, shrunk. */
  schedule?: ReplicationSchedule;
  /** Its report. */
  report?: ReplicationReport;
  /** Totals over every schedule run. */
  totals: { steps: number; virtualMs: number; acks: number; clones: number; failovers: number };
  /** Totals by durability mode. */
  byDurability: Record<DurabilityMode, DurabilityTotals>;
}

function emptyTotals(): DurabilityTotals {
  return { schedules: 0, failovers: 0, switchovers: 0, lostCommits: 0, lostBytes: 0, acks: 0 };
}

/** Runs schedules `seed .. seed + runs - 1`; stops at the first failure (or `until`). */
export function runReplicationCampaign(
  campaign: ReplicationCampaignOptions,
): ReplicationCampaignResult {
  const totals = { steps: 0, virtualMs: 0, acks: 0, clones: 0, failovers: 0 };
  const byDurability = {
    required: emptyTotals(),
    preferred: emptyTotals(),
    async: emptyTotals(),
  };
  const options = campaign.options ?? (() => ({}));
  const stop = campaign.until ?? ((r: ReplicationReport) => r.violations.length > 0);
  for (let i = 0; i < campaign.runs; i++) {
    const schedule = generateSchedule(campaign.seed + i, campaign.generate);
    const report = runReplication(schedule, options());
    const mode = byDurability[report.durability];
    mode.schedules++;
    mode.failovers += report.failovers;
    mode.switchovers += report.switchovers;
    mode.lostCommits += report.lostCommits;
    mode.lostBytes += report.lostBytes;
    mode.acks += report.acks;
    totals.steps += report.steps;
    totals.virtualMs += report.virtualMs;
    totals.acks += report.acks;
    totals.clones += report.clones;
    totals.failovers += report.failovers;
    if (stop(report)) {
      const shrunk = shrink(schedule, options, stop);
      return {
        failed: true,
        runs: i + 1,
        scheduleSeed: schedule.seed,
        schedule: shrunk.schedule,
        report: shrunk.report,
        totals,
        byDurability,
      };
    }
  }
  return { failed: false, runs: campaign.runs, totals, byDurability };
}

/** Drops faults one at a time while the schedule still fails. */
function shrink(
  schedule: ReplicationSchedule,
  options: () => ReplicationRunOptions,
  fails: (r: ReplicationReport) => boolean,
): { schedule: ReplicationSchedule; report: ReplicationReport } {
  let current = schedule;
  let report = runReplication(current, options());
  for (let i = current.faults.length - 1; i >= 0; i--) {
    const candidate = { ...current, faults: current.faults.filter((_, j) => j !== i) };
    const candidateReport = runReplication(candidate, options());
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
export function describeFailure(
  result: ReplicationCampaignResult,
  replay = true,
  failover = false,
): string[] {
  if (!result.failed) return [];
  const lines = [
    `Schedule seed ${result.scheduleSeed}; shrunk: ${JSON.stringify(result.schedule)}`,
    ...(result.report?.violations ?? []).map((v) =>
      `  [${v.checker}] at ${v.atMs}ms: ${v.message}`
    ),
  ];
  if (replay) {
    lines.push(
      `Replay: deno run tests/property/replication_campaign.ts --schedule-seed ${result.scheduleSeed}` +
        (failover ? " --failover" : ""),
    );
  }
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
      "schedule-seed": { type: "string" },
      failover: { type: "boolean", default: false },
    },
  });
  const generate = { failover: values.failover };
  const replay = values["schedule-seed"];
  if (replay !== undefined) {
    const schedule = generateSchedule(Number(replay), generate);
    console.log(JSON.stringify({ schedule, report: runReplication(schedule) }, null, 2));
  } else {
    const result = runReplicationCampaign({
      runs: Number(values.runs),
      seed: Number(values.seed),
      generate,
    });
    console.log(
      result.failed
        ? describeFailure(result, true, values.failover).join("\n")
        : `${result.runs} schedules passed`,
    );
    if (result.failed) Deno.exit(1);
  }
}
