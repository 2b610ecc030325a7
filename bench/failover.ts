/**
 * Measures the failover campaign: schedules per second (failover schedules: random durability,
 * failover delay and lag bound; crashes, pod kills, slow disks, cut links, API partitions,
 * operator crashes, switchovers; every checker after every step, until converged), with the
 * failovers behind the figure and, per durability mode, the acknowledged commits lost per failover.
 *
 * Run: `deno run bench/failover.ts [--runs N] [--seed S]`, or `deno task bench` with the others.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runReplicationCampaign } from "../tests/property/replication_campaign.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "2000" }, seed: { type: "string", default: "1" } },
  });
  const started = performance.now();
  const result = runReplicationCampaign({
    runs: Number(values.runs),
    seed: Number(values.seed),
    generate: { failover: true },
  });
  const wallS = (performance.now() - started) / 1000;
  console.log("Failover campaign throughput (every checker after every step, until converged)");
  console.table([{
    schedules: result.runs,
    failed: result.failed,
    wallS: Math.round(wallS * 100) / 100,
    schedulesPerS: Math.round(result.runs / wallS),
    virtualS: Math.round(result.totals.virtualMs / 1000),
    failovers: result.totals.failovers,
    acks: result.totals.acks,
  }]);
  console.log("Acknowledged commits lost, by durability mode");
  console.table(
    Object.entries(result.byDurability).map(([mode, t]) => ({
      mode,
      schedules: t.schedules,
      failovers: t.failovers,
      switchovers: t.switchovers,
      acks: t.acks,
      lostCommits: t.lostCommits,
      lostPerFailover: t.failovers === 0
        ? 0
        : Math.round((t.lostCommits / t.failovers) * 100) / 100,
      lostBytesPerFailover: t.failovers === 0 ? 0 : Math.round(t.lostBytes / t.failovers),
    })),
  );
  if (result.failed) Deno.exit(1);
}
