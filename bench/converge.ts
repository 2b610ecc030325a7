/**
 * Measures convergence in the simulated cluster of 1, 100 and 1,000 PostgresDBs applied at once:
 * wall time, virtual seconds to converge, virtual seconds per wall second, API writes and
 * reconciles per PostgresDB, and the heap after the run.
 *
 * Run: `deno task bench` (runs this after the Deno.bench files), or
 * `deno run --allow-read --allow-env bench/converge.ts [N ...]`.
 */

import { startOperatorWorld } from "../cli/simulate.ts";
import type { KubeObject } from "../core/object.ts";

function manifests(n: number): KubeObject[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: `db-${i}`, namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
  }));
}

/** One measured run. */
export async function measure(n: number, seed = 1) {
  const world = await startOperatorWorld({ seed });
  const wallStart = performance.now();
  const virtualStart = world.cluster.clock.nowMs();
  await world.apply(manifests(n));
  const result = await world.cluster.run({ maxVirtualMs: 3_600_000 });
  const wallMs = performance.now() - wallStart;
  const virtualS = (world.cluster.clock.nowMs() - virtualStart) / 1000;
  const ready =
    world.cluster.objects().filter((o) =>
      o.kind === "PostgresDB" && (o.status as { ready?: boolean } | undefined)?.ready === true
    ).length;
  const stats = world.controller.stats;
  await world.controller.stop();
  return {
    n,
    converged: result.quiescent && ready === n,
    wallMs: Math.round(wallMs),
    virtualS: Math.round(virtualS * 10) / 10,
    virtualPerWall: Math.round((virtualS / (wallMs / 1000)) * 10) / 10,
    writesPerDb: Math.round((stats.writes / n) * 100) / 100,
    reconcilesPerDb: Math.round((stats.reconciles / n) * 100) / 100,
    heapMiB: Math.round(Deno.memoryUsage().heapUsed / 2 ** 20),
  };
}

if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [1, 100, 1000];
  console.log("Convergence in the simulated cluster (PostgresDBs applied at once, seed 1)");
  console.table(
    await Promise.all(sizes.map((n) => n)).then(async (ns) => {
      const rows = [];
      for (const n of ns) rows.push(await measure(n));
      return rows;
    }),
  );
}
