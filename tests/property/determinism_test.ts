// Goal: one seed determines the whole run. The same schedule twice gives the same trace (every
// commit, plan and write, with virtual times); another seed gives another trace.
// Method: a schedule with heavy faults, crashes and world steps, run three times.
import assert from "node:assert/strict";
import { FAULT_PRESETS } from "../../sim/faults.ts";
import { runSchedule, type Schedule } from "../../sim/schedule.ts";
import { postgresDB } from "./arbitraries.ts";
import { postgresSubject } from "./subject.ts";

function schedule(seed: number): Schedule {
  const spec = { version: "16", storage: "1Gi", replicas: 3, databaseName: "app" };
  return {
    seed,
    steps: [
      { atMs: 0, do: "apply", object: postgresDB("alpha", spec) },
      { atMs: 500, do: "apply", object: postgresDB("beta", { ...spec, replicas: 1 }) },
      { atMs: 3000, do: "crashPod", name: "alpha-0" },
      { atMs: 4000, do: "crashOperator" },
      { atMs: 6000, do: "apply", object: postgresDB("alpha", { ...spec, replicas: 2 }) },
      { atMs: 7000, do: "loseNode", node: "node-2" },
    ],
    faults: FAULT_PRESETS.heavy.faults,
    crashRate: 0.1,
    faultsAfterLastStepMs: 20_000,
  };
}

Deno.test("determinism: the same seed twice gives the same trace hash", async () => {
  const a = await runSchedule(schedule(42), postgresSubject());
  const b = await runSchedule(schedule(42), postgresSubject());
  assert.deepEqual(a.violations, []);
  assert.ok(
    Object.keys(a.injected).length >= 4,
    `faults were injected: ${JSON.stringify(a.injected)}`,
  );
  assert.equal(a.traceHash, b.traceHash, "seed 42 replays the same trace");
  assert.deepEqual(a.injected, b.injected);
  assert.equal(a.reconciles, b.reconciles);
});

Deno.test("determinism: another seed gives another trace", async () => {
  const a = await runSchedule(schedule(42), postgresSubject());
  const c = await runSchedule(schedule(43), postgresSubject());
  assert.notEqual(a.traceHash, c.traceHash);
});
