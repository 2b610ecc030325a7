// Goal: a controller written with the library runs unchanged in the simulated cluster: it creates
// a ConfigMap per Namespace, puts it back when edited or deleted, follows label changes, and
// leaves opted-out namespaces alone.
import assert from "node:assert/strict";
import { Controller } from "../mod.ts";
import { SimCluster } from "../sim/mod.ts";
import { CONFIGMAP_NAME, namespaceInfoReconciler, OFF_LABEL } from "./namespace_configmap.ts";

async function setup(seed: number) {
  const cluster = new SimCluster({ seed });
  const user = cluster.client({ name: "user" });
  const controller = new Controller(cluster.client(), namespaceInfoReconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
  });
  void controller.start();
  await cluster.run({ maxVirtualMs: 60_000 });
  const infos = () =>
    cluster.objects().filter((o) => o.kind === "ConfigMap" && o.metadata.name === CONFIGMAP_NAME);
  return { cluster, user, controller, infos };
}

Deno.test("namespace-info: every namespace gets its ConfigMap, owned by the Namespace", async () => {
  const { cluster, user, controller, infos } = await setup(1);
  void user.create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "team-a", labels: { team: "alpha" } },
  });
  await cluster.run({ maxVirtualMs: 60_000 });
  const namespaces = cluster.objects().filter((o) => o.kind === "Namespace");
  assert.equal(infos().length, namespaces.length);
  const teamA = infos().find((c) => c.metadata.namespace === "team-a")!;
  assert.deepEqual(teamA.data, { namespace: "team-a", team: "alpha" });
  assert.equal(
    teamA.metadata.ownerReferences?.[0]?.uid,
    namespaces.find((n) => n.metadata.name === "team-a")!.metadata.uid,
  );
  await controller.stop();
});

Deno.test("namespace-info: an edited or deleted ConfigMap is put back", async () => {
  const { cluster, user, controller, infos } = await setup(2);
  const cm = infos().find((c) => c.metadata.namespace === "default")!;
  void user.update({ ...cm, data: { namespace: "tampered", team: "x" } });
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.equal(
    (infos().find((c) => c.metadata.namespace === "default")!.data as Record<string, string>)
      .namespace,
    "default",
  );
  void user.delete({ apiVersion: "v1", kind: "ConfigMap" }, CONFIGMAP_NAME, "default");
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.ok(infos().some((c) => c.metadata.namespace === "default"), "re-created");
  await controller.stop();
});

Deno.test("namespace-info: an opted-out namespace gets nothing", async () => {
  const { cluster, user, controller, infos } = await setup(3);
  void user.create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "quiet", labels: { [OFF_LABEL]: "off" } },
  });
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.ok(!infos().some((c) => c.metadata.namespace === "quiet"));
  await controller.stop();
});
