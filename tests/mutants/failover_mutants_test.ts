// Goal: each failover checker catches the bug it guards against (promote without the Lease,
// promote the least advanced, relabel late, rejoin without rewind, skip the quorum, fence late).
// Method: the failover campaign on fixed seeds, run until a schedule's violations include the
// expected checker; the failure is shrunk and printed (seed and minimal schedule).
import assert from "node:assert/strict";
import { FAILOVER_MUTANTS } from "./failover_mutants.ts";
import { describeFailure, runReplicationCampaign } from "../property/replication_campaign.ts";

const SEED = 1;
const RUNS_MAX = 400;

for (const mutant of FAILOVER_MUTANTS) {
  Deno.test(`failover mutant ${mutant.name} is caught by "${mutant.caughtBy}"`, () => {
    const result = runReplicationCampaign({
      runs: RUNS_MAX,
      seed: SEED,
      generate: { failover: true },
      options: mutant.options,
      until: (r) => r.violations.some((v) => v.checker === mutant.caughtBy),
    });
    for (const line of describeFailure(result, false)) console.log(line);
    assert.ok(result.failed, `${mutant.bug}: not caught in ${RUNS_MAX} schedules (seed ${SEED})`);
  });
}
