/**
 * Measures the simulation under faults: virtual seconds per wall second and writes per PostgresDB
 * for 1, 10, 100 and 1,000 PostgresDBs with the light and heavy presets (every checker running),
 * and how many generated fault schedules a campaign checks per second.
 *
 * Run: `deno task bench` (after the Deno.bench files), or
 * `deno run --allow-read --allow-env bench/faults.ts`.
 */

import { runWithFaults } from "../cli/chaos.ts";
import type { KubeObject } from "../core/object.ts";
import { runCampaign } from "../tests/property/campaign.ts";

function manifests(n: number): KubeObject[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: `db-${i}`, namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas: 1 + (i % 3), databaseName: "app" },
  }));
}

async function underFaults(n: number, preset: "light" | "heavy") {
  const started = performance.now();
  const report = await runWithFaults(manifests(n), {
    seed: 1,
    preset,
    convergeWithinMs: 3_600_000,
  });
  const wallS = (performance.now() - started) / 1000;
  const virtualS = report.virtualMs / 1000;
  const crashes = report.injected.operatorCrash ?? 0;
  const faults = Object.values(report.injected).reduce((a, b) => a + b, 0);
  return {
    n,
    preset,
    ok: report.converged && report.violations.length === 0,
    wallS: Math.round(wallS * 100) / 100,
    virtualS: Math.round(virtualS),
    virtualPerWall: Math.round(virtualS / wallS),
    faults,
    crashes,
    writesPerDb: Math.round((report.writes / n) * 10) / 10,
  };
}

if (import.meta.main) {
  console.log("Simulation under faults (seed 1, every checker on, until converged and resynced)");
  const rows = [];
  for (const n of [1, 10, 100, 1000]) {
    for (const preset of ["light", "heavy"] as const) rows.push(await underFaults(n, preset));
  }
  console.table(rows);
  console.log("Fault campaign throughput (generated schedules of 1-2 PostgresDBs, all faults)");
  const campaignRows = [];
  for (const runs of [1000]) {
    const started = performance.now();
    const result = await runCampaign({ runs, seed: 1 });
    const wallS = (performance.now() - started) / 1000;
    campaignRows.push({
      schedules: runs,
      failed: result.failed,
      wallS: Math.round(wallS * 10) / 10,
      schedulesPerS: Math.round(runs / wallS),
      reconciles: result.totals.reconciles,
      virtualS: Math.round(result.totals.virtualSeconds),
    });
  }
  console.table(campaignRows);
  console.log("Schedules checked per second as PostgresDBs grow (light faults, seeds 1..k)");
  const growth = [];
  for (const [n, k] of [[1, 200], [10, 50], [100, 10]] as const) {
    const started = performance.now();
    let failures = 0;
    for (let seed = 1; seed <= k; seed++) {
      const report = await runWithFaults(manifests(n), {
        seed,
        preset: "light",
        convergeWithinMs: 3_600_000,
      });
      if (!report.converged || report.violations.length > 0) failures++;
    }
    const wallS = (performance.now() - started) / 1000;
    growth.push({ n, schedules: k, failures, schedulesPerS: Math.round((k / wallS) * 10) / 10 });
  }
  console.table(growth);
}
