/**
 * The API-semantics conformance cases: each runs through the cluster port against a
 * {@link ConformanceEnv}, the same code on the simulated cluster and on a real kube-apiserver. A
 * case that cannot hold on one implementation names it in `skip` with the reason; those
 * differences are listed in `sim/README.md` under "Known differences from a real API server".
 *
 * Most important first, after DESIGN.md "API-server semantics the simulated cluster must
 * reproduce".
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { ApiError, type ApiErrorReason, isApiError, type WatchEvent } from "../../core/cluster.ts";
import type { KubeObject, OwnerReference, TypeRef } from "../../core/object.ts";
import { type ConformanceEnv, type EnvKind, SIM_WATCH_HISTORY_EVENTS } from "./env.ts";

/** One API-semantics case. */
export interface ConformanceCase {
  /** What the case shows, as a sentence. */
  name: string;
  /** The implementations the case cannot hold on, with the reason. */
  skip?: Partial<Record<EnvKind, string>>;
  run(env: ConformanceEnv): Promise<void>;
}

const CONFIGMAP: TypeRef = { apiVersion: "v1", kind: "ConfigMap" };
const SECRET: TypeRef = { apiVersion: "v1", kind: "Secret" };
const SERVICE: TypeRef = { apiVersion: "v1", kind: "Service" };
const STATEFULSET: TypeRef = { apiVersion: "apps/v1", kind: "StatefulSet" };
const CRD: TypeRef = { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" };
const POSTGRESDB: TypeRef = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
/** A finalizer only these cases set and remove. */
const HOLD = "conformance.pgop.io/hold";
const FIELD_MANAGER = "pgop-conformance";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function configMap(
  env: ConformanceEnv,
  name: string,
  data: Record<string, string> = {},
  metadata: Partial<KubeObject["metadata"]> = {},
): KubeObject {
  return { ...CONFIGMAP, metadata: { ...metadata, name, namespace: env.namespace }, data };
}

function postgresDb(env: ConformanceEnv, name: string, spec: Record<string, unknown> = {}) {
  return {
    ...POSTGRESDB,
    metadata: { name, namespace: env.namespace },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app", ...spec },
  };
}

function statefulSet(env: ConformanceEnv, name: string): KubeObject {
  return {
    ...STATEFULSET,
    metadata: { name, namespace: env.namespace },
    spec: {
      replicas: 0,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "postgres", image: "postgres:16" }] },
      },
    },
  };
}

function ownerRef(owner: KubeObject, extra: Partial<OwnerReference> = {}): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    ...extra,
  };
}

