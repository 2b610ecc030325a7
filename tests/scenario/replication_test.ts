// Goal: replication in the simulated cluster end to end: one primary and streaming standbys, the
// -rw and -ro Services by role label, the status, a standby pod deleted, scaling, an operator
// crash, and no writes at rest.
// Method: the real runtime and reconciler against SimCluster with its data plane (a simulated
// instance and agent per pod), on virtual time, one seed per test.
import assert from "node:assert/strict";
import { ROLE_LABEL } from "../../core/postgres/labels.ts";
import { postgresDBCrd } from "../../crds/postgresdb.ts";
import { checkReplicationConverged } from "../../sim/topology_checks.ts";
import { sampleYaml, type TestWorld, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function roles(w: TestWorld): Record<string, string | undefined> {
  const pods = w.cluster.objects().filter((o) => o.kind === "Pod");
  return Object.fromEntries(pods.map((p) => [p.metadata.name, p.metadata.labels?.[ROLE_LABEL]]));
}

Deno.test("replication: replicas 3 give one primary and two streaming standbys behind -rw and -ro", async () => {
  const w = await world(11);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.targetPrimary, "my-postgres-0");
  assert.equal(db.status?.currentPrimary, "my-postgres-0");
  assert.equal(db.status?.primaryTerm, 1);
  assert.equal(db.status?.streamingStandbys, 2);
  assert.equal(db.status?.readyInstances, 3);
  const replicating = db.status?.conditions?.find((c) => c.type === "Replicating");
  assert.equal(replicating?.status, "True");
  assert.deepEqual(roles(w), {
    "my-postgres-0": "primary",
    "my-postgres-1": "standby",
    "my-postgres-2": "standby",
  });
  const rw = w.find("Service", "my-postgres-rw") as Any;
  const ro = w.find("Service", "my-postgres-ro") as Any;
  assert.equal(rw.spec.selector[ROLE_LABEL], "primary");
  assert.equal(ro.spec.selector[ROLE_LABEL], "standby");
  assert.equal((w.find("Service", "my-postgres") as Any).spec.clusterIP, "None");
  assert.deepEqual(checkReplicationConverged(w), []);
  const clones = w.cluster.dataPlane!.clones;
  assert.deepEqual(clones.map((c) => [c.instance, c.upstream, c.upstreamRole]), [
    ["my-postgres-1", "my-postgres-0", "primary"],
    ["my-postgres-2", "my-postgres-0", "primary"],
  ]);
  await w.controller.stop();
});

Deno.test("replication: the printer columns show the primary and the streaming standbys", () => {
  const columns = (postgresDBCrd as Any).spec.versions[0].additionalPrinterColumns as Any[];
  const paths = columns.map((c) => c.jsonPath);
  assert.ok(paths.includes(".status.currentPrimary"), JSON.stringify(paths));
  assert.ok(paths.includes(".status.streamingStandbys"), JSON.stringify(paths));
});

Deno.test("replication: at rest, neither the agents nor the operator write", async () => {
  const w = await world(12);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const agentWrites = w.cluster.dataPlane!.reportWrites;
  const writes = w.controller.stats.writes;
  for (let i = 0; i < 3; i++) w.controller.queue.add("default/my-postgres");
  await w.converge();
  assert.equal(w.cluster.dataPlane!.reportWrites, agentWrites, "no report written at rest");
  assert.equal(w.controller.stats.writes, writes, "no operator write at rest");
  await w.controller.stop();
});

Deno.test("replication: a deleted standby pod comes back and streams without a new clone", async () => {
  const w = await world(13);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const clones = w.cluster.dataPlane!.clones.length;
  await w.remove("Pod", "v1", "my-postgres-1");
  await w.converge();
  assert.equal(w.cluster.dataPlane!.clones.length, clones, "no new clone");
  assert.equal(w.db("my-postgres").status?.streamingStandbys, 2);
  assert.deepEqual(checkReplicationConverged(w), []);
  await w.controller.stop();
});

