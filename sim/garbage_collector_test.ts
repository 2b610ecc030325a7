// Goal: owner-reference garbage collection and namespace deletion behave as in a real cluster:
// asynchronously, by uid, with background, foreground and orphan propagation.
// Method: build owners and dependents in a SimCluster, delete, check right away (still there),
// then run virtual time to quiescence and check again.

import assert from "node:assert/strict";
import type { KubeObject, OwnerReference } from "../core/object.ts";
import { CONFIG_MAP, configMap, NAMESPACE } from "./_testing.ts";
import { SimCluster } from "./cluster.ts";

function ownerRef(owner: KubeObject, extra: Partial<OwnerReference> = {}): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    ...extra,
  };
}

function child(name: string, owners: OwnerReference[], finalizers?: string[]): KubeObject {
  const object = configMap(name);
  object.metadata.ownerReferences = owners;
  if (finalizers) object.metadata.finalizers = finalizers;
  return object;
}

function exists(cluster: SimCluster, name: string, namespace = "default"): boolean {
  return cluster.server.peek(CONFIG_MAP, name, namespace) !== undefined;
}

Deno.test("GarbageCollector: background deletion removes dependents asynchronously", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  const owner = server.create(configMap("owner"));
  server.create(child("dep", [ownerRef(owner)]));
  const grandchildOwner = server.get(CONFIG_MAP, "dep", "default");
  server.create(child("grand", [ownerRef(grandchildOwner)]));
  server.delete(CONFIG_MAP, "owner", "default");
  assert.equal(exists(cluster, "owner"), false);
  assert.equal(exists(cluster, "dep"), true, "still there right after the delete");
  const result = await cluster.run({ maxVirtualMs: 10_000 });
  assert.ok(result.quiescent);
  assert.equal(exists(cluster, "dep"), false);
  assert.equal(exists(cluster, "grand"), false, "the cascade continues");
  assert.equal(cluster.clock.pending, 0, "no periodic timer remains");
});

Deno.test("GarbageCollector: a dependent with a live owner left only loses the dangling reference", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  const a = server.create(configMap("a"));
  const b = server.create(configMap("b"));
  server.create(child("dep", [ownerRef(a), ownerRef(b)]));
  server.delete(CONFIG_MAP, "a", "default");
  await cluster.run({ maxVirtualMs: 10_000 });
  const dep = server.get(CONFIG_MAP, "dep", "default");
  assert.deepEqual(dep.metadata.ownerReferences?.map((r) => r.name), ["b"]);
});

Deno.test("GarbageCollector: a dependent created with a missing owner uid is collected", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  server.create(
    child("orphaned", [{
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "gone",
      uid: "00000000-0000-4000-8000-000000000000",
    }]),
  );
  assert.equal(exists(cluster, "orphaned"), true);
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(exists(cluster, "orphaned"), false);
});

Deno.test("GarbageCollector: an owner in another namespace does not count", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  const owner = server.create({
    ...configMap("owner"),
    metadata: { name: "owner", namespace: "kube-system" },
  });
  server.create(child("dep", [ownerRef(owner)]));
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(exists(cluster, "dep"), false);
  assert.equal(exists(cluster, "owner", "kube-system"), true);
});

Deno.test("GarbageCollector: foreground deletion removes dependents before the owner", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  const owner = server.create(configMap("owner"));
  server.create(
    child("dep", [ownerRef(owner, { blockOwnerDeletion: true })], ["example.com/hold"]),
  );
  server.delete(CONFIG_MAP, "owner", "default", { propagationPolicy: "Foreground" });
  const terminating = server.get(CONFIG_MAP, "owner", "default");
  assert.ok(terminating.metadata.deletionTimestamp);
  assert.deepEqual(terminating.metadata.finalizers, ["foregroundDeletion"]);
  await cluster.run({ maxVirtualMs: 10_000 });
  const dep = server.get(CONFIG_MAP, "dep", "default");
  assert.ok(dep.metadata.deletionTimestamp, "the dependent is being deleted");
  assert.equal(exists(cluster, "owner"), true, "the owner waits for its blocking dependent");
  server.update({ ...dep, metadata: { ...dep.metadata, finalizers: [] } });
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(exists(cluster, "dep"), false);
  assert.equal(exists(cluster, "owner"), false);
});

Deno.test("GarbageCollector: orphan deletion keeps dependents and strips the reference", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  const owner = server.create(configMap("owner"));
  const other = server.create(configMap("other"));
  server.create(child("dep", [ownerRef(owner, { controller: true }), ownerRef(other)]));
  server.delete(CONFIG_MAP, "owner", "default", { propagationPolicy: "Orphan" });
  assert.deepEqual(server.get(CONFIG_MAP, "owner", "default").metadata.finalizers, ["orphan"]);
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(exists(cluster, "owner"), false);
  assert.deepEqual(
    server.get(CONFIG_MAP, "dep", "default").metadata.ownerReferences?.map((r) => r.name),
    ["other"],
  );
});

Deno.test("NamespaceController: deleting a namespace deletes its objects, then the namespace", async () => {
  const cluster = new SimCluster();
  const server = cluster.server;
  server.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
  server.create({ ...configMap("a"), metadata: { name: "a", namespace: "team" } });
  server.create({
    ...configMap("held"),
    metadata: { name: "held", namespace: "team", finalizers: ["x.io/hold"] },
  });
  server.create(configMap("elsewhere"));
  server.delete(NAMESPACE, "team");
  assert.deepEqual(server.get(NAMESPACE, "team").status, { phase: "Terminating" });
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(exists(cluster, "a", "team"), false);
  const held = server.get(CONFIG_MAP, "held", "team");
  assert.ok(held.metadata.deletionTimestamp);
  assert.ok(server.peek(NAMESPACE, "team"), "the namespace waits for the finalizer");
  server.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(server.peek(NAMESPACE, "team"), undefined);
  assert.equal(exists(cluster, "elsewhere"), true);
});
