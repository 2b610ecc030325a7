/**
 * fast-check generators of PostgresDB spec sequences and fault schedules. Each shrinks towards
 * fewer steps, fewer faults and simpler specs, so a failure ends as a small schedule.
 *
 * @module
 */

import fc from "fast-check";
import type { KubeObject } from "../../core/object.ts";
import { POSTGRESDB } from "../../core/postgres/types.ts";
import type { FaultOptions } from "../../sim/faults.ts";
import type { Schedule, Step } from "../../sim/schedule.ts";

/** The PostgresDB names schedules use. */
export const DB_NAMES = ["alpha", "beta"] as const;

/**
 * A PostgresDB object with `spec`. `beta` deletes its volumes and credentials with it; `alpha`
 * keeps them (the default): the policy of a name never changes within a schedule, as the CRD
 * makes it immutable.
 */
export function postgresDB(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: POSTGRESDB.apiVersion,
    kind: POSTGRESDB.kind,
    metadata: { name, namespace: "default" },
    spec: name === "beta" ? { ...spec, deletionPolicy: "Delete" } : spec,
  };
}

/** The user actor: deletes and edits children of every kind by hand, at random moments. */
function userStepArbitrary(): fc.Arbitrary<DistributiveOmit<Step, "atMs">> {
  const name = fc.constantFrom(...DB_NAMES);
  const ordinal = fc.integer({ min: 0, max: 2 });
  const target = fc.oneof(
    name.map((n) => ({ kind: "Secret" as const, name: `${n}-credentials` })),
    name.map((n) => ({ kind: "Service" as const, name: n })),
    name.map((n) => ({ kind: "StatefulSet" as const, name: n })),
    fc.tuple(name, ordinal).map(([n, i]) => ({
      kind: "PersistentVolumeClaim" as const,
      name: `data-${n}-${i}`,
    })),
    fc.tuple(name, ordinal).map(([n, i]) => ({ kind: "Pod" as const, name: `${n}-${i}` })),
  );
  return fc.tuple(fc.constantFrom("userDelete" as const, "userEdit" as const), target).map((
    [action, t],
  ) => ({ do: action, ...t }));
}

/**
 * A valid spec. databaseName stays fixed (it cannot change once initialised), and so does the
 * version's major (a change of major is refused: the end state would depend on history); storage
 * changes only
 * with `varyStorage` (existing volumes keep their size, so the end state depends on history).
 */
export function validSpec(
  options: { varyStorage?: boolean; upgrades?: boolean } = {},
): fc.Arbitrary<Record<string, unknown>> {
  const base = {
    storage: options.varyStorage ? fc.constantFrom("1Gi", "2Gi") : fc.constant("1Gi"),
    replicas: fc.integer({ min: 1, max: 3 }),
    databaseName: fc.constant("app"),
  };
  if (options.upgrades) {
    // Major upgrades with pg_upgrade: 16 and 17 in any order (back to 16 after an upgrade is a
    // refused downgrade, before it a cancelled or completed upgrade).
    return fc.record({
      version: fc.constantFrom("16", "16.4", "17", "17.2"),
      ...base,
      majorUpgrade: fc.constant("PgUpgrade"),
    });
  }
  return fc.record({ version: fc.constantFrom("16", "16.4", "16.6"), ...base });
}

/** A spec with one field broken the way users break it. */
export function invalidSpec(
  options: { varyStorage?: boolean; upgrades?: boolean } = {},
): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(
    validSpec(options),
    fc.constantFrom<[string, unknown]>(
      ["storage", "10 gigs"],
      ["replicas", -1],
      ["replicas", 1000],
      ["version", "16; rm -rf /"],
      ["databaseName", "my-app"],
      ["databaseName", undefined],
    ),
  ).map(([spec, [field, value]]) => {
    const broken = { ...spec, [field]: value };
    if (value === undefined) delete broken[field];
    return broken;
  });
}

/** A spec: mostly valid. */
export function anySpec(
  options: { varyStorage?: boolean; upgrades?: boolean } = {},
): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    { weight: 4, arbitrary: validSpec(options) },
    { weight: 1, arbitrary: invalidSpec(options) },
  );
}

function gap(): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: 8000 });
}

/** One user or world step (time relative to the previous step). */
/** A step without its time (`Omit` distributed over the union). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type TimedStep = { afterMs: number; step: DistributiveOmit<Step, "atMs"> };

/** One step, or a delete quickly followed by a re-create of the same name (a user's `replace --force`). */
function stepGroupArbitrary(
  options: { varyStorage?: boolean; userActor?: boolean; upgrades?: boolean },
): fc.Arbitrary<TimedStep[]> {
  const recreate = fc.tuple(
    fc.constantFrom(...DB_NAMES),
    validSpec(options),
    gap(),
    fc.integer({ min: 0, max: 500 }),
  ).map(([n, spec, afterMs, againMs]): TimedStep[] => [
    {
      afterMs,
      step: { do: "delete", apiVersion: POSTGRESDB.apiVersion, kind: POSTGRESDB.kind, name: n },
    },
    { afterMs: againMs, step: { do: "apply", object: postgresDB(n, spec) } },
  ]);
  const user = fc.record({ afterMs: gap(), step: userStepArbitrary() }).map((s) => [s]);
  return options.userActor
    ? fc.oneof(
      { weight: 5, arbitrary: stepArbitrary(options).map((s) => [s]) },
      { weight: 1, arbitrary: recreate },
      { weight: 4, arbitrary: user },
    )
    : fc.oneof(
      { weight: 9, arbitrary: stepArbitrary(options).map((s) => [s]) },
      { weight: 1, arbitrary: recreate },
    );
}

