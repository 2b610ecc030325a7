/**
 * Measures the replication campaign: schedules per second (1 primary + 1..3 standbys, random
 * crashes, pod kills, slow disks and cut links, every checker after every step, until converged),
 * with the steps, virtual seconds, failovers and clones behind the figure; and, for one fault-free
 * schedule, how the cost grows with the number of standbys.
 *
 * Run: `deno run bench/replication.ts [--runs N]`, or `deno task bench` with the others.
 */

import { parseArgs } from "node:util";
import { runReplicationCampaign } from "../tests/property/replication_campaign.ts";
import { runReplication } from "../sim/replication_world.ts";

function campaign(runs: number) {
  const started = performance.now();
  const result = runReplicationCampaign({ runs, seed: 1 });
  const wallS = (performance.now() - started) / 1000;
  return {
    schedules: result.runs,
    failed: result.failed,
    wallS: Math.round(wallS * 100) / 100,
    schedulesPerS: Math.round(result.runs / wallS),
    stepsPerS: Math.round(result.totals.steps / wallS),
    virtualS: Math.round(result.totals.virtualMs / 1000),
    failovers: result.totals.failovers,
    clones: result.totals.clones,
    acks: result.totals.acks,
  };
}

function growth(instances: number, repeats: number) {
  const started = performance.now();
  let steps = 0;
  for (let seed = 1; seed <= repeats; seed++) {
    steps += runReplication({ seed, instances, faults: [] }).steps;
  }
  const wallMs = performance.now() - started;
  return {
    instances,
    msPerSchedule: Math.round((wallMs / repeats) * 100) / 100,
    stepsPerSchedule: Math.round(steps / repeats),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "2000" } },
  });
  console.log("Replication campaign throughput (seeds 1..N, every checker, until converged)");
  console.table([campaign(Number(values.runs))]);
  console.log("One fault-free schedule as instances grow (8 s of writes, then convergence)");
  console.table([2, 4, 8, 16].map((n) => growth(n, 20)));
}
