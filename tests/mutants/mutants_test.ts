// Goal: the checkers catch real bug patterns. Each test-only mutant of the PostgresDB reconciler
// must be caught by the checker that guards its rule, within a bounded campaign on a fixed seed.
// Method: the same fast-check campaign as the property suite, against each mutant.
import assert from "node:assert/strict";
import { ALL_MUTANTS } from "./mutants.ts";
import { huntMutant } from "./report.ts";

const EXPECTED: Record<string, string> = {
  "password-regenerated": "credentials never regenerated or overwritten",
  "children-by-name": "Ready never ahead of the pods",
  "ready-too-early": "Ready never ahead of the pods",
  "stale-statefulset-status": "Ready never ahead of the pods",
  "acts-on-stale-view": "no write from an older view",
  "status-through-main-resource": "status through the subresource",
  "hot-loop": "steady state",
  "claim-template-rewritten": "no writes to immutable fields",
  "no-retry-on-conflict": "liveness",
  "credentials-from-cache": "credentials never regenerated or overwritten",
};

for (const mutant of ALL_MUTANTS) {
  Deno.test(`mutant ${mutant.name} is caught by "${EXPECTED[mutant.name]}"`, async () => {
    const seed = 1;
    const runs = 1000;
    const row = await huntMutant(mutant, runs, seed);
    assert.ok(row.caught, `not caught in ${runs} schedules (seed ${seed})`);
    assert.ok(
      row.checkers.includes(EXPECTED[mutant.name]!),
      `caught by ${row.checkers.join(", ")}; schedule ${JSON.stringify(row.replaySchedule)}`,
    );
  });
}

Deno.test("the unmutated reconciler passes the same campaigns", async () => {
  const { runCampaign } = await import("../property/campaign.ts");
  const result = await runCampaign({ runs: 300, seed: 1 });
  assert.equal(result.failed, false, JSON.stringify(result.violations));
});
