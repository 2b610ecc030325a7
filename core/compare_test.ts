// Goal: the desired-vs-observed comparison ignores what the server adds, sees what we own.
import assert from "node:assert/strict";
import { compareDesired, jsonEqual } from "./compare.ts";

Deno.test("compareDesired() ignores fields the server added", () => {
  const desired = { spec: { ports: [{ name: "pg", port: 5432 }] } };
  const observed = {
    spec: { ports: [{ name: "pg", port: 5432, protocol: "TCP" }], sessionAffinity: "None" },
  };
  assert.deepEqual(compareDesired(desired, observed), { equal: true, reason: "" });
});

Deno.test("compareDesired() names the first difference", () => {
  const c = compareDesired({ spec: { replicas: 3 } }, { spec: { replicas: 1 } });
  assert.deepEqual(c, { equal: false, reason: "spec.replicas: want 3, have 1" });
});

Deno.test("compareDesired() matches named list items by name and tolerates extra ones", () => {
  const desired = { env: [{ name: "A", value: "1" }] };
  assert.ok(
    compareDesired(desired, { env: [{ name: "B", value: "x" }, { name: "A", value: "1" }] }).equal,
  );
  const missing = compareDesired(desired, { env: [{ name: "B", value: "x" }] });
  assert.equal(missing.reason, "env[name=A]: missing");
});

Deno.test("compareDesired() compares unnamed lists item by item", () => {
  assert.ok(!compareDesired({ a: ["x", "y"] }, { a: ["x"] }).equal);
  assert.ok(!compareDesired({ a: ["x", "y"] }, { a: ["y", "x"] }).equal);
  assert.ok(compareDesired({ a: ["x", "y"] }, { a: ["x", "y"] }).equal);
});

Deno.test("compareDesired() compares resource quantities by value", () => {
  assert.ok(
    compareDesired({ requests: { storage: "1Gi" } }, { requests: { storage: "1024Mi" } }).equal,
  );
  assert.ok(
    !compareDesired({ requests: { storage: "2Gi" } }, { requests: { storage: "1Gi" } }).equal,
  );
  assert.ok(!compareDesired({ labels: { v: "1Gi" } }, { labels: { v: "1024Mi" } }).equal);
});

Deno.test("jsonEqual() ignores key order and undefined fields", () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 2 }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
});
