/**
 * Measures the simulation at scale: 1,000, 5,000 and 10,000 PostgresDBs (one instance each)
 * applied at once to the embedded simulated cluster and run until it rests, each N in a fresh
 * `deno run` process so that the memory figures of one run do not leak into the next. Prints wall
 * time, virtual time, the live heap after a forced garbage collection and the resident memory, in
 * total and per PostgresDB (the cluster's idle baseline subtracted).
 *
 * Run: `deno task bench` (with the others), or
 * `deno run --allow-read --allow-env --allow-run bench/sim_scale.ts [N ...]`.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { startOperatorWorld } from "../cli/simulate.ts";
import type { KubeObject } from "../core/object.ts";

/** One PostgresDB per index, as `bench/converge.ts` applies them. */
function manifests(n: number): KubeObject[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: `db-${i}`, namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
  }));
}

/** What one process measures for one N. */
export interface ScaleRow {
  /** PostgresDBs applied. */
  n: number;
  /** True when the cluster rested with every PostgresDB Ready. */
  converged: boolean;
  /** Wall time from the first apply to rest, in seconds. */
  wallS: number;
  /** CPU time (user and system, all threads, the garbage collector's too) of the same span. */
  cpuS: number;
  /** Virtual time from the first apply to rest, in seconds. */
  virtualS: number;
  /** Objects stored at the end (PostgresDBs and their children, Events included). */
  objects: number;
  /** Live heap at the end, after a forced garbage collection when available, in MiB. */
  heapMiB: number;
  /** Resident memory at the end, in MiB. */
  rssMiB: number;
  /** Peak resident memory seen during the run (sampled every 500 steps), in MiB. */
  peakRssMiB: number;
  /** Live heap per PostgresDB beyond the idle cluster's, in KiB. */
  heapKiBPerDb: number;
  /** Resident memory per PostgresDB beyond the idle cluster's, in KiB. */
  rssKiBPerDb: number;
  /** True when the heap was measured after `gc()` (`--v8-flags=--expose-gc`). */
  forcedGc: boolean;
}

const MIB = 2 ** 20;

function collect(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return false;
  gc();
  gc();
  return true;
}

/** Converges `n` PostgresDBs in this process and measures it. */
export async function measureScale(n: number): Promise<ScaleRow> {
  const world = await startOperatorWorld({ seed: 1 });
  const objects = manifests(n);
  const forcedGc = collect();
  const idle = Deno.memoryUsage();
  let peakRss = idle.rss;
  let steps = 0;
  const sample = () => {
    if (++steps % 500 === 0) peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    return false;
  };
  const wallStart = performance.now();
  const cpuStart = cpuUsage();
  const virtualStart = world.cluster.clock.nowMs();
  await world.apply(objects);
  const result = await world.cluster.run({ maxVirtualMs: 3_600_000, until: sample });
  const wallS = (performance.now() - wallStart) / 1000;
  const cpu = cpuUsage(cpuStart);
  const virtualS = (world.cluster.clock.nowMs() - virtualStart) / 1000;
  const dbs = world.cluster.server.peekList({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
  });
  const ready = dbs.filter((o) => (o.status as { ready?: boolean } | undefined)?.ready === true);
  const stored = [...world.cluster.server.resourceTypes()].reduce(
    (sum, type) => sum + world.cluster.server.peekList(type).length,
    0,
  );
  collect();
  const end = Deno.memoryUsage();
  const row: ScaleRow = {
    n,
    converged: result.quiescent && world.controller.idle && ready.length === n,
    wallS: round(wallS, 2),
    cpuS: round((cpu.user + cpu.system) / 1e6, 2),
    virtualS: round(virtualS, 1),
    objects: stored,
    heapMiB: round(end.heapUsed / MIB, 0),
    rssMiB: round(end.rss / MIB, 0),
    peakRssMiB: round(Math.max(peakRss, end.rss) / MIB, 0),
    heapKiBPerDb: round((end.heapUsed - idle.heapUsed) / 1024 / n, 1),
    rssKiBPerDb: round((end.rss - idle.rss) / 1024 / n, 1),
    forcedGc,
  };
  await world.controller.stop();
  await world.backups.stop();
  return row;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** How long one N may run (wall seconds) before it is stopped and reported unfinished. */
const LIMIT_S = Number(Deno.env.get("PGOP_SCALE_LIMIT_S") ?? "180");

/**
 * Runs `bench/sim_scale.ts --one N` in a fresh process and reads its row, or undefined when it
 * did not finish within {@link LIMIT_S} (the process is killed).
 */
async function inFreshProcess(n: number): Promise<ScaleRow | undefined> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--one",
      String(n),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, LIMIT_S * 1000);
  const output = await child.output();
  clearTimeout(timer);
  if (killed) return undefined;
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`The run of ${n} PostgresDBs failed: ${text}`);
  return JSON.parse(text.split("\n").at(-1)!) as ScaleRow;
}

if (import.meta.main) {
  if (Deno.args[0] === "--one") {
    console.log(JSON.stringify(await measureScale(Number(Deno.args[1]))));
  } else {
    const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [1000, 5000, 10000];
    console.log(
      "The simulation at scale (PostgresDBs of one instance applied at once, seed 1, one fresh " +
        "process per N).\nHeap: V8's heapUsed after two forced gc() (--v8-flags=--expose-gc); " +
        "resident: the process's RSS at rest, and its peak sampled every 500 steps. CPU: user + system of the process (GC threads included). Per PostgresDB: the growth " +
        `over the idle cluster's heap and RSS, divided by N. Each N is stopped after ${LIMIT_S} s ` +
        "(PGOP_SCALE_LIMIT_S).",
    );
    for (const n of sizes) {
      const row = await inFreshProcess(n);
      // One line per N as it ends: a long run does not lose the earlier figures.
      if (row === undefined) {
        console.log(`N ${n}: not finished within ${LIMIT_S} s of wall time (stopped)`);
        continue;
      }
      console.log(
        `N ${row.n}: converged ${row.converged}, wall ${row.wallS} s, CPU ${row.cpuS} s, ` +
          `virtual ${row.virtualS} s, ${row.objects} objects, heap ${row.heapMiB} MiB ` +
          `(${row.heapKiBPerDb} KiB/db), RSS ${row.rssMiB} MiB (${row.rssKiBPerDb} KiB/db), ` +
          `peak RSS ${row.peakRssMiB} MiB, forced gc ${row.forcedGc}`,
      );
    }
  }
}
