// Goal: backups and restores keep their promises under faults: no success without a manifest, a
// slot runs at most once, retention keeps the newest success, never two backups of one database
// at once, no Ready before the restore; and after the faults, scheduled backups succeed again and
// the restored database is Ready.
// Method: seeded backup schedules (tests/property/backup_world.ts: one to three PostgresBackups of
// one database, a restore, store outages, upload cuts, slowness, failing calls, revoked keys,
// controller crashes, Job pods and the primary's pod deleted), the checkers after every step.
// A failure prints its seed and shrunk schedule; `SEED=<schedule seed>` replays one schedule and
// prints its report.
import assert from "node:assert/strict";
import { describeBackupFailure, runBackupCampaign } from "./backup_campaign.ts";
import { generateBackupSchedule, runBackupSchedule } from "./backup_world.ts";
import { propertyRuns, propertySeed, replayHint } from "./settings.ts";

Deno.test("property: backup invariants and liveness hold for 40 fault schedules", async () => {
  const replay = Deno.env.get("SEED");
  if (replay !== undefined) {
    const schedule = generateBackupSchedule(Number(replay));
    const report = await runBackupSchedule(schedule);
    console.log(JSON.stringify({ schedule, report }));
    assert.deepEqual(report.violations, []);
    return;
  }
  const seed = propertySeed() + 300;
  const runs = propertyRuns(40);
  console.log(`backup campaign: schedule seeds ${seed}..${seed + runs - 1}`);
  const started = performance.now();
  const result = await runBackupCampaign({ runs, seed });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `backup campaign: ${result.runs} schedules in ${seconds.toFixed(1)}s (${
      (result.runs / seconds).toFixed(2)
    } schedules/s)`,
  );
  console.log(`  backup runs: ${JSON.stringify(result.totals.outcomes)}`);
  console.log(`  faults injected: ${JSON.stringify(result.totals.injected)}`);
  console.log(`  restores: ${JSON.stringify(result.totals.restores)}`);
  for (const line of describeBackupFailure(result)) console.log(line);
  assert.equal(result.failed, false, replayHint(seed, runs) + "; or SEED=<schedule seed>");
  // The campaign exercised what it claims to.
  const injected = result.totals.injected;
  for (const kind of ["storeDown", "badCredentials", "backupPodKill", "backupControllerCrash"]) {
    assert.ok((injected[kind] ?? 0) > 0, `no ${kind} injected`);
  }
  assert.ok((result.totals.restores["Succeeded"] ?? 0) > 0, "no restore succeeded");
});
