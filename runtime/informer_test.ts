// Goal: the informer keeps its cache equal to the server's through watch ends, 410 Gone and
// silent watches: it relists and reports the difference, restarts with backoff, and its watchdog
// restarts a watch that went quiet. Method: the simulated cluster, with faults at the client.
import assert from "node:assert/strict";
import { ApiError, type ClusterClient, withOverrides } from "../core/cluster.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import { SimCluster } from "../sim/cluster.ts";
import { FaultyClient } from "../sim/faults.ts";
import { type CacheChange, Informer } from "./informer.ts";

const CONFIGMAP: TypeRef = { apiVersion: "v1", kind: "ConfigMap" };

function configMap(name: string, value = "1"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default" },
    data: { value },
  };
}

/** `client` with its watch replaced. */
function withWatch(client: ClusterClient, watch: ClusterClient["watch"]): ClusterClient {
  return withOverrides(client, { watch });
}

function names(informer: Informer): string[] {
  return informer.list().map((o) => o.metadata.name).sort();
}

function serverNames(cluster: SimCluster): string[] {
  return cluster.objects().filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name).sort();
}

Deno.test("Informer: lists, then follows adds, changes and deletes in order", async () => {
  const cluster = new SimCluster({ seed: 1 });
  const user = cluster.client();
  const changes: string[] = [];
  const informer = new Informer(cluster.client(), CONFIGMAP, {
    clock: cluster.clock,
    watchInactivityMs: 0,
    onChange: (c: CacheChange) => changes.push(`${c.type} ${c.object.metadata.name}`),
  });
  void user.create(configMap("a"));
  await cluster.run({ maxVirtualMs: 1000 });
  void informer.start();
  await cluster.run({ maxVirtualMs: 1000 });
  assert.ok(informer.synced);
  void user.create(configMap("b"));
  await cluster.run({ maxVirtualMs: 1000 });
  void user.apply(configMap("b", "2"), { fieldManager: "t", force: true });
  await cluster.run({ maxVirtualMs: 1000 });
  void user.delete(CONFIGMAP, "a", "default");
  await cluster.run({ maxVirtualMs: 1000 });
  assert.deepEqual(changes, ["ADDED a", "ADDED b", "MODIFIED b", "DELETED a"]);
  informer.stop();
});

Deno.test("Informer: after 410 Gone it relists and reports what it missed", async () => {
  const cluster = new SimCluster({ seed: 2 });
  const user = cluster.client();
  const client = cluster.client();
  const changes: string[] = [];
  // A client whose watch can be expired on demand; events are lost while it is down.
  let expire: ((e: Error) => void) | undefined;
  let deaf = false;
  const expiring = withWatch(client, (type, options) => {
    expire = (e) => {
      deaf = true;
      options.onDone(e);
    };
    deaf = false;
    return client.watch(type, { ...options, onEvent: (ev) => deaf || options.onEvent(ev) });
  });
  const informer = new Informer(expiring, CONFIGMAP, {
    clock: cluster.clock,
    watchInactivityMs: 0,
    onChange: (c) => changes.push(`${c.type} ${c.object.metadata.name}`),
  });
  void user.create(configMap("a"));
  void user.create(configMap("b"));
  await cluster.run({ maxVirtualMs: 1000 });
  void informer.start();
  await cluster.run({ maxVirtualMs: 1000 });
  deaf = true;
  void user.delete(CONFIGMAP, "a", "default");
  void user.apply(configMap("b", "2"), { fieldManager: "t", force: true });
  void user.create(configMap("c"));
  await cluster.run({ maxVirtualMs: 1000 });
  assert.deepEqual(names(informer), ["a", "b"], "the cache missed the changes");
  changes.length = 0;
  expire!(new ApiError("Expired", "too old resource version"));
  await cluster.run({ maxVirtualMs: 1000 });
  assert.equal(informer.stats.relists, 1);
  assert.deepEqual(names(informer), serverNames(cluster));
  assert.deepEqual(changes.sort(), ["ADDED c", "DELETED a", "MODIFIED b"]);
  informer.stop();
});

