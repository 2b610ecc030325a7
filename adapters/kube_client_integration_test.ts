// Integration tests of KubeClusterClient against a real kube-apiserver.
//
// Goal: show that the adapter keeps the cluster port's contract on a real server: CRUD, 409 on a
// stale update, AlreadyExists, server-side apply that is a no-op when repeated, status patches
// with a version precondition, delete preconditions, ordered watch events, 410 from an old
// version, stop(), and the runtime's Informer on top.
// Method: each run works in a fresh namespace and removes it at the end. Skipped unless
// PGOP_KUBECONFIG names a kubeconfig, e.g. the one scripts/controlplane/up.sh prints.

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { Clock, Timer } from "../core/clock.ts";
import { ApiError, isApiError, type WatchEvent } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { Informer } from "../runtime/informer.ts";
import { KubeClusterClient } from "./kube_client.ts";

const KUBECONFIG = Deno.env.get("PGOP_KUBECONFIG");
if (!KUBECONFIG) {
  console.log(
    "kube_client_integration_test.ts: skipped, PGOP_KUBECONFIG is not set " +
      "(start a control plane with scripts/controlplane/up.sh and point it at its kubeconfig)",
  );
}

const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap" };
const POSTGRESDB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
const CRD = { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" };
const NAMESPACE = `pgop-adapter-${Date.now().toString(36)}`;

function configMap(
  name: string,
  data: Record<string, string> = {},
  labels?: Record<string, string>,
): KubeObject {
  const metadata: KubeObject["metadata"] = { name, namespace: NAMESPACE };
  if (labels) metadata.labels = labels;
  return { ...CONFIGMAP, metadata, data };
}

async function expectApiError(
  promise: Promise<unknown>,
  reason: ApiError["reason"],
  code: number,
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
  return caught;
}

/** Polls `check` every 100 ms until it returns a value, at most `timeoutMs`. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** Collects watch events and the end of one watch. */
function watchRecorder() {
  const events: WatchEvent[] = [];
  let doneCalls = 0;
  let resolveDone!: (error: Error | undefined) => void;
  const done = new Promise<Error | undefined>((resolve) => resolveDone = resolve);
  return {
    events,
    done,
    get doneCalls() {
      return doneCalls;
    },
    onEvent: (event: WatchEvent) => void events.push(event),
    onDone: (error?: Error) => {
      doneCalls++;
      resolveDone(error);
    },
  };
}

function describeEvent(event: WatchEvent): string {
  return event.type === "BOOKMARK" ? "BOOKMARK" : `${event.type} ${event.object.metadata.name}`;
}

const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const id = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(id), unref: () => Deno.unrefTimer(id) };
  },
};

async function installCrd(client: KubeClusterClient): Promise<void> {
  const text = await Deno.readTextFile(
    new URL("../crds/database.thegeekyway.com_postgresdbs.yaml", import.meta.url),
  );
  for (const doc of parseAllDocuments(text)) {
    const crd = doc.toJSON() as KubeObject | null;
    if (!crd) continue;
    await client.apply(crd, { fieldManager: "pgop-adapter-test", force: true });
    await eventually(`CRD ${crd.metadata.name} Established`, async () => {
      const stored = await client.get(CRD, crd.metadata.name);
      const conditions =
        (stored.status as { conditions?: { type: string; status: string }[] } | undefined)
          ?.conditions;
      return conditions?.some((c) => c.type === "Established" && c.status === "True")
        ? true
        : undefined;
    });
  }
  // Discovery of a just-established CRD can lag; a miss refreshes, so poll through the client.
  await eventually("PostgresDB discovery", async () => {
    try {
      await client.list(POSTGRESDB, { namespace: NAMESPACE });
      return true;
    } catch (error) {
      if (isApiError(error, "NotFound")) return undefined;
      throw error;
    }
  });
}

Deno.test({
  name: "KubeClusterClient against a real API server",
  ignore: !KUBECONFIG,
  async fn(t) {
    const client = await KubeClusterClient.connect({ path: KUBECONFIG!, requestTimeoutMs: 20_000 });
    try {
      await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
      await runSteps(t, client);
    } finally {
      await client.delete({ apiVersion: "v1", kind: "Namespace" }, NAMESPACE, undefined).catch(
        () => {},
      );
      client.close();
    }
  },
});

