// Goal: backups and restore end to end in the simulation: the operator's two controllers, the
// simulated Job controller and kubelet, the real backup runner on virtual time, the in-memory S3
// store. A one-shot backup lands with its manifest and the Job goes; a new PostgresDB restored from
// it is never Ready before its primary holds the restore; a schedule runs each slot once and
// retention keeps the newest; failures say why; slots missed while the operator was down are
// counted, never run late.
// Method: cli/simulate.ts's world; the checkers of sim/backup_checks.ts after every step.

import { postgresBackup, postgresDB, STORE_SECRET, STORE_URL } from "../support/backup_fixtures.ts";
import assert from "node:assert/strict";
import { Controller } from "../../runtime/controller.ts";
import { backupReconciler } from "../../core/backup/reconcile.ts";
import type { PostgresBackup } from "../../core/backup/types.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { type OperatorWorld, startOperatorWorld } from "../../cli/simulate.ts";
import { BackupCheckers } from "../../sim/backup_checks.ts";

const BACKUP = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresBackup" };
const DB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };

/** A converged source database with some WAL, a store with a bucket, and the checkers. */
async function setup(seed: number) {
  const w = await startOperatorWorld({ seed });
  const endpoint = w.cluster.objectStores.endpoint(STORE_URL);
  endpoint.createBucket("backups");
  endpoint.addCredentials("AKID", "SECRET");
  await w.apply([STORE_SECRET, postgresDB("src", 1)]);
  assert.ok((await w.cluster.run({ maxVirtualMs: 600_000 })).quiescent, `converges (seed ${seed})`);
  const instance = w.cluster.dataPlane!.instanceOfPod("default", "src-0")!;
  assert.ok(instance.commit(2_000_000));
  instance.advance(60_000);
  const checkers = new BackupCheckers(w.cluster);
  return { w, endpoint, checkers };
}

async function runChecked(
  w: OperatorWorld,
  checkers: BackupCheckers,
  maxVirtualMs: number,
  done?: () => boolean,
) {
  const violations: string[] = [];
  await w.cluster.run({
    maxVirtualMs,
    until: () => {
      violations.push(...checkers.check());
      return violations.length > 0 || (done?.() ?? false);
    },
  });
  assert.deepEqual(violations, []);
}

function backupOf(w: OperatorWorld, name: string): PostgresBackup {
  return w.cluster.server.get(BACKUP, name, "default") as PostgresBackup;
}

function phaseIs(w: OperatorWorld, name: string, phases: string[]) {
  return () => {
    const b = w.cluster.server.peek(BACKUP, name, "default") as PostgresBackup | undefined;
    return phases.includes(b?.status?.phase ?? "");
  };
}

Deno.test("backups (sim): a one-shot backup, then a new database restored from it", async () => {
  const { w, endpoint, checkers } = await setup(11);
  await w.apply([postgresBackup("once", { verify: true })]);
  await runChecked(w, checkers, 600_000, phaseIs(w, "once", ["Succeeded", "Failed"]));
  const once = backupOf(w, "once");
  assert.equal(once.status?.phase, "Succeeded", JSON.stringify(once.status?.lastBackup));
  const record = once.status!.backups![0]!;
  assert.equal(record.verified, true);
  assert.deepEqual(endpoint.objects("backups").map((o) => o.key), [
    `pg/default/src/once/${record.id}/dump.pgc`,
    `pg/default/src/once/${record.id}/manifest.json`,
  ]);
  await runChecked(w, checkers, 60_000);
  assert.equal(
    w.cluster.server.peek({ apiVersion: "batch/v1", kind: "Job" }, "src-backup", "default"),
    undefined,
  );

  await w.apply([postgresDB("copy", 2, "once")]);
  await runChecked(w, checkers, 900_000, () => {
    const db = w.cluster.server.peek(DB, "copy", "default") as PostgresDB | undefined;
    return db?.status?.ready === true;
  });
  const copy = w.cluster.server.get(DB, "copy", "default") as PostgresDB;
  assert.equal(copy.status?.restore?.phase, "Succeeded");
  assert.equal(copy.status?.ready, true);
  for (const pod of ["copy-0", "copy-1"]) {
    const instance = w.cluster.dataPlane!.instanceOfPod("default", pod);
    assert.equal(instance?.restored?.marker, `${record.id}:${record.sha256}`, pod);
  }
});

Deno.test("backups (sim): each slot once, retention keeps the newest two, slots missed while the operator was down are counted", async () => {
  const { w, endpoint, checkers } = await setup(12);
  await w.apply([
    postgresBackup("minutely", { schedule: "* * * * *", retention: { keepLast: 2 } }),
  ]);
  await runChecked(w, checkers, 5 * 60_000 + 30_000);
  let b = backupOf(w, "minutely");
  assert.equal(b.status?.backups?.length, 2, JSON.stringify(b.status));
  const manifests = endpoint.objects("backups").filter((o) => o.key.endsWith("manifest.json"));
  assert.deepEqual(
    manifests.map((o) => o.key.split("/")[4]),
    b.status!.backups!.map((r) => r.id),
  );
  assert.ok(checkers.slotsRun() >= 5, `slots run: ${checkers.slotsRun()}`);
  // The backup controller goes down for three and a half minutes, then comes back.
  await w.backups.stop();
  const downAtMs = w.cluster.nowMs();
  await w.cluster.run({ maxVirtualMs: 210_000 });
  // Time passes while the controller is down, whether or not anything else is pending.
  w.cluster.clock.advanceTo(downAtMs + 210_000);
  const back = new Controller(w.cluster.client({ name: "postgres-backup-2" }), backupReconciler, {
    clock: w.cluster.clock,
    random: w.cluster.random.fork(),
    watchInactivityMs: 0,
  });
  void back.start();
  await runChecked(w, checkers, 50_000);
  b = backupOf(w, "minutely");
  assert.ok((b.status?.missedSlots ?? 0) >= 2, `missed: ${b.status?.missedSlots}`);
  await back.stop();
});

Deno.test("backups (sim): a store that is down, refused credentials, and two PostgresBackups of one database never at once", async () => {
  const { w, endpoint, checkers } = await setup(13);
  endpoint.down = true;
  await w.apply([postgresBackup("down")]);
  await runChecked(w, checkers, 600_000, phaseIs(w, "down", ["Succeeded", "Failed"]));
  assert.equal(
    backupOf(w, "down").status?.lastBackup?.reason,
    "StoreUnreachable",
    JSON.stringify(backupOf(w, "down").status),
  );
  endpoint.down = false;
  await w.apply([
    {
      ...STORE_SECRET,
      metadata: { name: "wrong", namespace: "default" },
      stringData: { AWS_ACCESS_KEY_ID: "NOPE", AWS_SECRET_ACCESS_KEY: "x" },
    },
    postgresBackup("refused", { credentialsSecret: "wrong" }),
  ]);
  await runChecked(w, checkers, 600_000, phaseIs(w, "refused", ["Succeeded", "Failed"]));
  assert.equal(backupOf(w, "refused").status?.lastBackup?.reason, "BadCredentials");
  await w.apply([postgresBackup("a"), postgresBackup("b")]);
  await runChecked(
    w,
    checkers,
    600_000,
    () => phaseIs(w, "a", ["Succeeded"])() && phaseIs(w, "b", ["Succeeded"])(),
  );
  assert.equal(backupOf(w, "a").status?.phase, "Succeeded");
  assert.equal(backupOf(w, "b").status?.phase, "Succeeded");
});