function stepArbitrary(
  options: { varyStorage?: boolean; upgrades?: boolean },
): fc.Arbitrary<TimedStep> {
  const name = fc.constantFrom(...DB_NAMES);
  const ordinal = fc.integer({ min: 0, max: 2 });
  const step = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(name, anySpec(options)).map(([n, spec]) => ({
        do: "apply" as const,
        object: postgresDB(n, spec),
      })),
    },
    {
      weight: 1,
      arbitrary: name.map((n) => ({
        do: "delete" as const,
        apiVersion: POSTGRESDB.apiVersion,
        kind: POSTGRESDB.kind,
        name: n,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(name, ordinal).map(([n, i]) => ({
        do: "deletePod" as const,
        name: `${n}-${i}`,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(name, ordinal).map(([n, i]) => ({
        do: "crashPod" as const,
        name: `${n}-${i}`,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("node-1", "node-2").map((node) => ({
        do: "loseNode" as const,
        node,
      })),
    },
    { weight: 1, arbitrary: fc.constant({ do: "crashOperator" as const }) },
    {
      weight: 1,
      arbitrary: fc.tuple(name, ordinal, fc.integer({ min: 1_000, max: 60_000 })).map((
        [n, i, durationMs],
      ) => ({ do: "cutOffAgent" as const, name: `${n}-${i}`, durationMs })),
    },
  );
  return fc.record({ afterMs: gap(), step });
}

/** Fault rates: each fault off or at a moderate rate, chosen independently. */
export function faultArbitrary(): fc.Arbitrary<FaultOptions> {
  const rate = (max: number) =>
    fc.oneof({ withCrossShrink: true }, fc.constant(0), fc.double({ min: 0.01, max, noNaN: true }));
  return fc.record({
    writeErrorRate: rate(0.3),
    ambiguousWriteRate: rate(0.15),
    readErrorRate: rate(0.1),
    watchDisconnectRate: rate(0.1),
    watchExpireRate: rate(0.05),
    staleListRate: rate(0.3),
    watchLagMaxMs: fc.oneof(
      { withCrossShrink: true },
      fc.constant(0),
      fc.integer({ min: 1, max: 3000 }),
    ),
  }).map((faults) =>
    Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== 0)) as FaultOptions
  );
}

/** A whole schedule: seed, steps that start with an apply, faults, crashes, cluster timing. */
export function scheduleArbitrary(
  options: {
    maxSteps?: number;
    faults?: boolean;
    varyStorage?: boolean;
    userActor?: boolean;
    upgrades?: boolean;
  } = {},
): fc.Arbitrary<Schedule> {
  const start = options.upgrades
    ? validSpec({ upgrades: true }).map((s) => ({ ...s, version: "16" }))
    : validSpec();
  const first = fc.tuple(fc.constantFrom(...DB_NAMES), start).map(([n, spec]) => ({
    afterMs: 0,
    step: { do: "apply" as const, object: postgresDB(n, spec) },
  }));
  return fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    first,
    rest: fc.array(
      stepGroupArbitrary({
        varyStorage: options.varyStorage ?? true,
        userActor: options.userActor ?? false,
        upgrades: options.upgrades ?? false,
      }),
      {
        maxLength: options.maxSteps ?? 6,
      },
    ).map((groups) => groups.flat()),
    faults: options.faults === false ? fc.constant({}) : faultArbitrary(),
    crashRate: options.faults === false ? fc.constant(0) : fc.oneof(
      { withCrossShrink: true },
      fc.constant(0),
      fc.double({ min: 0.01, max: 0.2, noNaN: true }),
    ),
    gcDelayMs: fc.oneof(
      { withCrossShrink: true },
      fc.constant(50),
      fc.integer({ min: 51, max: 5000 }),
    ),
    readyDelayMs: fc.oneof(
      { withCrossShrink: true },
      fc.constant(2000),
      fc.integer({ min: 100, max: 20000 }),
    ),
  }).map(({ seed, first, rest, faults, crashRate, gcDelayMs, readyDelayMs }) => {
    let atMs = 0;
    const steps = [first, ...rest].map(({ afterMs, step }) => {
      atMs += afterMs;
      return { ...step, atMs } as Step;
    });
    const schedule: Schedule = {
      seed,
      steps,
      cluster: { gcDelayMs, readyDelayMs },
      faultsAfterLastStepMs: 10_000,
    };
    if (Object.keys(faults).length > 0) schedule.faults = faults;
    if (crashRate > 0) schedule.crashRate = crashRate;
    return schedule;
  });
}

/** The schedule without any fault: no API or watch faults, no crashes, no pod or node faults. */
export function withoutFaults(schedule: Schedule): Schedule {
  const calm = ["apply", "delete"];
  return {
    seed: schedule.seed,
    steps: schedule.steps.filter((s) => calm.includes(s.do)),
    ...(schedule.cluster ? { cluster: schedule.cluster } : {}),
  };
}
