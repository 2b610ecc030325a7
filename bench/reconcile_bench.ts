/**
 * Measures the pure reconcile of one PostgresDB (no cluster, no I/O): the decision for a new
 * object (builds three children), and the steady-state decision (compares and finds nothing to do).
 *
 * Run: `deno task bench` (or `deno bench bench/reconcile_bench.ts`).
 */

import { reconcilePostgresDB } from "../core/postgres/reconcile.ts";
import { observe } from "../core/reconciler.ts";
import type { KubeObject } from "../core/object.ts";
import type { PostgresDB } from "../core/postgres/types.ts";
import { random, sample, stored } from "../tests/support/fixtures.ts";

const context = { nowMs: Date.UTC(2026, 0, 1), random: random(1) };
const fresh = sample();

const children: KubeObject[] = reconcilePostgresDB(observe(fresh, []), context).actions.flatMap((
  a,
) => a.kind === "create" || a.kind === "apply" ? [stored(a.object)] : []);
const sts = children.find((c) => c.kind === "StatefulSet")!;
sts.status = { observedGeneration: 1, replicas: 1, readyReplicas: 1 };
const steady = structuredClone(fresh) as PostgresDB;
for (let i = 0; i < 2; i++) {
  const patch = reconcilePostgresDB(observe(steady, children), context).actions.find((a) =>
    a.kind === "patchStatus"
  );
  if (patch?.kind === "patchStatus") steady.status = patch.status;
}
const steadyObserved = observe(steady, children);
if (reconcilePostgresDB(steadyObserved, context).actions.length !== 0) {
  throw new Error("The steady-state fixture is not steady");
}

Deno.bench("reconcile: new PostgresDB (build Secret, Service, StatefulSet)", () => {
  reconcilePostgresDB(observe(fresh, []), context);
});

Deno.bench("reconcile: converged PostgresDB (compare, no writes)", () => {
  reconcilePostgresDB(steadyObserved, context);
});
