// Goal: backups and restore on real PostgreSQL and a real S3 server. On the real node, a
// PostgresBackup's Job dumps a pgbench database (scale 10) into versitygw, dump then manifest, and
// verifies it by a throwaway restore in the pod; a new PostgresDB restored from it holds the same
// rows and is Ready only then; wrong credentials and a store stopped mid-backup end in failures
// that say why, and the next backup succeeds once the store is back; a schedule every minute
// gives a backup a minute and retention keeps two.
// Method: the operator on the host, kubectl for what a user does, the store read through its
// 127.0.0.1 address with the project's S3 client, psql in the pods (`kubectl exec`), and
// scripts/controlplane/s3.sh to stop and start the store.
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
import { S3Store } from "../../agent/backup/s3_store.ts";
import { Kube, REALNODE_KUBECONFIG, REALNODE_SKIP_REASON } from "./support.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

const NS = "backup-test";
const STATE = REALNODE_KUBECONFIG ? REALNODE_KUBECONFIG.replace(/\/[^/]*$/, "") : "";

/** `$STATE/s3.env`, as up.sh writes it: KEY='value' lines. */
function storeEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(`${STATE}/s3.env`).split("\n")) {
    const m = /^([A-Z0-9_]+)='(.*)'$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function manifest(object: unknown): string {
  return JSON.stringify(object);
}

function postgresDB(name: string, replicas: number, restoreFrom?: { backup: string }): string {
  return manifest({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace: NS },
    spec: {
      version: "16",
      storage: "1Gi",
      replicas,
      databaseName: "app",
      ...(restoreFrom ? { restoreFrom } : {}),
    },
  });
}

function postgresBackup(
  name: string,
  s3: Record<string, string>,
  extra: Record<string, unknown> = {},
): string {
  return manifest({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresBackup",
    metadata: { name, namespace: NS },
    spec: {
      postgresRef: "src",
      destination: `s3://${s3.PGOP_S3_BUCKET}/pg/`,
      endpoint: s3.PGOP_S3_POD_ENDPOINT,
      credentialsSecret: "store",
      ...extra,
    },
  });
}

// deno-lint-ignore no-explicit-any
async function readyDb(kube: Kube, name: string, replicas: number): Promise<any> {
  return await waitFor(`${NS}/${name} Ready with ${replicas} instances`, async () => {
    const db = await kube.json("postgresdb", name, NS);
    return db?.status?.ready === true && db.status.readyReplicas === replicas &&
      db.status.observedGeneration === db.metadata.generation && db;
  }, 300_000);
}

async function backupPhase(
  kube: Kube,
  name: string,
  phases: string[],
  timeoutMs = 300_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  return await waitFor(`PostgresBackup ${name} in ${phases.join(" or ")}`, async () => {
    const b = await kube.json("postgresbackup", name, NS);
    return phases.includes(b?.status?.phase) && b;
  }, timeoutMs);
}

async function sqlIn(kube: Kube, pod: string, sql: string): Promise<string> {
  return (await kube.psqlInPod(pod, "app", sql, NS)).trim();
}

