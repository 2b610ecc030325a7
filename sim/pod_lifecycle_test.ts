// Goal: pods and claims move through their lifecycle on virtual time as configured, and the
// fault methods (crash, lost node, held readiness) act as documented.
// Method: create pods and claims in a SimCluster, run virtual time to chosen instants and
// inspect the stored objects.

import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { POD, PVC } from "./_testing.ts";
import { SimCluster } from "./cluster.ts";
import { isPodReady } from "./pod_lifecycle.ts";

function pod(name: string, claim?: string): KubeObject {
  const spec: Record<string, unknown> = { containers: [{ name: "main", image: "postgres:16" }] };
  if (claim) spec.volumes = [{ name: "data", persistentVolumeClaim: { claimName: claim } }];
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec };
}

function claim(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default" },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } },
  };
}

function getPod(cluster: SimCluster, name: string): KubeObject {
  return cluster.server.get(POD, name, "default");
}

function phase(object: KubeObject): string | undefined {
  return (object.status as { phase?: string } | undefined)?.phase;
}

function nodeOf(object: KubeObject): string | undefined {
  return (object.spec as { nodeName?: string }).nodeName;
}

Deno.test("PodLifecycle: a pod is scheduled after scheduleDelayMs and Ready after readyDelayMs", async () => {
  const cluster = new SimCluster({ scheduleDelayMs: 100, readyDelayMs: 2000 });
  cluster.server.create(pod("p"));
  await cluster.run({ maxVirtualMs: 99 });
  assert.equal(phase(getPod(cluster, "p")), "Pending");
  assert.equal(nodeOf(getPod(cluster, "p")), undefined);
  await cluster.run({ maxVirtualMs: 1 });
  const running = getPod(cluster, "p");
  assert.equal(phase(running), "Running");
  assert.equal(nodeOf(running), "node-1");
  assert.equal(isPodReady(running), false);
  const statuses =
    (running.status as { containerStatuses: Record<string, unknown>[] }).containerStatuses;
  assert.deepEqual(statuses.map((s) => [s.name, s.started, s.ready]), [["main", true, false]]);
  await cluster.run({ maxVirtualMs: 1999 });
  assert.equal(isPodReady(getPod(cluster, "p")), false);
  const result = await cluster.run({ maxVirtualMs: 10_000 });
  assert.ok(result.quiescent);
  assert.equal(result.virtualMs, 1);
  const ready = getPod(cluster, "p");
  assert.ok(isPodReady(ready));
  const conditions =
    (ready.status as { conditions: { type: string; status: string }[] }).conditions;
  assert.deepEqual(
    conditions.map((c) => `${c.type}=${c.status}`).sort(),
    ["ContainersReady=True", "Initialized=True", "PodScheduled=True", "Ready=True"],
  );
});

Deno.test("PodLifecycle: pods spread round-robin over the nodes", async () => {
  const cluster = new SimCluster({ nodes: ["a", "b"] });
  for (const name of ["p0", "p1", "p2"]) cluster.server.create(pod(name));
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.deepEqual(["p0", "p1", "p2"].map((n) => nodeOf(getPod(cluster, n))), ["a", "b", "a"]);
});

Deno.test("PodLifecycle: a claim is Bound after bindDelayMs with a volume and the requested capacity", async () => {
  const cluster = new SimCluster({ bindDelayMs: 50 });
  const created = cluster.server.create(claim("data"));
  await cluster.run({ maxVirtualMs: 49 });
  assert.equal(phase(cluster.server.get(PVC, "data", "default")), "Pending");
  await cluster.run({ maxVirtualMs: 10_000 });
  const bound = cluster.server.get(PVC, "data", "default");
  assert.deepEqual(bound.status, {
    phase: "Bound",
    accessModes: ["ReadWriteOnce"],
    capacity: { storage: "5Gi" },
  });
  assert.equal(
    (bound.spec as { volumeName: string }).volumeName,
    `pv-${created.metadata.uid!.slice(0, 8)}`,
  );
});

