// Goal: the target primary changes only when its volume was lost and one system's data is held
// elsewhere, to the most advanced holder; a scale-down never removes the target.
// Method: chooseTarget and heldReplicas on hand-made reports.
import assert from "node:assert/strict";
import type { PodReport } from "./replication.ts";
import { chooseTarget, heldReplicas } from "./target.ts";
import type { Instance } from "./instances.ts";
import type { PostgresDB } from "./types.ts";

const db: PostgresDB = {
  apiVersion: "database.thegeekyway.com/v1alpha1",
  kind: "PostgresDB",
  metadata: { name: "db", namespace: "default" },
  status: { targetPrimary: "db-0", primaryTerm: 3 },
};

function instance(name: string, report: Partial<PodReport> | undefined): Instance {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name } };
  if (report === undefined) return { pod };
  return {
    pod,
    report: {
      name,
      role: "none",
      process: "stopped",
      ready: false,
      receivedLsn: 0,
      replayLsn: 0,
      message: "",
      term: 3,
      ...report,
    },
  };
}

const empty = instance("db-0", {});
const standby = (name: string, lsn: number, extra: Partial<PodReport> = {}) =>
  instance(name, {
    role: "standby",
    process: "running",
    systemId: "7",
    receivedLsn: lsn,
    ...extra,
  });

Deno.test("chooseTarget() moves an empty target to the holder with the most WAL, in the next term", () => {
  const choice = chooseTarget(db, [empty, standby("db-1", 10), standby("db-2", 20)]);
  assert.equal(choice.targetPrimary, "db-2");
  assert.equal(choice.primaryTerm, 4);
  assert.deepEqual([choice.retarget?.from, choice.retarget?.to], ["db-0", "db-2"]);
  assert.match(choice.retarget!.message, /"db-0" has an empty data directory/);
});

Deno.test("chooseTarget() breaks a WAL tie by the lowest ordinal", () => {
  const choice = chooseTarget(db, [empty, standby("db-2", 10), standby("db-1", 10)]);
  assert.equal(choice.targetPrimary, "db-1");
});

Deno.test("chooseTarget() keeps the target while it has data, initialises, runs, or reported in another term", () => {
  const kept = [
    instance("db-0", { systemId: "7" }),
    instance("db-0", { initializing: "initdb" }),
    instance("db-0", { initializing: "clone" }),
    instance("db-0", { process: "crashed", systemId: "7" }),
    instance("db-0", { term: 2 }),
    instance("db-0", undefined),
  ];
  for (const target of kept) {
    const choice = chooseTarget(db, [target, standby("db-1", 10)]);
    assert.equal(choice.targetPrimary, "db-0", JSON.stringify(target.report));
    assert.equal(choice.primaryTerm, 3);
    assert.equal(choice.retarget, undefined);
  }
  // A missing target pod (being re-created) is not an empty one.
  assert.equal(chooseTarget(db, [standby("db-1", 10)]).targetPrimary, "db-0");
});

Deno.test("chooseTarget() keeps the target when nobody else holds data, the systems differ, or a primary runs", () => {
  const cases: Instance[][] = [
    [empty],
    [empty, instance("db-1", { role: "none" })],
    [empty, standby("db-1", 10, { term: 2 })],
    [empty, standby("db-1", 10), standby("db-2", 20, { systemId: "8" })],
    [empty, standby("db-1", 10), standby("db-2", 5, { role: "primary" })],
  ];
  for (const instances of cases) {
    assert.equal(chooseTarget(db, instances).targetPrimary, "db-0", JSON.stringify(instances));
  }
});

Deno.test("chooseTarget() starts at the first pod in term 1 without a status", () => {
  const fresh = { ...db, status: {} };
  assert.deepEqual(chooseTarget(fresh, []), { targetPrimary: "db-0", primaryTerm: 1 });
});

Deno.test("heldReplicas() never scales below the target's ordinal and says so", () => {
  assert.deepEqual(heldReplicas("db", 2, "db-1"), { replicas: 2 });
  assert.deepEqual(heldReplicas("db", 1, "db-0"), { replicas: 1 });
  const held = heldReplicas("db", 1, "db-2");
  assert.equal(held.replicas, 3);
  assert.equal(held.condition?.type, "ScaleDown");
  assert.equal(held.condition?.status, "False");
  assert.match(held.condition!.message, /spec.replicas 1 would remove the primary "db-2"/);
});
