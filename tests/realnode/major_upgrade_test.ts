// Goal: major upgrades on real PostgreSQL. On the real node, a PostgresDB of two instances on
// postgres:16 holding pgbench's tables at scale 10 and a proof table moves to postgres:17 with
// spec.majorUpgrade: PgUpgrade. The operator is killed (SIGKILL) while the upgrade runs and started
// again; the upgrade completes: both instances run PostgreSQL 17, the standby re-cloned from the
// upgraded primary, every row and the proof's checksum kept, the status Succeeded with its
// downtime. The check runs in the target image beside the serving primary and measures the
// volume to upgrade; a target image that lacks an extension in use is refused by it and the
// database keeps serving on 16.
// Figures: the downtime (instances stopped to the new primary serving), pg_upgrade's time in the
// Job, and the whole upgrade's time.
// Method: `main.ts start` on the host; kubectl and psql in the pods.
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
import { installCrds, Kube, REALNODE_KUBECONFIG, REALNODE_SKIP_REASON } from "./support.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

// Its own namespace: the suites after it count the volumes and the host's interfaces.
const NS = "major-upgrade-test";

function postgresDB(name: string, replicas: number, version: string): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace: NS },
    spec: {
      version,
      storage: "1Gi",
      replicas,
      databaseName: "app",
      majorUpgrade: "PgUpgrade",
      deletionPolicy: "Delete",
    },
  });
}

// deno-lint-ignore no-explicit-any
type Db = any;

async function sqlIn(kube: Kube, pod: string, sql: string): Promise<string> {
  return (await kube.psqlInPod(pod, "app", sql, NS)).trim();
}

async function readyOn(kube: Kube, name: string, replicas: number, version: string): Promise<Db> {
  return await waitFor(`${name}: ${replicas} instances ready on postgres:${version}`, async () => {
    const db = await kube.json("postgresdb", name, NS);
    const s = db?.status;
    if (s?.ready !== true || s.readyInstances !== replicas) return false;
    if (s.observedGeneration !== db.metadata.generation) return false;
    for (let i = 0; i < replicas; i++) {
      const pod = await kube.json("pod", `${name}-${i}`, NS);
      if (pod?.spec?.containers?.[0]?.image !== `postgres:${version}`) return false;
    }
    return db;
  }, 600_000);
}

const PROOF = "SELECT count(*), sum(id), md5(string_agg(note, ',' ORDER BY id)) FROM proof";

