/**
 * A fault campaign: fast-check generates schedules (spec sequences, deletes, pod and node faults,
 * operator crashes, API and watch faults), runs each in the simulated cluster with every checker,
 * and shrinks a failure to a minimal schedule with the command that replays it.
 *
 * Run: `deno task campaign [--runs N] [--seed S] [--mutant NAME] [--max-steps N]
 * [--without-user-actor]`, or replay one schedule with `deno task campaign --schedule FILE
 * [--mutant NAME]`. The command line's campaigns include the user actor, who deletes and edits
 * children of every kind by hand.
 *
 * @module
 */

import fc from "fast-check";
import { parseArgs } from "node:util";
import { type RunReport, runSchedule, type Schedule } from "../../sim/schedule.ts";
import { ALL_MUTANTS, type Mutant } from "../mutants/mutants.ts";
import { scheduleArbitrary } from "./arbitraries.ts";
import { postgresSubject } from "./subject.ts";

/** Options of {@link runCampaign}. */
export interface CampaignOptions {
  runs: number;
  seed: number;
  mutant?: Mutant | undefined;
  maxSteps?: number;
  /** Generate faults (API, watch, crashes). @default true */
  faults?: boolean;
  /** Add the user actor: hand deletes and edits of every child kind. @default false */
  userActor?: boolean;
  /** Specs move between PostgreSQL 16 and 17 with `majorUpgrade: PgUpgrade`. @default false */
  upgrades?: boolean;
  /**
   * Schedules shrinking may run after the first failure. Past it every further candidate counts
   * as passing, so shrinking ends with the smallest failure found so far: deterministic, unlike a
   * time limit, and it keeps a campaign's worst case bounded.
   * @default 400
   */
  shrinkRunsMax?: number;
}

/** Totals over every schedule a campaign ran. */
export interface CampaignTotals {
  reconciles: number;
  writes: number;
  virtualSeconds: number;
  /** Faults injected, by name (operator crashes included). */
  injected: Record<string, number>;
  /** User and world steps, by kind. */
  steps: Record<string, number>;
}

/** What a campaign found. */
export interface CampaignResult {
  failed: boolean;
  totals: CampaignTotals;
  /** Schedules run before the first failure (or in all). */
  runs: number;
  seed: number;
  /** The shrunk failing schedule. */
  counterexample?: Schedule;
  /** The violations of the shrunk schedule. */
  violations?: RunReport["violations"];
  /** The command that replays the shrunk schedule (after it is written to `file`). */
  replay?: string;
}

/** One schedule's verdict: the violations, or none. */
export async function judge(schedule: Schedule, mutant?: Mutant): Promise<RunReport> {
  return await runSchedule(schedule, postgresSubject(mutant));
}

