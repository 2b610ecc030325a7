// Goal: a child edited by hand is put back, within bounded virtual time, and the PostgresDB is not
// Ready while its Service is wrong. The edits are the ones a user makes with `kubectl patch` or
// `kubectl edit` (an update of the version read, by another field manager); the simulated server
// merges the operator's re-apply as a real one does (lists by their keys), so an intent that
// collides with the user's edit is rejected here as it is on a real server.
// Method: the real runtime and reconciler against SimCluster on virtual time, one seed per test.
import assert from "node:assert/strict";
import type { KubeObject } from "../../core/object.ts";
import { sampleYaml, type TestWorld, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Ten virtual minutes: ample for a repair, short of the forever a rejected write loops. */
const REPAIR_BOUND_MS = 600_000;

/** Converges the sample, edits one child as a user would, then converges again. */
async function editAndConverge(
  seed: number,
  kind: string,
  name: string,
  edit: (object: Any) => void,
): Promise<TestWorld> {
  const w = await world(seed);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const user = w.cluster.client({ name: "kubectl-edit" });
  const stored = structuredClone(w.find(kind, name)) as KubeObject;
  edit(stored);
  await w.cluster.request(user.update(stored), { maxVirtualMs: 60_000 });
  await w.converge(REPAIR_BOUND_MS);
  return w;
}

/** `name port->targetPort/protocol` of each Service port. */
function ports(w: TestWorld): string[] {
  const svc = w.find("Service", "my-postgres") as Any;
  return svc.spec.ports.map((p: Any) => `${p.name} ${p.port}->${p.targetPort}/${p.protocol}`);
}

const WANT_PORTS = ["postgres 5432->5432/TCP"];

Deno.test("PostgresDB: drift: a Service port changed by hand is put back", async () => {
  const w = await editAndConverge(11, "Service", "my-postgres", (svc) => {
    svc.spec.ports[0].port = 5433;
  });
  assert.deepEqual(ports(w), WANT_PORTS);
  assert.equal(w.db("my-postgres").status?.ready, true);
  await w.controller.stop();
});

Deno.test("PostgresDB: drift: a Service targetPort changed by hand is put back", async () => {
  const w = await editAndConverge(12, "Service", "my-postgres", (svc) => {
    svc.spec.ports[0].targetPort = 6432;
  });
  assert.deepEqual(ports(w), WANT_PORTS);
  await w.controller.stop();
});

Deno.test("PostgresDB: drift: a port added to the Service by hand is removed", async () => {
  const w = await editAndConverge(13, "Service", "my-postgres", (svc) => {
    svc.spec.ports.push({ name: "extra", port: 7000, targetPort: 7000, protocol: "TCP" });
  });
  assert.deepEqual(ports(w), WANT_PORTS);
  await w.controller.stop();
});

Deno.test("PostgresDB: drift: a Service selector changed by hand is put back", async () => {
  const w = await editAndConverge(14, "Service", "my-postgres", (svc) => {
    svc.spec.selector = { ...svc.spec.selector, tier: "other" };
  });
  const svc = w.find("Service", "my-postgres") as Any;
  assert.deepEqual(svc.spec.selector, {
    "app.kubernetes.io/name": "postgres",
    "app.kubernetes.io/instance": "my-postgres",
  });
  await w.controller.stop();
});

Deno.test("PostgresDB: drift: a StatefulSet image and env changed by hand are put back", async () => {
  const w = await editAndConverge(15, "StatefulSet", "my-postgres", (sts) => {
    const container = sts.spec.template.spec.containers[0];
    container.image = "postgres:evil";
    container.env = container.env.filter((e: Any) => e.name !== "PGDATA");
  });
  const container = (w.find("StatefulSet", "my-postgres") as Any).spec.template.spec.containers[0];
  assert.equal(container.image, "postgres:16");
  assert.ok(container.env.some((e: Any) => e.name === "PGDATA"));
  assert.equal(w.db("my-postgres").status?.ready, true);
  await w.controller.stop();
});

Deno.test("PostgresDB: drift: a label removed from the credentials Secret is put back, data untouched", async () => {
  const w = await world(16);
  await w.applyYaml(sampleYaml());
  await w.converge();
  const before = w.find("Secret", "my-postgres-credentials") as Any;
  const edited = structuredClone(before);
  delete edited.metadata.labels["app.kubernetes.io/managed-by"];
  edited.metadata.labels["app.kubernetes.io/instance"] = "someone-else";
  const user = w.cluster.client({ name: "kubectl-edit" });
  await w.cluster.request(user.update(edited), { maxVirtualMs: 60_000 });
  await w.converge(REPAIR_BOUND_MS);
  const after = w.find("Secret", "my-postgres-credentials") as Any;
  assert.equal(after.metadata.labels["app.kubernetes.io/managed-by"], "postgres-operator");
  assert.equal(after.metadata.labels["app.kubernetes.io/instance"], "my-postgres");
  assert.deepEqual(after.data, before.data);
  await w.controller.stop();
});