Deno.test("PodLifecycle: a pod waits until its claim exists and is Bound", async () => {
  const cluster = new SimCluster();
  cluster.server.create(pod("p", "data"));
  await cluster.run({ maxVirtualMs: 5_000 });
  assert.equal(phase(getPod(cluster, "p")), "Pending");
  assert.equal(nodeOf(getPod(cluster, "p")), undefined);
  cluster.server.create(claim("data"));
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.ok(isPodReady(getPod(cluster, "p")));
});

Deno.test("PodLifecycle: crashPod makes a pod unready, counts a restart and it recovers", async () => {
  const cluster = new SimCluster({ readyDelayMs: 1000 });
  cluster.server.create(pod("p"));
  await cluster.run({ maxVirtualMs: 10_000 });
  cluster.pods.crashPod("default", "p");
  const crashed = getPod(cluster, "p");
  assert.equal(isPodReady(crashed), false);
  const statuses =
    (crashed.status as { containerStatuses: { restartCount: number }[] }).containerStatuses;
  assert.equal(statuses[0]!.restartCount, 1);
  await cluster.run({ maxVirtualMs: 999 });
  assert.equal(isPodReady(getPod(cluster, "p")), false);
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.ok(isPodReady(getPod(cluster, "p")));
});

Deno.test("PodLifecycle: a lost node loses its pods and gets no new ones", async () => {
  const cluster = new SimCluster({ nodes: ["a", "b"] });
  cluster.server.create(pod("p0"));
  cluster.server.create(pod("p1"));
  await cluster.run({ maxVirtualMs: 10_000 });
  cluster.pods.setNodeLost("a");
  assert.equal(cluster.server.peek(POD, "p0", "default"), undefined);
  assert.ok(cluster.server.peek(POD, "p1", "default"));
  cluster.server.create(pod("p2"));
  cluster.server.create(pod("p3"));
  await cluster.run({ maxVirtualMs: 10_000 });
  assert.equal(nodeOf(getPod(cluster, "p2")), "b");
  assert.equal(nodeOf(getPod(cluster, "p3")), "b");
});

Deno.test("PodLifecycle: keepPodsUnready holds readiness until it is cleared", async () => {
  const cluster = new SimCluster({ keepPodsUnready: true });
  cluster.server.create(pod("p"));
  const held = await cluster.run({ maxVirtualMs: 60_000 });
  assert.ok(held.quiescent);
  assert.equal(phase(getPod(cluster, "p")), "Running");
  assert.equal(isPodReady(getPod(cluster, "p")), false);
  cluster.pods.keepPodsUnready = false;
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.ok(isPodReady(getPod(cluster, "p")));
});

Deno.test("PodLifecycle: readyJitterMs delays readiness by a seeded amount within the bound", async () => {
  async function readyAtMs(seed: number): Promise<number[]> {
    const cluster = new SimCluster({ seed, readyDelayMs: 1000, readyJitterMs: 500 });
    const start = cluster.nowMs();
    const times = new Map<string, number>();
    cluster.server.subscribe((change) => {
      const name = change.object.metadata.name;
      if (change.resource.kind === "Pod" && isPodReady(change.object) && !times.has(name)) {
        times.set(name, cluster.nowMs() - start);
      }
    });
    for (const name of ["a", "b", "c", "d"]) cluster.server.create(pod(name));
    await cluster.run({ maxVirtualMs: 60_000 });
    return ["a", "b", "c", "d"].map((name) => times.get(name)!);
  }
  const first = await readyAtMs(5);
  assert.deepEqual(await readyAtMs(5), first, "the same seed gives the same delays");
  for (const atMs of first) assert.ok(atMs >= 1100 && atMs <= 1600, `ready at ${atMs}`);
  assert.ok(new Set(first).size > 1, `jitter varies the delays: ${first}`);
});