async function controlPlaneScript(script: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [new URL(`../../scripts/controlplane/${script}`, import.meta.url).pathname, ...args],
    env: { PGOP_CONTROLPLANE_STATE: STATE },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${script} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

Deno.test({
  name:
    "real node: backups to a real S3 server, a restore that holds the same rows, failures with reasons, a schedule with retention",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    const s3 = storeEnv();
    const store = new S3Store({
      endpoint: s3.PGOP_S3_ENDPOINT!,
      region: s3.PGOP_S3_REGION!,
      bucket: s3.PGOP_S3_BUCKET!,
      accessKeyId: s3.PGOP_S3_ACCESS_KEY_ID!,
      secretAccessKey: s3.PGOP_S3_SECRET_ACCESS_KEY!,
    });
    let dbBytes = 0;
    let proof = "";
    try {
      await t.step("a database with pgbench's tables at scale 10 and a proof table", async () => {
        const install = await kube.run([
          "apply",
          "-f",
          new URL("../../crds/", import.meta.url).pathname,
        ]);
        assert.equal(install.code, 0, install.stderr);
        await kube.ok(
          "wait",
          "--for=condition=Established",
          "crd/postgresbackups.database.thegeekyway.com",
          "--timeout=60s",
        );
        await operator.start();
        await kube.run(["create", "namespace", NS]);
        await kube.ok(
          "create",
          "secret",
          "generic",
          "store",
          "-n",
          NS,
          `--from-literal=AWS_ACCESS_KEY_ID=${s3.PGOP_S3_ACCESS_KEY_ID}`,
          `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.PGOP_S3_SECRET_ACCESS_KEY}`,
        );
        await kube.ok(
          "create",
          "secret",
          "generic",
          "wrong",
          "-n",
          NS,
          `--from-literal=AWS_ACCESS_KEY_ID=${s3.PGOP_S3_ACCESS_KEY_ID}`,
          "--from-literal=AWS_SECRET_ACCESS_KEY=not-the-secret",
        );
        await kube.apply(postgresDB("src", 1));
        await readyDb(kube, "src", 1);
        await kube.ok(
          "exec",
          "-n",
          NS,
          "src-0",
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
          "src-0",
          "CREATE TABLE proof (id int PRIMARY KEY, note text); " +
            "INSERT INTO proof SELECT g, md5(g::text) FROM generate_series(1, 1000) g;",
        );
        proof = await sqlIn(
          kube,
          "src-0",
          "SELECT count(*), sum(id), md5(string_agg(note, ',' ORDER BY id)) FROM proof",
        );
        dbBytes = Number(await sqlIn(kube, "src-0", "SELECT pg_database_size('app')"));
        console.log(`  database: ${(dbBytes / 2 ** 20).toFixed(0)} MiB`);
      });

      let backupId = "";
      await t.step(
        "a one-shot backup: dump and manifest in the store, verified by a restore in the pod",
        async () => {
          const applied = Date.now();
          await kube.apply(postgresBackup("once", s3, { verify: true }));
          const b = await backupPhase(kube, "once", ["Succeeded", "Failed"]);
          assert.equal(b.status.phase, "Succeeded", JSON.stringify(b.status.lastBackup));
          const record = b.status.backups[0];
          backupId = record.id;
          assert.equal(record.verified, true);
          const prefix = `pg/${NS}/src/once/${backupId}/`;
          const keys = (await store.listObjects(prefix)).map((o) => o.key);
          assert.deepEqual(keys, [`${prefix}dump.pgc`, `${prefix}manifest.json`]);
          const m = JSON.parse(
            await new Response(await store.getObject(`${prefix}manifest.json`)).text(),
          );
          assert.equal(m.sha256, record.sha256);
          assert.equal(m.sizeBytes, record.sizeBytes);
          const tables = new Map(
            m.tables.map((x: { table: string; rows: number }) => [x.table, x.rows]),
          );
          assert.equal(tables.get("public.pgbench_accounts"), 1_000_000);
          assert.equal(tables.get("public.proof"), 1000);
          // The Job is gone once its outcome is recorded: the database's backup lock is free.
          assert.equal((await kube.run(["get", "job", "src-backup", "-n", NS])).code, 1);
          const mbps = dbBytes / 2 ** 20 / record.durationSeconds;
          console.log(
            `  backup: ${
              (record.sizeBytes / 2 ** 20).toFixed(1)
            } MiB dump in ${record.durationSeconds} s ` +
              `(${mbps.toFixed(1)} MiB/s of database, verify included); apply to recorded ${
                ((Date.now() - applied) / 1000).toFixed(1)
              } s`,
          );
        },
      );

      await t.step(
        "a new PostgresDB restored from it holds the same rows, and is Ready only then",
        async () => {
          await kube.apply(postgresDB("copy", 2, { backup: "once" }));
          // While the restore runs the database is not Ready, and runs its primary alone.
          const early = await waitFor("copy restoring", async () => {
            const db = await kube.json("postgresdb", "copy", NS);
            return db?.status?.restore !== undefined && db;
          }, 120_000);
          assert.equal(early.status.ready, false);
          const db = await readyDb(kube, "copy", 2);
          assert.equal(db.status.restore.phase, "Succeeded");
          assert.equal(db.status.restore.id, backupId);
          for (const pod of ["copy-0", "copy-1"]) {
            await waitFor(`rows on ${pod}`, async () => {
              const out = await kube.run([
                "exec",
                "-n",
                NS,
                pod,
                "--",
                "psql",
                "-X",
                "-At",
                "-U",
                "postgres",
                "-d",
                "app",
                "-c",
                "SELECT count(*) FROM pgbench_accounts",
              ]);
              return out.code === 0 && out.stdout.trim() === "1000000";
            }, 120_000);
          }
          assert.equal(
            await sqlIn(
              kube,
              "copy-0",
              "SELECT count(*), sum(id), md5(string_agg(note, ',' ORDER BY id)) FROM proof",
            ),
            proof,
          );
          const took = db.status.restore.durationSeconds;
          assert.ok(took > 0, JSON.stringify(db.status.restore));
          console.log(
            `  restore: ${took} s in the Job (${(dbBytes / 2 ** 20 / took).toFixed(1)} MiB/s ` +
              `of database); Job created to recorded ${
                seconds(db.status.restore.startedAt, db.status.restore.completedAt)
              } s`,
          );
        },
      );

      await t.step(
        "wrong credentials: a failed backup with the reason, in the status and an Event",
        async () => {
          await kube.apply(postgresBackup("badcreds", s3, { credentialsSecret: "wrong" }));
          const b = await backupPhase(kube, "badcreds", ["Succeeded", "Failed"]);
          assert.equal(b.status.phase, "Failed");
          assert.equal(b.status.lastBackup.reason, "BadCredentials");
          const ready = b.status.conditions.find((c: { type: string }) => c.type === "Ready");
          assert.equal(ready.status, "False");
          assert.equal(ready.reason, "BadCredentials");
          const events = await kube.ok(
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "involvedObject.name=badcreds",
            "-o",
            "json",
          );
          assert.ok(
            JSON.parse(events).items.some((e: { reason: string }) => e.reason === "BackupFailed"),
            "a BackupFailed Event",
          );
        },
      );

      await t.step(
        "the store stopped mid-backup: a failed backup that says so; the next succeeds once it is back",
        async () => {
          // With verification the run lasts longer (a throwaway restore before the manifest): the store
          // stops while it runs, however fast the dump is.
          await kube.apply(postgresBackup("cut", s3, { verify: true }));
          await waitFor("the backup's pod running", async () => {
            const out = await kube.run([
              "get",
              "pods",
              "-n",
              NS,
              "-l",
              "batch.kubernetes.io/job-name=src-backup",
              "-o",
              "jsonpath={.items[*].status.phase}",
            ]);
            return out.stdout.includes("Running");
          }, 120_000);
          await controlPlaneScript("s3.sh", "stop");
          try {
            const b = await backupPhase(kube, "cut", ["Succeeded", "Failed"]);
            assert.equal(b.status.phase, "Failed");
            assert.match(b.status.lastBackup.reason, /^(StoreUnreachable|UploadFailed)$/);
            assert.match(b.status.lastBackup.message, /10\.88\.0\.1|unreachable|connect/i);
          } finally {
            await controlPlaneScript("s3.sh", "start");
          }
          await kube.apply(postgresBackup("after", s3));
          const after = await backupPhase(kube, "after", ["Succeeded", "Failed"]);
          assert.equal(after.status.phase, "Succeeded", JSON.stringify(after.status.lastBackup));
        },
      );

      await t.step("a schedule every minute: a backup a minute, retention keeps two", async () => {
        await kube.apply(
          postgresBackup("minutely", s3, { schedule: "* * * * *", retention: { keepLast: 2 } }),
        );
        const seen = new Set<string>();
        const lags: number[] = [];
        await waitFor("three scheduled backups", async () => {
          const b = await kube.json("postgresbackup", "minutely", NS);
          for (const r of b?.status?.backups ?? []) {
            if (!seen.has(r.id)) {
              seen.add(r.id);
              const slot = r.id.replace(
                /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z.*$/,
                "$1-$2-$3T$4:$5:$6Z",
              );
              lags.push(seconds(slot, r.completedAt));
            }
          }
          return seen.size >= 3 && b;
        }, 300_000);
        const b = await kube.json("postgresbackup", "minutely", NS);
        assert.equal(b.status.backups.length, 2, JSON.stringify(b.status.backups));
        assert.equal(b.status.missedSlots ?? 0, 0);
        const manifests = (await store.listObjects(`pg/${NS}/src/minutely/`))
          .filter((o) => o.key.endsWith("/manifest.json"));
        assert.deepEqual(
          manifests.map((o) => o.key.split("/")[4]).sort(),
          b.status.backups.map((r: { id: string }) => r.id),
        );
        console.log(`  schedule to upload complete: ${lags.map((l) => l.toFixed(1)).join(", ")} s`);
        await kube.ok("delete", "postgresbackup", "minutely", "-n", NS, "--wait=false");
      });
    } finally {
      await operator.stop();
      await kube.run(["delete", "namespace", NS, "--wait=false"]);
    }
  },
});
