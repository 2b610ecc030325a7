// Goal: ownedBy() makes the parent the one controller of a child, and decideChild() writes only a
// drifted child of the same parent (by uid), creating a missing one and never touching another's.
import assert from "node:assert/strict";
import type { KubeObject } from "./object.ts";
import { decideChild, ownedBy } from "./owned.ts";

const parent: KubeObject = {
  apiVersion: "example.com/v1",
  kind: "Greeting",
  metadata: { name: "hi", namespace: "prod", uid: "u-1" },
};

function configMap(text: string): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "hi-greeting" }, data: { text } };
}

Deno.test("ownedBy() sets the namespace and one controller reference, keeping other owners", () => {
  const child = configMap("hello");
  child.metadata.ownerReferences = [
    { apiVersion: "v1", kind: "Other", name: "o", uid: "u-9", controller: true },
    { apiVersion: "v1", kind: "Keep", name: "k", uid: "u-8" },
  ];
  const owned = ownedBy(parent, child);
  assert.equal(owned.metadata.namespace, "prod");
  assert.deepEqual(owned.metadata.ownerReferences, [
    {
      apiVersion: "example.com/v1",
      kind: "Greeting",
      name: "hi",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    },
    { apiVersion: "v1", kind: "Keep", name: "k", uid: "u-8" },
  ]);
  assert.equal(child.metadata.namespace, undefined, "the input is not changed");
});

Deno.test("decideChild() creates a missing child", () => {
  const desired = ownedBy(parent, configMap("hello"));
  const decision = decideChild(desired, undefined);
  assert.equal(decision.kind, "create");
  assert.equal(decision.kind === "create" && decision.action.object, desired);
});

Deno.test("decideChild() leaves a matching child, whatever the server added", () => {
  const desired = ownedBy(parent, configMap("hello"));
  const observed = structuredClone(desired);
  observed.metadata.resourceVersion = "12";
  observed.metadata.uid = "c-1";
  assert.deepEqual(decideChild(desired, observed), { kind: "unchanged" });
});

Deno.test("decideChild() applies a drifted child, naming the difference", () => {
  const desired = ownedBy(parent, configMap("hello"));
  const observed = ownedBy(parent, configMap("edited"));
  const decision = decideChild(desired, observed);
  assert.equal(decision.kind, "change");
  if (decision.kind !== "change") return;
  assert.equal(decision.action.kind, "apply");
  assert.equal(decision.action.reason, 'data.text: want "hello", have "edited"');
});

Deno.test("decideChild() with write update lays the desired fields over the version read", () => {
  const desired = ownedBy(parent, configMap("hello"));
  const observed = ownedBy(parent, configMap("edited"));
  observed.metadata.resourceVersion = "30";
  observed.metadata.labels = { by: "user" };
  observed.status = { ignored: true };
  const decision = decideChild(desired, observed, { write: "update" });
  assert.equal(decision.kind === "change" && decision.action.kind, "update");
  if (decision.kind !== "change") return;
  const object = decision.action.object;
  assert.equal(object.metadata.resourceVersion, "30");
  assert.deepEqual(object.metadata.labels, { by: "user" });
  assert.deepEqual(object.data, { text: "hello" });
  assert.equal(object.status, undefined);
});

Deno.test("decideChild() never writes a same-named child of another owner, or of none", () => {
  const desired = ownedBy(parent, configMap("hello"));
  const other = ownedBy(
    { ...parent, metadata: { ...parent.metadata, uid: "u-2" } },
    configMap("x"),
  );
  const foreign = decideChild(desired, other);
  assert.equal(foreign.kind, "foreign");
  assert.equal(foreign.kind === "foreign" && foreign.owner?.uid, "u-2");
  assert.deepEqual(decideChild(desired, configMap("x")), { kind: "foreign", owner: undefined });
});
