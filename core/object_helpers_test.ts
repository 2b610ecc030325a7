// Goal: namespaceOf() applies the "default" rule, and groupOf() splits an apiVersion.
import assert from "node:assert/strict";
import { groupOf, namespaceOf } from "./object.ts";

Deno.test('namespaceOf() is the object\'s namespace, or "default" when absent or empty', () => {
  assert.equal(namespaceOf({ metadata: { name: "a", namespace: "prod" } }), "prod");
  assert.equal(namespaceOf({ metadata: { name: "a" } }), "default");
  assert.equal(namespaceOf({ metadata: { name: "a", namespace: "" } }), "default");
});

Deno.test("groupOf() is the group of an apiVersion, empty for the core group", () => {
  assert.equal(groupOf("apps/v1"), "apps");
  assert.equal(groupOf("apiextensions.k8s.io/v1"), "apiextensions.k8s.io");
  assert.equal(groupOf("v1"), "");
});
