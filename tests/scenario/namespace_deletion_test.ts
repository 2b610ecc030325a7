// Goal: deleting a namespace that holds many PostgresDBs costs a bounded number of writes: the
// operator stops writing into a namespace the server says is terminating (403, "because it is
// being terminated") instead of retrying creates and Events that can never succeed.
// Method: the real runtime and reconciler against SimCluster, whose API server refuses new
// content in a terminating namespace with the real server's answer; count the operator's writes
// that reached the server after the namespace's deletion, and the ones it refused.
import assert from "node:assert/strict";
import { CRDS } from "../../crds/postgresdb.ts";
import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import { Controller } from "../../runtime/controller.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { RecordingClient, type WriteRecord } from "../../sim/recording_client.ts";
import { sample } from "../support/fixtures.ts";

const COUNT = 200;

Deno.test("PostgresDB: deleting a namespace with 200 PostgresDBs makes few writes, none retried into it", async () => {
  const cluster = new SimCluster({ seed: 61 });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  await cluster.request(
    user.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } }),
  );
  const writes: WriteRecord[] = [];
  const client = new RecordingClient(
    cluster.client({ name: postgresReconciler.name }),
    (write) => writes.push(write),
  );
  const controller = new Controller(client, postgresReconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
  });
  await cluster.request(controller.start());
  for (let i = 0; i < COUNT; i++) {
    const db = sample({}, { name: `db-${i}`, namespace: "team" });
    await cluster.request(
      user.create({ ...db, metadata: { name: db.metadata.name, namespace: "team" } }),
    );
  }
  await cluster.run({ maxVirtualMs: 600_000 });
  const before = writes.length;
  await cluster.request(user.delete({ apiVersion: "v1", kind: "Namespace" }, "team", undefined));
  const result = await cluster.run({ maxVirtualMs: 3_600_000 });
  assert.ok(result.quiescent, "the cluster came to rest");
  assert.equal(cluster.server.peek({ apiVersion: "v1", kind: "Namespace" }, "team"), undefined);
  const after = writes.slice(before);
  const refused = after.filter((w) => w.error === "Forbidden");
  // One refusal tells the operator; reconciles already in flight (at most 4) may add one each.
  assert.ok(
    refused.length <= 4,
    `${refused.length} writes refused: ${refused.slice(0, 3).map((w) => `${w.verb} ${w.target}`)}`,
  );
  assert.ok(after.length <= 8, `${after.length} writes after the namespace's deletion`);
  await controller.stop();
});
