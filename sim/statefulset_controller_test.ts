// Goal: the built-in StatefulSet controller creates, scales, rolls and cleans up pods and claims as
// the real one does (OrderedReady, Parallel, retention policies, RollingUpdate).
// Method: create StatefulSets in a SimCluster, record the store's commits with their virtual
// times, run to quiescence and assert on the order of events and on the end state.

import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { POD, PVC, STATEFUL_SET, statefulSet } from "./_testing.ts";
import type { StoreChange } from "./api_server.ts";
import { SimCluster } from "./cluster.ts";
import { isPodReady } from "./pod_lifecycle.ts";

interface Recorded {
  atMs: number;
  change: StoreChange;
}

function record(cluster: SimCluster): Recorded[] {
  const log: Recorded[] = [];
  cluster.server.subscribe((change) => log.push({ atMs: cluster.nowMs(), change }));
  return log;
}

/** Virtual time of the first commit matching `predicate`. */
function firstAt(log: Recorded[], predicate: (change: StoreChange) => boolean): number {
  const found = log.find((entry) => predicate(entry.change));
  assert.ok(found, "expected event not found");
  return found.atMs;
}

function podAdded(name: string) {
  return (c: StoreChange) =>
    c.type === "ADDED" && c.resource.kind === "Pod" && c.object.metadata.name === name;
}

function podBecameReady(name: string) {
  return (c: StoreChange) =>
    c.resource.kind === "Pod" && c.object.metadata.name === name && isPodReady(c.object) &&
    !(c.oldObject && isPodReady(c.oldObject));
}

function podDeleted(name: string) {
  return (c: StoreChange) =>
    c.type === "DELETED" && c.resource.kind === "Pod" && c.object.metadata.name === name;
}

function names(cluster: SimCluster, type: typeof POD): string[] {
  return cluster.server.list(type, { namespace: "default" }).items.map((o) => o.metadata.name);
}

function stsStatus(cluster: SimCluster, name = "web"): Record<string, unknown> {
  return (cluster.server.get(STATEFUL_SET, name, "default").status ?? {}) as Record<
    string,
    unknown
  >;
}

async function converge(cluster: SimCluster): Promise<void> {
  const result = await cluster.run({ maxVirtualMs: 600_000 });
  assert.ok(result.quiescent, "the cluster settles");
}

function scale(cluster: SimCluster, replicas: number, extra: Record<string, unknown> = {}): void {
  const sts = cluster.server.get(STATEFUL_SET, "web", "default");
  cluster.server.update({ ...sts, spec: { ...sts.spec as object, replicas, ...extra } });
}

Deno.test("StatefulSetController: OrderedReady brings 3 replicas up in order with Bound claims", async () => {
  const cluster = new SimCluster();
  const log = record(cluster);
  cluster.server.create(statefulSet("web"));
  await converge(cluster);
  for (const ordinal of [1, 2]) {
    const added = firstAt(log, podAdded(`web-${ordinal}`));
    const previousReady = firstAt(log, podBecameReady(`web-${ordinal - 1}`));
    assert.ok(
      added >= previousReady,
      `web-${ordinal} created at ${added}, before web-${ordinal - 1} was Ready at ${previousReady}`,
    );
  }
  for (const ordinal of [0, 1, 2]) {
    const claimAdded = firstAt(
      log,
      (c) => c.type === "ADDED" && c.object.metadata.name === `data-web-${ordinal}`,
    );
    assert.ok(
      claimAdded <= firstAt(log, podAdded(`web-${ordinal}`)),
      "the claim comes before its pod",
    );
  }
  assert.deepEqual(names(cluster, POD), ["web-0", "web-1", "web-2"]);
  assert.deepEqual(names(cluster, PVC), ["data-web-0", "data-web-1", "data-web-2"]);
  const claim = cluster.server.get(PVC, "data-web-1", "default");
  assert.equal((claim.status as { phase: string }).phase, "Bound");
  assert.deepEqual(claim.metadata.labels, { app: "web" });
  assert.equal(claim.metadata.ownerReferences, undefined, "Retain: no owner reference");
  const pod = cluster.server.get(POD, "web-1", "default");
  const revision = stsStatus(cluster).updateRevision as string;
  assert.deepEqual(pod.metadata.labels, {
    app: "web",
    "controller-revision-hash": revision,
    "statefulset.kubernetes.io/pod-name": "web-1",
    "apps.kubernetes.io/pod-index": "1",
  });
  const spec = pod.spec as Record<string, unknown>;
  assert.equal(spec.hostname, "web-1");
  assert.equal(spec.subdomain, "web");
  // The claim's volume first; the ServiceAccount token volume that admission adds after it.
  assert.deepEqual((spec.volumes as unknown[])[0], {
    name: "data",
    persistentVolumeClaim: { claimName: "data-web-1" },
  });
  assert.match(String((spec.volumes as { name: string }[])[1]?.name), /^kube-api-access-/);
  assert.equal(pod.metadata.ownerReferences?.[0]?.controller, true);
  const status = stsStatus(cluster);
  assert.equal(status.replicas, 3);
  assert.equal(status.readyReplicas, 3);
  assert.equal(status.availableReplicas, 3);
  assert.equal(status.updatedReplicas, 3);
  assert.equal(status.currentReplicas, 3);
  assert.equal(status.observedGeneration, 1);
  assert.equal(status.currentRevision, status.updateRevision);
});

