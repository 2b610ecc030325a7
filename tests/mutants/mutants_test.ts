// Goal: the checkers catch real bug patterns. Each test-only mutant of the PostgresDB reconciler
// (or of the simulated instance agent)
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
  "event-every-reconcile": "steady state",
  "claim-template-rewritten": "no writes to immutable fields",
  "growth-deletes-pods": "no pod restarted by a resize",
  "no-retry-on-conflict": "liveness",
  "credentials-from-cache": "credentials never regenerated or overwritten",
  "primary-label-in-template": "at most one primary label",
  "rw-selects-every-instance": "-rw never selects a standby",
  "scale-down-removes-primary": "scale-down keeps the primary",
  "standby-follows-a-standby": "standbys follow the target primary",
  "clone-from-a-standby": "no clone from a standby",
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

Deno.test("steady state: a schedule that ends with a delete no longer hides a hot loop", async () => {
  // The old check resynced only the objects that remained; this schedule leaves none, so it saw
  // no reconcile and no write. The mutant is the event-every-reconcile one.
  const { runSchedule } = await import("../../sim/schedule.ts");
  const { postgresSubject } = await import("../property/subject.ts");
  const { postgresDB } = await import("../property/arbitraries.ts");
  const mutant = ALL_MUTANTS.find((m) => m.name === "event-every-reconcile")!;
  const spec = { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" };
  const schedule = {
    seed: 11,
    steps: [
      { atMs: 0, do: "apply" as const, object: postgresDB("alpha", spec) },
      {
        atMs: 60_000,
        do: "delete" as const,
        apiVersion: "database.thegeekyway.com/v1alpha1",
        kind: "PostgresDB",
        name: "alpha",
      },
    ],
  };
  const report = await runSchedule(schedule, postgresSubject(mutant));
  assert.deepEqual(report.violations.map((v) => v.checker), ["steady state"]);
  assert.match(report.violations[0]!.message, /re-created PostgresDB default\/alpha/);
  assert.match(report.violations[0]!.message, /createEvent/);
  // The old check: a resync of what remains. Nothing remains, so it reconciles and writes nothing.
  report.harness.violations.length = 0;
  assert.equal(
    report.harness.objects({ apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" })
      .length,
    1,
  );
  // (The re-created object is still there after a failed judgement: delete it, as the schedule did.)
  await report.harness.request(
    report.harness.user.delete(
      { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" },
      "alpha",
      "default",
    ),
  );
  assert.equal(await report.harness.settle(600_000), true);
  assert.deepEqual(await report.harness.resync(), []);
  // The unmutated reconciler passes the same schedule, re-creation included.
  const clean = await runSchedule(schedule, postgresSubject());
  assert.deepEqual(clean.violations, []);
  assert.ok(clean.reconciles > 0);
});