Deno.test({
  name:
    "real node: a major upgrade 16 -> 17 with pg_upgrade keeps every row, the operator killed midway",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    const name = "mj";
    try {
      await installCrds(kube);
      await operator.start();
      await kube.run(["create", "namespace", NS]);
      let proof = "";
      let accounts = "";

      await t.step(
        "postgres:16, two instances, pgbench at scale 10 and a proof table",
        async () => {
          await kube.apply(postgresDB(name, 2, "16"));
          await readyOn(kube, name, 2, "16");
          await kube.ok(
            "exec",
            "-n",
            NS,
            `${name}-0`,
            "--",
            "pgbench",
            "-i",
            "-q",
            "-s",
            "10",
            "-U",
            "postgres",
            "app",
          );
          await sqlIn(
            kube,
            `${name}-0`,
            "CREATE TABLE proof (id int PRIMARY KEY, note text); " +
              "INSERT INTO proof SELECT g, md5(g::text) FROM generate_series(1, 1000) g;",
          );
          proof = await sqlIn(kube, `${name}-0`, PROOF);
          accounts = await sqlIn(kube, `${name}-0`, "SELECT count(*) FROM pgbench_accounts");
          assert.equal(accounts, "1000000");
        },
      );

      await t.step(
        "an image without an extension in use is refused by the check; 16 serves",
        async () => {
          // adminpack was removed in PostgreSQL 17: its control file is not in postgres:17.
          await sqlIn(kube, `${name}-0`, "CREATE EXTENSION adminpack");
          const uid = (await kube.json("pod", `${name}-0`, NS)).metadata.uid;
          await kube.apply(postgresDB(name, 2, "17"));
          const db = await waitFor("the upgrade's check to fail", async () => {
            const db = await kube.json("postgresdb", name, NS);
            return db?.status?.upgrade?.phase === "Failed" && db;
          }, 300_000);
          assert.equal(
            db.status.upgrade.reason,
            "ExtensionsUnavailable",
            JSON.stringify(db.status),
          );
          assert.match(db.status.upgrade.message, /adminpack/);
          assert.equal(
            (await kube.json("pod", `${name}-0`, NS)).metadata.uid,
            uid,
            "never stopped",
          );
          assert.equal(await sqlIn(kube, `${name}-0`, "SELECT count(*) FROM proof"), "1000");
          await sqlIn(kube, `${name}-0`, "DROP EXTENSION adminpack");
          await kube.apply(postgresDB(name, 2, "16"));
          await readyOn(kube, name, 2, "16");
        },
      );

      await t.step("16 -> 17, the operator killed while the instances are stopped", async () => {
        const started = Date.now();
        await kube.apply(postgresDB(name, 2, "17"));
        await waitFor("the upgrade to stop the instances", async () => {
          const db = await kube.json("postgresdb", name, NS);
          return ["Stopping", "Upgrading"].includes(db?.status?.upgrade?.phase);
        }, 300_000);
        await operator.kill();
        await new Promise((r) => setTimeout(r, 5_000));
        await operator.start();
        const db = await readyOn(kube, name, 2, "17");
        const tookS = (Date.now() - started) / 1000;
        const upgrade = db.status.upgrade;
        assert.equal(upgrade?.phase, "Succeeded", JSON.stringify(upgrade));
        assert.equal(upgrade.from, 16);
        assert.equal(upgrade.to, 17);
        for (const pod of [`${name}-0`, `${name}-1`]) {
          const version = await kube.psqlInPod(pod, "app", "SHOW server_version_num", NS);
          assert.match(version.trim(), /^17/, pod);
        }
        assert.equal(await sqlIn(kube, `${name}-0`, PROOF), proof);
        assert.equal(
          await sqlIn(kube, `${name}-0`, "SELECT count(*) FROM pgbench_accounts"),
          accounts,
        );
        // The standby re-cloned from the upgraded primary and replays its writes.
        await sqlIn(kube, `${name}-0`, "INSERT INTO proof VALUES (1001, 'after')");
        await waitFor("the row on the standby", async () => {
          const count = await sqlIn(kube, `${name}-1`, "SELECT count(*) FROM proof");
          return count === "1001";
        }, 120_000);
        // The check measured the volume to upgrade, mounted read-only beside its instance.
        const checked = JSON.parse(
          await kube.ok(
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "reason=MajorUpgradeChecked",
            "-o",
            "json",
          ),
        ).items.map((e: { message: string }) => e.message).join("\n");
        assert.match(checked, /the volume has room \(\d+ MiB free\)/);
        for (let i = 0; i < 2; i++) {
          const pvc = await kube.json("pvc", `data-${name}-${i}`, NS);
          assert.equal(pvc.metadata.annotations["database.thegeekyway.com/data-major"], "17");
        }
        console.log(
          `  major upgrade 16 -> 17 of a pgbench scale-10 database, 2 instances, operator killed ` +
            `midway: ${tookS.toFixed(1)} s in all; downtime ${upgrade.downtimeSeconds} s; ` +
            `pg_upgrade in the Job ${upgrade.upgradeSeconds} s`,
        );
      });
    } finally {
      // Gone before the next suite starts: its pods, volumes and the namespace.
      await kube.run(["delete", "postgresdb", name, "-n", NS, "--timeout=120s"]);
      await waitFor("the upgrade test's pods and volumes to go", async () => {
        const left = await kube.run(["get", "pods,pvc", "-n", NS, "-o", "name"]);
        return left.code === 0 && left.stdout.trim() === "";
      }, 180_000).catch((error) => console.log(`  cleanup: ${error.message}`));
      await operator.stop();
      await kube.run(["delete", "namespace", NS, "--timeout=120s"]);
    }
  },
});
