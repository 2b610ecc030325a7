// Goal: the tutorial's story end to end in the simulated cluster: objects, status, scaling with
// PVCs kept, deletion cascading, zero writes after convergence, the password kept across restarts.
// Method: the real runtime and reconciler against SimCluster on virtual time, one seed per test.
import assert from "node:assert/strict";
import { readManifests } from "../../cli/manifests.ts";
import { Controller } from "../../runtime/controller.ts";
import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import { sampleYaml, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("PostgresDB: the tutorial's sample converges to Running with every child", async () => {
  const w = await world(1);
  await w.apply(await readManifests(["examples/postgresdb.yaml"]));
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.phase, "Running");
  assert.equal(db.status?.ready, true);
  assert.equal(db.status?.observedGeneration, db.metadata.generation);
  assert.equal(
    db.status?.connectionString,
    "postgresql://my-postgres-rw.default.svc.cluster.local:5432/myapp",
  );
  const ready = db.status?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.status, "True");
  const sts = w.find("StatefulSet", "my-postgres") as Any;
  assert.equal(sts.status.readyReplicas, 1);
  const svc = w.find("Service", "my-postgres") as Any;
  assert.equal(svc.spec.clusterIP, "None");
  assert.equal(svc.spec.ports[0].port, 5432);
  const pvc = w.find("PersistentVolumeClaim", "data-my-postgres-0") as Any;
  assert.equal(pvc.status.phase, "Bound");
  assert.equal(pvc.status.capacity.storage, "1Gi");
  const secret = w.find("Secret", "my-postgres-credentials") as Any;
  assert.match(atob(secret.data.password), /^[A-Za-z0-9]{24}$/);
  assert.equal(secret.metadata.ownerReferences, undefined, "Retain: the credentials outlive it");
  for (const child of [sts, svc]) {
    const ref = child.metadata.ownerReferences[0];
    assert.equal(ref.uid, db.metadata.uid, `${child.kind} owned by uid`);
    assert.equal(ref.controller, true);
  }
  await w.controller.stop();
});

Deno.test("PostgresDB: once converged, reconciles make zero writes", async () => {
  const w = await world(2);
  await w.applyYaml(sampleYaml({ replicas: 2 }));
  await w.converge();
  const writes = w.controller.stats.writes;
  const reconciles = w.controller.stats.reconciles;
  for (let i = 0; i < 5; i++) w.controller.queue.add("default/my-postgres");
  await w.converge();
  assert.ok(w.controller.stats.reconciles > reconciles, "it did reconcile again");
  assert.equal(w.controller.stats.writes, writes, "and wrote nothing");
  await w.controller.stop();
});

Deno.test("PostgresDB: scale: 1 -> 3 -> 1 keeps PVCs", async () => {
  const w = await world(3);
  await w.applyYaml(sampleYaml());
  await w.converge();
  await w.applyYaml(sampleYaml({ replicas: 3 }));
  await w.converge();
  let db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  assert.deepEqual(w.names("Pod"), ["my-postgres-0", "my-postgres-1", "my-postgres-2"]);
  assert.equal((w.find("StatefulSet", "my-postgres") as Any).status.readyReplicas, 3);
  assert.ok(
    w.cluster.objects().some((o) =>
      o.kind === "Event" && (o as Any).reason === "Scaled" &&
      /from 1 to 3/.test((o as Any).message)
    ),
  );
  await w.applyYaml(sampleYaml({ replicas: 1 }));
  await w.converge();
  db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  assert.deepEqual(w.names("Pod"), ["my-postgres-0"]);
  assert.deepEqual(w.names("PersistentVolumeClaim"), [
    "data-my-postgres-0",
    "data-my-postgres-1",
    "data-my-postgres-2",
  ]);
  await w.controller.stop();
});

Deno.test("PostgresDB: deleting it garbage-collects the children and keeps the volumes and their credentials", async () => {
  const w = await world(4);
  await w.applyYaml(sampleYaml());
  await w.converge();
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  assert.deepEqual(w.names("PostgresDB"), []);
  assert.deepEqual(w.names("StatefulSet"), []);
  assert.deepEqual(w.names("Service").filter((n) => n === "my-postgres"), []);
  assert.deepEqual(w.names("Secret"), ["my-postgres-credentials"], "credentials are kept");
  assert.deepEqual(w.names("Pod"), []);
  assert.deepEqual(w.names("PersistentVolumeClaim"), ["data-my-postgres-0"], "data is kept");
  await w.controller.stop();
});

Deno.test("PostgresDB: deletionPolicy Delete removes the volumes and the generated credentials with it", async () => {
  const w = await world(4);
  await w.applyYaml(sampleYaml({ deletionPolicy: "Delete" }));
  await w.converge();
  assert.equal(w.db("my-postgres").status?.ready, true);
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  assert.deepEqual(w.names("StatefulSet"), []);
  assert.deepEqual(w.names("Secret"), []);
  assert.deepEqual(w.names("PersistentVolumeClaim"), []);
  await w.controller.stop();
});