/** Awaits `promise` and asserts it fails with an ApiError of `reason` (and `code`). */
async function expectApiError(
  promise: Promise<unknown>,
  reason: ApiErrorReason,
  code: number,
  message?: RegExp,
): Promise<ApiError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ApiError, `expected ApiError ${reason}, got ${caught}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** The object, or undefined when the server answers NotFound. */
async function find(
  env: ConformanceEnv,
  type: TypeRef,
  name: string,
): Promise<KubeObject | undefined> {
  try {
    return await env.client.get(type, name, env.namespace);
  } catch (error) {
    if (isApiError(error, "NotFound")) return undefined;
    throw error;
  }
}

/** Waits until the object is gone (NotFound). */
async function waitGone(env: ConformanceEnv, type: TypeRef, name: string): Promise<void> {
  await env.waitFor(
    `${type.kind} ${name} to be gone`,
    async () => (await find(env, type, name)) === undefined ? true : undefined,
  );
}

/** Removes `finalizer` from the object if it still exists, retrying on conflicts. */
async function removeFinalizer(
  env: ConformanceEnv,
  type: TypeRef,
  name: string,
  finalizer = HOLD,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await find(env, type, name);
    if (!current || !(current.metadata.finalizers ?? []).includes(finalizer)) return;
    const finalizers = current.metadata.finalizers!.filter((f) => f !== finalizer);
    try {
      await env.client.update({ ...current, metadata: { ...current.metadata, finalizers } });
      return;
    } catch (error) {
      if (!isApiError(error, "Conflict") && !isApiError(error, "NotFound")) throw error;
    }
  }
  throw new Error(`Could not remove finalizer ${finalizer} from ${type.kind} ${name}`);
}

// deno-lint-ignore no-explicit-any
type Any = any;

const MANAGER_A = "pgop-conformance-a";
const MANAGER_B = "pgop-conformance-b";
const PG_PORT = { name: "pg", port: 5432, targetPort: 5432, protocol: "TCP" };
const METRICS_PORT = { name: "metrics", port: 9187, targetPort: 9187, protocol: "TCP" };
const EXTRA_PORT = { name: "extra", port: 7000, targetPort: 7000, protocol: "TCP" };

/** A headless Service with these ports. */
function service(env: ConformanceEnv, name: string, ports: Record<string, unknown>[]): KubeObject {
  return {
    ...SERVICE,
    metadata: { name, namespace: env.namespace },
    spec: { clusterIP: "None", selector: { app: name }, ports },
  };
}

/** `name port/protocol` of each port of a Service, in order. */
function portsOf(service: KubeObject): string[] {
  return ((service.spec as Any).ports as Any[]).map((p) => `${p.name} ${p.port}/${p.protocol}`);
}

/** `manager operation` of each managedFields entry. */
function managersOf(object: KubeObject): string[] {
  return ((object.metadata.managedFields ?? []) as Any[]).map((e) => `${e.manager} ${e.operation}`);
}

/** Installs the PostgresDB CRD by server-side apply and waits until the kind is served. */
export async function ensurePostgresDbCrd(env: ConformanceEnv): Promise<void> {
  const text = await Deno.readTextFile(
    new URL("../../crds/database.thegeekyway.com_postgresdbs.yaml", import.meta.url),
  );
  for (const doc of parseAllDocuments(text)) {
    const crd = doc.toJSON() as KubeObject | null;
    if (!crd) continue;
    await env.client.apply(crd, { fieldManager: FIELD_MANAGER, force: true });
    await env.waitFor(`CRD ${crd.metadata.name} Established`, async () => {
      const stored = await env.client.get(CRD, crd.metadata.name);
      const conditions = (stored.status as { conditions?: { type: string; status: string }[] })
        ?.conditions;
      return conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? true
        : undefined;
    });
  }
  // Discovery of a just-established CRD can lag on a real server: poll through the client.
  await env.waitFor("PostgresDB to be served", async () => {
    try {
      await env.client.list(POSTGRESDB, { namespace: env.namespace });
      return true;
    } catch (error) {
      if (isApiError(error, "NotFound")) return undefined;
      throw error;
    }
  });
}

/** Records the events and the end of one watch. */
function watchRecorder() {
  const events: WatchEvent[] = [];
  const done: { error?: Error | undefined; calls: number } = { calls: 0 };
  return {
    events,
    done,
    onEvent: (event: WatchEvent) => void events.push(event),
    onDone: (error?: Error) => {
      done.calls++;
      done.error = error;
    },
    /** `TYPE name` of the events about objects named in `names` (bookmarks dropped). */
    about(names: string[]): string[] {
      return events.flatMap((e) =>
        e.type !== "BOOKMARK" && names.includes(e.object.metadata.name)
          ? [`${e.type} ${e.object.metadata.name}`]
          : []
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/** Every conformance case, most important first. */
export const CASES: readonly ConformanceCase[] = [
  {
    name: "create then get returns the stored object; a missing name answers NotFound (404)",
    async run(env) {
      const created = await env.client.create(configMap(env, "first", { a: "1" }));
      assert.ok(created.metadata.uid, "create sets a uid");
      assert.ok(created.metadata.resourceVersion, "create sets a resourceVersion");
      assert.ok(created.metadata.creationTimestamp, "create sets a creationTimestamp");
      assert.equal(created.metadata.namespace, env.namespace);
      const got = await env.client.get(CONFIGMAP, "first", env.namespace);
      assert.equal(got.metadata.uid, created.metadata.uid);
      assert.equal(got.metadata.resourceVersion, created.metadata.resourceVersion);
      assert.deepEqual(got.data, { a: "1" });
      const listed = await env.client.list(CONFIGMAP, { namespace: env.namespace });
      assert.ok(listed.items.some((item) => item.metadata.uid === created.metadata.uid));
      assert.ok(listed.resourceVersion, "a list carries the collection's resourceVersion");
      await expectApiError(
        env.client.get(CONFIGMAP, "missing", env.namespace),
        "NotFound",
        404,
        /^configmaps "missing" not found$/,
      );
    },
  },
  {
    name: "update with a stale resourceVersion answers Conflict (409)",
    async run(env) {
      const created = await env.client.create(configMap(env, "stale", { a: "1" }));
      const updated = await env.client.update({ ...created, data: { a: "2" } });
      assert.notEqual(updated.metadata.resourceVersion, created.metadata.resourceVersion);
      await expectApiError(
        env.client.update({ ...created, data: { a: "3" } }),
        "Conflict",
        409,
        /^Operation cannot be fulfilled on configmaps "stale": the object has been modified/,
      );
      const stored = await env.client.get(CONFIGMAP, "stale", env.namespace);
      assert.deepEqual(stored.data, { a: "2" }, "the rejected update changed nothing");
      const { resourceVersion: _, ...metadata } = created.metadata;
      const unconditional = await env.client.update({ ...created, metadata, data: { a: "4" } });
      assert.deepEqual(unconditional.data, { a: "4" }, "an update without a version is applied");
    },
  },
  {
    name: "create of an existing name answers AlreadyExists (409)",
    async run(env) {
      await env.client.create(configMap(env, "twice"));
      await expectApiError(
        env.client.create(configMap(env, "twice")),
        "AlreadyExists",
        409,
        /^configmaps "twice" already exists$/,
      );
    },
  },
  {
    name: "a write that changes nothing does not bump the resourceVersion",
    async run(env) {
      const created = await env.client.create(configMap(env, "same", { a: "1" }));
      const updated = await env.client.update(created);
      assert.equal(updated.metadata.resourceVersion, created.metadata.resourceVersion, "update");
      const applied = configMap(env, "applied", { a: "1" });
      const first = await env.client.apply(applied, { fieldManager: FIELD_MANAGER });
      const second = await env.client.apply(applied, { fieldManager: FIELD_MANAGER });
      assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion, "apply");
      await ensurePostgresDbCrd(env);
      const db = await env.client.create(postgresDb(env, "db"));
      const ref = { ...POSTGRESDB, name: "db", namespace: env.namespace };
      const patched = await env.client.patchStatus(ref, { phase: "Creating" });
      const again = await env.client.patchStatus(ref, { phase: "Creating" });
      assert.equal(again.metadata.resourceVersion, patched.metadata.resourceVersion, "status");
      const same = await env.client.update(again);
      assert.equal(same.metadata.resourceVersion, again.metadata.resourceVersion, "CR update");
      assert.equal(same.metadata.generation, db.metadata.generation);
    },
  },
  {
    name: "a re-created object gets a new uid",
    async run(env) {
      const first = await env.client.create(configMap(env, "again"));
      await env.client.delete(CONFIGMAP, "again", env.namespace);
      await waitGone(env, CONFIGMAP, "again");
      const second = await env.client.create(configMap(env, "again"));
      assert.ok(second.metadata.uid);
      assert.notEqual(second.metadata.uid, first.metadata.uid);
      await expectApiError(
        env.client.update({
          ...second,
          metadata: { ...second.metadata, uid: first.metadata.uid! },
        }),
        "Conflict",
        409,
        /Precondition failed: UID in precondition/,
      );
    },
  },
  {
    name: "delete with a wrong uid or resourceVersion precondition answers Conflict (409)",
    async run(env) {
      const created = await env.client.create(configMap(env, "guarded"));
      await expectApiError(
        env.client.delete(CONFIGMAP, "guarded", env.namespace, { uid: "not-the-uid" }),
        "Conflict",
        409,
        /"guarded": .*UID in (the )?precondition/,
      );
      const updated = await env.client.update({ ...created, data: { a: "2" } });
      await expectApiError(
        env.client.delete(CONFIGMAP, "guarded", env.namespace, {
          resourceVersion: created.metadata.resourceVersion!,
        }),
        "Conflict",
        409,
        /"guarded": .*ResourceVersion in (the )?precondition/,
      );
      assert.ok(await find(env, CONFIGMAP, "guarded"), "a failed precondition deletes nothing");
      await env.client.delete(CONFIGMAP, "guarded", env.namespace, {
        uid: created.metadata.uid!,
        resourceVersion: updated.metadata.resourceVersion!,
      });
      await waitGone(env, CONFIGMAP, "guarded");
      await expectApiError(
        env.client.delete(CONFIGMAP, "guarded", env.namespace),
        "NotFound",
        404,
        /^configmaps "guarded" not found$/,
      );
    },
  },
  {
    name:
      "exact messages: failed delete preconditions, a changed Service IP, StatefulSet immutable fields, an empty owner uid",
    async run(env) {
      const created = await env.client.create(configMap(env, "guarded"));
      const uid = created.metadata.uid!;
      await expectApiError(
        env.client.delete(CONFIGMAP, "guarded", env.namespace, { uid: "not-the-uid" }),
        "Conflict",
        409,
        new RegExp(
          `^Operation cannot be fulfilled on ConfigMap "guarded": the UID in the precondition \\(not-the-uid\\) does not match the UID in record \\(${uid}\\)\\. The object might have been deleted and then recreated$`,
        ),
      );
      const updated = await env.client.update({ ...created, data: { a: "2" } });
      const stale = created.metadata.resourceVersion!;
      const current = updated.metadata.resourceVersion!;
      await expectApiError(
        env.client.delete(CONFIGMAP, "guarded", env.namespace, { resourceVersion: stale }),
        "Conflict",
        409,
        new RegExp(
          `^Operation cannot be fulfilled on ConfigMap "guarded": the ResourceVersion in the precondition \\(${stale}\\) does not match the ResourceVersion in record \\(${current}\\)\\. The object might have been modified$`,
        ),
      );
      const service = await env.client.create({
        ...SERVICE,
        metadata: { name: "db", namespace: env.namespace },
        spec: { selector: { app: "db" }, ports: [{ name: "pg", port: 5432 }] },
      });
      const { clusterIPs: _, ...spec } = service.spec as Record<string, unknown>;
      await expectApiError(
        env.client.update({ ...service, spec: { ...spec, clusterIP: "None" } }),
        "Invalid",
        422,
        /^Service "db" is invalid: spec\.clusterIPs\[0\]: Invalid value: \["None"\]: may not change once set$/,
      );
      const sts = await env.client.create(statefulSet(env, "web"));
      const { resourceVersion: _rv, ...metadata } = sts.metadata;
      await expectApiError(
        env.client.update({
          ...sts,
          metadata,
          spec: { ...(sts.spec as Record<string, unknown>), serviceName: "other" },
        }),
        "Invalid",
        422,
        /^StatefulSet\.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden$/,
      );
      await expectApiError(
        env.client.create(
          configMap(env, "orphaned", {}, {
            ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "" }],
          }),
        ),
        "Invalid",
        422,
        /^ConfigMap "orphaned" is invalid: metadata\.ownerReferences\.uid: Invalid value: "": must not be empty$/,
      );
    },
  },
  {
    name:
      "status subresource: create drops status, patchStatus changes only status, update and apply ignore it",
    async run(env) {
      await ensurePostgresDbCrd(env);
      const ref = { ...POSTGRESDB, name: "db", namespace: env.namespace };
      const created = await env.client.create({
        ...postgresDb(env, "db"),
        status: { phase: "Running", ready: true },
      });
      assert.equal(created.status, undefined, "create drops the status");
      assert.equal(created.metadata.generation, 1);

      const patched = await env.client.patchStatus(ref, { phase: "Creating", ready: false }, {
        resourceVersion: created.metadata.resourceVersion!,
      });
      assert.deepEqual(patched.status, { phase: "Creating", ready: false });
      assert.deepEqual(patched.spec, created.spec, "a status write keeps the spec");
      assert.equal(patched.metadata.generation, 1, "a status write keeps the generation");
      await expectApiError(
        env.client.patchStatus(ref, { phase: "Running" }, {
          resourceVersion: created.metadata.resourceVersion!,
        }),
        "Conflict",
        409,
      );
      const merged = await env.client.patchStatus(ref, { phase: "Running" });
      assert.deepEqual(merged.status, { phase: "Running", ready: false }, "a merge patch");

      // A status write through the main resource is ignored; the spec change counts.
      const updated = await env.client.update({
        ...merged,
        spec: { ...(merged.spec as Record<string, unknown>), replicas: 2 },
        status: { phase: "Failed", ready: true },
      });
      assert.deepEqual(updated.status, merged.status, "update ignores the status");
      assert.equal((updated.spec as { replicas: number }).replicas, 2);
      assert.equal(updated.metadata.generation, 2, "a spec change bumps the generation");

      const applied = await env.client.apply(
        {
          ...postgresDb(env, "db", { replicas: 3 }),
          status: { phase: "Pending", ready: true },
        },
        { fieldManager: FIELD_MANAGER, force: true },
      );
      assert.deepEqual(applied.status, merged.status, "apply ignores the status");
      assert.equal((applied.spec as { replicas: number }).replicas, 3);
      assert.equal(applied.metadata.generation, 3);

      const labelled = await env.client.update({
        ...applied,
        metadata: { ...applied.metadata, labels: { tier: "db" } },
      });
      assert.notEqual(labelled.metadata.resourceVersion, applied.metadata.resourceVersion);
      assert.equal(labelled.metadata.generation, 3, "a metadata change keeps the generation");
      const statusOnly = await env.client.patchStatus(ref, { ready: true });
      assert.equal(statusOnly.metadata.generation, 3, "a status change keeps the generation");
    },
  },
  {
    name: "garbage collection, background: dependents go after their owner is deleted",
    async run(env) {
      const owner = await env.client.create(configMap(env, "owner"));
      for (const name of ["dep-1", "dep-2"]) {
        await env.client.create(configMap(env, name, {}, { ownerReferences: [ownerRef(owner)] }));
      }
      await env.client.delete(CONFIGMAP, "owner", env.namespace, {
        propagationPolicy: "Background",
      });
      await expectApiError(env.client.get(CONFIGMAP, "owner", env.namespace), "NotFound", 404);
      await waitGone(env, CONFIGMAP, "dep-1");
      await waitGone(env, CONFIGMAP, "dep-2");
    },
  },
  {
    name: "garbage collection, orphan: dependents stay with the owner reference removed",
    async run(env) {
      const owner = await env.client.create(configMap(env, "owner"));
      const other = await env.client.create(configMap(env, "other-owner"));
      await env.client.create(configMap(env, "dep", {}, { ownerReferences: [ownerRef(owner)] }));
      await env.client.create(
        configMap(env, "shared", {}, { ownerReferences: [ownerRef(owner), ownerRef(other)] }),
      );
      await env.client.delete(CONFIGMAP, "owner", env.namespace, { propagationPolicy: "Orphan" });
      await waitGone(env, CONFIGMAP, "owner");
      const dep = await env.client.get(CONFIGMAP, "dep", env.namespace);
      assert.deepEqual(dep.metadata.ownerReferences ?? [], []);
      assert.equal(dep.metadata.deletionTimestamp, undefined);
      const shared = await env.client.get(CONFIGMAP, "shared", env.namespace);
      assert.deepEqual(
        (shared.metadata.ownerReferences ?? []).map((ref) => ref.name),
        ["other-owner"],
      );
    },
  },
  {
    name:
      "garbage collection, foreground: the owner stays terminating until blocking dependents are gone",
    async run(env) {
      const owner = await env.client.create(configMap(env, "owner"));
      await env.client.create(
        configMap(env, "dep", {}, {
          ownerReferences: [ownerRef(owner, { blockOwnerDeletion: true })],
          finalizers: [HOLD],
        }),
      );
      try {
        await env.client.delete(CONFIGMAP, "owner", env.namespace, {
          propagationPolicy: "Foreground",
        });
        const terminating = await env.client.get(CONFIGMAP, "owner", env.namespace);
        assert.ok(terminating.metadata.deletionTimestamp, "the owner is terminating");
        assert.deepEqual(terminating.metadata.finalizers, ["foregroundDeletion"]);
        const dep = await env.waitFor("the dependent to be deleted", async () => {
          const current = await env.client.get(CONFIGMAP, "dep", env.namespace);
          return current.metadata.deletionTimestamp ? current : undefined;
        });
        assert.deepEqual(dep.metadata.finalizers, [HOLD]);
        const waiting = await env.client.get(CONFIGMAP, "owner", env.namespace);
        assert.ok(waiting.metadata.deletionTimestamp, "the owner waits for its dependent");
        await removeFinalizer(env, CONFIGMAP, "dep");
        await waitGone(env, CONFIGMAP, "dep");
        await waitGone(env, CONFIGMAP, "owner");
      } finally {
        await removeFinalizer(env, CONFIGMAP, "dep");
      }
    },
  },
  {
    name: "garbage collection: a dependent created with an absent owner's uid is deleted",
    async run(env) {
      const owner = await env.client.create(configMap(env, "owner"));
      await env.client.delete(CONFIGMAP, "owner", env.namespace);
      await waitGone(env, CONFIGMAP, "owner");
      await env.client.create(configMap(env, "late", {}, { ownerReferences: [ownerRef(owner)] }));
      await waitGone(env, CONFIGMAP, "late");
    },
  },
  {
    name:
      "finalizers: delete sets deletionTimestamp and keeps the object until the last finalizer goes",
    async run(env) {
      await env.client.create(configMap(env, "held", { a: "1" }, { finalizers: [HOLD] }));
      try {
        await env.client.delete(CONFIGMAP, "held", env.namespace);
        const terminating = await env.client.get(CONFIGMAP, "held", env.namespace);
        assert.ok(terminating.metadata.deletionTimestamp, "deletionTimestamp is set");
        assert.deepEqual(terminating.metadata.finalizers, [HOLD]);
        const listed = await env.client.list(CONFIGMAP, { namespace: env.namespace });
        assert.ok(listed.items.some((item) => item.metadata.name === "held"), "still listed");
        // A second delete changes nothing.
        await env.client.delete(CONFIGMAP, "held", env.namespace);
        const after = await env.client.get(CONFIGMAP, "held", env.namespace);
        assert.equal(after.metadata.resourceVersion, terminating.metadata.resourceVersion);
        // Terminating objects may still be written, but no finalizer may be added.
        const written = await env.client.update({ ...after, data: { a: "2" } });
        assert.deepEqual(written.data, { a: "2" });
        await expectApiError(
          env.client.update({
            ...written,
            metadata: { ...written.metadata, finalizers: [HOLD, "conformance.pgop.io/late"] },
          }),
          "Invalid",
          422,
          /no new finalizers can be added if the object is being deleted/,
        );
        await removeFinalizer(env, CONFIGMAP, "held");
        await waitGone(env, CONFIGMAP, "held");
      } finally {
        await removeFinalizer(env, CONFIGMAP, "held");
      }
    },
  },
  {
    name: "watch from a list's resourceVersion delivers ADDED, MODIFIED, DELETED in order",
    async run(env) {
      await env.client.create(configMap(env, "before"));
      const { resourceVersion } = await env.client.list(CONFIGMAP, { namespace: env.namespace });
      const r = watchRecorder();
      const handle = await env.client.watch(CONFIGMAP, {
        namespace: env.namespace,
        resourceVersion,
        allowBookmarks: true,
        onEvent: r.onEvent,
        onDone: r.onDone,
      });
      try {
        const created = await env.client.create(configMap(env, "watched", { a: "1" }));
        const updated = await env.client.update({ ...created, data: { a: "2" } });
        await env.client.delete(CONFIGMAP, "watched", env.namespace);
        const seen = await env.waitFor("three events", () => {
          const own = r.about(["watched", "before"]);
          return own.length >= 3 ? own : undefined;
        });
        assert.deepEqual(seen, ["ADDED watched", "MODIFIED watched", "DELETED watched"]);
        // A real namespace also holds kube-root-ca.crt, which its controller may write meanwhile.
        const objects = r.events.flatMap((e) =>
          e.type !== "BOOKMARK" && e.object.metadata.name === "watched" ? [e.object] : []
        );
        assert.equal(objects[0]!.metadata.resourceVersion, created.metadata.resourceVersion);
        assert.deepEqual(objects[1]!.data, { a: "2" });
        assert.equal(objects[1]!.metadata.resourceVersion, updated.metadata.resourceVersion);
        assert.deepEqual(objects[2]!.data, { a: "2" }, "DELETED carries the last state");
        assert.equal(r.done.calls, 0);
      } finally {
        handle.stop();
      }
    },
  },
  {
    name: "watch from an expired resourceVersion ends with Expired (410); a relist recovers",
    async run(env) {
      await ensurePostgresDbCrd(env);
      // The simulated cluster keeps a short history; the real server's PostgresDB watch cache
      // starts when the CRD is installed, long after version 1 (see
      // adapters/kube_client_integration_test.ts).
      const churn = await env.client.create(configMap(env, "churn", { n: "0" }));
      let current = churn;
      for (let n = 1; n <= 2 * SIM_WATCH_HISTORY_EVENTS + 10; n++) {
        current = await env.client.update({ ...current, data: { n: String(n) } });
      }
      const expired = watchRecorder();
      const stale = await env.client.watch(POSTGRESDB, {
        namespace: env.namespace,
        resourceVersion: "1",
        onEvent: expired.onEvent,
        onDone: expired.onDone,
      });
      try {
        const error = await env.waitFor(
          "the watch to end",
          () => expired.done.calls > 0 ? expired.done.error ?? null : undefined,
          10_000,
        );
        assert.ok(isApiError(error, "Expired"), `expected Expired, got ${error}`);
        assert.equal(error.code, 410);
        assert.match(error.message, /too old resource version/);
        assert.deepEqual(expired.events, []);
        assert.equal(expired.done.calls, 1);
      } finally {
        stale.stop();
      }
      const { resourceVersion } = await env.client.list(POSTGRESDB, { namespace: env.namespace });
      const fresh = watchRecorder();
      const handle = await env.client.watch(POSTGRESDB, {
        namespace: env.namespace,
        resourceVersion,
        onEvent: fresh.onEvent,
        onDone: fresh.onDone,
      });
      try {
        await env.client.create(postgresDb(env, "after-relist"));
        const seen = await env.waitFor("the ADDED event", () => {
          const own = fresh.about(["after-relist"]);
          return own.length >= 1 ? own : undefined;
        });
        assert.deepEqual(seen, ["ADDED after-relist"]);
        assert.equal(fresh.done.calls, 0);
      } finally {
        handle.stop();
      }
    },
  },
  {
    name: "server-side apply: creates, merges the applied fields, and repeating it is a no-op",
    async run(env) {
      const first = await env.client.apply(
        configMap(env, "applied", { a: "1" }, { labels: { x: "1" } }),
        { fieldManager: FIELD_MANAGER },
      );
      assert.deepEqual(first.data, { a: "1" });
      const second = await env.client.apply(
        configMap(env, "applied", { a: "1", b: "2" }, { labels: { x: "1" } }),
        { fieldManager: FIELD_MANAGER },
      );
      assert.deepEqual(second.data, { a: "1", b: "2" });
      assert.equal(second.metadata.uid, first.metadata.uid);
      const third = await env.client.apply(
        configMap(env, "applied", { a: "1", b: "2" }, { labels: { x: "1" } }),
        { fieldManager: FIELD_MANAGER },
      );
      assert.equal(third.metadata.resourceVersion, second.metadata.resourceVersion);
    },
  },
  {
    name: "server-side apply: a field another manager owns conflicts (409) unless forced",
    async run(env) {
      await env.client.apply(configMap(env, "owned", { a: "first" }), {
        fieldManager: "pgop-conformance-a",
      });
      await expectApiError(
        env.client.apply(configMap(env, "owned", { a: "second" }), {
          fieldManager: "pgop-conformance-b",
        }),
        "Conflict",
        409,
        /conflict/i,
      );
      const forced = await env.client.apply(configMap(env, "owned", { a: "second" }), {
        fieldManager: "pgop-conformance-b",
        force: true,
      });
      assert.deepEqual(forced.data, { a: "second" });
    },
  },
  {
    name: "server-side apply: a field the manager stops applying is removed",
    async run(env) {
      await env.client.apply(configMap(env, "shrinking", { a: "1", b: "2" }), {
        fieldManager: FIELD_MANAGER,
      });
      const shrunk = await env.client.apply(configMap(env, "shrinking", { a: "1" }), {
        fieldManager: FIELD_MANAGER,
      });
      assert.deepEqual(shrunk.data, { a: "1" });
    },
  },
  {
    name:
      "server-side apply: a field another manager also applies is kept when one manager stops applying it",
    async run(env) {
      const both = { a: "1", shared: "x" };
      await env.client.apply(configMap(env, "co-owned", both), { fieldManager: MANAGER_A });
      await env.client.apply(configMap(env, "co-owned", { shared: "x" }), {
        fieldManager: MANAGER_B,
      });
      const shrunk = await env.client.apply(configMap(env, "co-owned", {}), {
        fieldManager: MANAGER_A,
      });
      assert.deepEqual(shrunk.data, { shared: "x" });
      assert.ok(managersOf(shrunk).includes(`${MANAGER_B} Apply`), String(managersOf(shrunk)));
    },
  },
  {
    name:
      "server-side apply: Service ports merge by port and protocol; an item a manager stops applying goes",
    async run(env) {
      await env.client.apply(service(env, "ports", [PG_PORT, METRICS_PORT]), {
        fieldManager: MANAGER_A,
      });
      const added = await env.client.apply(service(env, "ports", [EXTRA_PORT]), {
        fieldManager: MANAGER_B,
      });
      assert.deepEqual(portsOf(added), ["pg 5432/TCP", "metrics 9187/TCP", "extra 7000/TCP"]);
      const shrunk = await env.client.apply(service(env, "ports", [PG_PORT]), {
        fieldManager: MANAGER_A,
      });
      assert.deepEqual(portsOf(shrunk), ["pg 5432/TCP", "extra 7000/TCP"]);
      const udp = await env.client.apply(
        service(env, "ports", [{ name: "pg-udp", port: 5432, protocol: "UDP" }]),
        { fieldManager: MANAGER_B },
      );
      assert.deepEqual(portsOf(udp), ["pg 5432/TCP", "pg-udp 5432/UDP"]);
    },
  },
  {
    name: "server-side apply: containers and env merge by name, container ports by port",
    async run(env) {
      const first = statefulSet(env, "merged");
      const podSpec = (first.spec as Any).template.spec;
      podSpec.containers = [{
        name: "postgres",
        image: "postgres:16",
        env: [{ name: "A", value: "1" }],
        ports: [{ name: "pg", containerPort: 5432 }],
      }];
      await env.client.apply(first, { fieldManager: MANAGER_A });
      const second = statefulSet(env, "merged");
      (second.spec as Any).template.spec.containers = [
        { name: "postgres", env: [{ name: "B", value: "2" }], ports: [{ containerPort: 9187 }] },
        { name: "exporter", image: "exporter:1" },
      ];
      const merged = await env.client.apply(second, { fieldManager: MANAGER_B });
      const containers = (merged.spec as Any).template.spec.containers as Any[];
      assert.deepEqual(containers.map((c) => c.name), ["postgres", "exporter"]);
      assert.equal(containers[0].image, "postgres:16");
      assert.deepEqual(containers[0].env, [{ name: "A", value: "1" }, { name: "B", value: "2" }]);
      assert.deepEqual(containers[0].ports.map((p: Any) => p.containerPort), [5432, 9187]);
      // A's own change of its env value touches nothing of B's.
      podSpec.containers[0].env = [{ name: "A", value: "changed" }];
      const again = await env.client.apply(first, { fieldManager: MANAGER_A });
      const env0 = (again.spec as Any).template.spec.containers[0].env;
      assert.deepEqual(env0, [{ name: "A", value: "changed" }, { name: "B", value: "2" }]);
    },
  },
  {
    name:
      "server-side apply: a conflict names the manager and the field; force moves the field to the forcing manager",
    async run(env) {
      await env.client.apply(service(env, "contested", [PG_PORT]), { fieldManager: MANAGER_A });
      const moved = { ...PG_PORT, targetPort: 6432 };
      await expectApiError(
        env.client.apply(service(env, "contested", [moved]), { fieldManager: MANAGER_B }),
        "Conflict",
        409,
        new RegExp(
          `^Apply failed with 1 conflict: conflict with "${MANAGER_A}": ` +
            String.raw`\.spec\.ports\[port=5432,protocol="TCP"\]\.targetPort$`,
        ),
      );
      const forced = await env.client.apply(service(env, "contested", [moved]), {
        fieldManager: MANAGER_B,
        force: true,
      });
      assert.equal((forced.spec as Any).ports[0].targetPort, 6432);
      const fieldsOf = (manager: string) =>
        JSON.stringify(
          (forced.metadata.managedFields as Any[]).find((e) => e.manager === manager)?.fieldsV1,
        );
      assert.ok(!fieldsOf(MANAGER_A).includes("f:targetPort"), fieldsOf(MANAGER_A));
      assert.ok(fieldsOf(MANAGER_B).includes("f:targetPort"), fieldsOf(MANAGER_B));
      // A's next apply of its old value conflicts in turn.
      await expectApiError(
        env.client.apply(service(env, "contested", [PG_PORT]), { fieldManager: MANAGER_A }),
        "Conflict",
        409,
      );
    },
  },
  {
    name:
      "drift repair: a Service port changed by another manager's update makes re-applying Invalid; an update of the version read repairs it",
    async run(env) {
      const desired = service(env, "drifted", [PG_PORT]);
      await env.client.apply(desired, { fieldManager: MANAGER_A, force: true });
      // A user's edit, as `kubectl patch --type=json` sends it: an update by another manager.
      const stored = await env.client.get(SERVICE, "drifted", env.namespace);
      const edited = structuredClone(stored);
      (edited.spec as Any).ports[0].port = 5433;
      await env.client.update(edited);
      // Applying the intent again merges port 5432 beside the user's 5433, both named "pg".
      await expectApiError(
        env.client.apply(desired, { fieldManager: MANAGER_A, force: true }),
        "Invalid",
        422,
        /^Service "drifted" is invalid: spec\.ports\[1\]\.name: Duplicate value: "pg"$/,
      );
      const current = await env.client.get(SERVICE, "drifted", env.namespace);
      const repaired = structuredClone(current);
      (repaired.spec as Any).ports = (desired.spec as Any).ports;
      const written = await env.client.update(repaired);
      assert.deepEqual(portsOf(written), ["pg 5432/TCP"]);
      assert.equal((written.spec as Any).ports[0].targetPort, 5432);
      // From there the intent applies cleanly again and changes nothing.
      const reapplied = await env.client.apply(desired, { fieldManager: MANAGER_A, force: true });
      assert.deepEqual(portsOf(reapplied), ["pg 5432/TCP"]);
      // A stale version read before the repair is refused: the repair never writes blind.
      await expectApiError(env.client.update(repaired), "Conflict", 409);
    },
  },
  {
    name:
      "StatefulSet: a pod template's fieldRef apiVersion, httpGet scheme and serviceAccount alias are defaulted",
    async run(env) {
      const sts = statefulSet(env, "agent");
      const template = (sts.spec as Any).template;
      template.spec.serviceAccountName = "agent";
      template.spec.containers[0].env = [
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      ];
      template.spec.containers[0].readinessProbe = { httpGet: { path: "/readyz", port: 8008 } };
      const created = await env.client.create(sts);
      const spec = (created.spec as Any).template.spec;
      assert.equal(spec.serviceAccount, "agent");
      assert.equal(spec.containers[0].env[0].valueFrom.fieldRef.apiVersion, "v1");
      assert.equal(spec.containers[0].readinessProbe.httpGet.scheme, "HTTP");
      assert.equal(spec.containers[0].readinessProbe.periodSeconds, 10);
    },
  },
  {
    name: "StatefulSet: an update of an immutable spec field answers Invalid (422)",
    async run(env) {
      const created = await env.client.create(statefulSet(env, "web"));
      const spec = created.spec as Record<string, unknown>;
      assert.equal(spec.podManagementPolicy, "OrderedReady", "defaulted");
      assert.equal(spec.revisionHistoryLimit, 10, "defaulted");
      assert.equal(created.metadata.generation, 1);
      const { resourceVersion: _, ...metadata } = created.metadata;
      await expectApiError(
        env.client.update({ ...created, metadata, spec: { ...spec, serviceName: "other" } }),
        "Invalid",
        422,
        /^StatefulSet\.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than /,
      );
      await expectApiError(
        env.client.update({
          ...created,
          metadata,
          spec: { ...spec, podManagementPolicy: "Parallel" },
        }),
        "Invalid",
        422,
      );
      const scaled = await env.client.update({
        ...created,
        metadata,
        spec: { ...spec, minReadySeconds: 5, revisionHistoryLimit: 3 },
      });
      const scaledSpec = scaled.spec as Record<string, unknown>;
      assert.equal(scaledSpec.minReadySeconds, 5);
      assert.equal(scaledSpec.revisionHistoryLimit, 3);
      assert.equal(scaled.metadata.generation, 2);
    },
  },
  {
    name: "Secret: stringData is folded into base64 data and type defaults to Opaque",
    async run(env) {
      const created = await env.client.create({
        ...SECRET,
        metadata: { name: "creds", namespace: env.namespace },
        data: { user: btoa("app"), password: btoa("old") },
        stringData: { password: "s3cret", "host.name": "db.example" },
      });
      assert.equal(created.stringData, undefined);
      assert.equal(created.type, "Opaque");
      assert.deepEqual(created.data, {
        user: btoa("app"),
        password: btoa("s3cret"),
        "host.name": btoa("db.example"),
      });
      const got = await env.client.get(SECRET, "creds", env.namespace);
      assert.deepEqual(got.data, created.data);
      await expectApiError(
        env.client.update({ ...got, type: "kubernetes.io/basic-auth" }),
        "Invalid",
        422,
        /field is immutable/,
      );
    },
  },
  {
    name: "Service: ports default to TCP and targetPort, clusterIP None is kept, an IP is kept",
    async run(env) {
      const headless = await env.client.create({
        ...SERVICE,
        metadata: { name: "db-headless", namespace: env.namespace },
        spec: { clusterIP: "None", selector: { app: "db" }, ports: [{ name: "pg", port: 5432 }] },
      });
      const spec = headless.spec as Record<string, unknown>;
      assert.equal(spec.clusterIP, "None");
      assert.deepEqual(spec.clusterIPs, ["None"]);
      assert.equal(spec.type, "ClusterIP");
      assert.equal(spec.sessionAffinity, "None");
      assert.deepEqual(spec.ports, [{ name: "pg", port: 5432, protocol: "TCP", targetPort: 5432 }]);

      const service = await env.client.create({
        ...SERVICE,
        metadata: { name: "db", namespace: env.namespace },
        spec: { selector: { app: "db" }, ports: [{ name: "pg", port: 5432 }] },
      });
      const ip = (service.spec as Record<string, unknown>).clusterIP;
      assert.equal(typeof ip, "string");
      assert.match(ip as string, /^\d+\.\d+\.\d+\.\d+$/);
      // An update that leaves the cluster IP out keeps the allocated one.
      const { clusterIP: _ip, clusterIPs: _ips, ...rest } = service.spec as Record<
        string,
        unknown
      >;
      const updated = await env.client.update({
        ...service,
        spec: { ...rest, selector: { app: "db", role: "primary" } },
      });
      assert.equal((updated.spec as Record<string, unknown>).clusterIP, ip);
      await expectApiError(
        env.client.update({ ...updated, spec: { ...rest, clusterIP: "None" } }),
        "Invalid",
        422,
        /^Service "db" is invalid: spec\.clusterIPs?(\[0\])?: Invalid value: /,
      );
    },
  },
  {
    name: "watch from version 0 first sends ADDED for every current object, then changes",
    async run(env) {
      await env.client.create(configMap(env, "existing-1"));
      await env.client.create(configMap(env, "existing-2"));
      const r = watchRecorder();
      const handle = await env.client.watch(CONFIGMAP, {
        namespace: env.namespace,
        resourceVersion: "0",
        onEvent: r.onEvent,
        onDone: r.onDone,
      });
      try {
        await env.waitFor("the initial events", () => {
          const own = r.about(["existing-1", "existing-2"]);
          return own.length >= 2 ? own : undefined;
        });
        await env.client.create(configMap(env, "new"));
        const seen = await env.waitFor("the new object's event", () => {
          const own = r.about(["existing-1", "existing-2", "new"]);
          return own.length >= 3 ? own : undefined;
        });
        assert.deepEqual(seen.slice(0, 2).sort(), ["ADDED existing-1", "ADDED existing-2"]);
        assert.equal(seen[2], "ADDED new");
        assert.equal(r.done.calls, 0);
      } finally {
        handle.stop();
      }
    },
  },
  {
    name: "list filters by an equality label selector",
    async run(env) {
      await env.client.create(configMap(env, "a", {}, { labels: { app: "db", role: "primary" } }));
      await env.client.create(configMap(env, "b", {}, { labels: { app: "db", role: "replica" } }));
      await env.client.create(configMap(env, "c", {}, { labels: { app: "web" } }));
      const names = async (labelSelector: Record<string, string>) =>
        (await env.client.list(CONFIGMAP, { namespace: env.namespace, labelSelector })).items
          .map((item) => item.metadata.name).sort();
      assert.deepEqual(await names({ app: "db" }), ["a", "b"]);
      assert.deepEqual(await names({ app: "db", role: "replica" }), ["b"]);
      assert.deepEqual(await names({ app: "none" }), []);
    },
  },
  {
    name: "namespace deletion: terminating, refuses new content, waits for finalizers, then goes",
    async run(env) {
      const NAMESPACE = { apiVersion: "v1", kind: "Namespace" };
      const name = `${env.namespace}-t`;
      await env.client.create({ ...NAMESPACE, metadata: { name } });
      const held = "held";
      const inside = (object: KubeObject) => ({
        ...object,
        metadata: { ...object.metadata, namespace: name },
      });
      try {
        await env.client.create(inside(configMap(env, held, {}, { finalizers: [HOLD] })));
        await env.client.create(inside(configMap(env, "plain")));
        await env.client.delete(NAMESPACE, name, undefined);
        const terminating = await env.client.get(NAMESPACE, name);
        assert.ok(terminating.metadata.deletionTimestamp);
        assert.equal((terminating.status as { phase?: string }).phase, "Terminating");
        await expectApiError(
          env.client.create(inside(configMap(env, "late"))),
          "Forbidden",
          403,
          new RegExp(
            `^configmaps "late" is forbidden: unable to create new content in namespace ${name} because it is being terminated$`,
          ),
        );
        await env.waitFor("the namespace controller to delete the contents", async () => {
          const object = await env.client.get(CONFIGMAP, held, name);
          const plain = await env.client.list(CONFIGMAP, { namespace: name });
          return object.metadata.deletionTimestamp &&
              !plain.items.some((item) => item.metadata.name === "plain")
            ? true
            : undefined;
        }, 60_000);
        assert.ok(await env.client.get(NAMESPACE, name), "the namespace waits for the finalizer");
        const object = await env.client.get(CONFIGMAP, held, name);
        await env.client.update({ ...object, metadata: { ...object.metadata, finalizers: [] } });
        await env.waitFor("the namespace to be gone", async () => {
          try {
            await env.client.get(NAMESPACE, name);
            return undefined;
          } catch (error) {
            if (isApiError(error, "NotFound")) return true;
            throw error;
          }
        }, 60_000);
      } finally {
        try {
          const object = await env.client.get(CONFIGMAP, held, name);
          await env.client.update({ ...object, metadata: { ...object.metadata, finalizers: [] } });
        } catch { /* already gone */ }
        await env.client.delete(NAMESPACE, name, undefined).catch(() => {});
      }
    },
  },
  {
    name: "rejected requests answer the real reason, code and message",
    async run(env) {
      const ns = env.namespace;
      await expectApiError(
        env.client.create(configMap(env, "")),
        "Invalid",
        422,
        /^ConfigMap "" is invalid: metadata\.name: Required value: name or generateName is required$/,
      );
      await expectApiError(
        env.client.create(configMap(env, "versioned", {}, { resourceVersion: "5" })),
        "InternalError",
        500,
        /^resourceVersion should not be set on objects to be created$/,
      );
      const refs: OwnerReference[] = [
        { apiVersion: "v1", kind: "ConfigMap", name: "a", uid: "1", controller: true },
        { apiVersion: "v1", kind: "ConfigMap", name: "b", uid: "2", controller: true },
      ];
      await expectApiError(
        env.client.create(configMap(env, "two", {}, { ownerReferences: refs })),
        "Invalid",
        422,
        new RegExp(
          "^" + escape(
            `ConfigMap "two" is invalid: metadata.ownerReferences: Invalid value: ${
              JSON.stringify(refs)
            }: Only one reference can have Controller set to true. Found "true" in references for ConfigMap/a and ConfigMap/b`,
          ) + "$",
        ),
      );
      const frozen = await env.client.create({
        ...configMap(env, "frozen", { a: "1" }),
        immutable: true,
      });
      await expectApiError(
        env.client.update({ ...frozen, data: { a: "2" } }),
        "Invalid",
        422,
        /^ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set$/,
      );
      await expectApiError(
        env.client.update({ ...frozen, immutable: false }),
        "Invalid",
        422,
        /^ConfigMap "frozen" is invalid: immutable: Forbidden: field is immutable when `immutable` is set$/,
      );
      await expectApiError(
        env.client.patchStatus({ ...CONFIGMAP, name: "frozen", namespace: ns }, { a: "b" }),
        "NotFound",
        404,
        /^the server could not find the requested resource$/,
      );
      await expectApiError(
        env.client.update(configMap(env, "missing")),
        "NotFound",
        404,
        /^configmaps "missing" not found$/,
      );
      await expectApiError(
        env.client.create({
          ...configMap(env, "x"),
          metadata: { name: "x", namespace: `${ns}-no` },
        }),
        "NotFound",
        404,
        new RegExp(`^namespaces "${ns}-no" not found$`),
      );
      await expectApiError(
        env.client.watch(CONFIGMAP, {
          namespace: ns,
          resourceVersion: "abc",
          onEvent: () => {},
          onDone: () => {},
        }),
        "InternalError",
        500,
        /^resourceVersion: Invalid value: "abc": strconv\.ParseUint: parsing "abc": invalid syntax$/,
      );
      await expectApiError(
        env.client.delete({ apiVersion: "v1", kind: "Namespace" }, "default", undefined),
        "Forbidden",
        403,
        /^namespaces "default" is forbidden: this namespace may not be deleted$/,
      );
    },
  },
  {
    name: "namespaces: a new one is Active, finalized by kubernetes and labelled with its name",
    async run(env) {
      const ns = await env.client.get({ apiVersion: "v1", kind: "Namespace" }, env.namespace);
      assert.deepEqual(ns.status, { phase: "Active" });
      assert.deepEqual(ns.spec, { finalizers: ["kubernetes"] });
      assert.deepEqual(ns.metadata.labels, { "kubernetes.io/metadata.name": env.namespace });
      const relabelled = await env.client.update({
        ...ns,
        metadata: { ...ns.metadata, labels: { team: "a" } },
      });
      assert.deepEqual(relabelled.metadata.labels, {
        team: "a",
        "kubernetes.io/metadata.name": env.namespace,
      });
    },
  },
  {
    name: "generateName appends five characters of the real alphabet",
    async run(env) {
      const created = await env.client.create({
        ...CONFIGMAP,
        metadata: { name: "", generateName: "gen-", namespace: env.namespace },
      });
      assert.match(created.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(created.metadata.generateName, "gen-");
    },
  },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Used by the runners to name tests: `<case>` or `<case> (skipped: <reason>)`. */
export function statusFor(c: ConformanceCase, kind: EnvKind): { ignore: boolean; name: string } {
  const reason = c.skip?.[kind];
  return reason === undefined
    ? { ignore: false, name: c.name }
    : { ignore: true, name: `${c.name} (skipped: ${reason})` };
}
