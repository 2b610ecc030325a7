// Goal: one seed determines a whole simulated run, and run() stops for the right reason.
// Method: drive identical scenarios through clients on clusters with the same and different
// seeds and compare the JSON of every stored object; probe run() on idle and busy clusters.

import assert from "node:assert/strict";
import { configMap, statefulSet } from "./_testing.ts";
import { SimCluster, type SimClusterOptions } from "./cluster.ts";

async function scenario(options: SimClusterOptions): Promise<string> {
  const cluster = new SimCluster({ readyJitterMs: 700, nodeSelection: "random", ...options });
  const client = cluster.client({ name: "scenario" });
  await Promise.all([
    cluster.run({ maxVirtualMs: 600_000 }),
    (async () => {
      await client.create(statefulSet("web"));
      await client.apply(
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "creds", namespace: "default" },
          stringData: { p: "x" },
        },
        { fieldManager: "scenario" },
      );
      await client.createEvent({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "" },
        involvedObject: { kind: "StatefulSet", name: "web", namespace: "default" },
        reason: "Created",
        message: "created web",
      });
    })(),
  ]);
  await cluster.run({ maxVirtualMs: 600_000 });
  return JSON.stringify(cluster.objects());
}

Deno.test("SimCluster: the same seed twice gives identical object dumps", async () => {
  const first = await scenario({ seed: 11 });
  const second = await scenario({ seed: 11 });
  assert.equal(second, first);
  assert.match(first, /"readyReplicas":3/);
});

Deno.test("SimCluster: different seeds give different runs", async () => {
  const a = await scenario({ seed: 11 });
  const b = await scenario({ seed: 12 });
  assert.notEqual(a, b);
});

Deno.test("SimCluster: objects() is sorted by kind, namespace and name", () => {
  const cluster = new SimCluster();
  cluster.server.create(configMap("b"));
  cluster.server.create({ ...configMap("a"), metadata: { name: "a", namespace: "kube-system" } });
  cluster.server.create(configMap("c"));
  const keys = cluster.objects().map((o) =>
    `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`
  );
  assert.deepEqual(keys, [
    "ConfigMap/default/b",
    "ConfigMap/default/c",
    "ConfigMap/kube-system/a",
    "Namespace//default",
    "Namespace//kube-system",
    "StorageClass//standard",
  ]);
});

Deno.test("SimCluster: run() on an idle cluster is quiescent at once", async () => {
  const cluster = new SimCluster();
  const result = await cluster.run({ maxVirtualMs: 1_000 });
  assert.deepEqual(result, { quiescent: true, virtualMs: 0, steps: 0 });
});

Deno.test("SimCluster: run() stops at maxVirtualMs and moves the clock to the deadline", async () => {
  const cluster = new SimCluster({ readyDelayMs: 5_000 });
  cluster.server.create(statefulSet("web", { replicas: 1 }));
  const start = cluster.nowMs();
  const result = await cluster.run({ maxVirtualMs: 1_000 });
  assert.equal(result.quiescent, false);
  assert.equal(result.virtualMs, 1_000);
  assert.equal(cluster.nowMs() - start, 1_000);
  assert.ok(result.steps > 0);
  const rest = await cluster.run({ maxVirtualMs: 60_000 });
  assert.ok(rest.quiescent);
});

Deno.test("SimCluster: run() stops as soon as until() holds", async () => {
  const cluster = new SimCluster();
  cluster.server.create(statefulSet("web", { replicas: 2 }));
  const pod0 = () => cluster.server.peek({ apiVersion: "v1", kind: "Pod" }, "web-0", "default");
  const result = await cluster.run({ maxVirtualMs: 60_000, until: () => pod0() !== undefined });
  assert.ok(pod0());
  assert.equal(result.quiescent, false);
  assert.equal(
    cluster.server.peek({ apiVersion: "v1", kind: "Pod" }, "web-1", "default"),
    undefined,
  );
});