Deno.test("replication: scale 3 -> 1 -> 3 keeps the primary; standbys come back on their volumes", async () => {
  const w = await world(14);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  const clones = w.cluster.dataPlane!.clones.length;
  await w.applyYaml(sampleYaml({ replicas: 1 }));
  await w.converge();
  assert.deepEqual(roles(w), { "my-postgres-0": "primary" });
  assert.equal(w.db("my-postgres").status?.streamingStandbys, 0);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  assert.equal(w.cluster.dataPlane!.clones.length, clones, "the volumes were kept: no clone");
  assert.equal(w.db("my-postgres").status?.streamingStandbys, 2);
  assert.deepEqual(checkReplicationConverged(w), []);
  await w.controller.stop();
});

/** Deletes the primary's claim and pod: the StatefulSet brings the pod back on an empty volume. */
async function losePrimaryVolume(w: TestWorld): Promise<void> {
  await w.remove("PersistentVolumeClaim", "v1", "data-my-postgres-0");
  await w.remove("Pod", "v1", "my-postgres-0");
  await w.converge();
}

function systemIds(w: TestWorld): (string | undefined)[] {
  return ["my-postgres-0", "my-postgres-1", "my-postgres-2"].map((pod) => {
    const data = w.cluster.dataPlane!.instanceOfPod("default", pod)?.observe().data;
    return data?.kind === "initialized" ? data.systemId : undefined;
  });
}

Deno.test("replication: a primary whose volume was lost is replaced by the most advanced standby and clones from it", async () => {
  const w = await world(15);
  // A failover delay keeps a failover from moving the primary first: the lost volume does.
  await w.applyYaml(sampleYaml({ replicas: 3, failoverDelay: 600 }));
  await w.converge();
  const [system] = systemIds(w);
  const clones = w.cluster.dataPlane!.clones.length;
  await losePrimaryVolume(w);
  const db = w.db("my-postgres");
  assert.equal(db.status?.targetPrimary, "my-postgres-1", "equal WAL: the lowest ordinal");
  assert.equal(db.status?.primaryTerm, 2);
  assert.equal(db.status?.currentPrimary, "my-postgres-1");
  assert.equal(db.status?.streamingStandbys, 2);
  assert.equal(db.status?.ready, true);
  assert.deepEqual(roles(w), {
    "my-postgres-0": "standby",
    "my-postgres-1": "primary",
    "my-postgres-2": "standby",
  });
  // No initdb: every instance holds the cluster's first system; the lost one was cloned again.
  assert.deepEqual(systemIds(w), [system, system, system]);
  assert.deepEqual(
    w.cluster.dataPlane!.clones.slice(clones).map((c) => [c.instance, c.upstream, c.upstreamRole]),
    [["my-postgres-0", "my-postgres-1", "primary"]],
  );
  const events = w.cluster.objects().filter((o) =>
    o.kind === "Event" && (o as Any).reason === "PrimaryDataLost"
  ) as Any[];
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "Warning");
  assert.match(events[0].note ?? events[0].message, /"my-postgres-0" has an empty data directory/);
  assert.deepEqual(checkReplicationConverged(w), []);
  await w.controller.stop();
});

Deno.test("replication: a scale-down that would remove the primary moves it first", async () => {
  const w = await world(16);
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  await losePrimaryVolume(w);
  assert.equal(w.db("my-postgres").status?.targetPrimary, "my-postgres-1");
  await w.applyYaml(sampleYaml({ replicas: 1 }));
  await w.converge();
  const sts = w.find("StatefulSet", "my-postgres") as Any;
  assert.equal(sts.spec.replicas, 1, "scaled once the primary moved");
  const db = w.db("my-postgres");
  assert.equal(db.status?.currentPrimary, "my-postgres-0");
  assert.equal(db.status?.failover?.reason, "Switchover");
  assert.equal(db.status?.conditions?.find((c) => c.type === "ScaleDown"), undefined);
  // The hold was reported while the switchover ran.
  const held = w.cluster.objects().filter((o) =>
    o.kind === "Event" && (o as Any).reason === "SwitchoverStarted"
  ) as Any[];
  assert.equal(held.length, 1);
  assert.equal(db.status?.ready, true);
  assert.deepEqual(roles(w), { "my-postgres-0": "primary" });
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  assert.equal((w.find("StatefulSet", "my-postgres") as Any).spec.replicas, 3);
  const after = w.db("my-postgres");
  assert.equal(after.status?.streamingStandbys, 2);
  assert.deepEqual(checkReplicationConverged(w), []);
  await w.controller.stop();
});
