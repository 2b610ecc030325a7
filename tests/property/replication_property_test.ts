// Goal: the data plane's invariants hold under random faults, and replication converges (every
// standby streaming from the target primary with zero lag) once the faults stop.
// Method: seeded schedules of 1 primary + 1..3 standbys with process crashes, pod kills, slow
// disks and cut links (a third aimed at the primary, so some runs fail over); every checker runs
// after every step. A failure prints its schedule seed and the command that replays it.
import assert from "node:assert/strict";
import { describeFailure, runReplicationCampaign } from "./replication_campaign.ts";
import { generateSchedule, runReplication } from "../../sim/replication_world.ts";
import { propertyRuns, propertySeed, replayHint } from "./settings.ts";

Deno.test("property: replication invariants hold and replication converges for 500 fault schedules", () => {
  const seed = propertySeed() + 100;
  const runs = propertyRuns(500);
  const result = runReplicationCampaign({ runs, seed });
  for (const line of describeFailure(result)) console.log(line);
  assert.equal(result.failed, false, replayHint(seed, runs));
  // The campaign exercised what it claims to: failovers, re-clones and acknowledged commits.
  assert.ok(result.totals.failovers > 0, "no failover happened");
  assert.ok(result.totals.acks > 0, "no commit was acknowledged");
});

Deno.test("runReplication() with no faults converges with every standby streaming", () => {
  const report = runReplication({ seed: 3, instances: 4, faults: [] });
  assert.deepEqual(report.violations, []);
  assert.ok(report.convergedAtMs !== undefined);
  assert.equal(report.clones, 3, "one clone per standby");
  assert.equal(report.failovers, 0);
});

Deno.test("runReplication() fails over when the primary's pod is gone, and the old primary rejoins", () => {
  const report = runReplication({
    seed: 5,
    instances: 3,
    faults: [{ atMs: 3000, kind: "podKill", instance: "primary", durationMs: 4000 }],
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.failovers, 1);
  assert.ok(report.convergedAtMs !== undefined);
});

Deno.test("runReplication() restarts a killed standby without a new clone", () => {
  const report = runReplication({
    seed: 6,
    instances: 3,
    faults: [{ atMs: 3000, kind: "podKill", instance: 1, durationMs: 2000 }],
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.clones, 2, "only the initial clones");
});

Deno.test("runReplication() is deterministic: one schedule seed, one report", () => {
  const schedule = generateSchedule(propertySeed() + 101);
  assert.deepEqual(runReplication(schedule), runReplication(schedule));
});
