// Goal: on a real API server, children edited by hand are put back within bounded time, and the
// PostgresDB is not left Ready with a wrong Service. The Service edits are the ones that used to
// loop forever: `kubectl patch --type=json` of the port (server-side apply then merged the
// operator's port 5432 beside the user's 5433, both named "postgres": `Duplicate value`), of the
// targetPort, and a port added by hand; then a StatefulSet image and a Secret label.
// Method: `main.ts start` in a subprocess, kubectl for every edit and read, in a namespace of its
// own that is deleted afterwards.
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

const NS = `pgop-drift-${crypto.randomUUID().slice(0, 6)}`;
const NAME = "drifty";
/** How long a repair may take: a few reconciles, far below "forever". */
const REPAIR_BOUND_MS = 30_000;

// deno-lint-ignore no-explicit-any
type Any = any;

function ports(svc: Any): string {
  return svc.spec.ports.map((p: Any) => `${p.name} ${p.port}->${p.targetPort}/${p.protocol}`)
    .join(",");
}

async function ready(): Promise<Any> {
  return await waitFor(`${NAME} Ready`, async () => {
    const db = await getJson("postgresdb", NAME, NS);
    return db?.status?.ready === true && db.status.observedGeneration === db.metadata.generation &&
      db;
  }, 120_000);
}

/** Patches the Service as a user would, then waits for the operator to put it back. */
async function driftService(patch: string): Promise<void> {
  const out = await kubectlOk(
    "patch",
    "service",
    NAME,
    "-n",
    NS,
    "--type=json",
    "-p",
    patch,
    "-o",
    "json",
  );
  assert.notEqual(ports(JSON.parse(out)), "postgres 5432->5432/TCP", "the edit took");
  await waitFor("the Service's port to be put back", async () => {
    const svc = await getJson("service", NAME, NS);
    return ports(svc) === "postgres 5432->5432/TCP";
  }, REPAIR_BOUND_MS);
  const db = await ready();
  assert.equal(db.status.phase, "Running");
}

Deno.test({
  name: "integration: children edited by hand are put back on a real API server",
  ignore: !KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const operator = new OperatorProcess();
    try {
      const install = await runMain("install-crds");
      assert.equal(install.code, 0, install.stderr);
      await kubectlOk("create", "namespace", NS);
      await operator.start();
      const sample = await Deno.readTextFile("examples/postgresdb.yaml");
      await kubectlApply(
        sample.replace("name: my-postgres", `name: ${NAME}`).replace(
          "namespace: default",
          `namespace: ${NS}`,
        ),
      );
      await ready();

      await t.step("a Service port changed by kubectl patch is put back", async () => {
        await driftService('[{"op":"replace","path":"/spec/ports/0/port","value":5433}]');
      });
      await t.step("a Service targetPort changed by kubectl patch is put back", async () => {
        await driftService('[{"op":"replace","path":"/spec/ports/0/targetPort","value":6432}]');
      });
      await t.step("a port added to the Service by hand is removed", async () => {
        await driftService(
          '[{"op":"add","path":"/spec/ports/-","value":{"name":"extra","port":7000,"protocol":"TCP"}}]',
        );
      });
      await t.step("a StatefulSet image changed by hand is put back", async () => {
        await kubectlOk(
          "patch",
          "statefulset",
          NAME,
          "-n",
          NS,
          "--type=json",
          "-p",
          '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"postgres:evil"}]',
        );
        await waitFor("the image to be put back", async () => {
          const sts = await getJson("statefulset", NAME, NS);
          return sts.spec.template.spec.containers[0].image === "postgres:16";
        }, REPAIR_BOUND_MS);
        await ready();
      });
      await t.step("a label removed from the credentials Secret is put back", async () => {
        const secret = `${NAME}-credentials`;
        const before = await getJson("secret", secret, NS);
        await kubectlOk("label", "secret", secret, "-n", NS, "app.kubernetes.io/managed-by-");
        await waitFor("the label to be put back", async () => {
          const now = await getJson("secret", secret, NS);
          return now.metadata.labels["app.kubernetes.io/managed-by"] === "postgres-operator";
        }, REPAIR_BOUND_MS);
        assert.deepEqual((await getJson("secret", secret, NS)).data, before.data);
      });
      await t.step("no write failed for good: the operator logged no lasting error", () => {
        const invalid = operator.lines.filter((l) => /Duplicate value/.test(JSON.stringify(l)));
        assert.deepEqual(invalid, [], "no apply rejected as invalid");
      });
    } finally {
      await operator.stop();
      await kubectl("delete", "namespace", NS, "--wait=false");
    }
  },
});
