import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { observe } from "../reconciler.ts";
import { JOB_NAME_LABEL } from "../backup/runs.ts";
import type { RunnerResult } from "../backup/types.ts";
import type { Instance } from "./instances.ts";
import { ROLE_LABEL } from "./labels.ts";
import { restoreStep } from "./restore.ts";
import type { PostgresDB, RestoreStatus, ValidSpec } from "./types.ts";
import { validatePostgresDB } from "./validate.ts";

const T0 = Date.parse("2026-03-01T00:00:00Z");

function db(
  status?: PostgresDB["status"],
  restoreFrom: { backup: string; id?: string } = { backup: "nightly" },
): PostgresDB {
  const d: PostgresDB = {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: "copy", namespace: "default", uid: "db-uid", generation: 1 },
    spec: { version: "16", storage: "1Gi", replicas: 3, databaseName: "app", restoreFrom },
  };
  if (status) d.status = status;
  return d;
}

function spec(d: PostgresDB): ValidSpec {
  const v = validatePostgresDB(d);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
}

const nightly: KubeObject = {
  apiVersion: "database.thegeekyway.com/v1alpha1",
  kind: "PostgresBackup",
  metadata: { name: "nightly", namespace: "default", uid: "b-uid" },
  spec: {
    postgresRef: "orig",
    destination: "s3://bucket/pg/",
    endpoint: "http://127.0.0.1:9000",
    credentialsSecret: "s3",
  },
  status: {
    backups: [
      {
        id: "20260227T020000Z-b0uid",
        key: "k1",
        sizeBytes: 10,
        sha256: "a".repeat(64),
        startedAt: "",
        completedAt: "",
        durationSeconds: 1,
      },
      {
        id: "20260228T020000Z-b0uid",
        key: "k2",
        sizeBytes: 20,
        sha256: "b".repeat(64),
        startedAt: "",
        completedAt: "",
        durationSeconds: 1,
      },
    ],
  },
};

const primary: Instance = {
  pod: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "copy-0", labels: { [ROLE_LABEL]: "primary" } },
  },
  report: { name: "copy-0", role: "primary", ready: true } as Instance["report"],
};

function restoreJobObject(end?: "Complete" | "Failed"): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: "copy-restore",
      namespace: "default",
      uid: "job-uid",
      labels: { "database.thegeekyway.com/backup-id": "x" },
      ownerReferences: [{
        apiVersion: "database.thegeekyway.com/v1alpha1",
        kind: "PostgresDB",
        name: "copy",
        uid: "db-uid",
        controller: true,
      }],
    },
    status: end
      ? {
        conditions: [{
          type: end,
          status: "True",
          reason: end,
          lastTransitionTime: new Date(T0).toISOString(),
        }],
      }
      : {},
  };
}

function resultPod(result: RunnerResult): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "copy-restore-abcde",
      namespace: "default",
      labels: { [JOB_NAME_LABEL]: "copy-restore" },
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "copy-restore",
        uid: "job-uid",
        controller: true,
      }],
    },
    status: {
      containerStatuses: [{
        name: "runner",
        state: { terminated: { exitCode: 0, message: JSON.stringify(result), finishedAt: "x" } },
      }],
    },
  };
}

Deno.test("restore: the newest backup is chosen and pinned, and the primary runs alone meanwhile", () => {
  const d = db();
  const step = restoreStep(observe(d, [nightly]), spec(d), [], T0);
  assert.equal(step.hold, true);
  assert.equal(step.status?.id, "20260228T020000Z-b0uid");
  assert.equal(step.status?.sha256, "b".repeat(64));
  assert.equal(step.status?.store?.prefix, "pg/default/orig/nightly/");
  assert.equal(step.status?.reason, "WaitingForPrimary");
  assert.equal(step.notReady?.phase, "Restoring");
  assert.deepEqual(step.writes, []);
});

Deno.test("restore: an id asked for is used; a missing backup waits, saying why", () => {
  const d = db(undefined, { backup: "nightly", id: "20260227T020000Z-b0uid" });
  assert.equal(restoreStep(observe(d, [nightly]), spec(d), [], T0).status?.sha256, "a".repeat(64));
  const none = db(undefined, { backup: "gone" });
  const step = restoreStep(observe(none, []), spec(none), [], T0);
  assert.equal(step.status?.reason, "BackupNotFound");
  assert.match(step.status?.message ?? "", /PostgresBackup "gone" does not exist/);
  assert.equal(step.requeueMs !== undefined, true);
});

Deno.test("restore: once the primary serves, one Job restores the pinned backup", () => {
  const pinned: RestoreStatus = {
    backup: "nightly",
    id: "20260228T020000Z-b0uid",
    sha256: "b".repeat(64),
    store: {
      endpoint: "http://127.0.0.1:9000",
      region: "us-east-1",
      bucket: "bucket",
      prefix: "pg/default/orig/",
      credentialsSecret: "s3",
    },
    phase: "Pending",
  };
  const d = db({ restore: pinned });
  // The PostgresBackup has gone and its newest backup changed: the pinned choice stands.
  const step = restoreStep(observe(d, []), spec(d), [primary], T0);
  assert.equal(step.writes.length, 1);
  const create = step.writes[0]!;
  assert.ok(create.kind === "create");
  assert.equal(create.object.metadata.name, "copy-restore");
  type JobSpec = { template: { spec: { containers: { env: unknown }[] } } };
  const env = (create.object.spec as JobSpec).template.spec.containers[0]!.env as {
    name: string;
    value?: string;
  }[];
  assert.equal(env.find((e) => e.name === "PGOP_RESTORE_SHA256")?.value, "b".repeat(64));
  assert.equal(env.find((e) => e.name === "PGHOST")?.value, "copy-rw.default.svc.cluster.local");
  assert.equal(step.status?.phase, "Running");
  assert.equal(step.hold, true);
});