Deno.test("Informer: a failing watch restarts with exponential backoff and catches up", async () => {
  const cluster = new SimCluster({ seed: 3 });
  const user = cluster.client();
  const faulty = new FaultyClient(cluster.client(), {
    clock: cluster.clock,
    random: cluster.random.fork(),
    faults: { readErrorRate: 1 },
  });
  const informer = new Informer(faulty, CONFIGMAP, {
    clock: cluster.clock,
    watchInactivityMs: 0,
    retryBaseMs: 100,
    retryMaxMs: 1600,
  });
  void informer.start();
  await cluster.run({ maxVirtualMs: 5000 });
  assert.equal(informer.synced, false);
  // Retries at 100, 200, 400, 800, 1600, 1600 ... ms: about 7 tries in 5 s, not hundreds.
  assert.ok(
    informer.stats.errors >= 5 && informer.stats.errors <= 9,
    `${informer.stats.errors} tries`,
  );
  void user.create(configMap("late"));
  faulty.faults = {};
  await cluster.run({ maxVirtualMs: 5000 });
  assert.ok(informer.synced);
  assert.deepEqual(names(informer), ["late"]);
  informer.stop();
});

Deno.test("Informer: the watchdog restarts a watch that went silent", async () => {
  const cluster = new SimCluster({ seed: 4 });
  const user = cluster.client();
  const client = cluster.client();
  // A half-open connection: the watch is accepted but never delivers anything.
  let silent = true;
  const halfOpen = withWatch(
    client,
    (type, options) =>
      client.watch(type, { ...options, onEvent: (e) => silent || options.onEvent(e) }),
  );
  const informer = new Informer(halfOpen, CONFIGMAP, {
    clock: cluster.clock,
    watchInactivityMs: 30_000,
  });
  void informer.start();
  await cluster.run({ maxVirtualMs: 1000 });
  void user.create(configMap("unseen"));
  await cluster.run({ maxVirtualMs: 1000 });
  assert.deepEqual(names(informer), []);
  silent = false;
  // The watchdog's timer is unref'd (it must not keep an idle process alive): hold the simulation
  // open past it with a timer of the test's own.
  cluster.clock.setTimer(40_000, () => {});
  await cluster.run({ maxVirtualMs: 40_000 });
  assert.ok(informer.stats.watchdogRestarts >= 1, "the watchdog fired");
  void user.create(configMap("seen"));
  await cluster.run({ maxVirtualMs: 1000 });
  assert.deepEqual(names(informer), ["seen", "unseen"], "it caught up, the missed one included");
  informer.stop();
});

Deno.test("Informer: a watch closed as soon as it opens is retried with backoff, not in a hot loop", async () => {
  const cluster = new SimCluster({ seed: 5 });
  const client = cluster.client();
  // A proxy that ends every watch normally right after it starts.
  const closing = withWatch(client, async (type, options) => {
    const handle = await client.watch(type, options);
    cluster.clock.setTimer(1, () => {
      handle.stop();
      options.onDone();
    });
    return handle;
  });
  const informer = new Informer(closing, CONFIGMAP, {
    clock: cluster.clock,
    watchInactivityMs: 0,
    retryBaseMs: 100,
    retryMaxMs: 1600,
  });
  void informer.start();
  await cluster.run({ maxVirtualMs: 5000 });
  assert.ok(informer.synced);
  assert.ok(informer.stats.watches <= 10, `${informer.stats.watches} watches in 5 s`);
  informer.stop();
});

Deno.test("Informer: stop() before the first sync resolves start(); a restart resolves at once", async () => {
  const cluster = new SimCluster({ seed: 6 });
  const faulty = new FaultyClient(cluster.client(), {
    clock: cluster.clock,
    random: cluster.random.fork(),
    faults: { readErrorRate: 1 },
  });
  const informer = new Informer(faulty, CONFIGMAP, { clock: cluster.clock, watchInactivityMs: 0 });
  let resolved = false;
  void informer.start().then(() => resolved = true);
  await cluster.run({ maxVirtualMs: 1000 });
  assert.equal(resolved, false);
  informer.stop();
  await cluster.run({ maxVirtualMs: 10 });
  assert.equal(resolved, true, "stop() released the waiter");
  faulty.faults = {};
  await cluster.run({ maxVirtualMs: 10, until: () => false });
  let again = false;
  void informer.start().then(() => again = true);
  await cluster.run({ maxVirtualMs: 1000, until: () => again });
  assert.ok(again && informer.synced);
  let third = false;
  informer.stop();
  void informer.start().then(() => third = true);
  await cluster.run({ maxVirtualMs: 1, until: () => third });
  assert.ok(third, "an informer that had synced starts at once");
  informer.stop();
});
