import assert from "node:assert/strict";
import type { Action } from "../actions.ts";
import type { KubeObject } from "../object.ts";
import { observe } from "../reconciler.ts";
import { BACKUP_LABEL, backupJobName, JOB_DEADLINE_SECONDS } from "./job.ts";
import { backupId, backupLiveReads, reconcileBackup } from "./reconcile.ts";
import { JOB_NAME_LABEL } from "./runs.ts";
import type { PostgresBackup, PostgresBackupStatus, RunnerResult } from "./types.ts";

const T0 = Date.parse("2026-03-01T00:00:00Z");
const random = { next: () => 0.5, int: () => 0 };

function backup(
  spec: Partial<PostgresBackup["spec"]> = {},
  status?: PostgresBackupStatus,
): PostgresBackup {
  const b: PostgresBackup = {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresBackup",
    metadata: {
      name: "nightly",
      namespace: "default",
      uid: "abcde-123",
      generation: 1,
      resourceVersion: "5",
      creationTimestamp: new Date(T0).toISOString(),
    },
    spec: { postgresRef: "db", destination: "s3://bucket/pg/", credentialsSecret: "s3", ...spec },
  };
  if (status) b.status = status;
  return b;
}

function db(ready = true): KubeObject {
  return {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: "db", namespace: "default", uid: "db-uid" },
    spec: { version: "16", storage: "1Gi", databaseName: "app" },
    status: { ready, phase: ready ? "Running" : "Creating" },
  };
}

const secret: KubeObject = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "s3", namespace: "default" },
  data: { AWS_ACCESS_KEY_ID: "YQ==", AWS_SECRET_ACCESS_KEY: "Yg==" },
};

function job(
  owner: PostgresBackup,
  id: string,
  end?: "Complete" | "Failed",
  slot?: string,
): KubeObject {
  const j: KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: backupJobName("db"),
      namespace: "default",
      uid: "job-uid",
      labels: { [BACKUP_LABEL]: owner.metadata.name, "database.thegeekyway.com/backup-id": id },
      annotations: slot ? { "database.thegeekyway.com/slot": slot } : {},
      creationTimestamp: new Date(T0).toISOString(),
      ownerReferences: [{
        apiVersion: owner.apiVersion,
        kind: owner.kind,
        name: owner.metadata.name,
        uid: owner.metadata.uid!,
        controller: true,
      }],
    },
  };
  if (end) {
    j.status = {
      conditions: [{
        type: end,
        status: "True",
        reason: end === "Failed" ? "BackoffLimitExceeded" : "Complete",
        message: "",
        lastTransitionTime: new Date(T0 + 60_000).toISOString(),
      }],
    };
  }
  return j;
}

function pod(result: RunnerResult): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "db-backup-x1y2z",
      namespace: "default",
      labels: { [JOB_NAME_LABEL]: "db-backup" },
      ownerReferences: [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "db-backup",
        uid: "job-uid",
        controller: true,
      }],
    },
    status: {
      phase: result.outcome === "Succeeded" ? "Succeeded" : "Failed",
      containerStatuses: [{
        name: "runner",
        state: {
          terminated: {
            exitCode: result.outcome === "Succeeded" ? 0 : 1,
            message: JSON.stringify(result),
            finishedAt: new Date(T0 + 59_000).toISOString(),
          },
        },
      }],
    },
  };
}

function run(b: PostgresBackup, others: KubeObject[], nowMs: number): Action[] {
  return reconcileBackup(observe(b, others), { nowMs, random }).actions;
}

function statusOf(actions: Action[]): PostgresBackupStatus {
  const write = actions.find((a) => a.kind === "patchStatus");
  assert.ok(write?.kind === "patchStatus", "a status write");
  return write.status as PostgresBackupStatus;
}

const kinds = (actions: Action[]) =>
  actions.map((a) => a.kind === "emitEvent" ? `event:${a.eventReason}` : a.kind);

Deno.test("backup: a one-shot backup of a ready database starts one Job named after the database", () => {
  const actions = run(backup(), [db(), secret], T0 + 1000);
  assert.deepEqual(kinds(actions), ["create", "patchStatus", "event:BackupStarted"]);
  const create = actions[0]!;
  assert.ok(create.kind === "create");
  assert.equal(create.object.metadata.name, "db-backup");
  const spec = create.object.spec as { backoffLimit: number; activeDeadlineSeconds: number };
  assert.equal(spec.backoffLimit, 0);
  assert.equal(spec.activeDeadlineSeconds, JOB_DEADLINE_SECONDS);
  const status = statusOf(actions);
  assert.equal(status.phase, "Running");
  assert.equal(status.active?.id, backupId(T0, "abcde-123"));
});

