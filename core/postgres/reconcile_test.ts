// Goal: the PostgresDB decisions, table by table, on plain observed snapshots (no cluster).
import assert from "node:assert/strict";
import type { Action } from "../actions.ts";
import type { KubeObject } from "../object.ts";
import { observe } from "../reconciler.ts";
import {
  classify,
  credentialsLiveReads,
  postgresReconciler,
  reconcilePostgresDB,
} from "./reconcile.ts";
import { ROLE_LABEL } from "./labels.ts";
import { REPORT_ANNOTATION } from "./replication.ts";
import type { PostgresDB } from "./types.ts";
import { random, sample, stored } from "../../tests/support/fixtures.ts";

const NOW = Date.UTC(2026, 0, 1);

// deno-lint-ignore no-explicit-any
type Any = any;

function run(db: PostgresDB, others: KubeObject[] = []): Action[] {
  return reconcilePostgresDB(observe(db, others), { nowMs: NOW, random: random() }).actions;
}

function kinds(actions: Action[]): string[] {
  return actions.map((a) =>
    a.kind === "create" || a.kind === "apply"
      ? `${a.kind} ${a.object.kind}`
      : a.kind === "emitEvent"
      ? `event ${a.eventReason}`
      : a.kind
  );
}

/** A pod of the StatefulSet, as its controller stores it. */
function pod(sts: KubeObject, ordinal: number): KubeObject {
  return stored({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${sts.metadata.name}-${ordinal}`,
      namespace: "default",
      labels: { ...(sts.spec as Any).template.metadata.labels },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        name: sts.metadata.name,
        uid: sts.metadata.uid!,
        controller: true,
      }],
    },
  });
}

/** Converges a sample: children as the server stores them, StatefulSet ready, status written. */
function converged(db: PostgresDB, readyReplicas = 1): { db: PostgresDB; children: KubeObject[] } {
  const children = run(db).flatMap((a) =>
    a.kind === "create" || a.kind === "apply" ? [stored(a.object)] : []
  );
  const sts = children.find((c) => c.kind === "StatefulSet")!;
  sts.status = { observedGeneration: 1, replicas: readyReplicas, readyReplicas };
  for (let ordinal = 0; ordinal < readyReplicas; ordinal++) children.push(pod(sts, ordinal));
  const withStatus = structuredClone(db);
  for (let i = 0; i < 2; i++) {
    const patch = run(withStatus, children).find((a) => a.kind === "patchStatus");
    if (patch?.kind === "patchStatus") withStatus.status = patch.status;
  }
  return { db: withStatus, children };
}

Deno.test("reconcile() creates the Secret, the Services, the agents' identity and the StatefulSet for a new PostgresDB, reported by one Event", () => {
  const actions = run(sample());
  assert.deepEqual(kinds(actions), [
    "create Secret",
    "create Service",
    "create Service",
    "create Service",
    "create ServiceAccount",
    "create Role",
    "create RoleBinding",
    "create StatefulSet",
    "patchStatus",
    "event Created",
  ]);
  const created = actions.find((a) => a.kind === "emitEvent");
  assert.ok(created?.kind === "emitEvent");
  assert.equal(
    created.message,
    "Created Secret default/my-postgres-credentials, Service default/my-postgres, " +
      "Service default/my-postgres-rw, Service default/my-postgres-ro, " +
      "ServiceAccount default/my-postgres-instance, Role default/my-postgres-instance, " +
      "RoleBinding default/my-postgres-instance, StatefulSet default/my-postgres",
  );
  const status = actions.find((a) => a.kind === "patchStatus");
  assert.ok(status?.kind === "patchStatus");
  // Written after the creates succeeded: everything exists, no instance is ready yet.
  assert.equal(status.status.phase, "Creating");
  assert.equal(status.status.ready, false);
  assert.equal(status.status.readyInstances, 0);
  const ready = (status.status.conditions as { type: string; reason: string; message: string }[])
    .find((c) => c.type === "Ready");
  assert.equal(ready?.reason, "InstancesNotReady");
  assert.equal(ready?.message, "0/1 instances ready");
  assert.equal(
    status.status.connectionString,
    "postgresql://my-postgres-rw.default.svc.cluster.local:5432/myapp",
  );
  assert.equal(
    status.status.readOnlyConnectionString,
    "postgresql://my-postgres-ro.default.svc.cluster.local:5432/myapp",
  );
  assert.equal(status.status.targetPrimary, "my-postgres-0");
  assert.equal(status.status.primaryTerm, 1);
});

Deno.test("reconcile() makes zero writes once the cluster matches the spec", () => {
  const { db, children } = converged(sample());
  assert.equal(db.status?.phase, "Running");
  assert.equal(db.status?.ready, true);
  assert.deepEqual(run(db, children), []);
});

Deno.test("reconcile() creates the credentials Secret once and never rewrites it", () => {
  const { db, children } = converged(sample());
  const secret = children.find((c) => c.kind === "Secret")!;
  (secret.data as Record<string, string>).password = btoa("changed-by-user");
  const actions = run(db, children);
  assert.ok(
    !actions.some((a) => (a.kind === "create" || a.kind === "apply") && a.object.kind === "Secret"),
  );
});

Deno.test("reconcile() puts no password in the status or the StatefulSet", () => {
  const actions = run(sample());
  const secret = actions.find((a) => a.kind === "create");
  assert.ok(secret?.kind === "create");
  const password = (secret.object.stringData as Record<string, string>).password!;
  assert.equal(password.length, 24);
  for (const action of actions.filter((a) => a.kind !== "create")) {
    assert.ok(!JSON.stringify(action).includes(password), `${action.kind} leaks the password`);
  }
});

Deno.test("reconcile() puts a controller owner reference with the owner's uid on every child", () => {
  for (const policy of ["Retain", "Delete"]) {
    for (const action of run(sample({ deletionPolicy: policy }))) {
      if (action.kind !== "create" && action.kind !== "apply") continue;
      const refs = action.object.metadata.ownerReferences ?? [];
      // With Retain, the credentials live as long as the volumes they open: no owner.
      const owned = action.object.kind !== "Secret" || policy === "Delete";
      assert.deepEqual(
        refs.map((r) => [r.kind, r.uid, r.controller]),
        owned ? [["PostgresDB", "uid-1", true]] : [],
        `${action.object.kind} with ${policy}`,
      );
    }
  }
});

Deno.test("reconcile() keeps volumes and generated credentials together by the deletion policy", () => {
  for (const policy of ["Retain", "Delete"]) {
    const actions = run(sample({ deletionPolicy: policy }));
    const sts = actions.find((a) => a.kind === "create" && a.object.kind === "StatefulSet");
    assert.ok(sts?.kind === "create");
    assert.deepEqual((sts.object.spec as Any).persistentVolumeClaimRetentionPolicy, {
      whenDeleted: policy,
      whenScaled: "Retain",
    });
    const secret = actions.find((a) => a.kind === "create" && a.object.kind === "Secret");
    assert.ok(secret?.kind === "create");
    assert.equal(
      secret.object.metadata.annotations?.["database.thegeekyway.com/credentials"],
      "generated",
    );
  }
});

Deno.test("reconcile() uses a retained Secret of an earlier PostgresDB as it is", () => {
  const [created] = run(sample());
  assert.ok(created?.kind === "create" && created.object.kind === "Secret");
  const retained = stored(structuredClone(created.object));
  const actions = run(sample(), [volume("data-my-postgres-0"), retained]);
  assert.ok(
    !actions.some((a) => a.kind !== "patchStatus" && "object" in a && a.object.kind === "Secret"),
    kinds(actions).join(),
  );
  assert.ok(actions.some((a) => a.kind === "create" && a.object.kind === "StatefulSet"));
});

Deno.test("reconcile() asks for live reads of the Secret and the volumes only when no Secret is cached", () => {
  const reads = credentialsLiveReads(observe(sample(), []));
  assert.deepEqual(reads.map((r) => [r.type.kind, r.name]), [
    ["Secret", "my-postgres-credentials"],
    ["PersistentVolumeClaim", undefined],
  ]);
  assert.deepEqual(credentialsLiveReads(observe(sample(), [userSecret()])), []);
});

Deno.test("reconcile() scales the StatefulSet and is not Ready until the new instances are", () => {
  const { db, children } = converged(sample());
  const scaled = structuredClone(db);
  scaled.spec!.replicas = 3;
  scaled.metadata.generation = 2;
  const actions = run(scaled, children);
  assert.deepEqual(kinds(actions), ["update", "patchStatus", "event Scaled"]);
  const update = actions[0];
  assert.ok(update?.kind === "update");
  assert.equal((update.object.spec as { replicas: number }).replicas, 3);
  const sts = children.find((c) => c.kind === "StatefulSet")!;
  assert.equal(
    update.object.metadata.resourceVersion,
    sts.metadata.resourceVersion,
    "of the version read",
  );
  assert.equal(update.object.status, undefined);
  const status = actions[1];
  assert.ok(status?.kind === "patchStatus");
  assert.equal(status.status.ready, false);
});

Deno.test("reconcile() never updates a StatefulSet's claim templates when storage changes", () => {
  const { db, children } = converged(sample());
  const bigger = structuredClone(db);
  bigger.spec!.storage = "5Gi";
  bigger.metadata.generation = 2;
  const actions = run(bigger, children);
  for (const action of actions) {
    if (action.kind !== "update" || action.object.kind !== "StatefulSet") continue;
    const claims = (action.object.spec as { volumeClaimTemplates: unknown }).volumeClaimTemplates;
    const before = (children.find((c) => c.kind === "StatefulSet")!.spec as {
      volumeClaimTemplates: unknown;
    }).volumeClaimTemplates;
    assert.deepEqual(claims, before, "no write to an immutable field");
  }
  const status = actions.find((a) => a.kind === "patchStatus");
  assert.ok(status?.kind === "patchStatus");
  const conditions = status.status.conditions as { type: string; reason: string }[];
  // No volume exists yet: the claim template follows through a re-created StatefulSet.
  assert.ok(conditions.some((c) => c.type === "VolumeResize" && c.reason === "Resizing"));
  assert.equal((status.status.storage as { phase: string }).phase, "Recreating");
});

Deno.test("reconcile() refuses a changed databaseName: the Secret records the initialised one", () => {
  const { db, children } = converged(sample());
  const renamed = structuredClone(db);
  renamed.spec!.databaseName = "other";
  const actions = run(renamed, children);
  assert.deepEqual(kinds(actions), ["patchStatus", "event InvalidSpec"]);
  const status = actions[0];
  assert.ok(status?.kind === "patchStatus");
  assert.match(JSON.stringify(status.status), /databaseName.*cannot change/);
});

Deno.test("reconcile() waits for the children of an earlier PostgresDB of the same name", () => {
  const { children } = converged(sample());
  const recreated = sample({}, { uid: "uid-2" });
  assert.equal(classify(observe(recreated, children)).kind, "blocked");
  const actions = run(recreated, children);
  assert.deepEqual(kinds(actions), ["patchStatus"]);
  const status = actions[0];
  assert.ok(status?.kind === "patchStatus");
  assert.match(JSON.stringify(status.status), /WaitingForPreviousChildren/);
});

Deno.test("reconcile() never overwrites a same-named object it does not control", () => {
  const foreign = stored({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "my-postgres-credentials", namespace: "default" },
    data: { password: btoa("users-own") },
  });
  const actions = run(sample(), [foreign]);
  assert.deepEqual(kinds(actions), ["patchStatus", "event ChildConflict"]);
});

Deno.test("reconcile() does nothing for a PostgresDB being deleted", () => {
  const { db, children } = converged(sample());
  db.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  children.splice(1, 1);
  assert.deepEqual(run(db, children), []);
});

Deno.test("reconcile() reports Ready only for the generation the StatefulSet has seen", () => {
  const { db, children } = converged(sample());
  const sts = children.find((c) => c.kind === "StatefulSet")!;
  sts.metadata.generation = 2;
  const actions = run(db, children);
  const status = actions.find((a) => a.kind === "patchStatus");
  assert.ok(status?.kind === "patchStatus");
  assert.equal(status.status.ready, false);
  assert.equal(status.status.phase, "Creating");
});

function volume(name: string): KubeObject {
  return stored({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default" },
  });
}

function userSecret(database = "myapp"): KubeObject {
  return stored({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "my-postgres-credentials", namespace: "default" },
    stringData: { username: "postgres", password: "kept-by-the-user", database },
  });
}

Deno.test("reconcile() asks for the credentials instead of inventing them over existing volumes", () => {
  const actions = run(sample(), [volume("data-my-postgres-0"), volume("data-my-postgres-1")]);
  assert.deepEqual(kinds(actions), ["patchStatus", "event CredentialsMissing", "requeueAfter"]);
  const status = actions[0];
  assert.ok(status?.kind === "patchStatus");
  assert.equal(status.status.ready, false);
  assert.match(
    JSON.stringify(status.status),
    /CredentialsMissing.*data-my-postgres-0, data-my-postgres-1 already hold a database/,
  );
});

Deno.test("reconcile() adopts a user's Secret with no owner, writing only labels", () => {
  const actions = run(sample(), [volume("data-my-postgres-0"), userSecret()]);
  const adopt = actions[0];
  assert.ok(adopt?.kind === "apply" && adopt.object.kind === "Secret", kinds(actions).join());
  assert.equal(adopt.object.stringData, undefined, "no data written");
  assert.equal(adopt.object.data, undefined);
  assert.equal(adopt.object.metadata.ownerReferences, undefined, "never garbage-collected");
  assert.equal(adopt.object.metadata.labels?.["app.kubernetes.io/managed-by"], "postgres-operator");
  assert.ok(!actions.some((a) => a.kind === "create" && a.object.kind === "Secret"));
  assert.ok(actions.some((a) => a.kind === "emitEvent" && a.eventReason === "Adopted"));
});

Deno.test("reconcile() refuses adopted credentials initialised for another database", () => {
  const actions = run(sample(), [userSecret("otherdb")]);
  assert.deepEqual(kinds(actions), ["patchStatus", "event InvalidSpec"]);
});

Deno.test("reconcile() does not adopt a Secret another controller owns", () => {
  const owned = userSecret();
  owned.metadata.ownerReferences = [{
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "x",
    uid: "other",
    controller: true,
  }];
  assert.deepEqual(kinds(run(sample(), [owned])), ["patchStatus", "event ChildConflict"]);
});

Deno.test("reconcile() writes nothing from a view older than the StatefulSet it wrote", () => {
  const { db, children } = converged(sample());
  const newer = structuredClone(db);
  newer.spec!.replicas = 3;
  newer.metadata.generation = 2;
  const written = run(newer, children).find((a) => a.kind === "update");
  assert.ok(written?.kind === "update");
  const sts = stored(written.object, { observedGeneration: 1, replicas: 1, readyReplicas: 1 });
  const others = children.map((c) => c.kind === "StatefulSet" ? sts : c);
  // A restarted operator listed from a server that is behind: it sees generation 1 again.
  assert.equal(classify(observe(db, others)).kind, "staleView");
  assert.deepEqual(run(db, others), [], "it does not scale back to 1");
});

Deno.test("reconcile() is not Ready while a rollout has not updated every instance", () => {
  const { db, children } = converged(sample({ replicas: 2 }), 2);
  const sts = children.find((c) => c.kind === "StatefulSet")!;
  sts.status = { observedGeneration: 1, replicas: 2, readyReplicas: 2, updatedReplicas: 1 };
  const status = run(db, children).find((a) => a.kind === "patchStatus");
  assert.ok(status?.kind === "patchStatus");
  assert.equal(status.status.ready, false, "old pods ready is not ready");
});

Deno.test("postgresReconciler wakes a PostgresDB on its pods' reports and role labels, not on kubelet status", () => {
  const watch = postgresReconciler.watches!.find((w) => w.type.kind === "Pod")!;
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "db-0",
      namespace: "default",
      uid: "p1",
      labels: { "app.kubernetes.io/instance": "db", "app.kubernetes.io/name": "postgres" },
    },
    status: { phase: "Pending" },
  };
  const key = watch.keyOf!(pod);
  assert.equal(key, "default/db", "an added pod wakes it");
  assert.equal(watch.keyOf!({ ...pod, status: { phase: "Running" } }, pod), undefined);
  const reported = {
    ...pod,
    metadata: { ...pod.metadata, annotations: { [REPORT_ANNOTATION]: "{}" } },
  };
  assert.equal(watch.keyOf!(reported, pod), key);
  const labelled = {
    ...pod,
    metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, [ROLE_LABEL]: "primary" } },
  };
  assert.equal(watch.keyOf!(labelled, pod), key);
});

Deno.test("reconcile() is not Ready on a StatefulSet's report when the cache shows none of its pods", () => {
  // A restarted operator relisted StatefulSets from an older snapshot: it sees the one a user
  // deleted, still reporting its ready pod, while the pod it sees belongs to the successor.
  const { db, children } = converged(sample());
  const others = children.map((c) => {
    if (c.kind !== "Pod") return c;
    const successor = structuredClone(c);
    successor.metadata.ownerReferences![0]!.uid = "successor-statefulset";
    return successor;
  });
  const status = run(db, others).find((a) => a.kind === "patchStatus");
  assert.ok(status?.kind === "patchStatus");
  assert.equal(status.status.ready, false);
  assert.equal(status.status.readyReplicas, 0);
});
