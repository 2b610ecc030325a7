// Goal: the leader fence refuses every write of the port while not leading, without sending a
// request, and passes reads; it asks at each call, so it opens and closes with leadership.
// Method: a fenced client of the simulated cluster, the client's request counters as witness.
import assert from "node:assert/strict";
import { SimCluster } from "../sim/cluster.ts";
import { leaderFencedClient, NotLeaderError } from "./leader_fence.ts";

const CONFIG_MAP = { apiVersion: "v1", kind: "ConfigMap" };

Deno.test("leaderFencedClient() refuses every write when not leading, and passes reads", async () => {
  const cluster = new SimCluster();
  let leading = false;
  const inner = cluster.client();
  const client = leaderFencedClient(inner, () => leading);
  const configMap = { ...CONFIG_MAP, metadata: { name: "c", namespace: "default" } };
  const writes = [
    () => client.create(configMap),
    () => client.update(configMap),
    () => client.apply(configMap, { fieldManager: "test" }),
    () => client.patchStatus({ ...CONFIG_MAP, name: "c", namespace: "default" }, {}),
    () => client.delete(CONFIG_MAP, "c", "default"),
    () => client.createEvent(configMap),
  ];
  for (const write of writes) await assert.rejects(write, NotLeaderError);
  await assert.rejects(() => client.patchStatus({ ...CONFIG_MAP, name: "c" }, {}), /patch status/);
  assert.equal(inner.stats.writes, 0, "no refused write was sent");
  leading = true;
  assert.equal((await cluster.request(client.create(configMap))).metadata.name, "c");
  leading = false;
  assert.equal((await cluster.request(client.list(CONFIG_MAP))).items.length, 1);
  assert.equal(inner.stats.writes, 1);
});
