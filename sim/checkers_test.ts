// Goal: every checker fires on the violation it names and stays quiet on the legal neighbour.
// Method: feed each one a hand-made write, commit or plan, with a real (unstarted) harness as
// context; the campaigns and mutants show the checkers in action, these show each one alone.
import assert from "node:assert/strict";
import type { Action } from "../core/actions.ts";
import type { KubeObject } from "../core/object.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { POSTGRESDB } from "../core/postgres/types.ts";
import type { StoreChange } from "./api_server.ts";
import {
  invalidWriteChecker,
  observedGenerationChecker,
  ownerReferenceChecker,
  statusSubresourceChecker,
  writesPerReconcileChecker,
} from "./checkers.ts";
import { type CheckContext, Harness } from "./harness.ts";
import { credentialsChecker, timeTravelChecker, volumeChecker } from "./postgres_checks.ts";
import type { WriteRecord } from "./recording_client.ts";

function context(): CheckContext {
  return { harness: new Harness({ seed: 1, reconciler: postgresReconciler }), atMs: 0 };
}

function write(verb: WriteRecord["verb"], object: KubeObject, extra: Partial<WriteRecord> = {}) {
  const ref = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    namespace: "default",
  };
  return { verb, ref, target: `${object.kind} default/${object.metadata.name}`, object, ...extra };
}

function obj(kind: string, name: string, extra: Record<string, unknown> = {}): KubeObject {
  const apiVersion = kind === "StatefulSet" ? "apps/v1" : "v1";
  return { apiVersion, kind, metadata: { name, namespace: "default" }, ...extra };
}

function change(object: KubeObject, type: StoreChange["type"] = "MODIFIED"): StoreChange {
  return { type, object, resource: {} as StoreChange["resource"] };
}

Deno.test("ownerReferenceChecker: no controller, or a uid that never existed, is a violation", () => {
  const ctx = context();
  const checker = ownerReferenceChecker(POSTGRESDB);
  assert.match(checker.onWrite!(write("apply", obj("Service", "a")), ctx)!, /0 controller/);
  const ghost = obj("Service", "a");
  ghost.metadata.ownerReferences = [{ ...POSTGRESDB, name: "db", uid: "never", controller: true }];
  assert.match(checker.onWrite!(write("apply", ghost), ctx)!, /never existed/);
  ctx.harness.seenUids.add("was-here");
  ghost.metadata.ownerReferences[0]!.uid = "was-here";
  assert.equal(checker.onWrite!(write("apply", ghost), ctx), undefined, "a gone owner is allowed");
});

Deno.test("invalidWriteChecker: a write rejected as Invalid is a violation", () => {
  const checker = invalidWriteChecker();
  const sts = obj("StatefulSet", "db");
  assert.match(checker.onWrite!(write("update", sts, { error: "Invalid" }), context())!, /invalid/);
  assert.equal(checker.onWrite!(write("update", sts, { error: "Conflict" }), context()), undefined);
});

Deno.test("observedGenerationChecker: a status ahead of the generation is a violation", () => {
  const checker = observedGenerationChecker(POSTGRESDB);
  const db = {
    ...POSTGRESDB,
    metadata: { name: "db", generation: 2 },
    status: { observedGeneration: 3 },
  };
  assert.match(checker.onCommit!(change(db), context())!, /observedGeneration 3 > generation 2/);
  db.status.observedGeneration = 2;
  assert.equal(checker.onCommit!(change(db), context()), undefined);
});

Deno.test("writesPerReconcileChecker: more planned writes than the bound is a violation", () => {
  const checker = writesPerReconcileChecker(2);
  const apply: Action = { kind: "apply", object: obj("Service", "a"), reason: "" };
  const requeue: Action = { kind: "requeueAfter", delayMs: 1, reason: "" };
  assert.equal(checker.onReconcile!("k", [apply, apply, requeue], context()), undefined);
  assert.match(checker.onReconcile!("k", [apply, apply, apply], context())!, /3 writes/);
});

Deno.test("statusSubresourceChecker: status through the main resource is a violation", () => {
  const checker = statusSubresourceChecker(POSTGRESDB);
  const db = { ...POSTGRESDB, metadata: { name: "db" }, status: { ready: true } };
  assert.match(checker.onWrite!(write("apply", db), context())!, /carries a status/);
});

Deno.test("volumeChecker: deleting a PVC is a violation", () => {
  const checker = volumeChecker();
  const pvc = obj("PersistentVolumeClaim", "data-db-0");
  assert.match(checker.onWrite!(write("delete", pvc), context())!, /deleted/);
});

Deno.test("credentialsChecker: data written over the Secret is a violation; adoption is not", () => {
  const checker = credentialsChecker();
  const secret = obj("Secret", "db-credentials", { data: { password: "eA==" } });
  assert.match(checker.onWrite!(write("apply", secret), context())!, /applied/);
  const adoption = obj("Secret", "db-credentials");
  assert.equal(checker.onWrite!(write("apply", adoption), context()), undefined);
});

Deno.test("credentialsChecker: a ready pod whose data was initialised with another password than its Secret's is a violation", async () => {
  const ctx = context();
  const server = ctx.harness.cluster.server;
  const secret = (password: string) =>
    obj("Secret", "db-credentials", { data: { password: btoa(password) } });
  server.create(secret("one"));
  server.create(obj("PersistentVolumeClaim", "data-db-0", { spec: {} }));
  server.create(obj("Pod", "db-0", {
    spec: {
      containers: [{
        name: "postgres",
        env: [{
          name: "POSTGRES_PASSWORD",
          valueFrom: { secretKeyRef: { name: "db-credentials", key: "password" } },
        }],
      }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-db-0" } }],
    },
  }));
  await ctx.harness.cluster.run({ maxVirtualMs: 10_000 });
  const checker = credentialsChecker();
  const pod = server.peek({ apiVersion: "v1", kind: "Pod" }, "db-0", "default")!;
  assert.equal(checker.onCommit!(change(pod), ctx), undefined, "the data opens with its Secret");
  // The Secret is replaced by one with a new password: the data still holds the old one.
  server.delete({ apiVersion: "v1", kind: "Secret" }, "db-credentials", "default");
  const replaced = server.create(secret("two"));
  assert.match(
    checker.onCommit!(change(replaced, "ADDED"), ctx)!,
    /pod default\/db-0 is ready on data initialised with another password/,
  );
});

Deno.test("timeTravelChecker: a StatefulSet written for an older generation is a violation", () => {
  const checker = timeTravelChecker();
  const sts = (generation: number) =>
    write(
      "update",
      obj("StatefulSet", "db", {
        metadata: {
          name: "db",
          namespace: "default",
          annotations: { "database.thegeekyway.com/source-generation": String(generation) },
        },
      }),
      { result: obj("StatefulSet", "db", { metadata: { name: "db", uid: "s1" } }) },
    );
  assert.equal(checker.onWrite!(sts(3), context()), undefined);
  assert.match(checker.onWrite!(sts(2), context())!, /generation 2 after 3/);
});
