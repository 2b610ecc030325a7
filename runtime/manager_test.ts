// Goal: the manager runs several controllers as one: both converge under one manager; with
// leader election only the leader's controllers write, a standby writes nothing, and a leader
// that loses its Lease writes nothing more; readiness waits for every controller's caches and
// for every named check; the metric families exist once, with one series per controller.
// Method: two tiny reconcilers (ConfigMap -> Secret, ServiceAccount -> Secret) on the simulated
// cluster in virtual time; writes are counted below the fence by an interceptor on each
// manager's client, so a write counts only if it was sent.
import assert from "node:assert/strict";
import { type ClusterClient, interceptClient } from "../core/cluster.ts";
import { controllerReference, type TypeRef } from "../core/object.ts";
import type { Reconciler } from "../core/reconciler.ts";
import { SimCluster } from "../sim/cluster.ts";
import type { SimClient } from "../sim/client.ts";
import { Manager, type ManagerOptions } from "./manager.ts";
import { NotLeaderError } from "./leader_fence.ts";
import { parsePrometheus } from "./prometheus.ts";

const SECRET: TypeRef = { apiVersion: "v1", kind: "Secret" };
const CONFIG_MAP: TypeRef = { apiVersion: "v1", kind: "ConfigMap" };
const SERVICE_ACCOUNT: TypeRef = { apiVersion: "v1", kind: "ServiceAccount" };
const ELECTION = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

/** For each object of `from`, a Secret `<prefix><name>` that it owns. */
function secretFor(name: string, from: TypeRef, prefix: string): Reconciler {
  return {
    name,
    for: from,
    owns: [SECRET],
    reconcile: ({ object, owned }) => ({
      actions: owned.length > 0 ? [] : [{
        kind: "create",
        reason: "missing",
        object: {
          ...SECRET,
          metadata: {
            name: `${prefix}${object.metadata.name}`,
            namespace: object.metadata.namespace ?? "default",
            ownerReferences: [controllerReference(object)],
          },
        },
      }],
    }),
  };
}

const FROM_CONFIG_MAPS = secretFor("configmap-secrets", CONFIG_MAP, "cm-");
const FROM_SERVICE_ACCOUNTS = secretFor("serviceaccount-secrets", SERVICE_ACCOUNT, "sa-");

/** A manager of both controllers; `writes` lists what its client sent, Leases left out. */
function newManager(cluster: SimCluster, identity: string, options: Partial<ManagerOptions> = {}) {
  const sim = cluster.client({ name: identity });
  const writes: string[] = [];
  const client: ClusterClient = interceptClient(sim, {
    beforeWrite(call) {
      if (call.target.kind !== "Lease") writes.push(`${call.operation} ${call.target.kind}`);
    },
  });
  const manager = new Manager(client, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    watchInactivityMs: 0,
    ...options,
  });
  manager.add(FROM_CONFIG_MAPS);
  manager.add(FROM_SERVICE_ACCOUNTS);
  return { identity, sim, manager, writes };
}

async function createSources(cluster: SimCluster, names: readonly string[]): Promise<void> {
  const user = cluster.client({ name: "kubectl" });
  for (const name of names) {
    const metadata = { name, namespace: "default" };
    await cluster.request(user.create({ ...CONFIG_MAP, metadata }));
    await cluster.request(user.create({ ...SERVICE_ACCOUNT, metadata }));
  }
}

function secretNames(cluster: SimCluster): string[] {
  return cluster.objects().filter((o) => o.kind === "Secret").map((o) => o.metadata.name).sort();
}