/** Runs a campaign and shrinks the first failure. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  let runs = 0;
  let firstFailureRun = 0;
  const totals: CampaignTotals = {
    reconciles: 0,
    writes: 0,
    virtualSeconds: 0,
    injected: {},
    steps: {},
  };
  const arbitrary = scheduleArbitrary({
    maxSteps: options.maxSteps ?? 6,
    faults: options.faults ?? true,
    userActor: options.userActor ?? false,
    upgrades: options.upgrades ?? false,
  });
  const shrinkRunsMax = options.shrinkRunsMax ?? 400;
  let shrinkRuns = 0;
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (schedule) => {
      if (firstFailureRun > 0 && ++shrinkRuns > shrinkRunsMax) return true;
      runs++;
      const report = await judge(schedule, options.mutant);
      totals.reconciles += report.reconciles;
      totals.writes += report.writes;
      totals.virtualSeconds += report.virtualMs / 1000;
      for (const [name, n] of Object.entries(report.injected)) {
        totals.injected[name] = (totals.injected[name] ?? 0) + n;
      }
      for (const step of schedule.steps) totals.steps[step.do] = (totals.steps[step.do] ?? 0) + 1;
      if (report.violations.length > 0 && firstFailureRun === 0) firstFailureRun = runs;
      return report.violations.length === 0;
    }),
    { numRuns: options.runs, seed: options.seed, endOnFailure: false },
  );
  if (!details.failed || !details.counterexample) {
    return { failed: false, runs: details.numRuns, seed: options.seed, totals };
  }
  const counterexample = details.counterexample[0] as Schedule;
  const report = await judge(counterexample, options.mutant);
  const mutantFlag = options.mutant ? ` --mutant ${options.mutant.name}` : "";
  return {
    failed: true,
    totals,
    runs: firstFailureRun,
    seed: options.seed,
    counterexample,
    violations: report.violations,
    replay: `deno task campaign --schedule FILE${mutantFlag}`,
  };
}

function printTotals(totals: CampaignTotals): void {
  const t = totals;
  console.log(
    `  ${t.reconciles} reconciles, ${t.writes} writes, ${
      t.virtualSeconds.toFixed(0)
    } virtual seconds`,
  );
  console.log(`  steps: ${JSON.stringify(t.steps)}`);
  console.log(`  faults injected: ${JSON.stringify(t.injected)}`);
}

function findMutant(name: string | undefined): Mutant | undefined {
  if (name === undefined) return undefined;
  const mutant = ALL_MUTANTS.find((m) => m.name === name);
  if (!mutant) {
    throw new Error(
      `Unknown mutant ${JSON.stringify(name)}; one of: ${
        ALL_MUTANTS.map((m) => m.name).join(", ")
      }`,
    );
  }
  return mutant;
}

async function cli(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string" },
      seed: { type: "string" },
      mutant: { type: "string" },
      schedule: { type: "string" },
      "max-steps": { type: "string" },
      "without-user-actor": { type: "boolean" },
    },
  });
  const mutant = findMutant(values.mutant);
  if (values.schedule) {
    const schedule = JSON.parse(await Deno.readTextFile(values.schedule)) as Schedule;
    const report = await judge(schedule, mutant);
    console.log(
      `Replayed ${values.schedule}: trace ${report.traceHash}, ${report.reconciles} reconciles, ` +
        `faults ${JSON.stringify(report.injected)}`,
    );
    for (const v of report.violations) {
      console.log(`  VIOLATION [${v.checker}] at ${v.atMs}ms: ${v.message}`);
    }
    if (report.violations.length === 0) console.log("  all checks passed");
    return report.violations.length === 0 ? 0 : 1;
  }
  const runs = Number(values.runs ?? 1000);
  const seed = Number(values.seed ?? Date.now() % 2 ** 31);
  const started = performance.now();
  const result = await runCampaign({
    runs,
    seed,
    mutant,
    maxSteps: Number(values["max-steps"] ?? 6),
    userActor: values["without-user-actor"] !== true,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!result.failed) {
    console.log(`${result.runs} schedules, all checks passed (seed ${seed}, ${seconds}s)`);
    printTotals(result.totals);
    return 0;
  }
  const file = await Deno.makeTempFile({ prefix: "pgop-schedule-", suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify(result.counterexample, null, 2) + "\n");
  console.log(
    `FAILED after ${result.runs} schedules (seed ${seed}, ${seconds}s). Minimal schedule:`,
  );
  console.log(JSON.stringify(result.counterexample));
  for (const v of result.violations ?? []) {
    console.log(`  VIOLATION [${v.checker}] at ${v.atMs}ms: ${v.message}`);
  }
  console.log(`Replay: ${result.replay!.replace("FILE", file)}`);
  console.log(
    `Re-run the campaign: deno task campaign --runs ${runs} --seed ${seed}${
      values.mutant ? ` --mutant ${values.mutant}` : ""
    }${values["without-user-actor"] ? " --without-user-actor" : ""}`,
  );
  return 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await cli(Deno.args));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(2);
  }
}
