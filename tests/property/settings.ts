/**
 * Budgets and seeds of the property tests: fixed by default so CI is repeatable, overridable from
 * the environment to explore (`PGOP_PROPERTY_SEED=123 PGOP_PROPERTY_RUNS=5000 deno task test`).
 *
 * @module
 */

/** The seed of the property tests. */
export function propertySeed(): number {
  const text = Deno.env.get("PGOP_PROPERTY_SEED");
  return text ? Number(text) : 20261126;
}

/** The number of schedules, scaled by `PGOP_PROPERTY_RUNS / 1000`. */
export function propertyRuns(base: number): number {
  const text = Deno.env.get("PGOP_PROPERTY_RUNS");
  return text ? Math.max(1, Math.round((base * Number(text)) / 1000)) : base;
}

/** The line a failing property prints: its seed and how to replay it. */
export function replayHint(seed: number, runs: number): string {
  return `seed ${seed}, ${runs} runs; replay with PGOP_PROPERTY_SEED=${seed} PGOP_PROPERTY_RUNS=${runs} deno task test tests/property/`;
}