Deno.test("backup: a run waits, saying why, for the database, the credentials and the lock", () => {
  const cases: [KubeObject[], string][] = [
    [[secret], "DatabaseNotFound"],
    [[db(false), secret], "DatabaseNotReady"],
    [[db()], "CredentialsMissing"],
    [
      [db(), secret, job(backup({}, undefined), "x")].map((o) =>
        o.kind === "Job"
          ? {
            ...o,
            metadata: {
              ...o.metadata,
              ownerReferences: [{
                apiVersion: "v",
                kind: "PostgresBackup",
                name: "other",
                uid: "other-uid",
                controller: true,
              }],
            },
          }
          : o
      ),
      "AnotherBackupRunning",
    ],
  ];
  for (const [others, reason] of cases) {
    const actions = run(backup(), others, T0 + 1000);
    assert.ok(!actions.some((a) => a.kind === "create"), reason);
    const ready = statusOf(actions).conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, reason);
    assert.ok(actions.some((a) => a.kind === "requeueAfter"), `${reason}: rechecks`);
  }
});

const success: RunnerResult = {
  outcome: "Succeeded",
  mode: "backup",
  backup: {
    id: backupId(T0, "abcde-123"),
    key: "pg/default/db/x/dump.pgc",
    sizeBytes: 1234,
    sha256: "ab".repeat(32),
    startedAt: new Date(T0).toISOString(),
    completedAt: new Date(T0 + 50_000).toISOString(),
    durationSeconds: 50,
  },
  deleted: ["20260101T000000Z-abcde"],
};

Deno.test("backup: a finished run is recorded before its Job is deleted, and retention's deletions leave the list", () => {
  const id = backupId(T0, "abcde-123");
  const b = backup({}, {
    active: { job: "db-backup", id, startedAt: new Date(T0).toISOString() },
    backups: [{ ...success.backup, id: "20260101T000000Z-abcde" }],
  });
  const actions = run(b, [db(), secret, job(b, id, "Complete"), pod(success)], T0 + 61_000);
  assert.deepEqual(kinds(actions), ["patchStatus", "delete", "event:BackupSucceeded"]);
  const status = statusOf(actions);
  assert.equal(status.phase, "Succeeded");
  assert.equal(status.active ?? undefined, undefined, "a null removes it");
  assert.deepEqual(status.backups?.map((x) => x.id), [id]);
  assert.equal(status.lastSuccessfulBackup?.id, id);
  // Once recorded (the stored status has it), a job still in the cache is only deleted.
  const stored = JSON.parse(JSON.stringify(status, (_k, v) => v === null ? undefined : v));
  const again = run(
    { ...b, status: stored },
    [db(), secret, job(b, id, "Complete"), pod(success)],
    T0 + 62_000,
  );
  assert.deepEqual(kinds(again), ["delete"]);
});

Deno.test("backup: a failed run says why in the status and a Warning", () => {
  const id = backupId(T0, "abcde-123");
  const b = backup({}, { active: { job: "db-backup", id, startedAt: "" } });
  const failed: RunnerResult = {
    outcome: "Failed",
    mode: "backup",
    reason: "StoreUnreachable",
    message: 'no answer from "http://x"',
  };
  const actions = run(b, [db(), secret, job(b, id, "Failed"), pod(failed)], T0 + 61_000);
  const status = statusOf(actions);
  assert.equal(status.lastBackup?.reason, "StoreUnreachable");
  assert.equal(status.phase, "Failed");
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "False");
  const warning = actions.find((a) => a.kind === "emitEvent");
  assert.ok(
    warning?.kind === "emitEvent" && warning.type === "Warning" &&
      /StoreUnreachable/.test(warning.message),
  );
});

Deno.test("backup: a finished Job whose pod's report is not in the cache yet waits for it", () => {
  const id = backupId(T0, "abcde-123");
  const b = backup({}, { active: { job: "db-backup", id, startedAt: "" } });
  const actions = run(b, [db(), secret, job(b, id, "Complete")], T0 + 61_000);
  assert.ok(!actions.some((a) => a.kind === "delete"));
  assert.ok(actions.some((a) => a.kind === "requeueAfter"));
});