Deno.test("PostgresDB: a Secret the user brought outlives a PostgresDB with deletionPolicy Delete", async () => {
  const w = await world(8);
  await w.applyYaml(`apiVersion: v1
kind: Secret
metadata: { name: my-postgres-credentials, namespace: default }
stringData: { username: postgres, password: brought-by-the-user, database: myapp }
`);
  await w.applyYaml(sampleYaml({ deletionPolicy: "Delete" }));
  await w.converge();
  assert.equal(w.db("my-postgres").status?.ready, true);
  const adopted = w.find("Secret", "my-postgres-credentials") as Any;
  assert.equal(adopted.metadata.ownerReferences, undefined, "no owner: never garbage-collected");
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  assert.deepEqual(w.names("PersistentVolumeClaim"), [], "the volumes went (Delete)");
  const kept = w.find("Secret", "my-postgres-credentials") as Any;
  assert.equal(atob(kept.data.password), "brought-by-the-user", "the user's Secret stays");
  await w.controller.stop();
});

Deno.test("PostgresDB: the password survives an operator restart", async () => {
  const w = await world(5);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const before = (w.find("Secret", "my-postgres-credentials") as Any).data.password;
  await w.controller.stop();
  const restarted = new Controller(w.cluster.client({ name: "operator-2" }), postgresReconciler, {
    clock: w.cluster.clock,
    random: w.cluster.random.fork(),
    watchInactivityMs: 0,
  });
  void restarted.start();
  await w.converge();
  assert.ok(restarted.stats.reconciles > 0);
  assert.equal(restarted.stats.writes, 0, "a restarted operator has nothing to write");
  assert.equal((w.find("Secret", "my-postgres-credentials") as Any).data.password, before);
  await restarted.stop();
});

Deno.test("PostgresDB: re-created over its retained volumes and Secret, it is Ready with the old password", async () => {
  const w = await world(6);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const oldSecret = w.find("Secret", "my-postgres-credentials") as Any;
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  assert.deepEqual(w.names("PersistentVolumeClaim"), ["data-my-postgres-0"], "data outlived it");
  await w.applyYaml(sampleYaml());
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  const secret = w.find("Secret", "my-postgres-credentials") as Any;
  assert.equal(secret.metadata.uid, oldSecret.metadata.uid, "the same Secret");
  assert.equal(secret.data.password, oldSecret.data.password, "the old password");
  await w.controller.stop();
});

Deno.test("PostgresDB: re-created over its old volumes without their Secret, it asks for the old credentials and adopts them", async () => {
  const w = await world(6);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const oldSecret = w.find("Secret", "my-postgres-credentials") as Any;
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.remove("Secret", "v1", "my-postgres-credentials");
  await w.converge();
  assert.deepEqual(
    w.names("PersistentVolumeClaim"),
    ["data-my-postgres-0"],
    "the data outlived it",
  );
  await w.applyYaml(sampleYaml());
  // Waiting for the credentials, the operator looks again every 30 s: never at rest.
  await w.cluster.run({ maxVirtualMs: 60_000 });
  let db = w.db("my-postgres");
  const ready = db.status?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.reason, "CredentialsMissing", "no new password over an initialised volume");
  assert.equal(w.find("Secret", "my-postgres-credentials"), undefined);
  assert.equal(w.find("StatefulSet", "my-postgres"), undefined, "nothing started on the old data");
  // The user restores the credentials the volume was initialised with.
  const { data } = oldSecret;
  await w.applyYaml(`apiVersion: v1
kind: Secret
metadata: { name: my-postgres-credentials, namespace: default }
data: ${JSON.stringify(data)}
`);
  await w.converge();
  db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  const secret = w.find("Secret", "my-postgres-credentials") as Any;
  assert.equal(secret.data.password, oldSecret.data.password, "the old password, kept");
  assert.equal(secret.metadata.ownerReferences, undefined, "adopted, never owned");
  assert.equal(secret.metadata.labels["app.kubernetes.io/instance"], "my-postgres");
  assert.ok(
    w.cluster.objects().some((o) => o.kind === "Event" && (o as Any).reason === "Adopted"),
  );
  await w.controller.stop();
});

Deno.test("PostgresDB: re-created after its volumes and Secret were deleted, it starts afresh", async () => {
  const w = await world(7);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const oldSecret = w.find("Secret", "my-postgres-credentials") as Any;
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  await w.remove("PersistentVolumeClaim", "v1", "data-my-postgres-0");
  await w.remove("Secret", "v1", "my-postgres-credentials");
  await w.converge();
  await w.applyYaml(sampleYaml());
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  const secret = w.find("Secret", "my-postgres-credentials") as Any;
  assert.notEqual(secret.metadata.uid, oldSecret.metadata.uid);
  assert.equal(secret.metadata.annotations["database.thegeekyway.com/credentials"], "generated");
  await w.controller.stop();
});
