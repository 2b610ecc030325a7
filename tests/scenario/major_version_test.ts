// Goal: a change of PostgreSQL major is never applied as an image swap: a minor change rolls
// out; a major upgrade or downgrade is refused with its own condition, naming both versions, and
// nothing but the status changes. The simulation models the data directory's major, so a pod of
// another major never becomes Ready, and the PostgresDB never says Ready over it.
// Method: the real runtime and reconciler against SimCluster on virtual time, one seed per test;
// the user's spec edits and a hand edit of the StatefulSet's image.
import assert from "node:assert/strict";
import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import { Controller } from "../../runtime/controller.ts";
import { isPodReady } from "../../sim/pod_lifecycle.ts";
import { sampleYaml, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const image = (sts: Any) => sts.spec.template.spec.containers[0].image;

for (
  const [from, to, reason] of [
    ["16", "17", "MajorUpgradeUnsupported"],
    ["16", "15", "MajorDowngradeRefused"],
    ["16.4", "17-bookworm", "MajorUpgradeUnsupported"],
  ] as const
) {
  Deno.test(`PostgresDB: version ${from} -> ${to} is refused (${reason}), nothing changed`, async () => {
    const w = await world(31);
    await w.applyYaml(sampleYaml({ version: from }));
    await w.converge();
    const sts = w.find("StatefulSet", "my-postgres") as Any;
    const before = JSON.stringify({ spec: sts.spec, rv: sts.metadata.resourceVersion });
    const pvc = w.find("PersistentVolumeClaim", "data-my-postgres-0") as Any;
    assert.equal(pvc.metadata.annotations["database.thegeekyway.com/data-major"], from.slice(0, 2));
    assert.equal(
      w.cluster.pods.dataMajor("default", "data-my-postgres-0"),
      Number(from.slice(0, 2)),
    );

    await w.applyYaml(sampleYaml({ version: to }));
    await w.converge();
    const after = w.find("StatefulSet", "my-postgres") as Any;
    assert.equal(image(after), `postgres:${from}`, "the image is unchanged");
    assert.equal(
      JSON.stringify({ spec: after.spec, rv: after.metadata.resourceVersion }),
      before,
      "the StatefulSet was not written",
    );
    const db = w.db("my-postgres");
    const ready = db.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(db.status?.ready, false);
    assert.equal(ready?.reason, reason);
    assert.match(ready?.message ?? "", new RegExp(`"${to}" \\(PostgreSQL ${to.slice(0, 2)}\\)`));
    assert.match(ready?.message ?? "", new RegExp(`initialised by PostgreSQL ${from.slice(0, 2)}`));
    assert.ok(
      w.cluster.objects().some((o: Any) => o.kind === "Event" && o.reason === reason),
      "a Warning event",
    );
    assert.ok(isPodReady(w.find("Pod", "my-postgres-0")!), "the database keeps running");

    // Back to the data's major: Ready again, with no write to the StatefulSet.
    await w.applyYaml(sampleYaml({ version: from }));
    await w.converge();
    assert.equal(w.db("my-postgres").status?.ready, true);
    await w.controller.stop();
  });
}

Deno.test("PostgresDB: a change within a major (16 -> 16.4) rolls out and ends Ready", async () => {
  const w = await world(32);
  await w.applyYaml(sampleYaml({ version: "16" }));
  await w.converge();
  await w.applyYaml(sampleYaml({ version: "16.4" }));
  await w.converge();
  assert.equal(image(w.find("StatefulSet", "my-postgres")), "postgres:16.4");
  const db = w.db("my-postgres");
  assert.equal(db.status?.ready, true);
  assert.equal(db.status?.phase, "Running");
  await w.controller.stop();
});

Deno.test("PostgresDB: re-created over volumes of another major, the change is refused", async () => {
  const w = await world(33);
  await w.applyYaml(sampleYaml({ version: "16" }));
  await w.converge();
  await w.remove("PostgresDB", "database.thegeekyway.com/v1alpha1", "my-postgres");
  await w.converge();
  assert.equal(w.find("StatefulSet", "my-postgres"), undefined);
  assert.ok(w.find("PersistentVolumeClaim", "data-my-postgres-0"), "the volume is kept");
  // Bring the credentials back (the volume holds data), then ask for another major.
  await w.applyYaml(`apiVersion: v1
kind: Secret
metadata: { name: my-postgres-credentials, namespace: default }
stringData: { username: postgres, password: pw, database: myapp }
`);
  await w.applyYaml(sampleYaml({ version: "17" }));
  await w.converge();
  const ready = w.db("my-postgres").status?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.reason, "MajorUpgradeUnsupported");
  assert.match(ready?.message ?? "", /PVC "data-my-postgres-0"/);
  assert.equal(w.find("StatefulSet", "my-postgres"), undefined, "nothing created");
  await w.controller.stop();
});

Deno.test("PostgresDB: a StatefulSet image hand-edited to another major crash-loops and is never Ready; the operator puts the image back and replaces the broken pod", async () => {
  const w = await world(34);
  await w.applyYaml(sampleYaml({ version: "16" }));
  await w.converge();
  const user = w.cluster.client({ name: "kubectl" });
  // Stop the operator first, so that the swapped image runs; the model must refuse it.
  await w.controller.stop();
  const sts = structuredClone(w.find("StatefulSet", "my-postgres")) as Any;
  sts.spec.template.spec.containers[0].image = "postgres:17";
  delete sts.status;
  await w.cluster.request(user.update(sts));
  // The update strategy is OnDelete: the new image reaches the pod only when it is replaced.
  await w.cluster.run({ maxVirtualMs: 10_000 });
  assert.equal((w.find("Pod", "my-postgres-0") as Any).spec.containers[0].image, "postgres:16");
  await w.remove("Pod", "v1", "my-postgres-0");
  await w.cluster.run({ maxVirtualMs: 60_000 });
  const pod = w.find("Pod", "my-postgres-0") as Any;
  assert.equal(pod.spec.containers[0].image, "postgres:17");
  assert.equal(isPodReady(pod), false, "PostgreSQL 17 never becomes ready on 16's data");
  assert.equal(pod.status.containerStatuses[0].state.waiting.reason, "CrashLoopBackOff");
  assert.equal((w.find("StatefulSet", "my-postgres") as Any).status.readyReplicas ?? 0, 0);

  // The operator comes back: the data's major (the PVC's annotation) wins over the image.
  const restarted = new Controller(w.cluster.client({ name: "operator-2" }), postgresReconciler, {
    clock: w.cluster.clock,
    random: w.cluster.random.fork(),
    watchInactivityMs: 0,
  });
  void restarted.start();
  await w.converge();
  assert.equal(image(w.find("StatefulSet", "my-postgres")), "postgres:16");
  // Unlike a StatefulSet's own rolling update, which waits for a broken pod forever ("forced
  // rollback"), the operator replaces the pod of the old revision although it is not ready.
  assert.equal((w.find("Pod", "my-postgres-0") as Any).spec.containers[0].image, "postgres:16");
  assert.ok(isPodReady(w.find("Pod", "my-postgres-0")!));
  assert.equal(w.db("my-postgres").status?.ready, true);
  await restarted.stop();
});
