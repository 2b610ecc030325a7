// Goal: the ClusterRole and Role in deploy/ grant exactly what the operator uses: every call the
// operator makes is allowed, and every permission granted is used by some call.
// Method: the operator as `deno task start` wires it (the PostgresDB controller on a Manager:
// event rate limit, leader election, fence) runs in the simulated cluster through a client that records the RBAC
// permission of each call, over a story that exercises every action: create, scale (apply), an
// invalid spec (Warning event), a child conflict, a user's Secret adopted, a backup and a restore,
// a major upgrade
// invalid spec (Warning event), a storage growth, a child conflict, a user's Secret adopted, a backup and a restore
// (the backup controller's Jobs), deletion, and a clean stop (Lease release).
import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { backupReconciler } from "../core/backup/reconcile.ts";
import { POSTGRESDB, SERVICE } from "../core/postgres/types.ts";
import { INSTANCE_RULES } from "../core/postgres/instance_rbac.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { Manager } from "../runtime/manager.ts";
import { SimCluster } from "../sim/cluster.ts";
import {
  type Access,
  accessesFor,
  accessFor,
  accessKey,
  accessKeys,
  allows,
  LEADER_ELECTION_RULES,
  OPERATOR_RULES,
  recordAccess,
} from "./rbac.ts";

/** The tutorial's PostgresDB with overrides. */
function postgresDB(
  overrides: { name?: string; storage?: string; replicas?: number; version?: string } = {},
): KubeObject {
  const { name = "my-postgres", ...spec } = overrides;
  return {
    ...POSTGRESDB,
    metadata: { name, namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "myapp", ...spec },
  };
}

async function operatorAccesses(seed: number): Promise<Access[]> {
  const cluster = new SimCluster({ seed });
  const user = cluster.client({ name: "kubectl" });
  const apply = async (object: KubeObject) => {
    await cluster.request(user.apply(object, { fieldManager: "kubectl" }));
  };
  for (const { crd } of CRDS) await apply(crd);
  const accesses: Access[] = [];
  const manager = new Manager(
    recordAccess(cluster.client({ name: "postgres-operator" }), (a) => accesses.push(a)),
    {
      clock: cluster.clock,
      random: cluster.random.fork(),
      watchInactivityMs: 0,
      leaderElection: { namespace: "default", name: "pgop-leader", identity: "pod-a" },
    },
  );
  const controller = manager.add(postgresReconciler);
  manager.add(backupReconciler);
  manager.start();
  const settle = () => cluster.run({ maxVirtualMs: 120_000 });
  await settle();
  await apply(postgresDB());
  await settle();
  await apply(postgresDB({ replicas: 3 }));
  await settle();
  // A new minor version: the rolling update deletes the pods one at a time.
  await apply(postgresDB({ replicas: 3, version: "16.6" }));
  await settle();
  // A larger storage: the volumes grow (updates), the StatefulSet is orphaned and created again.
  await apply(postgresDB({ replicas: 3, version: "16.6", storage: "2Gi" }));
  await settle();
  // A hand edit of the Service's port: repaired by an update of the version read.
  const service = await cluster.request(user.get(SERVICE, "my-postgres", "default"));
  (service.spec as { ports: { port: number }[] }).ports[0]!.port = 5433;
  await cluster.request(user.update(service));
  await settle();
  await apply(postgresDB({ name: "broken", storage: "0" }));
  // A Service of someone else under the name a PostgresDB wants: ChildConflict.
  await apply({
    ...SERVICE,
    metadata: { name: "taken", namespace: "default" },
    spec: { ports: [{ port: 5432 }] },
  });
  await apply(postgresDB({ name: "taken" }));
  // A user's credentials Secret without an owner: adopted by a server-side apply.
  await apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "adopted-credentials", namespace: "default" },
    data: { username: "cG9zdGdyZXM=", password: "c2VjcmV0", database: "bXlhcHA=" },
  });
  await apply(postgresDB({ name: "adopted" }));
  await settle();
  // A hand edit of a label the operator sets on its Service (as `kubectl label --overwrite`).
  const labelled = await cluster.request(user.get(SERVICE, "my-postgres", "default"));
  labelled.metadata.labels = {
    ...labelled.metadata.labels,
    "app.kubernetes.io/component": "edited-by-hand",
  };
  await cluster.request(user.update(labelled));
  await settle();
  // Hand edits of the agents' Role and RoleBinding: repaired by updates of the version read.
  const rbac = "rbac.authorization.k8s.io/v1";
  const role = await cluster.request(
    user.get({ apiVersion: rbac, kind: "Role" }, "my-postgres-instance", "default"),
  );
  role.rules = [];
  await cluster.request(user.update(role));
  const binding = await cluster.request(
    user.get({ apiVersion: rbac, kind: "RoleBinding" }, "my-postgres-instance", "default"),
  );
  binding.subjects = [];
  await cluster.request(user.update(binding));
  await settle();
  // A backup of my-postgres (its Job created, recorded, deleted), then a database restored from it.
  const store = cluster.objectStores.endpoint("http://s3.sim:9000");
  store.createBucket("backups");
  store.addCredentials("AKID", "SECRET");
  await apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "store", namespace: "default" },
    stringData: { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "SECRET" },
  });
  await apply({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresBackup",
    metadata: { name: "once", namespace: "default" },
    spec: {
      postgresRef: "my-postgres",
      destination: "s3://backups/pg/",
      endpoint: "http://s3.sim:9000",
      credentialsSecret: "store",
    },
  });
  await settle();
  await apply({
    ...postgresDB({ name: "copy" }),
    spec: { ...postgresDB().spec as object, restoreFrom: { backup: "once" } },
  });
  await settle();
  // A major upgrade of the restored copy: its volume's data-major annotation is updated.
  await apply({
    ...postgresDB({ name: "copy" }),
    spec: {
      ...postgresDB().spec as object,
      version: "17",
      majorUpgrade: "PgUpgrade",
      restoreFrom: { backup: "once" },
    },
  });
  await settle();
  await cluster.request(user.delete(POSTGRESDB, "my-postgres", "default"));
  await settle();
  await cluster.request(manager.stop());
  assert.ok(controller.stats.reconciles > 0, `the operator reconciled (seed ${seed})`);
  return accesses;
}

