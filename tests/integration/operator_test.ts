// Goal: the tutorial's story against a real control plane (etcd, kube-apiserver, the real
// controllers and scheduler, kwok nodes): CRD install, Step 5's output, the password across
// restarts, a quiet minute, scaling with PVCs kept, schema and InvalidSpec rejections, an API server
// restart, and garbage collection by the real garbage collector.
// Method: `main.ts start` in a subprocess, kubectl for everything a user would do and read.
import assert from "node:assert/strict";
import {
  getJson,
  KUBECONFIG,
  kubectl,
  kubectlApply,
  kubectlOk,
  OperatorProcess,
  runMain,
  SKIP_REASON,
  waitFor,
} from "./support.ts";

if (!KUBECONFIG) console.log(SKIP_REASON);

const QUIET_SECONDS = Number(Deno.env.get("PGOP_QUIET_SECONDS") ?? 60);

async function readyWith(name: string, replicas: number) {
  return await waitFor(`${name} Ready with ${replicas} instances`, async () => {
    const db = await getJson("postgresdb", name);
    const sts = await getJson("statefulset", name);
    return db?.status?.ready === true && db.status.observedGeneration === db.metadata.generation &&
      sts?.spec?.replicas === replicas && sts.status?.readyReplicas === replicas && db;
  }, 120_000);
}

/** The tutorial's sample, renamed and with a deletion policy when given. */
function sampleManifest(options: { name?: string; deletionPolicy?: string } = {}): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: options.name ?? "my-postgres", namespace: "default" },
    spec: {
      version: "16",
      storage: "1Gi",
      replicas: 1,
      databaseName: "myapp",
      ...(options.deletionPolicy ? { deletionPolicy: options.deletionPolicy } : {}),
    },
  });
}

async function applyOk(manifest: string): Promise<void> {
  const out = await kubectlApply(manifest);
  assert.equal(out.code, 0, out.stderr);
}

async function pvcNames(): Promise<string[]> {
  const out = await kubectlOk("get", "pvc", "-n", "default", "-o", "name");
  return out.trim().split("\n").filter(Boolean).map((n) => n.replace("persistentvolumeclaim/", ""))
    .sort();
}

