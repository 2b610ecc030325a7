// Goal: statusAction() writes only a changed status, on the version read, and withCondition()
// keeps a condition's transition time when its status stays.
import assert from "node:assert/strict";
import type { KubeObject } from "./object.ts";
import { conditionsOf, statusAction, withCondition } from "./status.ts";

function greeting(status?: Record<string, unknown>): KubeObject {
  const object: KubeObject = {
    apiVersion: "example.com/v1",
    kind: "Greeting",
    metadata: { name: "hi", namespace: "default", resourceVersion: "40", generation: 3 },
  };
  if (status) object.status = status;
  return object;
}

Deno.test("statusAction() writes nothing when the status is unchanged, keys in any order", () => {
  const object = greeting({ phase: "Ready", observedGeneration: 3 });
  assert.deepEqual(statusAction(object, { observedGeneration: 3, phase: "Ready" }), []);
});

Deno.test("statusAction() writes a changed status with the resourceVersion read", () => {
  const [action, ...rest] = statusAction(greeting({ phase: "Pending" }), { phase: "Ready" });
  assert.equal(rest.length, 0);
  assert.equal(action?.kind, "patchStatus");
  assert.equal(action.resourceVersion, "40");
  assert.deepEqual(action.target, {
    apiVersion: "example.com/v1",
    kind: "Greeting",
    name: "hi",
    namespace: "default",
  });
  assert.deepEqual(action.status, { phase: "Ready" });
  assert.equal(action.reason, 'phase: want "Ready", have "Pending"');
});

Deno.test("statusAction() writes a first status, and one that drops a field", () => {
  assert.equal(statusAction(greeting(), {})[0]?.reason, "status is missing");
  const dropped = statusAction(greeting({ phase: "Ready", extra: 1 }), { phase: "Ready" });
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0]?.reason, "status has fields the controller no longer sets");
});

Deno.test("statusAction() takes a reason, and omits a precondition it does not have", () => {
  const object = greeting({ phase: "Pending" });
  delete object.metadata.resourceVersion;
  const [action] = statusAction(object, { phase: "Ready" }, { reason: "instances ready" });
  assert.equal(action?.reason, "instances ready");
  assert.equal("resourceVersion" in action!, false);
});

Deno.test("withCondition() keeps lastTransitionTime while the status stays, and sets it on change", () => {
  const ready = { type: "Ready", status: "True" as const, reason: "Done", message: "" };
  const first = withCondition(greeting(), ready, 1_000);
  assert.equal(first[0]?.lastTransitionTime, "1970-01-01T00:00:01Z");
  assert.equal(first[0]?.observedGeneration, 3);
  const stored = greeting({ conditions: first });
  const same = withCondition(stored, { ...ready, message: "still" }, 9_000);
  assert.equal(same[0]?.lastTransitionTime, "1970-01-01T00:00:01Z");
  assert.equal(same[0]?.message, "still");
  const changed = withCondition(stored, { ...ready, status: "False" }, 9_000);
  assert.equal(changed[0]?.lastTransitionTime, "1970-01-01T00:00:09Z");
  // A status built this way is unchanged on the next reconcile: no write.
  assert.deepEqual(statusAction(stored, { conditions: withCondition(stored, ready, 50_000) }), []);
});

Deno.test("conditionsOf() reads status.conditions, or nothing", () => {
  assert.equal(conditionsOf(greeting()), undefined);
  assert.equal(conditionsOf(greeting({ conditions: "no" })), undefined);
  assert.deepEqual(conditionsOf(greeting({ conditions: [] })), []);
});

Deno.test("statusAction() removes what the stored status has and the next one lacks", () => {
  const object = {
    apiVersion: "example.com/v1",
    kind: "Greeting",
    metadata: { name: "hi", resourceVersion: "3" },
    status: { phase: "Ready", since: "t0", story: { from: "a", waiting: "b" }, list: [1] },
  };
  const [write] = statusAction(object, { phase: "Ready", story: { from: "a" }, list: [2] });
  assert.deepEqual(write?.status, {
    phase: "Ready",
    since: null,
    story: { from: "a", waiting: null },
    list: [2],
  });
});
