/**
 * Runs a campaign against each mutant and says what caught it: the checker, the faults and steps
 * in the minimal schedule, and how many schedules it took. `deno task mutants` prints the README's
 * table.
 *
 * @module
 */

import { runCampaign } from "../property/campaign.ts";
import { ALL_MUTANTS, type Mutant } from "./mutants.ts";

/** One row of the mutant table. */
export interface MutantRow {
  mutant: string;
  bug: string;
  caught: boolean;
  /** The checkers that reported the minimal schedule. */
  checkers: string[];
  /** What the minimal schedule needed beyond creating a PostgresDB. */
  needs: string[];
  /** Schedules run until the first failure. */
  schedules: number;
  replaySchedule?: unknown;
}

/** Hunts one mutant with up to `runs` schedules. */
export async function huntMutant(mutant: Mutant, runs: number, seed: number): Promise<MutantRow> {
  const result = await runCampaign({ runs, seed, mutant, userActor: mutant.userActor ?? false });
  const schedule = result.counterexample;
  const needs: string[] = [];
  if (schedule) {
    const steps = schedule.steps.slice(1).map((s) => s.do);
    const applies = schedule.steps.filter((s) => s.do === "apply").length;
    if (applies > 1) needs.push(`${applies - 1} spec change(s)`);
    for (const kind of new Set(steps.filter((s) => s !== "apply"))) needs.push(kind);
    for (const fault of Object.keys(schedule.faults ?? {})) needs.push(fault);
    if (schedule.crashRate) needs.push("crashRate");
    if (needs.length === 0) needs.push("none");
  }
  return {
    mutant: mutant.name,
    bug: mutant.bug,
    caught: result.failed,
    checkers: [...new Set((result.violations ?? []).map((v) => v.checker))],
    needs,
    schedules: result.runs,
    replaySchedule: schedule,
  };
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 1000);
  const seed = Number(Deno.args[1] ?? 1);
  console.log("| mutant | bug | fault or step needed | caught by | schedules needed |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const mutant of ALL_MUTANTS) {
    const row = await huntMutant(mutant, runs, seed);
    console.log(
      `| \`${row.mutant}\` | ${row.bug} | ${row.needs.join(", ")} | ${
        row.caught ? row.checkers.join(", ") : "NOT CAUGHT"
      } | ${row.caught ? row.schedules : `> ${runs}`} |`,
    );
  }
}
