import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import type { Instance } from "./instances.ts";
import type { PodReport } from "./replication.ts";
import { REVISION_LABEL, rolloutStep } from "./rollout.ts";
import type { PostgresDB } from "./types.ts";

const DB: PostgresDB = {
  apiVersion: "database.thegeekyway.com/v1alpha1",
  kind: "PostgresDB",
  metadata: { name: "db", namespace: "ns" },
};

const STS: KubeObject = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "db", namespace: "ns", generation: 3 },
  status: { observedGeneration: 3, updateRevision: "new" },
};

function instance(name: string, revision: string, ready = true, report?: PodReport): Instance {
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels: { [REVISION_LABEL]: revision } },
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
  return { pod, report };
}

function standby(name: string, receivedLsn: number): PodReport {
  return {
    name,
    role: "standby",
    process: "running",
    ready: true,
    receivedLsn,
    replayLsn: receivedLsn,
    streamingFrom: "db-0",
    message: "",
    term: 1,
  };
}

function deleted(step: ReturnType<typeof rolloutStep>): string[] {
  return step.actions.flatMap((a) => a.kind === "delete" ? [`${a.target.name}/${a.uid}`] : []);
}

Deno.test("rolloutStep() replaces the standbys of an old revision first, highest ordinal first", () => {
  const all = [instance("db-0", "old"), instance("db-1", "old"), instance("db-2", "old")];
  assert.deepEqual(deleted(rolloutStep(DB, STS, all, "db-0", 1, 3)), ["db-2/uid-db-2"]);
  const two = [instance("db-0", "old"), instance("db-1", "old"), instance("db-2", "new")];
  assert.deepEqual(deleted(rolloutStep(DB, STS, two, "db-0", 1, 3)), ["db-1/uid-db-1"]);
});

Deno.test("rolloutStep() switches over to the most advanced updated standby before the primary", () => {
  const primary: PodReport = { ...standby("db-0", 900), role: "primary" };
  const all = [
    instance("db-0", "old", true, primary),
    instance("db-1", "new", true, standby("db-1", 800)),
    instance("db-2", "new", true, standby("db-2", 850)),
  ];
  const step = rolloutStep(DB, STS, all, "db-0", 1, 3);
  assert.deepEqual(step.actions, []);
  assert.equal(step.switchoverTo, "db-2");
  // Once it moved, the old primary is a standby like the others and is replaced.
  const moved = [
    instance("db-0", "old", true, { ...standby("db-0", 900), streamingFrom: "db-2" }),
    instance("db-1", "new"),
    instance("db-2", "new"),
  ];
  assert.deepEqual(deleted(rolloutStep(DB, STS, moved, "db-2", 2, 3)), ["db-0/uid-db-0"]);
});

Deno.test("rolloutStep() waits while another instance is not ready, but replaces a broken old one", () => {
  const waiting = [
    instance("db-0", "old"),
    instance("db-1", "new", false),
    instance("db-2", "old"),
  ];
  assert.deepEqual(rolloutStep(DB, STS, waiting, "db-0", 1, 3).actions, []);
  const broken = [instance("db-0", "old"), instance("db-1", "old", false), instance("db-2", "old")];
  assert.deepEqual(deleted(rolloutStep(DB, STS, broken, "db-0", 1, 3)), ["db-1/uid-db-1"]);
  const missing = [instance("db-0", "old"), instance("db-1", "old")];
  assert.deepEqual(rolloutStep(DB, STS, missing, "db-0", 1, 3).actions, []);
});

Deno.test("rolloutStep() does nothing while the StatefulSet's status is behind or a failover is pending", () => {
  const all = [instance("db-0", "old")];
  const behind = { ...STS, status: { observedGeneration: 2, updateRevision: "new" } };
  assert.deepEqual(rolloutStep(DB, behind, all, "db-0", 1, 1).actions, []);
  assert.deepEqual(rolloutStep(DB, STS, all, "", 2, 1).actions, []);
  // A single instance is restarted in place.
  assert.deepEqual(deleted(rolloutStep(DB, STS, all, "db-0", 1, 1)), ["db-0/uid-db-0"]);
});

Deno.test("rolloutStep() replaces a broken pod of an old revision while the StatefulSet has pods to create", () => {
  // After a major upgrade: db-0 still runs the old image on the new major's data and is never
  // ready; the StatefulSet creates db-1 only once db-0 is ready.
  const broken = [instance("db-0", "old", false)];
  assert.deepEqual(deleted(rolloutStep(DB, STS, broken, "db-0", 1, 2)), ["db-0/uid-db-0"]);
  // A ready pod of an old revision waits until every member exists.
  assert.deepEqual(deleted(rolloutStep(DB, STS, [instance("db-0", "old")], "db-0", 1, 2)), []);
});
