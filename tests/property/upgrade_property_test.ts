// Goal: major upgrades with pg_upgrade are safe and live under faults: with specs moving between
// PostgreSQL 16 and 17 (`majorUpgrade: PgUpgrade`) in any order, pod and node faults, operator
// crashes after any write, API and watch faults, and a user deleting and editing children, no
// instance ever runs a major other than its data's, no data major goes down, nothing runs on a
// volume while an upgrade may work on it, and every schedule ends with each PostgresDB Ready on
// the data's major (an upgrade done, or never started, or cancelled) or a genuine refusal.
// Method: fast-check generates schedules; each runs in the simulated cluster with every checker
// (sim/upgrade_checks.ts among them); a failure is shrunk and printed with its replay command.
import assert from "node:assert/strict";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { runSchedule, type Schedule } from "../../sim/schedule.ts";
import { runCampaign } from "./campaign.ts";
import { postgresDB } from "./arbitraries.ts";
import { postgresSubject } from "./subject.ts";
import { propertyRuns, propertySeed, replayHint } from "./settings.ts";

Deno.test("property: major upgrades stay safe and end Ready for 300 fault schedules", async () => {
  const seed = propertySeed() + 17;
  const runs = propertyRuns(300);
  const result = await runCampaign({ runs, seed, upgrades: true, userActor: true });
  if (result.failed) {
    console.log(`Minimal failing schedule: ${JSON.stringify(result.counterexample)}`);
    for (const v of result.violations ?? []) console.log(`  [${v.checker}] ${v.message}`);
  }
  assert.equal(result.failed, false, replayHint(seed, runs));
  assert.equal(result.runs, runs);
});

/** Schedules the campaign found failing, each with what went wrong before its fix. */
const REGRESSIONS: { what: string; schedule: string }[] = [
  {
    what: "a cache behind the upgraded volumes' annotations: postgres:16 was started on 17's data",
    schedule:
      `{"seed":345861343,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":2,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":0},{"do":"userEdit","kind":"PersistentVolumeClaim","name":"data-alpha-0","atMs":1334},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"17.2","storage":"1Gi","replicas":2,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":1671},{"do":"cutOffAgent","name":"alpha-1","durationMs":1000,"atMs":1828},{"do":"crashPod","name":"alpha-0","atMs":5731}],"cluster":{"gcDelayMs":234,"readyDelayMs":2000},"faultsAfterLastStepMs":10000,"faults":{"watchExpireRate":0.010000000000000004,"watchLagMaxMs":2177},"crashRate":0.01}`,
  },
  {
    what: "the spec back to 16 while pg_upgrade ran: the committed 17 was left stopped",
    schedule:
      `{"seed":1,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":0},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"17","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":1694},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":3449}],"cluster":{"gcDelayMs":2576,"readyDelayMs":2000},"faultsAfterLastStepMs":10000,"faults":{"watchLagMaxMs":1415}}`,
  },
  {
    what:
      "a stale view of the PostgresDB after a restart scaled the upgraded StatefulSet to 0 on 16",
    schedule:
      `{"seed":119851682,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":2,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":0},{"do":"userDelete","kind":"Pod","name":"alpha-0","atMs":3489},{"do":"delete","apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","name":"alpha","atMs":3498},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":3,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":3513},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"17","storage":"1Gi","replicas":3,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":3522},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"17","storage":"2Gi","replicas":2,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":3529},{"do":"userEdit","kind":"Secret","name":"beta-credentials","atMs":7866}],"cluster":{"gcDelayMs":4390,"readyDelayMs":3232},"faultsAfterLastStepMs":10000,"faults":{"watchDisconnectRate":0.02306328878557679,"staleListRate":0.1198251157163458,"watchLagMaxMs":446},"crashRate":0.01000000000000001}`,
  },
  {
    what: "a pod of the old image made by a hand edit mid-upgrade blocked the StatefulSet forever",
    schedule:
      `{"seed":1,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":0},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"17","storage":"1Gi","replicas":2,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":5415},{"do":"userEdit","kind":"StatefulSet","name":"beta","atMs":5938}],"cluster":{"gcDelayMs":3634,"readyDelayMs":2000},"faultsAfterLastStepMs":10000,"faults":{"writeErrorRate":0.01,"ambiguousWriteRate":0.01},"crashRate":0.07012972587206087}`,
  },
  {
    what: "the check's pod kept a volume being deleted, and the StatefulSet waited for it forever",
    schedule:
      `{"seed":1,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":0},{"do":"userDelete","kind":"StatefulSet","name":"beta","atMs":24},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"beta","namespace":"default"},"spec":{"version":"17","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade","deletionPolicy":"Delete"}},"atMs":24}],"cluster":{"gcDelayMs":50,"readyDelayMs":2000},"faultsAfterLastStepMs":10000}`,
  },
  {
    what: "a PostgresDB made again mid-upgrade started PostgreSQL on a volume with an open journal",
    schedule:
      `{"seed":1,"steps":[{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":0},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":1686},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"17","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":1698},{"do":"delete","apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","name":"alpha","atMs":3009},{"do":"apply","object":{"apiVersion":"database.thegeekyway.com/v1alpha1","kind":"PostgresDB","metadata":{"name":"alpha","namespace":"default"},"spec":{"version":"16","storage":"1Gi","replicas":1,"databaseName":"app","majorUpgrade":"PgUpgrade"}},"atMs":3009}],"cluster":{"gcDelayMs":50,"readyDelayMs":429},"faultsAfterLastStepMs":10000,"faults":{"writeErrorRate":0.07595462240735609,"ambiguousWriteRate":0.04505815138929249,"readErrorRate":0.026298784835849146,"watchDisconnectRate":0.04339334656007145},"crashRate":0.061215910606793954}`,
  },
];

