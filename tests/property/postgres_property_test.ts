// Goal: the operator's safety and liveness properties hold for generated schedules (spec sequences
// with invalid specs and deletes, pod and node faults, operator crashes, API and watch faults),
// and its end states do not depend on faults or on history.
// Method: fast-check generates schedules; each runs in the simulated cluster with every checker;
// a failure is shrunk to a minimal schedule, printed with its seed and replay command.
import assert from "node:assert/strict";
import fc from "fast-check";
import { runSchedule, type Schedule, type Step } from "../../sim/schedule.ts";
import { validatePostgresDB } from "../../core/postgres/validate.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { postgresOutcome } from "../../sim/postgres_checks.ts";
import { runCampaign } from "./campaign.ts";
import {
  invalidSpec,
  postgresDB,
  scheduleArbitrary,
  validSpec,
  withoutFaults,
} from "./arbitraries.ts";
import { postgresSubject } from "./subject.ts";
import { propertyRuns, propertySeed, replayHint } from "./settings.ts";

Deno.test("property: safety and liveness hold for 3,000 generated fault schedules", async () => {
  const seed = propertySeed();
  const runs = propertyRuns(3000);
  const result = await runCampaign({ runs, seed });
  if (result.failed) {
    console.log(`Minimal failing schedule: ${JSON.stringify(result.counterexample)}`);
    for (const v of result.violations ?? []) console.log(`  [${v.checker}] ${v.message}`);
  }
  assert.equal(result.failed, false, replayHint(seed, runs));
  assert.equal(result.runs, runs);
});

Deno.test("property: safety and liveness hold for 1,000 schedules with a user who deletes and edits children", async () => {
  const seed = propertySeed() + 4;
  const runs = propertyRuns(1000);
  const result = await runCampaign({ runs, seed, userActor: true });
  if (result.failed) {
    console.log(`Minimal failing schedule: ${JSON.stringify(result.counterexample)}`);
    for (const v of result.violations ?? []) console.log(`  [${v.checker}] ${v.message}`);
  }
  assert.equal(result.failed, false, replayHint(seed, runs));
  assert.equal(result.runs, runs);
  for (const kind of ["userDelete", "userEdit"]) assert.ok((result.totals.steps[kind] ?? 0) > 0);
});

function endsValid(schedule: Schedule): boolean {
  const last = new Map<string, Step>();
  for (const step of schedule.steps) {
    if (step.do === "apply" || step.do === "delete") {
      last.set(step.do === "apply" ? step.object.metadata.name : step.name, step);
    }
  }
  return [...last.values()].every((step) =>
    step.do !== "apply" || validatePostgresDB(step.object as PostgresDB).ok
  );
}

async function outcome(schedule: Schedule): Promise<unknown> {
  const report = await runSchedule(schedule, postgresSubject());
  assert.deepEqual(report.violations, [], JSON.stringify(schedule));
  return postgresOutcome(report.harness.cluster.objects());
}

Deno.test("property: the end state under faults equals the fault-free end state", async () => {
  const seed = propertySeed() + 1;
  const runs = propertyRuns(200);
  await fc.assert(
    fc.asyncProperty(scheduleArbitrary({ varyStorage: false }), async (schedule) => {
      // An invalid last spec keeps whatever an earlier valid one made, if the operator saw it in
      // time: that depends on timing by design, so only valid (or deleted) endings compare.
      fc.pre(endsValid(schedule));
      assert.deepEqual(await outcome(schedule), await outcome(withoutFaults(schedule)));
    }),
    { numRuns: runs, seed },
  ).catch((error) => {
    throw new Error(`${replayHint(seed, runs)}\n${error.message}`);
  });
});

/** A sequence of specs for one PostgresDB that ends valid, with its storage and name fixed. */
const specSequence = fc.tuple(
  fc.array(fc.oneof(validSpec(), invalidSpec()), { minLength: 1, maxLength: 4 }),
  validSpec(),
  fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 5, maxLength: 5 }),
  fc.integer({ min: 1, max: 2 ** 31 - 1 }),
);

function sequence(specs: Record<string, unknown>[], gaps: number[], seed: number): Schedule {
  let atMs = 0;
  return {
    seed,
    steps: specs.map((spec, i) => {
      atMs += i === 0 ? 0 : gaps[i % gaps.length]!;
      return { atMs, do: "apply" as const, object: postgresDB("alpha", spec) };
    }),
  };
}

Deno.test("property: reaching a spec from scratch equals reaching it from earlier specs", async () => {
  const seed = propertySeed() + 2;
  const runs = propertyRuns(200);
  await fc.assert(
    fc.asyncProperty(specSequence, async ([earlier, last, gaps, runSeed]) => {
      const fromScratch = await outcome(sequence([last], gaps, runSeed));
      const throughHistory = await outcome(sequence([...earlier, last], gaps, runSeed));
      assert.deepEqual(throughHistory, fromScratch);
    }),
    { numRuns: runs, seed },
  ).catch((error) => {
    throw new Error(`${replayHint(seed, runs)}\n${error.message}`);
  });
});

Deno.test("property: a bad spec followed by the previous good one returns to the previous state", async () => {
  const seed = propertySeed() + 3;
  const runs = propertyRuns(200);
  await fc.assert(
    fc.asyncProperty(
      validSpec(),
      invalidSpec(),
      fc.integer({ min: 0, max: 6000 }),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      async (good, bad, gapMs, runSeed) => {
        const before = await outcome(sequence([good], [0], runSeed));
        const after = await outcome(sequence([good, bad, good], [gapMs], runSeed));
        assert.deepEqual(after, before);
      },
    ),
    { numRuns: runs, seed },
  ).catch((error) => {
    throw new Error(`${replayHint(seed, runs)}\n${error.message}`);
  });
});