Deno.test("restore: success lets the database scale and be Ready; failure keeps it not Ready with the reason", () => {
  const running: RestoreStatus = {
    backup: "nightly",
    id: "x",
    sha256: "b",
    phase: "Running",
    store: { endpoint: "e", region: "r", bucket: "b", prefix: "p/", credentialsSecret: "s" },
  };
  const d = db({ restore: running });
  const ok: RunnerResult = {
    outcome: "Succeeded",
    mode: "restore",
    id: "x",
    rows: 1000,
    alreadyRestored: false,
    durationSeconds: 3,
  };
  const done = restoreStep(observe(d, [restoreJobObject("Complete"), resultPod(ok)]), spec(d), [
    primary,
  ], T0 + 1000);
  assert.equal(done.status?.phase, "Succeeded");
  assert.equal(done.hold, false);
  assert.equal(done.notReady, undefined);
  assert.equal(done.after[0]?.kind, "delete");
  const bad: RunnerResult = {
    outcome: "Failed",
    mode: "restore",
    reason: "ChecksumMismatch",
    message: "sha256 differs",
  };
  const failed = restoreStep(observe(d, [restoreJobObject("Failed"), resultPod(bad)]), spec(d), [
    primary,
  ], T0 + 1000);
  assert.equal(failed.status?.phase, "Failed");
  assert.equal(failed.notReady?.reason, "RestoreFailed");
  assert.match(failed.notReady?.message ?? "", /ChecksumMismatch/);
  assert.equal(failed.hold, true);
  // A Job still running: no verdict. The status lost its start (a conflict): the Job's is used.
  const job = restoreJobObject();
  job.metadata.creationTimestamp = "2026-03-01T00:00:00Z";
  const still = restoreStep(observe(d, [job]), spec(d), [primary], T0);
  assert.equal(still.status?.phase, "Running");
  assert.equal(still.status?.startedAt, "2026-03-01T00:00:00Z");
  assert.equal(still.notReady?.phase, "Restoring");
});

Deno.test("restore: restoreFrom cannot change or go once chosen, and is refused on a database that served", () => {
  const pinned: RestoreStatus = { backup: "nightly", id: "x", phase: "Succeeded" };
  assert.equal(validatePostgresDB(db({ restore: pinned }, { backup: "other" })).ok, false);
  const removed = db({ restore: pinned });
  delete (removed.spec as { restoreFrom?: unknown }).restoreFrom;
  const v = validatePostgresDB(removed);
  assert.ok(!v.ok && /spec.restoreFrom/.test(v.problems[0]!.field));
  const served = db({ currentPrimary: "copy-0", phase: "Running" });
  const step = restoreStep(observe(served, [nightly]), spec(served), [primary], T0);
  assert.equal(step.hold, false);
  assert.deepEqual(step.writes, []);
  assert.equal(step.events[0]?.eventReason, "RestoreRefused");
});

Deno.test("restore: a chosen backup that retention deleted before the restore read it is chosen again", () => {
  const running: RestoreStatus = {
    backup: "nightly",
    id: "x",
    sha256: "b",
    phase: "Running",
    store: { endpoint: "e", region: "r", bucket: "b", prefix: "p/", credentialsSecret: "s" },
  };
  const d = db({ restore: running });
  const gone: RunnerResult = {
    outcome: "Failed",
    mode: "restore",
    reason: "BackupNotFound",
    message: 'no manifest "p/x/manifest.json"',
  };
  const step = restoreStep(
    observe(d, [restoreJobObject("Failed"), resultPod(gone), nightly]),
    spec(d),
    [primary],
    T0,
  );
  assert.equal(step.status?.phase, "Pending");
  assert.equal(step.status?.id, undefined, "chosen again on the next reconcile");
  assert.equal(step.status?.reason, "BackupGone");
  assert.equal(step.after[0]?.kind, "delete");
  assert.equal(step.notReady?.phase, "Restoring");
  // The old Job still in the cache while the new choice is made: it is removed first.
  const chosenAgain = db({
    restore: { ...running, id: "20260228T020000Z-b0uid", phase: "Pending" },
  });
  const stale = restoreStep(
    observe(chosenAgain, [restoreJobObject("Failed"), resultPod(gone)]),
    spec(chosenAgain),
    [primary],
    T0,
  );
  assert.deepEqual(stale.writes, []);
  assert.equal(stale.after[0]?.kind, "delete");
  // With an id asked for, the failure stands.
  const id = "20260227T020000Z-b0uid";
  const pinned = db({ restore: { ...running, id } }, { backup: "nightly", id });
  const pinnedJob = restoreJobObject("Failed");
  pinnedJob.metadata.labels = { "database.thegeekyway.com/backup-id": id };
  const failed = restoreStep(
    observe(pinned, [pinnedJob, resultPod(gone)]),
    spec(pinned),
    [primary],
    T0,
  );
  assert.equal(failed.status?.phase, "Failed");
});
