// Goal: the simulated API server answers as a real one does for versions, uids, conflicts,
// finalizers, the status subresource, immutable fields, defaulting, kinds and watches.
// Method: drive a bare SimApiServer on a VirtualClock synchronously and assert on its answers.

import assert from "node:assert/strict";
import { ApiError, isApiError, type WatchEvent } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import {
  CONFIG_MAP,
  configMap,
  drain,
  NAMESPACE,
  newServer,
  SECRET,
  SERVICE,
  STATEFUL_SET,
  statefulSet,
} from "./_testing.ts";
import type { StoreChange } from "./api_server.ts";

function rejects(fn: () => unknown, reason: ApiError["reason"], message?: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isApiError(error, reason), `expected ${reason}, got ${String(error)}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("SimApiServer: create assigns uid, resourceVersion and creationTimestamp", () => {
  const { server } = newServer();
  const before = Number(server.resourceVersion);
  const created = server.create(configMap("a", { k: "v" }));
  assert.match(
    created.metadata.uid ?? "",
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(created.metadata.resourceVersion, String(before + 1));
  assert.equal(server.resourceVersion, String(before + 1));
  assert.equal(created.metadata.creationTimestamp, "2026-01-01T00:00:00Z");
  assert.equal(created.metadata.generation, undefined, "ConfigMaps have no generation");
  assert.deepEqual(created.data, { k: "v" });
});

Deno.test("SimApiServer: update with a stale resourceVersion fails with Conflict", () => {
  const { server } = newServer();
  const created = server.create(statefulSet("x"));
  server.update({ ...created, spec: { ...created.spec as object, replicas: 2 } });
  rejects(
    () => server.update({ ...created, spec: { ...created.spec as object, replicas: 5 } }),
    "Conflict",
    'Operation cannot be fulfilled on statefulsets.apps "x": the object has been modified; please apply your changes to the latest version and try again',
  );
  const { resourceVersion: _, ...metadata } = created.metadata;
  const unconditional = server.update({
    ...created,
    metadata,
    spec: { ...created.spec as object, replicas: 5 },
  });
  assert.equal((unconditional.spec as { replicas: number }).replicas, 5);
});

Deno.test("SimApiServer: create of an existing name fails with AlreadyExists", () => {
  const { server } = newServer();
  server.create(statefulSet("x"));
  rejects(
    () => server.create(statefulSet("x")),
    "AlreadyExists",
    'statefulsets.apps "x" already exists',
  );
  server.create(statefulSet("x", {}, "kube-system"));
});

Deno.test("SimApiServer: get, update and delete of a missing object fail with NotFound", () => {
  const { server } = newServer();
  const message = 'statefulsets.apps "x" not found';
  rejects(() => server.get(STATEFUL_SET, "x", "default"), "NotFound", message);
  rejects(() => server.update(statefulSet("x")), "NotFound", message);
  rejects(() => server.delete(STATEFUL_SET, "x", "default"), "NotFound", message);
  rejects(() => server.get(CONFIG_MAP, "y"), "NotFound", 'configmaps "y" not found');
});

Deno.test("SimApiServer: a write that changes nothing bumps no version and emits no event", () => {
  const { clock, server } = newServer();
  server.create(configMap("a", { k: "v" }));
  // A first apply by a new manager records its ownership (a write); repeating it changes nothing.
  const created = server.apply(configMap("a", { k: "v" }), { fieldManager: "t" });
  const changes: StoreChange[] = [];
  server.subscribe((change) => changes.push(change));
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    resourceVersion: server.resourceVersion,
    onEvent: (event) => events.push(event),
    onDone: () => {},
  });
  const rv = server.resourceVersion;
  assert.equal(server.update(created).metadata.resourceVersion, rv);
  assert.equal(
    server.apply(configMap("a", { k: "v" }), { fieldManager: "t" }).metadata.resourceVersion,
    rv,
  );
  // Empty label maps normalise away, as the real server omits them.
  const withEmptyLabels = { ...created, metadata: { ...created.metadata, labels: {} } };
  assert.equal(server.update(withEmptyLabels).metadata.resourceVersion, rv);
  drain(clock);
  assert.equal(server.resourceVersion, rv);
  assert.equal(changes.length, 0);
  assert.equal(events.length, 0);
  server.update({ ...created, data: { k: "w" } });
  assert.equal(server.resourceVersion, String(Number(rv) + 1));
});

Deno.test("SimApiServer: a re-created object gets a new uid; delete precondition on the old uid fails", () => {
  const { server } = newServer();
  const first = server.create(configMap("a"));
  server.delete(CONFIG_MAP, "a", "default", { uid: first.metadata.uid! });
  const second = server.create(configMap("a"));
  assert.notEqual(second.metadata.uid, first.metadata.uid);
  rejects(
    () => server.delete(CONFIG_MAP, "a", "default", { uid: first.metadata.uid! }),
    "Conflict",
    `Operation cannot be fulfilled on ConfigMap "a": the UID in the precondition (${first.metadata.uid}) does not match the UID in record (${second.metadata.uid}). The object might have been deleted and then recreated`,
  );
  rejects(
    () => server.update({ ...second, metadata: { ...second.metadata, uid: first.metadata.uid! } }),
    "Conflict",
    /Precondition failed: UID in precondition/,
  );
  assert.equal(server.get(CONFIG_MAP, "a", "default").metadata.uid, second.metadata.uid);
});

Deno.test("SimApiServer: delete with a stale resourceVersion precondition fails with Conflict", () => {
  const { server } = newServer();
  const created = server.create(configMap("a"));
  server.update({ ...created, data: { changed: "yes" } });
  rejects(
    () =>
      server.delete(CONFIG_MAP, "a", "default", {
        resourceVersion: created.metadata.resourceVersion!,
      }),
    "Conflict",
    /the ResourceVersion in the precondition \(\d+\) does not match the ResourceVersion in record/,
  );
  assert.ok(server.peek(CONFIG_MAP, "a", "default"));
});

Deno.test("SimApiServer: list filters by namespace and labels, sorts, and returns copies", () => {
  const { server } = newServer();
  for (
    const [name, ns, app] of [["b", "default", "x"], ["a", "default", "x"], [
      "c",
      "kube-system",
      "x",
    ], ["d", "default", "y"]]
  ) {
    server.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: name!, namespace: ns!, labels: { app: app! } },
    });
  }
  const all = server.list(CONFIG_MAP);
  assert.deepEqual(all.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), [
    "default/a",
    "default/b",
    "default/d",
    "kube-system/c",
  ]);
  assert.equal(all.resourceVersion, server.resourceVersion);
  const selected = server.list(CONFIG_MAP, { namespace: "default", labelSelector: { app: "x" } });
  assert.deepEqual(selected.items.map((o) => o.metadata.name), ["a", "b"]);
  selected.items[0]!.metadata.name = "mutated";
  assert.equal(server.list(CONFIG_MAP, { namespace: "default" }).items[0]!.metadata.name, "a");
});

Deno.test("SimApiServer: generateName appends five random characters", () => {
  const { server } = newServer();
  const a = server.create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "", generateName: "job-", namespace: "default" },
  });
  const b = server.create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "", generateName: "job-", namespace: "default" },
  });
  assert.match(a.metadata.name, /^job-[a-z0-9]{5}$/);
  assert.notEqual(a.metadata.name, b.metadata.name);
  rejects(
    () => server.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "" } }),
    "Invalid",
    /name or generateName is required/,
  );
});

Deno.test("SimApiServer: creating in a missing or terminating namespace fails", () => {
  const { server } = newServer();
  rejects(
    () => server.create({ ...configMap("a"), metadata: { name: "a", namespace: "nope" } }),
    "NotFound",
    'namespaces "nope" not found',
  );
  server.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
  server.create({
    ...configMap("keep"),
    metadata: { name: "keep", namespace: "team", finalizers: ["x/y"] },
  });
  server.delete(NAMESPACE, "team");
  rejects(
    () => server.create({ ...configMap("a"), metadata: { name: "a", namespace: "team" } }),
    "Forbidden",
    /being terminated/,
  );
  rejects(() => server.delete(NAMESPACE, "default"), "Forbidden", /may not be deleted/);
});

Deno.test("SimApiServer: finalizers hold a deleted object; removing the last one deletes it", () => {
  const { clock, server } = newServer();
  const created = server.create({
    ...configMap("a"),
    metadata: { name: "a", namespace: "default", finalizers: ["x.io/a", "x.io/b"] },
  });
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    resourceVersion: server.resourceVersion,
    onEvent: (e) => events.push(e),
    onDone: () => {},
  });
  clock.advanceTo(clock.nowMs() + 3000);
  server.delete(CONFIG_MAP, "a", "default");
  const terminating = server.get(CONFIG_MAP, "a", "default");
  assert.equal(terminating.metadata.deletionTimestamp, "2026-01-01T00:00:03Z");
  assert.equal(terminating.metadata.deletionGracePeriodSeconds, 0);
  const rv = server.resourceVersion;
  server.delete(CONFIG_MAP, "a", "default");
  assert.equal(server.resourceVersion, rv, "a second delete is a no-op");
  rejects(
    () =>
      server.update({
        ...terminating,
        metadata: { ...terminating.metadata, finalizers: ["x.io/a", "x.io/b", "x.io/c"] },
      }),
    "Invalid",
    'ConfigMap "a" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"x.io/c"}',
  );
  const one = server.update({
    ...terminating,
    metadata: { ...terminating.metadata, finalizers: ["x.io/b"] },
  });
  assert.deepEqual(one.metadata.finalizers, ["x.io/b"]);
  server.update({ ...one, metadata: { ...one.metadata, finalizers: [] } });
  assert.equal(server.peek(CONFIG_MAP, "a", "default"), undefined);
  drain(clock);
  assert.deepEqual(events.map((e) => e.type), ["MODIFIED", "MODIFIED", "DELETED"]);
  assert.notEqual(created.metadata.uid, undefined);
});

Deno.test("SimApiServer: status subresource: create drops status, update ignores it, patchStatus writes only status", () => {
  const { server } = newServer();
  const created = server.create({ ...statefulSet("s"), status: { replicas: 9 } });
  assert.equal(created.status, undefined);
  const updated = server.update({ ...created, status: { replicas: 7 } });
  assert.equal(
    updated.metadata.resourceVersion,
    created.metadata.resourceVersion,
    "status-only update is a no-op",
  );
  const patched = server.patchStatus({ ...STATEFUL_SET, name: "s", namespace: "default" }, {
    replicas: 3,
    readyReplicas: 1,
  });
  assert.deepEqual(patched.status, { replicas: 3, readyReplicas: 1 });
  assert.deepEqual(patched.spec, created.spec);
  assert.equal(patched.metadata.generation, 1);
  const merged = server.patchStatus({ ...STATEFUL_SET, name: "s" }, {
    readyReplicas: null,
    observedGeneration: 1,
  });
  assert.deepEqual(merged.status, { replicas: 3, observedGeneration: 1 });
  rejects(
    () =>
      server.patchStatus({ ...STATEFUL_SET, name: "s" }, { replicas: 4 }, {
        resourceVersion: created.metadata.resourceVersion!,
      }),
    "Conflict",
  );
  // Kinds without a status subresource keep status like any other field.
  const cm = server.create({ ...configMap("c"), status: { note: "kept" } });
  assert.deepEqual(cm.status, { note: "kept" });
});

Deno.test("SimApiServer: generation starts at 1 and increments only on spec changes", () => {
  const { server } = newServer();
  const created = server.create(statefulSet("s"));
  assert.equal(created.metadata.generation, 1);
  const labelled = server.update({
    ...created,
    metadata: { ...created.metadata, labels: { a: "b" } },
  });
  assert.equal(labelled.metadata.generation, 1);
  assert.notEqual(labelled.metadata.resourceVersion, created.metadata.resourceVersion);
  const statused = server.patchStatus({ ...STATEFUL_SET, name: "s" }, { replicas: 1 });
  assert.equal(statused.metadata.generation, 1);
  const scaled = server.update({ ...statused, spec: { ...statused.spec as object, replicas: 5 } });
  assert.equal(scaled.metadata.generation, 2);
});

Deno.test("SimApiServer: StatefulSet fields other than the mutable ones are immutable", () => {
  const { server } = newServer();
  const created = server.create(statefulSet("x"));
  const spec = created.spec as Record<string, unknown>;
  rejects(
    () => server.update({ ...created, spec: { ...spec, serviceName: "other" } }),
    "Invalid",
    "StatefulSet.apps \"x\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
  );
  rejects(
    () =>
      server.apply({ ...statefulSet("x"), spec: { volumeClaimTemplates: [] } }, {
        fieldManager: "t",
        force: true,
      }),
    "Invalid",
  );
  const ok = server.update({
    ...created,
    spec: {
      ...spec,
      replicas: 1,
      minReadySeconds: 5,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
      template: {
        metadata: { labels: { app: "x" } },
        spec: { containers: [{ name: "main", image: "postgres:17" }] },
      },
    },
  });
  assert.equal((ok.spec as { replicas: number }).replicas, 1);
  assert.equal(
    (ok.spec as { podManagementPolicy: string }).podManagementPolicy,
    "OrderedReady",
    "defaulted",
  );
});

Deno.test("SimApiServer: Services are defaulted; clusterIP is kept and immutable; headless gets none", () => {
  const { server } = newServer();
  const svc = server.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "db", namespace: "default" },
    spec: { selector: { app: "db" }, ports: [{ name: "pg", port: 5432 }] },
  });
  const spec = svc.spec as Record<string, unknown>;
  assert.equal(spec.type, "ClusterIP");
  assert.equal(spec.sessionAffinity, "None");
  assert.deepEqual(spec.ports, [{ name: "pg", port: 5432, protocol: "TCP", targetPort: 5432 }]);
  assert.match(String(spec.clusterIP), /^10\.96\.\d+\.\d+$/);
  const { clusterIP: _, clusterIPs: __, ...withoutIp } = spec;
  const again = server.update({ ...svc, spec: withoutIp });
  assert.equal(
    again.metadata.resourceVersion,
    svc.metadata.resourceVersion,
    "the allocated IP is kept",
  );
  rejects(
    () => server.update({ ...svc, spec: { ...spec, clusterIP: "10.96.9.9" } }),
    "Invalid",
    /spec\.clusterIPs\[0\]: Invalid value: \["10\.96\.9\.9"\]: may not change once set/,
  );
  const headless = server.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "h", namespace: "default" },
    spec: { clusterIP: "None", ports: [{ port: 5432 }] },
  });
  assert.equal((headless.spec as Record<string, unknown>).clusterIP, "None");
  assert.ok(server.get(SERVICE, "h", "default"));
});

Deno.test("SimApiServer: Secret stringData folds into base64 data; immutable data is rejected", () => {
  const { server } = newServer();
  const secret = server.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "creds", namespace: "default" },
    stringData: { password: "héllo" },
    immutable: true,
  });
  assert.equal(secret.stringData, undefined);
  assert.equal(secret.type, "Opaque");
  assert.deepEqual(secret.data, { password: "aMOpbGxv" });
  rejects(
    () => server.update({ ...secret, data: { password: "eA==" } }),
    "Invalid",
    /data: Forbidden: field is immutable/,
  );
  rejects(() => server.update({ ...secret, immutable: false }), "Invalid");
  const labelled = server.update({
    ...secret,
    metadata: { ...secret.metadata, labels: { a: "b" } },
  });
  assert.deepEqual(labelled.metadata.labels, { a: "b" });
  assert.ok(server.get(SECRET, "creds", "default"));
});

Deno.test("SimApiServer: unknown kinds fail with NotFound; a CRD registers its kind", () => {
  const { server } = newServer();
  const kind = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
  rejects(
    () => server.list(kind),
    "NotFound",
    'the server could not find the requested resource (kind "PostgresDB" in "database.thegeekyway.com/v1alpha1")',
  );
  server.apply({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "postgresdbs.database.thegeekyway.com" },
    spec: {
      group: "database.thegeekyway.com",
      scope: "Namespaced",
      names: { kind: "PostgresDB", plural: "postgresdbs" },
      versions: [{ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } }],
    },
  }, { fieldManager: "test" });
  const type = server.resourceType(kind);
  assert.deepEqual(type, {
    ...kind,
    plural: "postgresdbs",
    namespaced: true,
    statusSubresource: true,
    generation: true,
  });
  const db = server.create({
    ...kind,
    metadata: { name: "db", namespace: "default" },
    spec: { version: "16" },
    status: { phase: "x" },
  });
  assert.equal(db.status, undefined);
  assert.equal(db.metadata.generation, 1);
  rejects(
    () => server.get(kind, "nope", "default"),
    "NotFound",
    'postgresdbs.database.thegeekyway.com "nope" not found',
  );
  server.delete(
    { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" },
    "postgresdbs.database.thegeekyway.com",
  );
  assert.equal(server.resourceType(kind), undefined);
});

Deno.test("SimApiServer: apply creates, merges given fields and keeps other managers' fields", () => {
  const { server } = newServer();
  const created = server.apply(
    {
      ...configMap("a", { one: "1" }),
      metadata: { name: "a", namespace: "default", labels: { x: "1" } },
    },
    { fieldManager: "m" },
  );
  assert.equal(created.metadata.resourceVersion, server.resourceVersion);
  const merged = server.apply(
    {
      ...configMap("a", { two: "2" }),
      metadata: { name: "a", namespace: "default", labels: { y: "2" } },
    },
    { fieldManager: "other" },
  );
  assert.deepEqual(merged.data, { one: "1", two: "2" });
  assert.deepEqual(merged.metadata.labels, { x: "1", y: "2" });
  assert.equal(merged.metadata.uid, created.metadata.uid);
  rejects(
    () => server.apply(configMap("a"), { fieldManager: "" }),
    "BadRequest",
    /fieldManager: Required value/,
  );
  const sts = server.apply(statefulSet("s"), { fieldManager: "m" });
  const scaled = server.apply({ ...statefulSet("s"), spec: { replicas: 1 } }, {
    fieldManager: "scaler",
    force: true,
  });
  assert.equal((scaled.spec as { replicas: number }).replicas, 1);
  assert.deepEqual(
    (scaled.spec as { selector: unknown }).selector,
    (sts.spec as { selector: unknown }).selector,
  );
  assert.equal(scaled.metadata.generation, 2);
});

Deno.test("SimApiServer: objects are stored as copies, never shared with callers", () => {
  const { server } = newServer();
  const input: KubeObject = configMap("a", { k: "v" });
  const created = server.create(input);
  (input.data as Record<string, string>).k = "changed";
  (created.data as Record<string, string>).k = "changed";
  assert.deepEqual(server.get(CONFIG_MAP, "a", "default").data, { k: "v" });
});

Deno.test("SimApiServer: an invalid owner reference is rejected", () => {
  const { server } = newServer();
  rejects(
    () =>
      server.create({
        ...configMap("a"),
        metadata: {
          name: "a",
          namespace: "default",
          ownerReferences: [{ apiVersion: "v1", kind: "X", name: "x", uid: "" }],
        },
      }),
    "Invalid",
    /metadata\.ownerReferences\.uid: Invalid value: "": must not be empty/,
  );
  assert.ok(new ApiError("Invalid", "x").code === 422);
});