Deno.test("backup: a scheduled slot runs once, within its deadline, and slots skipped are counted as missed", () => {
  const hourly = { schedule: "0 * * * *" };
  // Created at T0; the operator comes back at 03:02: slots 01:00 and 02:00 were skipped.
  const actions = run(backup(hourly), [db(), secret], T0 + 3 * 3600_000 + 120_000);
  const status = statusOf(actions);
  assert.equal(status.lastScheduledSlot, "2026-03-01T03:00:00Z");
  assert.equal(status.missedSlots, 2);
  assert.deepEqual(kinds(actions), [
    "create",
    "patchStatus",
    "event:BackupMissed",
    "event:BackupStarted",
    "requeueAfter",
  ]);
  // The same slot, once handled, never runs again.
  const handled = backup(hourly, { lastScheduledSlot: "2026-03-01T03:00:00Z" });
  assert.ok(
    !run(handled, [db(), secret], T0 + 3 * 3600_000 + 180_000).some((a) => a.kind === "create"),
  );
  // A slot past its deadline is missed, not run late.
  const late = run(
    backup(hourly, { lastScheduledSlot: "2026-03-01T02:00:00Z" }),
    [db(), secret],
    T0 + 3 * 3600_000 + 400_000,
  );
  assert.ok(!late.some((a) => a.kind === "create"));
  assert.equal(statusOf(late).missedSlots, 1);
  assert.equal(statusOf(late).lastScheduledSlot, "2026-03-01T03:00:00Z");
});

Deno.test("backup: a slot whose Job ended while its status write was lost is handled, and never runs again", () => {
  const hourly = { schedule: "0 * * * *" };
  const slot = "2026-03-01T03:00:00.000Z";
  const id = backupId(Date.parse(slot), "abcde-123");
  // The operator created the Job for 03:00 and crashed before the status said so; the Job ended
  // before a new operator looked.
  const b = backup(hourly, { lastScheduledSlot: "2026-03-01T02:00:00Z" });
  const now = T0 + 3 * 3600_000 + 61_000;
  const actions = run(b, [db(), secret, job(b, id, "Complete", slot), pod(success)], now);
  const status = statusOf(actions);
  assert.equal(status.lastScheduledSlot, "2026-03-01T03:00:00Z");
  assert.equal(status.lastBackup?.slot, slot);
  // The Job deleted, the slot is not run a second time.
  const stored = JSON.parse(JSON.stringify(status, (_k, v) => v === null ? undefined : v));
  assert.ok(
    !run(backup(hourly, stored), [db(), secret], now + 1_000).some((a) => a.kind === "create"),
  );
});

Deno.test("backup: a slot blocked past its deadline by another run is missed with the reason", () => {
  const other = {
    ...job(backup(), "x"),
    metadata: {
      ...job(backup(), "x").metadata,
      labels: { [BACKUP_LABEL]: "adhoc" },
      ownerReferences: [{
        apiVersion: "v",
        kind: "PostgresBackup",
        name: "adhoc",
        uid: "o",
        controller: true,
      }],
    },
  };
  const b = backup({ schedule: "0 * * * *" }, { lastScheduledSlot: "2026-03-01T00:00:00Z" });
  const waiting = run(b, [db(), secret, other], T0 + 3600_000 + 60_000);
  assert.ok(!waiting.some((a) => a.kind === "create"));
  assert.equal(statusOf(waiting).missedSlots, undefined);
  const missed = run(b, [db(), secret, other], T0 + 3600_000 + 301_000);
  const event = missed.find((a) => a.kind === "emitEvent");
  assert.ok(event?.kind === "emitEvent" && /PostgresBackup "adhoc"/.test(event.message));
  assert.equal(statusOf(missed).missedSlots, 1);
});

Deno.test("backup: a start rests on live reads, a run in flight on the cache alone", () => {
  const reads = backupLiveReads(observe(backup(), [db(), secret]));
  assert.deepEqual(reads.map((r) => r.type.kind), ["PostgresBackup", "Job", "Secret"]);
  const b = backup();
  assert.deepEqual(backupLiveReads(observe(b, [job(b, "x")])), []);
  const done = backup({}, { lastBackup: { id: "x", outcome: "Succeeded", completedAt: "" } });
  assert.deepEqual(backupLiveReads(observe(done, [])), []);
});

Deno.test("backup: an invalid spec is reported once, and nothing is created", () => {
  const actions = run(backup({ destination: "http://nope", schedule: "61 * * * *" }), [
    db(),
    secret,
  ], T0);
  const status = statusOf(actions);
  assert.equal(status.phase, "Invalid");
  assert.match(
    status.conditions?.[0]?.message ?? "",
    /spec.schedule: minute 61 .*spec.destination: "http:\/\/nope" must be an S3 URL/s,
  );
  assert.ok(!actions.some((a) => a.kind === "create"));
});