Deno.test("RBAC: the ClusterRole and Role allow every call the operator makes, and nothing it does not", async () => {
  const rules = [...OPERATOR_RULES, ...LEADER_ELECTION_RULES];
  const used = new Set<string>();
  for (const seed of [1, 2]) {
    for (const access of await operatorAccesses(seed)) {
      assert.ok(
        allows(rules, access),
        `${accessKey(access)} is used but not granted (seed ${seed})`,
      );
      used.add(accessKey(access));
    }
  }
  // Delegated permissions are held only to be granted to the agents' Role (escalation rule).
  const granted = accessKeys(rules.filter((r) => r.delegated !== true));
  const unused = [...granted].filter((key) => !used.has(key));
  assert.deepEqual(unused, [], "every granted permission is used");
  assert.deepEqual([...used].sort(), [...granted].sort());
});

Deno.test("accessFor() maps port calls to RBAC verbs: apply is patch, status is a subresource, events are core", () => {
  const sts = { apiVersion: "apps/v1", kind: "StatefulSet" };
  assert.deepEqual(accessFor("apply", sts), {
    apiGroup: "apps",
    resource: "statefulsets",
    verb: "patch",
  });
  assert.deepEqual(
    accessFor("patchStatus", {
      apiVersion: "database.thegeekyway.com/v1alpha1",
      kind: "PostgresDB",
    }),
    {
      apiGroup: "database.thegeekyway.com",
      resource: "postgresdbs/status",
      verb: "patch",
    },
  );
  assert.deepEqual(accessFor("createEvent", { apiVersion: "events.k8s.io/v1", kind: "Event" }), {
    apiGroup: "",
    resource: "events",
    verb: "create",
  });
  assert.deepEqual(accessesFor("apply", sts).map((a) => a.verb), ["patch", "create"]);
  assert.equal(
    accessFor("get", { apiVersion: "coordination.k8s.io/v1", kind: "Lease" }).resource,
    "leases",
  );
});

Deno.test("RBAC: no wildcards, and the operator's own leases only in the Role (the agents' are delegated)", () => {
  for (const rule of [...OPERATOR_RULES, ...LEADER_ELECTION_RULES]) {
    assert.ok(!rule.verbs.includes("*" as never) && rule.resource !== "*" && rule.apiGroup !== "*");
    assert.deepEqual([...rule.verbs], [...rule.verbs].sort(), `${rule.resource}: verbs sorted`);
  }
  assert.ok(!OPERATOR_RULES.some((r) => r.resource === "leases" && r.delegated !== true));
});

Deno.test("RBAC: the operator holds every permission it grants to the agents' Role (escalation rule)", () => {
  for (const rule of INSTANCE_RULES) {
    const r = rule as { apiGroups: string[]; resources: string[]; verbs: string[] };
    for (const apiGroup of r.apiGroups) {
      for (const resource of r.resources) {
        for (const verb of r.verbs) {
          const access = { apiGroup, resource, verb } as Access;
          assert.ok(
            allows(OPERATOR_RULES, access),
            `the agents get ${accessKey(access)}, which the operator does not hold`,
          );
        }
      }
    }
  }
});
