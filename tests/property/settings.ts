/**
 * Budgets and seeds of the property tests: fixed by default so CI is repeatable, overridable from
 * the environment to explore (`PGOP_PROPERTY_SEED=123 PGOP_PROPERTY_RUNS=5000 deno task test`).
 * Each test derives its own seed from the base seed (base + an offset), and its run count from the
 * budget (`PGOP_PROPERTY_RUNS` per thousand of its default).
 *
 * @module
 */

/** The base seed of the property tests. */
export function propertySeed(): number {
  const text = Deno.env.get("PGOP_PROPERTY_SEED");
  return text ? Number(text) : 20261126;
}

/** The budget: schedules per thousand of each test's default. */
function budget(): number {
  const text = Deno.env.get("PGOP_PROPERTY_RUNS");
  return text ? Number(text) : 1000;
}

/** The number of runs of a test whose default is `base`. */
export function propertyRuns(base: number): number {
  return Math.max(1, Math.round((base * budget()) / 1000));
}

/** The line a failing property prints: the environment that replays it. */
export function replayHint(seedUsed: number, runs: number): string {
  return `seed ${seedUsed}, ${runs} runs; replay with PGOP_PROPERTY_SEED=${propertySeed()} ` +
    `PGOP_PROPERTY_RUNS=${budget()} deno task test tests/property/`;
}