Deno.test("StatefulSetController: Parallel creates every pod without waiting", async () => {
  const cluster = new SimCluster();
  const log = record(cluster);
  cluster.server.create(statefulSet("web", { podManagementPolicy: "Parallel" }));
  await converge(cluster);
  const times = [0, 1, 2].map((i) => firstAt(log, podAdded(`web-${i}`)));
  assert.equal(new Set(times).size, 1, `all pods created at once, got ${times}`);
  assert.ok(times[0]! < firstAt(log, podBecameReady("web-0")));
  assert.equal(stsStatus(cluster).readyReplicas, 3);
});

Deno.test("StatefulSetController: scale 3 -> 1 deletes pods 2 then 1 and keeps the claims", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web"));
  await converge(cluster);
  const log = record(cluster);
  scale(cluster, 1);
  await converge(cluster);
  const deletions = log.filter((e) => e.change.type === "DELETED").map((e) =>
    e.change.object.metadata.name
  );
  assert.deepEqual(deletions, ["web-2", "web-1"]);
  assert.deepEqual(names(cluster, POD), ["web-0"]);
  assert.deepEqual(names(cluster, PVC), ["data-web-0", "data-web-1", "data-web-2"]);
  assert.equal(stsStatus(cluster).replicas, 1);
  assert.equal(stsStatus(cluster).readyReplicas, 1);
  // Scaling back up reuses the retained claims.
  scale(cluster, 3);
  await converge(cluster);
  assert.deepEqual(names(cluster, POD), ["web-0", "web-1", "web-2"]);
  assert.equal(
    log.filter((e) =>
      e.change.type === "ADDED" && e.change.resource.kind === "PersistentVolumeClaim"
    ).length,
    0,
  );
});

Deno.test("StatefulSetController: OrderedReady scale-down waits for each pod to be gone", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web"));
  await converge(cluster);
  // A finalizer keeps web-2 terminating: web-1 must not be deleted meanwhile.
  const pod2 = cluster.server.get(POD, "web-2", "default");
  cluster.server.update({
    ...pod2,
    metadata: { ...pod2.metadata, finalizers: ["example.com/hold"] },
  });
  scale(cluster, 1);
  await converge(cluster);
  assert.ok(cluster.server.get(POD, "web-2", "default").metadata.deletionTimestamp);
  assert.equal(cluster.server.get(POD, "web-1", "default").metadata.deletionTimestamp, undefined);
  const held = cluster.server.get(POD, "web-2", "default");
  cluster.server.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
  await converge(cluster);
  assert.deepEqual(names(cluster, POD), ["web-0"]);
});

Deno.test("StatefulSetController: deleting the StatefulSet collects pods and keeps claims (Retain)", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web"));
  await converge(cluster);
  cluster.server.delete(STATEFUL_SET, "web", "default");
  assert.equal(names(cluster, POD).length, 3, "pods go asynchronously");
  await converge(cluster);
  assert.deepEqual(names(cluster, POD), []);
  assert.deepEqual(names(cluster, PVC), ["data-web-0", "data-web-1", "data-web-2"]);
});

Deno.test("StatefulSetController: whenDeleted=Delete removes the claims with the StatefulSet", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web", {
    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
  }));
  await converge(cluster);
  const claim = cluster.server.get(PVC, "data-web-0", "default");
  assert.equal(claim.metadata.ownerReferences?.[0]?.kind, "StatefulSet");
  cluster.server.delete(STATEFUL_SET, "web", "default");
  await converge(cluster);
  assert.deepEqual(names(cluster, POD), []);
  assert.deepEqual(names(cluster, PVC), []);
});

