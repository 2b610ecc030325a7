// Goal: SimClient implements the cluster port over the simulated server with virtual latency,
// copies, ApiError rejections, request counters and Event recording.
// Method: issue calls through a client while SimCluster.run() drives virtual time.

import assert from "node:assert/strict";
import { isApiError, type WatchEvent } from "../core/cluster.ts";
import { CONFIG_MAP, configMap } from "./_testing.ts";
import { SimCluster } from "./cluster.ts";

Deno.test("SimClient: each call waits latencyMs of virtual time", async () => {
  const cluster = new SimCluster();
  const client = cluster.client({ latencyMs: 25 });
  const start = cluster.nowMs();
  let answeredAtMs = 0;
  const done = client.create(configMap("a")).then(() => answeredAtMs = cluster.nowMs() - start);
  assert.equal(
    cluster.server.peek(CONFIG_MAP, "a", "default"),
    undefined,
    "nothing happens before the latency",
  );
  await cluster.run({ maxVirtualMs: 1_000 });
  await done;
  assert.equal(answeredAtMs, 25);
});

Deno.test("SimClient: counts reads and writes by verb, failed ones included", async () => {
  const cluster = new SimCluster();
  const client = cluster.client({ name: "counter" });
  const work = (async () => {
    await client.create(configMap("a"));
    await client.apply(configMap("a", { k: "v" }), { fieldManager: "counter" });
    await client.get(CONFIG_MAP, "a", "default");
    await client.list(CONFIG_MAP);
    await client.create(configMap("a")).catch((error) =>
      assert.ok(isApiError(error, "AlreadyExists"))
    );
    await client.delete(CONFIG_MAP, "a", "default");
  })();
  await cluster.run({ maxVirtualMs: 1_000 });
  await work;
  assert.deepEqual(client.stats, {
    reads: 2,
    writes: 4,
    readsByVerb: { get: 1, list: 1 },
    writesByVerb: { create: 2, apply: 1, delete: 1 },
  });
});

Deno.test("SimClient: errors reject with the server's ApiError and answers are copies", async () => {
  const cluster = new SimCluster();
  const client = cluster.client();
  const work = (async () => {
    const missing = await client.get(CONFIG_MAP, "nope", "default").catch((error) => error);
    assert.ok(isApiError(missing, "NotFound"));
    assert.equal(missing.message, 'configmaps "nope" not found');
    const created = await client.create(configMap("a", { k: "v" }));
    (created.data as Record<string, string>).k = "mutated";
    assert.deepEqual((await client.get(CONFIG_MAP, "a", "default")).data, { k: "v" });
  })();
  await cluster.run({ maxVirtualMs: 1_000 });
  await work;
});

Deno.test("SimClient: list then watch from the list's version sees later changes only", async () => {
  const cluster = new SimCluster();
  const client = cluster.client();
  cluster.server.create(configMap("before"));
  const events: WatchEvent[] = [];
  const work = (async () => {
    const list = await client.list(CONFIG_MAP);
    await client.watch(CONFIG_MAP, {
      resourceVersion: list.resourceVersion,
      onEvent: (event) => events.push(event),
      onDone: () => {},
    });
    await client.create(configMap("after"));
  })();
  await cluster.run({ maxVirtualMs: 1_000 });
  await work;
  assert.deepEqual(events.map((e) => e.type === "BOOKMARK" ? "B" : e.object.metadata.name), [
    "after",
  ]);
});

Deno.test("SimClient: createEvent records a core/v1 Event with a generated name", async () => {
  const cluster = new SimCluster();
  const client = cluster.client({ name: "postgres-operator" });
  const work = client.createEvent({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "" },
    involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: "db", namespace: "default" },
    reason: "Created",
    message: "Created the credentials Secret",
    type: "Normal",
  });
  await cluster.run({ maxVirtualMs: 1_000 });
  await work;
  const events =
    cluster.server.list({ apiVersion: "v1", kind: "Event" }, { namespace: "default" }).items;
  assert.equal(events.length, 1);
  const event = events[0]!;
  assert.match(event.metadata.name, /^db\.[a-z0-9]{5}$/);
  assert.equal(event.reason, "Created");
  assert.deepEqual(event.source, { component: "postgres-operator" });
  assert.equal(event.count, 1);
  assert.equal(client.stats.writesByVerb.createEvent, 1);
});

Deno.test("SimClient: with shareObjects, answers and watch events are the stored objects, frozen", async () => {
  const cluster = new SimCluster();
  const shared = cluster.client({ shareObjects: true });
  const copying = cluster.client();
  const events: WatchEvent[] = [];
  const work = (async () => {
    const created = await shared.create(configMap("a", { k: "v" }));
    const stored = cluster.server.peek(CONFIG_MAP, "a", "default")!;
    assert.equal(created, stored, "the create's answer is the stored object");
    assert.equal(await shared.get(CONFIG_MAP, "a", "default"), stored);
    assert.equal((await shared.list(CONFIG_MAP)).items[0], stored);
    assert.throws(() => {
      (created.data as Record<string, string>).k = "mutated";
    }, TypeError);
    const copy = await copying.get(CONFIG_MAP, "a", "default");
    assert.notEqual(copy, stored, "another client still gets copies");
    assert.ok(!Object.isFrozen(copy));
    assert.deepEqual(copy, stored);
    await shared.watch(CONFIG_MAP, {
      resourceVersion: "",
      onEvent: (event) => events.push(event),
      onDone: () => {},
    });
  })();
  await cluster.run({ maxVirtualMs: 1_000 });
  await work;
  assert.equal(events.length, 1);
  assert.equal(
    (events[0] as { object: unknown }).object,
    cluster.server.peek(CONFIG_MAP, "a", "default"),
  );
});
