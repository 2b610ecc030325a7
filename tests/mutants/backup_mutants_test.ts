// Goal: each backup checker catches the bug it guards against (success without a manifest, a
// handled slot run again, retention deleting the newest, two backups of one database at once, a
// restored database Ready before its restore), and the real code passes the schedule that caught it.
// Method: the backup campaign on fixed seeds, each mutant injected from outside the real code,
// run until a schedule's violations include the expected checker; its seed is printed.
import assert from "node:assert/strict";
import { BACKUP_MUTANTS } from "./backup_mutants.ts";
import { describeBackupFailure, runBackupCampaign } from "../property/backup_campaign.ts";
import { generateBackupSchedule, runBackupSchedule } from "../property/backup_world.ts";

const SEED = 1;
const RUNS_MAX = 20;

for (const mutant of BACKUP_MUTANTS) {
  Deno.test(`backup mutant ${mutant.name} is caught by "${mutant.caughtBy}"`, async () => {
    const result = await runBackupCampaign({
      runs: RUNS_MAX,
      seed: SEED,
      options: mutant.options,
      until: (r) => r.violations.some((v) => v.checker === mutant.caughtBy),
      shrink: false,
    });
    for (const line of describeBackupFailure(result, false)) console.log(line);
    assert.ok(result.failed, `${mutant.bug}: not caught in ${RUNS_MAX} schedules (seed ${SEED})`);
    console.log(`caught after ${result.runs} schedules, at schedule seed ${result.scheduleSeed}`);
    // The real code passes the schedule that caught the mutant.
    const real = await runBackupSchedule(generateBackupSchedule(result.scheduleSeed!));
    assert.deepEqual(real.violations, [], `the real code on schedule seed ${result.scheduleSeed}`);
  });
}
