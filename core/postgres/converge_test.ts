// Goal: the converging phase's leaf helpers compute values and change nothing they are given.
// Method: keepClaimTemplates() on observed StatefulSets, with the inputs frozen.
import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { keepClaimTemplates } from "./converge.ts";
import { buildStatefulSet } from "./statefulset.ts";
import type { ValidSpec } from "./types.ts";
import { validatePostgresDB } from "./validate.ts";
import { sample } from "../../tests/support/fixtures.ts";

function validSpec(storage: string): ValidSpec {
  const validation = validatePostgresDB(sample({ storage }));
  assert.ok(validation.ok);
  return validation.spec;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

Deno.test("keepClaimTemplates() keeps nothing and removes VolumeResize when nothing is observed", () => {
  const kept = keepClaimTemplates(undefined, validSpec("1Gi"));
  assert.equal(kept.claimTemplates, undefined);
  assert.deepEqual(kept.conditions, { set: [], remove: ["VolumeResize"] });
});

Deno.test("keepClaimTemplates() returns the observed templates without changing the observed object", () => {
  const observed: KubeObject = deepFreeze(buildStatefulSet(sample(), validSpec("1Gi")));
  const templates = (observed.spec as Record<string, unknown>).volumeClaimTemplates;
  const same = keepClaimTemplates(observed, validSpec("1Gi"));
  assert.equal(same.claimTemplates, templates);
  assert.deepEqual(same.conditions, { set: [], remove: ["VolumeResize"] });
  const bigger = keepClaimTemplates(observed, validSpec("2Gi"));
  assert.equal(bigger.claimTemplates, templates);
  assert.deepEqual(bigger.conditions.remove, []);
  assert.equal(bigger.conditions.set[0]?.type, "VolumeResize");
  assert.equal(bigger.conditions.set[0]?.reason, "NotSupported");
});
