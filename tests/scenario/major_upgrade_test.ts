// Goal: with spec.majorUpgrade: PgUpgrade, a change of version to a later major upgrades the data
// with pg_upgrade: the check runs while the database serves, the instances stop, the Job upgrades
// the primary's volume, the primary starts on the new major without losing WAL, the standbys
// re-clone from it, and the status and Events tell each step and the downtime. A target image that
// lacks an extension the database uses fails the check and changes nothing (the database never
// stops); a primary that is not the first instance is moved there first; the upgrade Job's pod
// killed mid-run is run again and the upgrade completes; no instance runs while the Job runs.
// Method: the real runtime, reconciler and upgrade runner against SimCluster on virtual time.
import assert from "node:assert/strict";
import { SWITCHOVER_ANNOTATION } from "../../core/postgres/failover.ts";
import { isPodReady } from "../../sim/pod_lifecycle.ts";
import { sampleYaml, type TestWorld, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const image = (sts: Any) => sts.spec.template.spec.containers[0].image;

function instances(w: TestWorld, replicas: number) {
  return Array.from({ length: replicas }, (_, i) => {
    const instance = w.cluster.dataPlane!.instance("default", `data-my-postgres-${i}`);
    assert.ok(instance, `instance ${i}`);
    return instance;
  });
}

/** Records, every virtual step, whether an instance pod and an upgrade run overlapped. */
function watchOverlap(w: TestWorld): { overlaps: string[]; maxReplicasSeen: number[] } {
  const overlaps: string[] = [];
  const maxReplicasSeen: number[] = [];
  w.cluster.server.subscribe(() => {
    const active = w.cluster.upgradeHost!.active.filter((r) => r.mode === "upgrade");
    if (active.length === 0) return;
    const running = w.cluster.objects().filter((o) =>
      o.kind === "Pod" && /^my-postgres-\d$/.test(o.metadata.name) &&
      w.cluster.dataPlane!.instanceOfPod("default", o.metadata.name)?.process === "running"
    );
    if (running.length > 0) overlaps.push(running.map((p) => p.metadata.name).join(","));
  });
  return { overlaps, maxReplicasSeen };
}

function reasons(w: TestWorld): string[] {
  return w.cluster.objects().filter((o: Any) => o.kind === "Event" && /MajorUpgrade/.test(o.reason))
    .sort((a: Any, b: Any) =>
      Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)
    )
    .map((o: Any) => o.reason);
}