Deno.test("StatefulSetController: whenScaled=Delete removes the claims of removed ordinals", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web", {
    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Delete" },
  }));
  await converge(cluster);
  scale(cluster, 1);
  await converge(cluster);
  assert.deepEqual(names(cluster, PVC), ["data-web-0"]);
});

Deno.test("StatefulSetController: a template change rolls pods from the highest ordinal, one at a time", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web"));
  await converge(cluster);
  const oldRevision = stsStatus(cluster).updateRevision;
  const log = record(cluster);
  const sts = cluster.server.get(STATEFUL_SET, "web", "default");
  const spec = sts.spec as { template: { spec: { containers: Record<string, unknown>[] } } };
  const template = {
    ...spec.template,
    spec: { containers: [{ name: "main", image: "postgres:16.4" }] },
  };
  cluster.server.update({ ...sts, spec: { ...spec, template } });
  await converge(cluster);
  const deleted = log.filter((e) => podDeleted(e.change.object.metadata.name)(e.change));
  assert.deepEqual(deleted.map((e) => e.change.object.metadata.name), ["web-2", "web-1", "web-0"]);
  for (let i = 1; i < deleted.length; i++) {
    const replaced = `web-${3 - i}`;
    const readyAgain = log.find((e) =>
      e.atMs >= deleted[i - 1]!.atMs && podBecameReady(replaced)(e.change)
    );
    assert.ok(
      readyAgain && readyAgain.atMs <= deleted[i]!.atMs,
      `${replaced} was Ready before the next deletion`,
    );
  }
  const status = stsStatus(cluster);
  assert.notEqual(status.updateRevision, oldRevision);
  assert.equal(status.currentRevision, status.updateRevision);
  assert.equal(status.updatedReplicas, 3);
  for (const pod of cluster.server.list(POD).items) {
    assert.equal(pod.metadata.labels?.["controller-revision-hash"], status.updateRevision);
    assert.equal((pod.spec as typeof template.spec).containers[0]!.image, "postgres:16.4");
  }
  assert.equal(status.observedGeneration, 2);
});

Deno.test("StatefulSetController: a deleted pod is recreated with the same name and claim", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web", { replicas: 2 }));
  await converge(cluster);
  const before = cluster.server.get(POD, "web-1", "default");
  cluster.server.delete(POD, "web-1", "default");
  await converge(cluster);
  const after = cluster.server.get(POD, "web-1", "default");
  assert.notEqual(after.metadata.uid, before.metadata.uid);
  assert.ok(isPodReady(after));
  assert.deepEqual(names(cluster, PVC), ["data-web-0", "data-web-1"]);
});

Deno.test("StatefulSetController: status is written only when it changes", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web", { replicas: 1 }));
  await converge(cluster);
  const log = record(cluster);
  const sts: KubeObject = cluster.server.get(STATEFUL_SET, "web", "default");
  cluster.server.update({ ...sts, metadata: { ...sts.metadata, labels: { touched: "yes" } } });
  await converge(cluster);
  assert.equal(log.length, 1, "only the label update itself was committed");
});

Deno.test("StatefulSetController adopts a pod of its own that became an orphan while it was idle", async () => {
  // The real controller syncs the matching StatefulSets when an orphan pod is added or changed;
  // here the pod loses its controller reference (a garbage collector that dropped a deleted
  // owner's reference, say) long after the StatefulSet last had anything to do.
  const cluster = new SimCluster({ seed: 1 });
  cluster.server.create(statefulSet("web", { replicas: 1 }));
  await converge(cluster);
  const pod = cluster.server.get(POD, "web-0", "default");
  const uid = pod.metadata.uid;
  cluster.server.update({ ...pod, metadata: { ...pod.metadata, ownerReferences: [] } });
  await converge(cluster);
  const after = cluster.server.get(POD, "web-0", "default");
  assert.equal(after.metadata.uid, uid, "the same pod, not a new one");
  const sts = cluster.server.get(STATEFUL_SET, "web", "default");
  assert.equal(after.metadata.ownerReferences?.[0]?.uid, sts.metadata.uid);
  assert.equal(after.metadata.ownerReferences?.[0]?.controller, true);
});