async function runSteps(t: Deno.TestContext, client: KubeClusterClient): Promise<void> {
  await t.step(
    "the PostgresDB CRD installs by server-side apply and is found by discovery",
    async () => {
      await installCrd(client);
    },
  );

  await t.step(
    "create, get, update, list by label, delete, then get answers NotFound",
    async () => {
      const created = await client.create(configMap("crud", { a: "1" }, { suite: "crud" }));
      assert.ok(created.metadata.uid);
      const got = await client.get(CONFIGMAP, "crud", NAMESPACE);
      assert.deepEqual(got.data, { a: "1" });
      const updated = await client.update({ ...got, data: { a: "2" } });
      assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);
      const listed = await client.list(CONFIGMAP, {
        namespace: NAMESPACE,
        labelSelector: { suite: "crud" },
      });
      assert.deepEqual(listed.items.map((item) => `${item.kind} ${item.metadata.name}`), [
        "ConfigMap crud",
      ]);
      assert.match(listed.resourceVersion, /^\d+$/);
      await client.delete(CONFIGMAP, "crud", NAMESPACE);
      const error = await expectApiError(client.get(CONFIGMAP, "crud", NAMESPACE), "NotFound", 404);
      assert.match(error.message, /configmaps "crud" not found/);
    },
  );

  await t.step("update with a stale resourceVersion answers 409 Conflict", async () => {
    const created = await client.create(configMap("stale", { a: "1" }));
    await client.update({ ...created, data: { a: "2" } });
    await expectApiError(client.update({ ...created, data: { a: "3" } }), "Conflict", 409);
  });

  await t.step("create of an existing name answers AlreadyExists", async () => {
    await client.create(configMap("twice"));
    const error = await expectApiError(client.create(configMap("twice")), "AlreadyExists", 409);
    assert.match(error.message, /already exists/);
  });

  await t.step(
    "server-side apply twice is a no-op; a second manager conflicts unless forced",
    async () => {
      const object = configMap("applied", { owner: "first" });
      const first = await client.apply(object, { fieldManager: "pgop-first" });
      const second = await client.apply(object, { fieldManager: "pgop-first" });
      assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
      const other = configMap("applied", { owner: "second" });
      await expectApiError(client.apply(other, { fieldManager: "pgop-second" }), "Conflict", 409);
      const forced = await client.apply(other, { fieldManager: "pgop-second", force: true });
      assert.deepEqual(forced.data, { owner: "second" });
    },
  );

  await t.step("patchStatus writes status only, with a resourceVersion precondition", async () => {
    const db = await client.create({
      ...POSTGRESDB,
      metadata: { name: "db", namespace: NAMESPACE },
      spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
    });
    const ref = { ...POSTGRESDB, name: "db", namespace: NAMESPACE };
    const patched = await client.patchStatus(ref, { phase: "Creating", ready: false }, {
      resourceVersion: db.metadata.resourceVersion!,
    });
    assert.deepEqual(patched.status, { phase: "Creating", ready: false });
    assert.equal(
      patched.metadata.generation,
      db.metadata.generation,
      "status writes keep the generation",
    );
    assert.deepEqual(patched.spec, db.spec);
    await expectApiError(
      client.patchStatus(ref, { phase: "Running" }, {
        resourceVersion: db.metadata.resourceVersion!,
      }),
      "Conflict",
      409,
    );
    const merged = await client.patchStatus(ref, { phase: "Running" });
    assert.deepEqual(
      merged.status,
      { phase: "Running", ready: false },
      "a merge patch keeps other fields",
    );
    await expectApiError(client.patchStatus(ref, { phase: "Bogus" }), "Invalid", 422);
  });

  await t.step("delete with a wrong uid or resourceVersion answers Conflict", async () => {
    const created = await client.create(configMap("guarded"));
    await expectApiError(
      client.delete(CONFIGMAP, "guarded", NAMESPACE, { uid: "not-the-uid" }),
      "Conflict",
      409,
    );
    await expectApiError(
      client.delete(CONFIGMAP, "guarded", NAMESPACE, { resourceVersion: "1" }),
      "Conflict",
      409,
    );
    await client.delete(CONFIGMAP, "guarded", NAMESPACE, {
      uid: created.metadata.uid!,
      resourceVersion: created.metadata.resourceVersion!,
      propagationPolicy: "Foreground",
    });
    // Foreground deletion leaves the object (with a finalizer) until the garbage collector is done.
    await eventually("the ConfigMap to be gone", async () => {
      try {
        await client.get(CONFIGMAP, "guarded", NAMESPACE);
        return undefined;
      } catch (error) {
        if (isApiError(error, "NotFound")) return true;
        throw error;
      }
    });
  });

  await t.step("watch delivers ADDED, MODIFIED, DELETED in order", async () => {
    const { resourceVersion } = await client.list(CONFIGMAP, { namespace: NAMESPACE });
    const r = watchRecorder();
    const handle = await client.watch(CONFIGMAP, {
      namespace: NAMESPACE,
      resourceVersion,
      allowBookmarks: true,
      ...r,
    });
    try {
      const created = await client.create(configMap("watched", { a: "1" }));
      await client.update({ ...created, data: { a: "2" } });
      await client.delete(CONFIGMAP, "watched", NAMESPACE);
      const seen = await eventually("three events", () => {
        const own = r.events.map(describeEvent).filter((e) => e.endsWith(" watched"));
        return own.length >= 3 ? own : undefined;
      });
      assert.deepEqual(seen, ["ADDED watched", "MODIFIED watched", "DELETED watched"]);
      assert.equal(r.doneCalls, 0);
    } finally {
      handle.stop();
    }
  });

  await t.step("watch from resourceVersion 1 ends with Expired (410)", async () => {
    // The watch cache of a kind serves every version since it was filled. Built-in kinds are
    // cached from the API server's first moments, so version 1 may still be servable there; the
    // PostgresDB cache starts when the CRD is installed, long after version 1.
    const r = watchRecorder();
    const handle = await client.watch(POSTGRESDB, {
      namespace: NAMESPACE,
      resourceVersion: "1",
      ...r,
    });
    try {
      const error = await Promise.race([
        r.done,
        new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 10_000)),
      ]);
      assert.ok(isApiError(error, "Expired"), `expected Expired, got ${error}`);
      assert.equal(error.code, 410);
      assert.match(error.message, /too old resource version/);
      assert.deepEqual(r.events, []);
      assert.equal(r.doneCalls, 1);
    } finally {
      handle.stop();
    }
  });

  await t.step("stop() ends a watch: no events and no onDone afterwards", async () => {
    const { resourceVersion } = await client.list(CONFIGMAP, { namespace: NAMESPACE });
    const r = watchRecorder();
    const handle = await client.watch(CONFIGMAP, { namespace: NAMESPACE, resourceVersion, ...r });
    handle.stop();
    await client.create(configMap("after-stop"));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(r.events, []);
    assert.equal(r.doneCalls, 0);
  });

  await t.step(
    "a watch the server closes after timeoutSeconds ends with onDone() and no error",
    async () => {
      const short = await KubeClusterClient.connect({ path: KUBECONFIG!, watchTimeoutSeconds: 1 });
      try {
        const { resourceVersion } = await short.list(CONFIGMAP, { namespace: NAMESPACE });
        const r = watchRecorder();
        await short.watch(CONFIGMAP, { namespace: NAMESPACE, resourceVersion, ...r });
        const error = await Promise.race([
          r.done,
          new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 10_000)),
        ]);
        assert.equal(error, undefined);
        assert.equal(r.doneCalls, 1);
      } finally {
        short.close();
      }
    },
  );

  await t.step("createEvent records a core/v1 Event and stats count writes", async () => {
    const before = client.stats.writes;
    const nowIso = new Date().toISOString();
    await client.createEvent({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `db.${Date.now().toString(16)}`, namespace: NAMESPACE },
      involvedObject: { ...POSTGRESDB, name: "db", namespace: NAMESPACE },
      reason: "Testing",
      message: "adapter integration test",
      type: "Normal",
      firstTimestamp: nowIso,
      lastTimestamp: nowIso,
      count: 1,
      source: { component: "pgop-adapter-test" },
    });
    assert.equal(client.stats.writes, before + 1);
    assert.ok((client.stats.byVerb.createEvent ?? 0) >= 1);
    const events = await client.list({ apiVersion: "v1", kind: "Event" }, { namespace: NAMESPACE });
    assert.ok(events.items.some((e) => e.reason === "Testing"));
  });

  await t.step("an unknown kind answers NotFound naming the kind", async () => {
    const error = await expectApiError(
      client.get({ apiVersion: "nope.example.com/v1", kind: "Thing" }, "x"),
      "NotFound",
      404,
    );
    assert.equal(
      error.message,
      'the server could not find the requested resource (kind "Thing" in "nope.example.com/v1")',
    );
    await expectApiError(client.get({ apiVersion: "v1", kind: "Thing" }, "x"), "NotFound", 404);
  });

  await t.step("the runtime's Informer lists and watches through the adapter", async () => {
    const changes: string[] = [];
    const informer = new Informer(client, CONFIGMAP, {
      clock: systemClock,
      namespace: NAMESPACE,
      onChange: (change) => changes.push(`${change.type} ${change.object.metadata.name}`),
    });
    try {
      await informer.start();
      assert.ok(informer.get(`${NAMESPACE}/twice`), "the list filled the cache");
      await client.create(configMap("informed"));
      await eventually(
        "the informer sees the new ConfigMap",
        () => informer.get(`${NAMESPACE}/informed`),
      );
      assert.ok(changes.includes("ADDED informed"));
      assert.equal(informer.stats.errors, 0);
    } finally {
      informer.stop();
    }
  });
}
