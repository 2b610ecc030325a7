// Goal: the hardening findings that involve the API server, on a real control plane: a change of
// PostgreSQL major is refused with nothing changed; the CRD refuses versions that name no major;
// storage out of bounds is InvalidSpec; deleting a namespace full of PostgresDBs does not make
// the operator retry writes the server refuses because the namespace is terminating.
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

function manifest(name: string, namespace: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app", ...spec },
  });
}

async function readyCondition(name: string, namespace: string) {
  const db = await getJson("postgresdb", name, namespace);
  const ready = db?.status?.conditions?.find((c: { type: string }) => c.type === "Ready");
  return db?.status?.observedGeneration === db?.metadata?.generation ? ready : undefined;
}

Deno.test({
  name: "integration: hardening: majors, versions, storage bounds, a terminating namespace",
  ignore: !KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const operator = new OperatorProcess();
    const ns = "hardening";
    try {
      assert.equal((await runMain("install-crds")).code, 0);
      await kubectl("create", "namespace", ns);
      await operator.start();

      await t.step("the CRD refuses a version that names no PostgreSQL major", async () => {
        for (const version of ["latest", "alpine"]) {
          const out = await kubectlApply(manifest("tagged", ns, { version }));
          assert.notEqual(out.code, 0, `${version} accepted`);
          assert.match(out.stderr, /spec\.version/);
        }
      });

      await t.step("storage of 1e308 is InvalidSpec, naming the bound", async () => {
        await kubectlApply(manifest("huge", ns, { storage: "1e308" }));
        const ready = await waitFor("InvalidSpec", async () => {
          const c = await readyCondition("huge", ns);
          return c?.reason === "InvalidSpec" && c;
        });
        assert.match(ready.message, /"1e308" must be from 1Mi to 1Ei/);
        assert.equal(await getJson("statefulset", "huge", ns), undefined);
      });

      await t.step(
        "16 -> 17 is refused: MajorUpgradeUnsupported, the StatefulSet unchanged",
        async () => {
          assert.equal((await kubectlApply(manifest("major", ns, {}))).code, 0);
          await waitFor(
            "major Ready",
            async () => (await readyCondition("major", ns))?.status === "True",
            120_000,
          );
          const before = await getJson("statefulset", "major", ns);
          const pvc = await getJson("pvc", "data-major-0", ns);
          assert.equal(pvc.metadata.annotations["database.thegeekyway.com/data-major"], "16");
          assert.equal((await kubectlApply(manifest("major", ns, { version: "17" }))).code, 0);
          const ready = await waitFor("MajorUpgradeUnsupported", async () => {
            const c = await readyCondition("major", ns);
            return c?.reason === "MajorUpgradeUnsupported" && c;
          });
          assert.match(ready.message, /"17" \(PostgreSQL 17\).*initialised by PostgreSQL 16/);
          const after = await getJson("statefulset", "major", ns);
          assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
          assert.equal(after.spec.template.spec.containers[0].image, "postgres:16");
        },
      );

      await t.step("deleting the namespace: no write retried into it", async () => {
        for (let i = 0; i < 10; i++) {
          assert.equal((await kubectlApply(manifest(`db-${i}`, ns, {}))).code, 0);
        }
        for (let i = 0; i < 10; i++) {
          await waitFor(
            `db-${i} Ready`,
            async () => (await readyCondition(`db-${i}`, ns))?.status === "True",
            120_000,
          );
        }
        const from = operator.lines.length;
        await kubectlOk("delete", "namespace", ns, "--wait=false");
        await waitFor(
          "the namespace to go",
          async () => (await kubectl("get", "namespace", ns)).code !== 0,
          180_000,
        );
        await new Promise((r) => setTimeout(r, 2000));
        const lines = operator.lines.slice(from);
        const refused = lines.filter((l) => JSON.stringify(l).includes("being terminated"));
        const retried = lines.filter((l) =>
          l.msg === "Reconcile failed, requeued" && JSON.stringify(l).includes("being terminated")
        );
        assert.equal(retried.length, 0, JSON.stringify(retried.slice(0, 3)));
        assert.ok(
          refused.length <= 8,
          `${refused.length} refusals: ${JSON.stringify(refused.slice(0, 3))}`,
        );
      });
    } finally {
      await operator.stop();
      await kubectl("delete", "namespace", ns, "--wait=false");
    }
  },
});