Deno.test("Manager: two controllers under one manager both converge, then write nothing", async () => {
  const cluster = new SimCluster({ seed: 1 });
  const { manager, writes } = newManager(cluster, "solo");
  assert.equal(manager.ready().ready, false, "not ready before start");
  manager.start();
  await createSources(cluster, ["a", "b"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.deepEqual(secretNames(cluster), ["cm-a", "cm-b", "sa-a", "sa-b"]);
  for (const controller of manager.controllers) {
    assert.ok(controller.stats.reconciles >= 2, `${controller.reconciler.name} reconciled`);
  }
  assert.deepEqual(manager.ready(), { ready: true, reason: "controllers: caches synced" });
  const settled = writes.length;
  assert.equal(settled, 4);
  await cluster.run({ maxVirtualMs: 600_000 });
  assert.equal(writes.length, settled, "no write once converged");
  await cluster.request(manager.stop());
  assert.equal(manager.ready().ready, false, "not ready once stopped");
});

Deno.test("Manager: of two replicas the standby writes nothing; the leader's controllers do the work", async () => {
  const cluster = new SimCluster({ seed: 2 });
  const replicas = ["pod-a", "pod-b"].map((identity) =>
    newManager(cluster, identity, {
      leaderElection: { namespace: "default", name: "demo-leader", identity, ...ELECTION },
    })
  );
  for (const r of replicas) r.manager.start();
  await cluster.run({ maxVirtualMs: 5_000 });
  await createSources(cluster, ["a", "b", "c"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  const leaders = replicas.filter((r) => r.manager.elector!.isLeader);
  assert.equal(leaders.length, 1, "exactly one leader");
  const leader = leaders[0]!;
  const standby = replicas.find((r) => r !== leader)!;
  assert.equal(secretNames(cluster).length, 6, "the leader converged both controllers");
  assert.equal(leader.writes.length, 6);
  assert.deepEqual(standby.writes, [], "the standby sent no write but to the Lease");
  for (const controller of standby.manager.controllers) {
    assert.equal(controller.stats.reconciles, 0, `${controller.reconciler.name} stood by`);
  }
  assert.match(standby.manager.ready().reason, /standby, the leader is "pod-/);
  assert.ok(standby.manager.ready().ready);
  // Its controllers are not running, and its fence refuses a write made through it anyway.
  await assert.rejects(
    () => standby.manager.client.create({ ...CONFIG_MAP, metadata: { name: "x" } }),
    NotLeaderError,
  );
  assert.deepEqual(standby.writes, []);
  const gauge = (r: typeof leader) => r.manager.metrics.leaderStatus.get({ name: "demo-leader" });
  assert.deepEqual([gauge(leader), gauge(standby)], [1, 0]);
  for (const r of replicas) await cluster.request(r.manager.stop());
});

Deno.test("Manager: a leader that loses its Lease stops every controller's writes", async () => {
  const cluster = new SimCluster({ seed: 3 });
  const lost: string[] = [];
  const replica = newManager(cluster, "pod-a", {
    leaderElection: { namespace: "default", name: "demo-leader", identity: "pod-a", ...ELECTION },
    onLeadershipLost: (reason) => lost.push(reason),
  });
  replica.manager.start();
  await cluster.run({ maxVirtualMs: 3_000, until: () => replica.manager.elector!.isLeader });
  await createSources(cluster, ["a"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.equal(replica.writes.length, 2);
  (replica.sim as SimClient).hooks = {
    beforeRequest(request) {
      if (request.kind === "Lease") throw new Error("connection refused (partitioned)");
    },
  };
  await cluster.run({ maxVirtualMs: 10_000, until: () => lost.length > 0 });
  assert.equal(lost.length, 1);
  assert.match(lost[0]!, /not renewed within 3000ms/);
  assert.equal(replica.manager.ready().ready, false);
  assert.match(replica.manager.ready().reason, /^controllers: lost the lease/);
  assert.equal(replica.manager.metrics.leaderStatus.get({ name: "demo-leader" }), 0);
  await createSources(cluster, ["b", "c"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.equal(replica.writes.length, 2, "no write after the loss");
  assert.deepEqual(secretNames(cluster), ["cm-a", "sa-a"]);
  await assert.rejects(
    () => replica.manager.client.createEvent({ ...CONFIG_MAP, metadata: { name: "x" } }),
    NotLeaderError,
  );
  await cluster.request(replica.manager.stop());
});

Deno.test("Manager: ready only when every controller has synced and every named check passes", async () => {
  const cluster = new SimCluster({ seed: 4 });
  const widget = { apiVersion: "example.com/v1", kind: "Widget" };
  const { manager } = newManager(cluster, "solo");
  // A controller of a kind whose CRD is not installed yet: its cache cannot sync.
  manager.add(secretFor("widget-secrets", widget, "w-"));
  let warm = false;
  manager.addReadyCheck("warm", () => ({ ready: warm, reason: warm ? "warm" : "cold" }));
  let alive = true;
  manager.addHealthCheck("heart", () => ({ ready: alive, reason: "beats" }));
  assert.throws(() => manager.addReadyCheck("warm", () => ({ ready: true, reason: "" })), {
    name: "TypeError",
    message: 'Cannot add readiness check "warm": already added',
  });
  assert.throws(() => manager.add(FROM_CONFIG_MAPS), /one of that name was added/);
  manager.start();
  await cluster.run({ maxVirtualMs: 5_000 });
  assert.deepEqual(manager.ready(), {
    ready: false,
    reason: 'controllers: caches not synced: "widget-secrets"; warm: cold',
  });
  await cluster.request(
    cluster.client().create({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { kind: "Widget", plural: "widgets" },
        versions: [{ name: "v1", served: true, storage: true }],
      },
    }),
  );
  await cluster.run({ maxVirtualMs: 120_000, until: () => manager.controllers[2]!.synced });
  assert.deepEqual(manager.ready(), { ready: false, reason: "warm: cold" });
  warm = true;
  assert.equal(manager.ready().ready, true);
  assert.deepEqual(manager.healthy(), { ready: true, reason: "ping: serving; heart: beats" });
  alive = false;
  assert.deepEqual(manager.healthy(), { ready: false, reason: "heart: beats" });

  // The same answers over HTTP, as controller-runtime serves them.
  const endpoints = manager.serve({ metricsAddress: "127.0.0.1:0", healthAddress: "127.0.0.1:0" });
  const get = async (port: number, path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, text: await response.text() };
  };
  assert.deepEqual(await get(endpoints.healthPort!, "/healthz"), {
    status: 500,
    text: "unhealthy: heart: beats\n",
  });
  alive = true;
  assert.equal((await get(endpoints.healthPort!, "/healthz")).status, 200);
  assert.equal((await get(endpoints.healthPort!, "/readyz")).status, 200);
  warm = false;
  assert.deepEqual(await get(endpoints.healthPort!, "/readyz"), {
    status: 503,
    text: "not ready: warm: cold\n",
  });
  const metrics = await get(endpoints.metricsPort!, "/metrics");
  assert.ok(parsePrometheus(metrics.text).types.has("controller_runtime_reconcile_total"));
  // stop() shuts the endpoints down too (real I/O: awaited outside the virtual clock's run).
  const stopping = manager.stop();
  await cluster.run({ maxVirtualMs: 1_000 });
  await stopping;
  await assert.rejects(() => fetch(`http://127.0.0.1:${endpoints.healthPort}/healthz`));
});

Deno.test("Manager: one set of metric families for several controllers, a series per controller", async () => {
  const cluster = new SimCluster({ seed: 5 });
  const { manager } = newManager(cluster, "solo");
  manager.start();
  await createSources(cluster, ["a", "b"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  const text = manager.metrics.registry.render();
  const { types, samples } = parsePrometheus(text);
  for (const name of types.keys()) {
    assert.equal(text.split(`# TYPE ${name} `).length, 2, `${name} is registered once`);
  }
  for (const controller of manager.controllers) {
    const name = controller.reconciler.name;
    const reconciles = samples
      .filter((s) => s.name === "controller_runtime_reconcile_total")
      .filter((s) => s.labels.controller === name)
      .reduce((n, s) => n + s.value, 0);
    assert.equal(reconciles, controller.stats.reconciles, name);
    assert.ok(reconciles > 0);
    const adds = samples.find((s) => s.name === "workqueue_adds_total" && s.labels.name === name);
    assert.equal(adds?.value, controller.queue.stats.adds, name);
  }
  await cluster.request(manager.stop());
});

Deno.test("Manager: aborting the start signal stops it; a controller added after start runs", async () => {
  const cluster = new SimCluster({ seed: 6 });
  const controller = new AbortController();
  const { manager, writes } = newManager(cluster, "solo");
  manager.start({ signal: controller.signal });
  assert.throws(() => manager.start(), /Cannot start a manager twice/);
  const late = manager.add(secretFor("late-secrets", CONFIG_MAP, "late-"));
  await createSources(cluster, ["a"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.deepEqual(secretNames(cluster), ["cm-a", "late-a", "sa-a"]);
  assert.ok(late.stats.reconciles > 0);
  controller.abort();
  await cluster.request(manager.stop());
  const sent = writes.length;
  await createSources(cluster, ["b"]);
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.equal(writes.length, sent, "a stopped manager writes nothing");
  assert.throws(() => manager.add(secretFor("too-late", CONFIG_MAP, "x-")), /has stopped/);
});
