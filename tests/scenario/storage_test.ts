// Goal: storage growth end to end in the simulated cluster: a larger storage grows every volume
// (standbys first, the primary last, one at a time), then the StatefulSet is re-created with the
// new claim template without restarting a pod; a shrink and a class without expansion are refused
// with nothing changed; an operator crash after any write of the growth still ends grown.
// Method: schedules run by the harness with every PostgresDB checker (no volume shrinks, no pod
// restarted by a resize, ...) after every step, plus a recorder of the PVC updates and pod
// creations; the data plane runs (agents, primary Lease). One seed per test.
import assert from "node:assert/strict";
import type { KubeObject } from "../../core/object.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import type { Checker } from "../../sim/harness.ts";
import { postgresCheckers } from "../../sim/postgres_checks.ts";
import { runSchedule, type Schedule } from "../../sim/schedule.ts";
import { postgresDB } from "../property/arbitraries.ts";
import { postgresSubject } from "../property/subject.ts";

/** When the storage changes: the database converged long before. */
const GROW_AT_MS = 300_000;

/** What a run did after the storage change. */
interface Record {
  /** The PVC updates the operator made, in order. */
  claimUpdates: string[];
  /** Pods created after the storage change. */
  podsCreated: string[];
  /** The operator's successful writes before the storage change. */
  writesBefore: number | undefined;
}

/** Records from the moment the PostgresDB's storage differs from `from`. */
function recorder(record: Record, from: string): Checker {
  let started = false;
  return {
    name: "recorder",
    onWrite(write) {
      if (started && write.verb === "update" && write.ref.kind === "PersistentVolumeClaim") {
        if (!write.error) record.claimUpdates.push(write.ref.name);
      }
      return undefined;
    },
    onCommit(change, { harness }) {
      const o = change.object;
      if (
        !started && o.kind === "PostgresDB" && (o.spec as { storage?: string }).storage !== from
      ) {
        started = true;
        record.writesBefore = harness.successfulWrites;
      }
      if (started && change.type === "ADDED" && o.kind === "Pod") {
        record.podsCreated.push(o.metadata.name);
      }
      return undefined;
    },
  };
}

function schedule(replicas: number, from: string, to: string, extra: Partial<Schedule> = {}) {
  const spec = { version: "16", replicas, databaseName: "myapp" };
  return {
    seed: 11,
    steps: [
      {
        atMs: 0,
        do: "apply" as const,
        object: postgresDB("my-postgres", { ...spec, storage: from }),
      },
      {
        atMs: GROW_AT_MS,
        do: "apply" as const,
        object: postgresDB("my-postgres", { ...spec, storage: to }),
      },
    ],
    ...extra,
  };
}

async function run(s: Schedule, from: string) {
  const record: Record = { claimUpdates: [], podsCreated: [], writesBefore: undefined };
  const subject = {
    ...postgresSubject(),
    checkers: () => [...postgresCheckers(), recorder(record, from)],
  };
  const report = await runSchedule(s, subject);
  const objects = report.harness.cluster.objects();
  const db = objects.find((o) => o.kind === "PostgresDB") as PostgresDB;
  const claims = objects.filter((o) => o.kind === "PersistentVolumeClaim");
  const events = (reason: string) =>
    objects.filter((o) => o.kind === "Event" && (o as { reason?: string }).reason === reason);
  return { report, record, db, claims, events, objects };
}

function sizes(claims: KubeObject[]): string[] {
  return claims.map((c) =>
    `${c.metadata.name}=${(c.status as { capacity?: { storage?: string } }).capacity?.storage}`
  );
}

Deno.test("PostgresDB: storage: 1Gi -> 2Gi on 3 instances grows standbys first, restarts no pod", async () => {
  const { report, record, db, claims, events, objects } = await run(
    schedule(3, "1Gi", "2Gi"),
    "1Gi",
  );
  assert.deepEqual(report.violations, [], `seed ${report.harness.options.seed}`);
  assert.ok(report.converged);
  assert.deepEqual(record.claimUpdates, [
    "data-my-postgres-2",
    "data-my-postgres-1",
    "data-my-postgres-0",
  ], "standbys first (highest ordinal first), the primary last, once each");
  assert.deepEqual(record.podsCreated, [], "no pod restarted");
  assert.deepEqual(sizes(claims), [
    "data-my-postgres-0=2Gi",
    "data-my-postgres-1=2Gi",
    "data-my-postgres-2=2Gi",
  ]);
  const sts = objects.find((o) => o.kind === "StatefulSet")!;
  const template = (sts.spec as {
    volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[];
  })
    .volumeClaimTemplates[0]!;
  assert.equal(template.spec.resources.requests.storage, "2Gi");
  assert.equal(db.status?.storage?.phase, "Resized");
  assert.equal(db.status?.ready, true);
  const resize = db.status?.conditions?.find((c) => c.type === "VolumeResize");
  assert.equal(resize?.status, "True");
  assert.equal(resize?.reason, "Resized");
  assert.equal(events("VolumeExpansionStarted").length, 1);
  assert.equal(events("VolumeExpanded").length, 3);
  assert.equal(events("StorageResized").length, 1);
});

