/**
 * Measures the backup campaign: schedules per second (a source database, one to three
 * PostgresBackups, a restore; store outages, upload cuts, slowness, failing calls, revoked keys,
 * controller crashes, Job and primary pods deleted; the five backup checkers after every step,
 * liveness at the end), with the backup runs and restores behind the figure.
 *
 * Run: `deno run bench/backup.ts [--runs N] [--seed S]`, or `deno task bench` with the others.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runBackupCampaign } from "../tests/property/backup_campaign.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "40" }, seed: { type: "string", default: "1" } },
  });
  const started = performance.now();
  const result = await runBackupCampaign({
    runs: Number(values.runs),
    seed: Number(values.seed),
    shrink: false,
  });
  const wallS = (performance.now() - started) / 1000;
  const t = result.totals;
  console.log("Backup campaign throughput (five checkers after every step, liveness at the end)");
  console.table([{
    schedules: result.runs,
    failed: result.failed,
    wallS: Math.round(wallS * 100) / 100,
    schedulesPerS: Math.round((result.runs / wallS) * 100) / 100,
    virtualS: Math.round(t.virtualMs / 1000),
    slotsRun: t.slotsRun,
    backupsSucceeded: t.outcomes["Succeeded"] ?? 0,
    restoresSucceeded: t.restores["Succeeded"] ?? 0,
  }]);
  console.log(`Backup runs: ${JSON.stringify(t.outcomes)}`);
  console.log(`Restores: ${JSON.stringify(t.restores)}`);
  console.log(`Faults injected: ${JSON.stringify(t.injected)}`);
  if (result.failed) {
    console.log(
      `Failed at schedule seed ${result.scheduleSeed}: ${
        JSON.stringify(result.report?.violations)
      }`,
    );
    Deno.exit(1);
  }
}