Deno.test("PostgresDB: 16 -> 17 with PgUpgrade upgrades 3 instances, the WAL kept, Ready at the end", async () => {
  const w = await world(41);
  await w.applyYaml(sampleYaml({ version: "16", replicas: 3, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  const [primary] = instances(w, 3);
  assert.ok(primary!.commit(65_536), "a commit on the primary");
  primary!.advance(10_000);
  const flushed = primary!.flushLsn;
  const system = primary!.systemId;
  assert.ok(flushed > 0);
  const watch = watchOverlap(w);

  await w.applyYaml(sampleYaml({ version: "17", replicas: 3, majorUpgrade: "PgUpgrade" }));
  await w.converge();

  const db = w.db("my-postgres");
  const upgrade = db.status?.upgrade;
  assert.equal(upgrade?.phase, "Succeeded", JSON.stringify(upgrade));
  assert.equal(upgrade?.from, 16);
  assert.equal(upgrade?.to, 17);
  assert.ok((upgrade?.downtimeSeconds ?? 0) > 0, "the downtime is measured");
  assert.equal(db.status?.ready, true);
  assert.equal(db.status?.phase, "Running");
  assert.equal(image(w.find("StatefulSet", "my-postgres")), "postgres:17");
  const after = instances(w, 3);
  for (const instance of after) {
    assert.equal(instance.dataMajor, 17, instance.name);
    assert.equal(instance.binaryMajor, 17, instance.name);
    assert.equal(instance.process, "running", instance.name);
  }
  assert.ok(after[0]!.flushLsn >= flushed, "the primary kept its WAL");
  assert.notEqual(after[0]!.systemId, system, "pg_upgrade made a new system");
  assert.equal(after[1]!.systemId, after[0]!.systemId, "standbys re-cloned from the new primary");
  for (let i = 0; i < 3; i++) {
    const pvc = w.find("PersistentVolumeClaim", `data-my-postgres-${i}`) as Any;
    assert.equal(pvc.metadata.annotations["database.thegeekyway.com/data-major"], "17");
  }
  assert.deepEqual(watch.overlaps, [], "no instance ran while pg_upgrade ran");
  assert.deepEqual(reasons(w), [
    "MajorUpgradeStarted",
    "MajorUpgradeChecked",
    "MajorUpgradeStopping",
    "MajorUpgradeApplied",
    "MajorUpgradeServing",
    "MajorUpgradeSucceeded",
  ]);
  assert.deepEqual(w.names("Job"), [], "the Jobs are removed once recorded");
  await w.controller.stop();
});

Deno.test("PostgresDB: a target image without an extension in use fails the check; nothing stops", async () => {
  const w = await world(42, {
    upgradeHost: { imageExtensions: (major) => major === 17 ? new Set(["plpgsql"]) : undefined },
  });
  await w.applyYaml(sampleYaml({ version: "16", replicas: 2, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  instances(w, 2)[0]!.extensions = ["postgis"];
  const sts = w.find("StatefulSet", "my-postgres") as Any;
  const podUids = ["my-postgres-0", "my-postgres-1"].map((n) => w.find("Pod", n)!.metadata.uid);

  await w.applyYaml(sampleYaml({ version: "17", replicas: 2, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.upgrade?.phase, "Failed");
  assert.equal(db.status?.upgrade?.reason, "ExtensionsUnavailable");
  assert.match(db.status?.upgrade?.message ?? "", /extension "postgis"/);
  const ready = db.status?.conditions?.find((c) => c.type === "Ready");
  assert.equal(ready?.reason, "MajorUpgradeFailed");
  assert.match(ready?.message ?? "", /PostgreSQL 16 serves as before/);
  const after = w.find("StatefulSet", "my-postgres") as Any;
  assert.equal(image(after), "postgres:16");
  assert.equal(after.spec.replicas, sts.spec.replicas);
  assert.ok(
    !w.cluster.objects().some((o: Any) =>
      o.kind === "Event" && o.reason === "Scaled" &&
      /to 0/.test(o.message)
    ),
    "never scaled to zero",
  );
  assert.deepEqual(
    ["my-postgres-0", "my-postgres-1"].map((n) => w.find("Pod", n)!.metadata.uid),
    podUids,
    "no pod was replaced",
  );
  assert.ok(isPodReady(w.find("Pod", "my-postgres-0")!));
  assert.ok(reasons(w).includes("MajorUpgradeFailed"));

  // Back to 16: Ready again.
  await w.applyYaml(sampleYaml({ version: "16", replicas: 2, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  assert.equal(w.db("my-postgres").status?.ready, true);
  await w.controller.stop();
});

Deno.test("PostgresDB: a primary on the second instance is switched to the first, then upgraded", async () => {
  const w = await world(43);
  await w.applyYaml(sampleYaml({ version: "16", replicas: 2, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  // Move the primary to my-postgres-1 as a user would.
  const annotated = structuredClone(w.db("my-postgres")) as Any;
  annotated.metadata.annotations = { [SWITCHOVER_ANNOTATION]: "my-postgres-1" };
  delete annotated.status;
  await w.cluster.request(w.cluster.client({ name: "test-user" }).update(annotated));
  await w.converge();
  assert.equal(w.db("my-postgres").status?.currentPrimary, "my-postgres-1");

  await w.applyYaml(sampleYaml({ version: "17", replicas: 2, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.upgrade?.phase, "Succeeded", JSON.stringify(db.status?.upgrade));
  assert.equal(db.status?.currentPrimary, "my-postgres-0");
  assert.equal(db.status?.ready, true);
  for (const instance of instances(w, 2)) assert.equal(instance.dataMajor, 17);
  await w.controller.stop();
});

Deno.test("PostgresDB: the upgrade Job's pod killed mid-run is run again and the upgrade completes", async () => {
  const w = await world(44);
  await w.applyYaml(sampleYaml({ version: "16", replicas: 1, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  await w.applyYaml(sampleYaml({ version: "17", replicas: 1, majorUpgrade: "PgUpgrade" }));
  // Run until pg_upgrade --link ran (the old pg_control hidden), then kill the Job's pod.
  const [volume] = instances(w, 1);
  await w.cluster.run({ maxVirtualMs: 600_000, until: () => volume!.upgradeFiles.controlOld });
  assert.ok(volume!.upgradeFiles.controlOld, "the link step ran");
  const pod = w.cluster.objects().find((o) =>
    o.kind === "Pod" && o.metadata.name.startsWith("my-postgres-upgrade-") &&
    !o.metadata.name.startsWith("my-postgres-upgrade-check")
  );
  assert.ok(pod, "the upgrade Job's pod runs");
  const user = w.cluster.client({ name: "test-user" });
  await w.cluster.request(
    user.delete({ apiVersion: "v1", kind: "Pod" }, pod.metadata.name, "default"),
  );
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.upgrade?.phase, "Succeeded", JSON.stringify(db.status?.upgrade));
  assert.equal(instances(w, 1)[0]!.dataMajor, 17);
  assert.equal(db.status?.ready, true);
  const runs = w.cluster.upgradeHost!.runs.filter((r) => r.mode === "upgrade");
  assert.ok(runs.length >= 2 && runs[0]!.cut === true, JSON.stringify(runs));
  await w.controller.stop();
});

Deno.test("PostgresDB: a volume without room for the new cluster fails the check; nothing stops", async () => {
  const w = await world(45, { upgradeHost: { freeBytes: 10 * 1024 * 1024 } });
  await w.applyYaml(sampleYaml({ version: "16", replicas: 1, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  const uid = w.find("Pod", "my-postgres-0")!.metadata.uid;
  await w.applyYaml(sampleYaml({ version: "17", replicas: 1, majorUpgrade: "PgUpgrade" }));
  await w.converge();
  const db = w.db("my-postgres");
  assert.equal(db.status?.upgrade?.phase, "Failed");
  assert.equal(db.status?.upgrade?.reason, "InsufficientSpace");
  assert.match(db.status?.upgrade?.message ?? "", /10 MiB free; the upgrade needs about 100 MiB/);
  assert.equal(w.find("Pod", "my-postgres-0")!.metadata.uid, uid, "never stopped");
  assert.ok(isPodReady(w.find("Pod", "my-postgres-0")!));
  await w.controller.stop();
});
