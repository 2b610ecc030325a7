// Goal: the operator's and the agents' real failover logic keeps its promises under faults: one
// writer per Lease epoch, every acknowledgement from the Lease holder, no acknowledged commit lost
// with required durability, the lag bound otherwise, -rw on a serving primary, no streaming across
// a diverged timeline, and a writable primary with converged replication after the faults.
// Method: seeded failover schedules (random durability, failover delay and lag bound; crashes,
// pod kills, slow disks, cut links, API partitions, operator crashes, switchovers, two failures
// in a row at the primary, correlated failures), every checker after every step. A failure prints
// its seed and shrunk schedule; `SEED=<schedule seed>` replays one schedule and prints its report.
import assert from "node:assert/strict";
import { describeFailure, runReplicationCampaign } from "./replication_campaign.ts";
import { generateSchedule, runReplication } from "../../sim/replication_world.ts";
import { propertyRuns, propertySeed, replayHint } from "./settings.ts";

const GENERATE = { failover: true };

Deno.test("property: failover invariants hold for 1500 failover schedules", () => {
  const replay = Deno.env.get("SEED");
  if (replay !== undefined) {
    const schedule = generateSchedule(Number(replay), GENERATE);
    const report = runReplication(schedule);
    console.log(JSON.stringify({ schedule, report }));
    assert.deepEqual(report.violations, []);
    return;
  }
  const seed = propertySeed() + 200;
  const runs = propertyRuns(1500);
  console.log(`failover campaign: schedule seeds ${seed}..${seed + runs - 1}`);
  const result = runReplicationCampaign({ runs, seed, generate: GENERATE });
  for (const line of describeFailure(result, true, true)) console.log(line);
  assert.equal(result.failed, false, replayHint(seed, runs) + "; or SEED=<schedule seed>");
  const { required, preferred, async } = result.byDurability;
  assert.ok(required.failovers > 0 && preferred.failovers > 0 && async.failovers > 0);
  assert.equal(required.lostCommits, 0, "required durability lost acknowledged commits");
  assert.ok(required.switchovers + preferred.switchovers + async.switchovers > 0);
});

Deno.test("runReplication() fails over when the primary is cut off from the API server, fenced first", () => {
  const report = runReplication({
    seed: 9,
    instances: 3,
    faults: [{ atMs: 3000, kind: "apiPartition", instance: "primary", durationMs: 6000 }],
    spec: {
      failoverDelay: 0,
      maxFailoverLagBytes: 16000,
      synchronous: { number: 1, durability: "required" },
    },
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.failovers, 1);
  assert.equal(report.lostCommits, 0);
  assert.ok(report.convergedAtMs !== undefined);
});

Deno.test("runReplication() switches over to the annotated standby without losing a commit", () => {
  const report = runReplication({
    seed: 10,
    instances: 3,
    faults: [{ atMs: 4000, kind: "switchover", instance: 2, durationMs: 0 }],
    spec: { failoverDelay: 0, maxFailoverLagBytes: 16000 },
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.switchovers, 1);
  assert.equal(report.lostCommits, 0);
  assert.ok(report.convergedAtMs !== undefined);
});

Deno.test("runReplication() survives an operator crash in the middle of a failover", () => {
  const report = runReplication({
    seed: 11,
    instances: 3,
    faults: [
      { atMs: 3000, kind: "podKill", instance: "primary", durationMs: 4000 },
      { atMs: 3500, kind: "operatorDown", instance: 0, durationMs: 3000 },
    ],
    spec: { failoverDelay: 0, maxFailoverLagBytes: 16000 },
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.failovers, 1);
  assert.ok(report.convergedAtMs !== undefined);
});
