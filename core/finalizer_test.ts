// Goal: finalizerState() classifies all four cases, and the add/remove updates keep what they must
// (the version read, the other finalizers) and drop what the main resource ignores (status).
import assert from "node:assert/strict";
import { addFinalizer, finalizerState, hasFinalizer, removeFinalizer } from "./finalizer.ts";
import type { KubeObject } from "./object.ts";

const NAME = "example.com/cleanup";

function object(finalizers: string[] | undefined, deleting: boolean): KubeObject {
  const metadata: KubeObject["metadata"] = {
    name: "a",
    namespace: "default",
    resourceVersion: "5",
  };
  if (finalizers) metadata.finalizers = finalizers;
  if (deleting) metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  return { apiVersion: "example.com/v1", kind: "Greeting", metadata, status: { phase: "Ready" } };
}

Deno.test("finalizerState() answers add, apply, cleanup and done", () => {
  assert.equal(finalizerState(object(undefined, false), NAME), "add");
  assert.equal(finalizerState(object(["other.io/x"], false), NAME), "add");
  assert.equal(finalizerState(object([NAME], false), NAME), "apply");
  assert.equal(finalizerState(object([NAME], true), NAME), "cleanup");
  assert.equal(finalizerState(object(["other.io/x"], true), NAME), "done");
  assert.equal(finalizerState(object(undefined, true), NAME), "done");
});

Deno.test("addFinalizer() updates the version read, keeps other finalizers, drops the status", () => {
  const action = addFinalizer(object(["other.io/x"], false), NAME);
  assert.equal(action.kind, "update");
  assert.equal(action.object.metadata.resourceVersion, "5");
  assert.deepEqual(action.object.metadata.finalizers, ["other.io/x", NAME]);
  assert.equal(action.object.status, undefined);
  assert.match(action.reason, /adding finalizer "example\.com\/cleanup"/);
});

Deno.test("addFinalizer() does not add a finalizer twice", () => {
  assert.deepEqual(addFinalizer(object([NAME], false), NAME).object.metadata.finalizers, [NAME]);
});

Deno.test("removeFinalizer() removes only its name, on the version read", () => {
  const source = object(["a.io/x", NAME, "b.io/y"], true);
  const action = removeFinalizer(source, NAME);
  assert.deepEqual(action.object.metadata.finalizers, ["a.io/x", "b.io/y"]);
  assert.equal(action.object.metadata.resourceVersion, "5");
  assert.ok(!hasFinalizer(action.object, NAME));
  assert.ok(hasFinalizer(source, NAME), "the input is not changed");
});

Deno.test("removeFinalizer() leaves an empty list when it was the last one", () => {
  assert.deepEqual(removeFinalizer(object([NAME], true), NAME).object.metadata.finalizers, []);
});
