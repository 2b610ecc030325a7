// Goal: failover and switchover in the simulated cluster end to end: a primary cut off from the
// API server fences itself and is replaced by the most advanced standby, then rejoins; a planned
// switchover by annotation; a scale-down below the primary's ordinal switches over first. Never
// two writers, checked after every step.
// Method: the real runtime and reconciler against SimCluster with its data plane (a simulated
// instance and agent per pod, the primary Lease), on virtual time, one seed per test.
import assert from "node:assert/strict";
import { SWITCHOVER_ANNOTATION } from "../../core/postgres/failover.ts";
import { ROLE_LABEL } from "../../core/postgres/labels.ts";
import { checkReplicationConverged } from "../../sim/topology_checks.ts";
import { sampleYaml, type TestWorld, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const PODS = ["my-postgres-0", "my-postgres-1", "my-postgres-2"];

function writers(w: TestWorld): string[] {
  return PODS.filter((pod) =>
    w.cluster.dataPlane!.instanceOfPod("default", pod)?.acceptsWrites === true
  );
}

/** Runs `ms` of virtual time, checking after every step that at most one instance takes writes. */
async function runChecked(w: TestWorld, ms: number): Promise<void> {
  let seen: string[] = [];
  await w.cluster.run({
    maxVirtualMs: ms,
    until: () => {
      const now = writers(w);
      if (now.length > 1) seen = now;
      return seen.length > 1;
    },
  });
  assert.deepEqual(seen, [], "two instances accepted writes at once");
}

function events(w: TestWorld, reason: string): Any[] {
  return w.cluster.objects().filter((o) => o.kind === "Event" && (o as Any).reason === reason);
}

function roles(w: TestWorld): Record<string, string | undefined> {
  const pods = w.cluster.objects().filter((o) => o.kind === "Pod");
  return Object.fromEntries(pods.map((p) => [p.metadata.name, p.metadata.labels?.[ROLE_LABEL]]));
}

Deno.test("failover: a primary cut off from the API server fences itself and a standby takes over", async () => {
  const w = await world(21);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const before = w.db("my-postgres");
  assert.equal(before.status?.currentPrimary, "my-postgres-0");
  w.cluster.dataPlane!.cutOff("default", "my-postgres-0", 60_000);
  await runChecked(w, 12_000);
  // The renew deadline (10 s) passed: the old primary stopped taking writes, nobody else yet.
  assert.deepEqual(writers(w), []);
  await runChecked(w, 48_000);
  const db = w.db("my-postgres");
  assert.equal(db.status?.primaryTerm, 2);
  assert.notEqual(db.status?.targetPrimary, "my-postgres-0");
  assert.equal(db.status?.currentPrimary, db.status?.targetPrimary);
  assert.equal(db.status?.failover?.reason, "PrimaryLost");
  assert.equal(db.status?.failover?.from, "my-postgres-0");
  assert.ok((db.status?.failover?.durationSeconds ?? 0) > 0, JSON.stringify(db.status?.failover));
  assert.deepEqual(writers(w), [db.status!.targetPrimary!]);
  assert.equal(
    w.cluster.dataPlane!.leaseHolder("default", "my-postgres"),
    db.status?.targetPrimary,
  );
  assert.equal(events(w, "FailoverStarted").length, 1);
  assert.equal(events(w, "PrimaryChosen").length, 1);
  assert.equal(events(w, "FailoverCompleted").length, 1);
  // The partition heals: the old primary rejoins as a standby of the new one.
  await w.converge();
  const after = w.db("my-postgres");
  assert.equal(after.status?.streamingStandbys, 2);
  assert.equal(roles(w)["my-postgres-0"], "standby");
  assert.equal(roles(w)[after.status!.targetPrimary!], "primary");
  assert.deepEqual(checkReplicationConverged(w), []);
  await w.controller.stop();
});

Deno.test("failover: a switchover annotation moves the primary to the named standby", async () => {
  const w = await world(22);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const db = w.db("my-postgres");
  const annotated = structuredClone(db) as Any;
  annotated.metadata.annotations = { [SWITCHOVER_ANNOTATION]: "my-postgres-2" };
  delete annotated.status;
  await w.cluster.request(
    w.cluster.client({ name: "test-user" }).update(annotated),
    { maxVirtualMs: 60_000 },
  );
  await runChecked(w, 30_000);
  await w.converge();
  const after = w.db("my-postgres");
  assert.equal(after.status?.targetPrimary, "my-postgres-2");
  assert.equal(after.status?.currentPrimary, "my-postgres-2");
  assert.equal(after.status?.failover?.reason, "Switchover");
  assert.equal(after.status?.failover?.lossWindowBytes, 0);
  assert.ok(after.status?.failover?.completedAt !== undefined);
  assert.equal(after.status?.switchoverHandled, "my-postgres-2");
  assert.equal(events(w, "SwitchoverCompleted").length, 1);
  assert.equal(after.status?.streamingStandbys, 2);
  assert.deepEqual(checkReplicationConverged(w), []);
  // Acted on once: a resync starts nothing new.
  const writes = w.controller.stats.writes;
  w.controller.queue.add("default/my-postgres");
  await w.converge();
  assert.equal(w.controller.stats.writes, writes);
  await w.controller.stop();
});

Deno.test("failover: a scale-down below the primary's ordinal switches over first, then scales", async () => {
  const w = await world(23);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const db = structuredClone(w.db("my-postgres")) as Any;
  db.metadata.annotations = { [SWITCHOVER_ANNOTATION]: "my-postgres-2" };
  delete db.status;
  await w.cluster.request(w.cluster.client({ name: "test-user" }).update(db), {
    maxVirtualMs: 60_000,
  });
  await w.converge();
  assert.equal(w.db("my-postgres").status?.currentPrimary, "my-postgres-2");
  await w.applyYaml(sampleYaml({ replicas: 2 }));
  await runChecked(w, 30_000);
  await w.converge();
  const after = w.db("my-postgres");
  assert.equal((w.find("StatefulSet", "my-postgres") as Any).spec.replicas, 2);
  assert.equal(after.status?.failover?.reason, "Switchover");
  assert.match(after.status?.failover?.message ?? "", /spec.replicas 2 removes the primary's pod/);
  assert.ok(["my-postgres-0", "my-postgres-1"].includes(after.status!.currentPrimary!));
  assert.equal(after.status?.conditions?.find((c) => c.type === "ScaleDown"), undefined);
  assert.equal(after.status?.streamingStandbys, 1);
  assert.equal(after.status?.ready, true);
  await w.controller.stop();
});