Deno.test({
  name: "integration: the tutorial's story on a real control plane",
  ignore: !KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const operator = new OperatorProcess();
    try {
      await t.step("the CRDs install and the API server accepts the sample unchanged", async () => {
        const install = await runMain("install-crds");
        assert.equal(install.code, 0, install.stderr);
        await kubectlOk("apply", "-f", "crds/", "--dry-run=server");
        await waitFor(
          "the CRD to be established",
          async () =>
            (await kubectl(
              "get",
              "crd",
              "postgresdbs.database.thegeekyway.com",
              "-o",
              "jsonpath={.status.conditions[?(@.type=='Established')].status}",
            )).stdout === "True",
        );
        await kubectlOk("apply", "-f", "examples/postgresdb.yaml", "--dry-run=server");
      });

      await t.step(
        "Step 5: my-postgres Running, StatefulSet 1/1, headless Service, PVC, Secret",
        async () => {
          await operator.start();
          await kubectlOk("apply", "-f", "examples/postgresdb.yaml");
          await kubectlOk(
            "wait",
            "--for=condition=Ready",
            "postgresdb/my-postgres",
            "--timeout=120s",
          );
          assert.match(
            await kubectlOk("get", "postgresdbs"),
            /my-postgres\s+16\s+1\s+Running\s+true/,
          );
          assert.match(await kubectlOk("get", "pgdb"), /my-postgres/, "the short name works");
          assert.match(await kubectlOk("get", "statefulsets"), /my-postgres\s+1\/1/);
          assert.match(
            await kubectlOk("get", "services", "my-postgres"),
            /my-postgres\s+ClusterIP\s+None\s+<none>\s+5432\/TCP/,
          );
          assert.match(
            await kubectlOk("get", "pvc"),
            /data-my-postgres-0\s+Bound\s+\S+\s+1Gi\s+RWO/,
          );
          const secret = await getJson("secret", "my-postgres-credentials");
          assert.equal(atob(secret.data.database), "myapp");
          const db = await getJson("postgresdb", "my-postgres");
          assert.equal(
            db.status.connectionString,
            "postgresql://my-postgres-rw.default.svc.cluster.local:5432/myapp",
          );
        },
      );

      await t.step("the password does not change across operator restarts", async () => {
        const before = (await getJson("secret", "my-postgres-credentials")).data.password;
        for (let i = 0; i < 2; i++) {
          assert.equal(await operator.stop(), 0, "a clean exit on SIGTERM");
          await operator.start();
          await new Promise((r) => setTimeout(r, 1000));
        }
        assert.equal((await getJson("secret", "my-postgres-credentials")).data.password, before);
      });

      await t.step(
        "plan --cluster says what the operator would do, and writes nothing",
        async () => {
          const plan = async (file: string) => {
            const out = await runMain("plan", "-f", file, "--cluster");
            assert.equal(out.code, 0, out.stderr);
            return out.stdout;
          };
          assert.match(
            await plan("examples/postgresdb.yaml"),
            /do nothing: the cluster already matches/,
          );
          const file = await Deno.makeTempFile({ suffix: ".yaml" });
          const sample = await Deno.readTextFile("examples/postgresdb.yaml");
          await Deno.writeTextFile(file, sample.replace("replicas: 1", "replicas: 3"));
          const before = (await getJson("statefulset", "my-postgres")).metadata.resourceVersion;
          assert.match(
            await plan(file),
            /update StatefulSet default\/my-postgres: spec\.replicas: want 3, have 1/,
          );
          assert.equal(
            (await getJson("statefulset", "my-postgres")).metadata.resourceVersion,
            before,
          );
        },
      );

      await t.step(`steady state: no writes over a quiet ${QUIET_SECONDS}s`, async () => {
        const versions = async () =>
          await Promise.all(
            [["postgresdb", "my-postgres"], ["statefulset", "my-postgres"], [
              "service",
              "my-postgres",
            ], [
              "secret",
              "my-postgres-credentials",
            ]].map(async ([kind, name]) => (await getJson(kind!, name!)).metadata.resourceVersion),
          );
        const from = operator.lines.length;
        const before = await versions();
        await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
        assert.equal(operator.writesSince(from), 0, "the operator logged no writes");
        assert.deepEqual(await versions(), before, "no object changed");
      });

      await t.step("scaling 1 -> 3 -> 1 is reflected and keeps the PVCs", async () => {
        await kubectlOk(
          "patch",
          "postgresdb",
          "my-postgres",
          "--type=merge",
          "-p",
          '{"spec":{"replicas":3}}',
        );
        await readyWith("my-postgres", 3);
        assert.match(
          await kubectlOk("get", "postgresdbs"),
          /my-postgres\s+16\s+3\s+Running\s+true/,
        );
        await kubectlOk(
          "patch",
          "postgresdb",
          "my-postgres",
          "--type=merge",
          "-p",
          '{"spec":{"replicas":1}}',
        );
        await readyWith("my-postgres", 1);
        await waitFor(
          "pods scaled down",
          async () =>
            (await kubectlOk(
              "get",
              "pods",
              "-l",
              "app.kubernetes.io/instance=my-postgres",
              "-o",
              "name",
            ))
              .trim().split("\n").length === 1,
        );
        assert.deepEqual(await pvcNames(), [
          "data-my-postgres-0",
          "data-my-postgres-1",
          "data-my-postgres-2",
        ]);
      });

      await t.step("the CRD schema rejects what a schema can say", async () => {
        const bad: [string, string, RegExp][] = [
          ["replicas: -1", '{"replicas":-1}', /replicas/],
          ["replicas: 1000", '{"replicas":1000}', /replicas/],
          ["storage: 10 gigs", '{"storage":"10 gigs"}', /storage/],
          ["version: 16; rm -rf /", '{"version":"16; rm -rf /"}', /version/],
          ["databaseName: my-app", '{"databaseName":"my-app"}', /databaseName/],
        ];
        for (const [what, patch, field] of bad) {
          const manifest = JSON.stringify({
            apiVersion: "database.thegeekyway.com/v1alpha1",
            kind: "PostgresDB",
            metadata: { name: "bad-schema", namespace: "default" },
            spec: {
              version: "16",
              storage: "1Gi",
              replicas: 1,
              databaseName: "app",
              ...JSON.parse(patch),
            },
          });
          const out = await kubectlApply(manifest);
          assert.notEqual(out.code, 0, `${what} was accepted`);
          assert.match(out.stderr, field, what);
        }
        const missing = await kubectlApply(JSON.stringify({
          apiVersion: "database.thegeekyway.com/v1alpha1",
          kind: "PostgresDB",
          metadata: { name: "bad-schema", namespace: "default" },
          spec: { version: "16", storage: "1Gi" },
        }));
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /databaseName/);
        const renamed = await kubectl(
          "patch",
          "postgresdb",
          "my-postgres",
          "--type=merge",
          "-p",
          '{"spec":{"databaseName":"other"}}',
        );
        assert.notEqual(renamed.code, 0, "databaseName is immutable");
        assert.match(renamed.stderr, /databaseName cannot change/);
      });

      await t.step(
        "what the schema allows but the operator refuses ends in InvalidSpec",
        async () => {
          const out = await kubectlApply(JSON.stringify({
            apiVersion: "database.thegeekyway.com/v1alpha1",
            kind: "PostgresDB",
            metadata: { name: "reserved", namespace: "default" },
            spec: { version: "16", storage: "0", replicas: 1, databaseName: "template1" },
          }));
          assert.equal(out.code, 0, out.stderr);
          const db = await waitFor("InvalidSpec", async () => {
            const db = await getJson("postgresdb", "reserved");
            return db?.status?.conditions?.find((c: { reason: string }) =>
              c.reason === "InvalidSpec"
            ) && db;
          });
          const ready = db.status.conditions.find((c: { type: string }) => c.type === "Ready");
          assert.equal(ready.status, "False");
          assert.match(ready.message, /spec\.storage: "0" must be positive/);
          assert.match(ready.message, /spec\.databaseName: "template1" is reserved/);
          assert.equal(db.status.phase, "Failed");
          assert.equal(await getJson("statefulset", "reserved"), undefined, "nothing created");
          const events = await kubectlOk(
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=reserved,reason=InvalidSpec",
            "-o",
            "name",
          );
          assert.ok(events.trim().length > 0, "a Warning event");
          await kubectlOk("delete", "postgresdb", "reserved");
        },
      );

      await t.step(
        "the operator survives an API server restart and reconciles a later change",
        async () => {
          const restart = await new Deno.Command("bash", {
            args: ["scripts/controlplane/restart-apiserver.sh"],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.equal(restart.code, 0, new TextDecoder().decode(restart.stderr));
          await kubectlOk(
            "patch",
            "postgresdb",
            "my-postgres",
            "--type=merge",
            "-p",
            '{"spec":{"replicas":2}}',
          );
          await readyWith("my-postgres", 2);
        },
      );

      let password = "";
      await t.step(
        "deleting the PostgresDB garbage-collects its children and keeps the volumes and credentials",
        async () => {
          password = (await getJson("secret", "my-postgres-credentials")).data.password;
          await kubectlOk("delete", "postgresdb", "my-postgres");
          await waitFor(
            "children to be collected",
            async () =>
              (await getJson("statefulset", "my-postgres")) === undefined &&
              (await getJson("service", "my-postgres")) === undefined,
            60_000,
          );
          await waitFor("pods to go", async () =>
            (await kubectlOk(
              "get",
              "pods",
              "-l",
              "app.kubernetes.io/instance=my-postgres",
              "-o",
              "name",
            )).trim() === "");
          assert.deepEqual(await pvcNames(), [
            "data-my-postgres-0",
            "data-my-postgres-1",
            "data-my-postgres-2",
          ]);
          const secret = await getJson("secret", "my-postgres-credentials");
          assert.equal(secret?.data.password, password, "Retain: the credentials are kept");
        },
      );

      await t.step(
        "re-created over its retained volumes and Secret, it is Ready with the old password",
        async () => {
          await applyOk(sampleManifest());
          await readyWith("my-postgres", 1);
          const secret = await getJson("secret", "my-postgres-credentials");
          assert.equal(secret.data.password, password);
        },
      );

      await t.step(
        "a deleted Secret over existing volumes is asked for, never re-invented, and adopted back",
        async () => {
          const secret = await getJson("secret", "my-postgres-credentials");
          await kubectlOk("delete", "secret", "my-postgres-credentials");
          await waitFor("CredentialsMissing", async () => {
            const db = await getJson("postgresdb", "my-postgres");
            const ready = db?.status?.conditions?.find((c: { type: string }) => c.type === "Ready");
            return ready?.reason === "CredentialsMissing";
          }, 60_000);
          assert.equal(await getJson("secret", "my-postgres-credentials"), undefined);
          await applyOk(JSON.stringify({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "my-postgres-credentials", namespace: "default" },
            data: secret.data,
          }));
          await readyWith("my-postgres", 1);
          const adopted = await getJson("secret", "my-postgres-credentials");
          assert.equal(adopted.data.password, password);
          assert.equal(adopted.metadata.ownerReferences, undefined, "adopted, never owned");
          await kubectlOk("delete", "postgresdb", "my-postgres");
          await waitFor(
            "the StatefulSet to go",
            async () => (await getJson("statefulset", "my-postgres")) === undefined,
            60_000,
          );
          assert.ok(await getJson("secret", "my-postgres-credentials"), "the user's Secret stays");
          await kubectlOk("delete", "secret", "my-postgres-credentials");
          await kubectlOk("delete", "pvc", "--all", "-n", "default", "--wait=false");
        },
      );

      await t.step(
        "deletionPolicy Delete removes volumes and generated credentials, never a user's Secret",
        async () => {
          await applyOk(sampleManifest({ name: "ephemeral", deletionPolicy: "Delete" }));
          await readyWith("ephemeral", 1);
          await applyOk(JSON.stringify({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "brought-credentials", namespace: "default" },
            stringData: { username: "postgres", password: "brought-by-user", database: "myapp" },
          }));
          await applyOk(sampleManifest({ name: "brought", deletionPolicy: "Delete" }));
          await readyWith("brought", 1);
          await kubectlOk("delete", "postgresdb", "ephemeral", "brought");
          await waitFor(
            "the volumes and the generated Secret to go",
            async () =>
              (await getJson("secret", "ephemeral-credentials")) === undefined &&
              !(await pvcNames()).some((n) => n.includes("ephemeral") || n.includes("brought")),
            120_000,
          );
          const kept = await getJson("secret", "brought-credentials");
          assert.equal(atob(kept.data.password), "brought-by-user", "the user's Secret stays");
          await kubectlOk("delete", "secret", "brought-credentials");
        },
      );
    } finally {
      await operator.stop();
    }
  },
});