for (const regression of REGRESSIONS) {
  Deno.test(`property regression: ${regression.what}`, async () => {
    const report = await runSchedule(
      JSON.parse(regression.schedule) as Schedule,
      postgresSubject(),
    );
    assert.deepEqual(report.violations, []);
    assert.ok(report.converged);
    // Every instance runs the major its data is.
    for (const [, instance] of report.harness.cluster.dataPlane!.instances()) {
      if (instance.dataMajor === undefined) continue;
      assert.equal(instance.binaryMajor, instance.dataMajor, instance.name);
      assert.equal(instance.process, "running", instance.name);
    }
  });
}

Deno.test("crash after every prefix of an upgrade's writes: each run ends upgraded, every checker passing", async () => {
  const spec = { storage: "1Gi", replicas: 2, databaseName: "app", majorUpgrade: "PgUpgrade" };
  const created: Schedule = {
    seed: 11,
    steps: [{
      atMs: 0,
      do: "apply",
      object: postgresDB("my-postgres", { ...spec, version: "16" }),
    }],
  };
  const base: Schedule = {
    ...created,
    steps: [...created.steps, {
      atMs: 60_000,
      do: "apply",
      object: postgresDB("my-postgres", { ...spec, version: "17" }),
    }],
  };
  const before = (await runSchedule(created, postgresSubject())).successfulWrites;
  const clean = await runSchedule(base, postgresSubject());
  assert.deepEqual(clean.violations, []);
  assert.ok(clean.successfulWrites > before + 8, `${before} then ${clean.successfulWrites} writes`);
  for (let k = before + 1; k <= clean.successfulWrites; k++) {
    const report = await runSchedule({ ...base, crashAfterWrites: [k] }, postgresSubject());
    assert.equal(report.injected.operatorCrash, 1, `crash after write ${k}`);
    assert.deepEqual(report.violations, [], `crash after write ${k}`);
    assert.ok(report.converged, `crash after write ${k}`);
    const objects = report.harness.cluster.objects();
    const db = objects.find((o) => o.kind === "PostgresDB") as PostgresDB;
    assert.equal(db.status?.upgrade?.phase, "Succeeded", `crash after write ${k}`);
    for (const [, instance] of report.harness.cluster.dataPlane!.instances()) {
      assert.equal(instance.dataMajor, 17, `crash after write ${k}: ${instance.name}`);
    }
  }
  console.log(
    `upgrade: ${clean.successfulWrites - before} writes, a crash after each one recovered`,
  );
});