Deno.test("PostgresDB: storage: an operator crash after any write of a growth still ends grown", async () => {
  const clean = await run(schedule(2, "1Gi", "2Gi"), "1Gi");
  assert.deepEqual(clean.report.violations, []);
  const before = clean.record.writesBefore!;
  const total = clean.report.successfulWrites;
  assert.ok(total - before >= 6, `${total - before} writes in the growth`);
  for (let k = before + 1; k <= total; k++) {
    const { report, record, claims, db } = await run(
      schedule(2, "1Gi", "2Gi", { crashAfterWrites: [k] }),
      "1Gi",
    );
    const where = `crash after write ${k} (seed 11)`;
    assert.equal(report.injected.operatorCrash, 1, where);
    assert.deepEqual(report.violations, [], where);
    assert.ok(report.converged, where);
    assert.deepEqual(sizes(claims), ["data-my-postgres-0=2Gi", "data-my-postgres-1=2Gi"], where);
    assert.deepEqual(record.podsCreated, [], where);
    assert.equal(db.status?.storage?.phase, "Resized", where);
  }
});

Deno.test("PostgresDB: storage: 2Gi -> 1Gi is refused and nothing about storage changes", async () => {
  const { report, record, db, claims, events } = await run(schedule(2, "2Gi", "1Gi"), "2Gi");
  assert.deepEqual(report.violations, []);
  assert.deepEqual(record.claimUpdates, []);
  assert.deepEqual(sizes(claims), ["data-my-postgres-0=2Gi", "data-my-postgres-1=2Gi"]);
  const resize = db.status?.conditions?.find((c) => c.type === "VolumeResize");
  assert.equal(resize?.status, "False");
  assert.equal(resize?.reason, "ShrinkRefused");
  assert.equal(db.status?.ready, true, "the database keeps running");
  assert.equal(events("ShrinkRefused").length, 1);
});

Deno.test("PostgresDB: storage: a class without expansion is refused, naming the class", async () => {
  const { report, record, db, claims } = await run(
    schedule(2, "1Gi", "2Gi", { cluster: { volumeExpansion: false } }),
    "1Gi",
  );
  assert.deepEqual(report.violations, []);
  assert.deepEqual(record.claimUpdates, []);
  assert.deepEqual(sizes(claims), ["data-my-postgres-0=1Gi", "data-my-postgres-1=1Gi"]);
  const resize = db.status?.conditions?.find((c) => c.type === "VolumeResize");
  assert.equal(resize?.reason, "ExpansionNotSupported");
  assert.match(resize!.message, /StorageClass "standard" does not allow volume expansion/);
});

/**
 * Deletes the PostgresDB the moment the orphaning delete of its StatefulSet commits: the pods and
 * volumes are then released by the garbage collector while no StatefulSet controls them.
 */
function deleteOnOrphaning(): Checker {
  let done = false;
  return {
    name: "deletes the PostgresDB during the re-creation",
    onCommit(change, { harness }) {
      const o = change.object;
      if (done || o.kind !== "StatefulSet" || !o.metadata.deletionTimestamp) return undefined;
      if (!(o.metadata.finalizers ?? []).includes("orphan")) return undefined;
      done = true;
      const type = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
      void harness.user.delete(type, "my-postgres", "default").catch(() => {});
      return undefined;
    },
  };
}

for (const deletionPolicy of ["Delete", "Retain"] as const) {
  Deno.test(`PostgresDB: storage: deleted while its StatefulSet is re-created (${deletionPolicy}), no pod is left running and no volume is kept against the policy`, async () => {
    const spec = { version: "16", replicas: 2, databaseName: "myapp", deletionPolicy };
    const s: Schedule = {
      seed: 11,
      steps: [
        { atMs: 0, do: "apply", object: postgresDB("my-postgres", { ...spec, storage: "1Gi" }) },
        {
          atMs: GROW_AT_MS,
          do: "apply",
          object: postgresDB("my-postgres", { ...spec, storage: "2Gi" }),
        },
      ],
      // The collector is slow: the orphaning and the PostgresDB's deletion meet in one pass.
      cluster: { gcDelayMs: 2000 },
    };
    let deleted = false;
    const left: string[] = [];
    const subject = {
      ...postgresSubject(),
      checkers: () => [...postgresCheckers(), deleteOnOrphaning(), {
        name: "leftovers",
        onCommit(change: { type: string; object: KubeObject }) {
          const o = change.object;
          if (o.kind === "PostgresDB" && change.type === "DELETED") deleted = true;
          return undefined;
        },
      }],
    };
    const report = await runSchedule(s, subject, { convergeWithinMs: 120_000 });
    assert.ok(deleted, "the PostgresDB was deleted during the re-creation");
    for (const o of report.harness.cluster.objects()) {
      if (o.kind === "Pod" || o.kind === "PersistentVolumeClaim") {
        left.push(`${o.kind} ${o.metadata.name}`);
      }
    }
    const kept = deletionPolicy === "Retain"
      ? ["PersistentVolumeClaim data-my-postgres-0", "PersistentVolumeClaim data-my-postgres-1"]
      : [];
    assert.deepEqual(left.sort(), kept, "seed 11");
    assert.deepEqual(report.violations, [], "seed 11");
  });
}
