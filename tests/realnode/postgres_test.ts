// Goal: the tutorial's story on real PostgreSQL. On the real node (a real kubelet, containerd and
// runc, images built here), the operator's StatefulSet runs a real server: Ready comes from the real
// probes of the instance agent, the Secret's uri logs in, rows survive a deleted pod and two operator restarts,
// scaling keeps every volume, deleting the PostgresDB keeps them too, the operator runs in-cluster
// from its own image, and every PostgreSQL major that was built starts, becomes Ready and answers.
// Method: `main.ts start` on the host (then the Deployment from deploy/), kubectl for everything a
// user does, and psql through `kubectl port-forward` on 127.0.0.1.
import assert from "node:assert/strict";
import { OperatorProcess, parsePrometheus, runMainWith, waitFor } from "../integration/support.ts";
import {
  installCrds,
  Kube,
  localUri,
  PortForward,
  psql,
  REALNODE_KUBECONFIG,
  REALNODE_SKIP_REASON,
  sqlVia,
} from "./support.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

const SAMPLE = await Deno.readTextFile(new URL("../../examples/postgresdb.yaml", import.meta.url));
const NAME = "my-postgres";

function postgresDB(name: string, namespace: string, version: string, replicas = 1): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace },
    spec: { version, storage: "1Gi", replicas, databaseName: "app" },
  });
}

async function readyWith(kube: Kube, name: string, replicas: number, namespace = "default") {
  return await waitFor(`${namespace}/${name} Ready with ${replicas} instances`, async () => {
    const db = await kube.json("postgresdb", name, namespace);
    const sts = await kube.json("statefulset", name, namespace);
    return db?.status?.ready === true && db.status.observedGeneration === db.metadata.generation &&
      sts?.spec?.replicas === replicas && sts.status?.readyReplicas === replicas && db;
  }, 240_000);
}

async function scale(kube: Kube, name: string, replicas: number, namespace = "default") {
  const patch = JSON.stringify({ spec: { replicas } });
  await kube.ok("patch", "postgresdb", "-n", namespace, name, "--type=merge", "-p", patch);
  await readyWith(kube, name, replicas, namespace);
}

async function pvcNames(kube: Kube, namespace = "default"): Promise<string[]> {
  const out = await kube.ok("get", "pvc", "-n", namespace, "-o", "name");
  return out.trim().split("\n").filter(Boolean).map((n) => n.replace(/^.*\//, "")).sort();
}

Deno.test({
  name: "real node: the tutorial's story on real PostgreSQL",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    let uri = "";
    try {
      await t.step("the CRDs install and the operator starts on the host", async () => {
        const install = await runMainWith(kube.kubeconfig, "install-crds");
        assert.equal(install.code, 0, install.stderr);
        await kube.ok(
          "wait",
          "--for=condition=Established",
          "crd/postgresdbs.database.thegeekyway.com",
          "crd/postgresbackups.database.thegeekyway.com",
          "--timeout=60s",
        );
        await operator.start();
      });

      await t.step("the sample becomes Ready through the agent's real probes", async () => {
        const started = Date.now();
        await kube.apply(SAMPLE);
        await readyWith(kube, NAME, 1);
        console.log(`  apply to Ready: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        const pod = await kube.json("pod", `${NAME}-0`);
        // A real container: containerd ran it, and the kubelet ran its probes.
        const status = pod.status.containerStatuses[0];
        assert.match(status.containerID, /^containerd:\/\//);
        assert.equal(status.ready, true);
        assert.equal(
          pod.spec.nodeName,
          (await kube.ok("get", "nodes", "-o", "name")).trim()
            .replace("node/", ""),
        );
      });

      await t.step("the Secret's uri logs in; a table and rows are written", async () => {
        uri = await kube.secretValue(`${NAME}-credentials`, "uri");
        assert.match(
          uri,
          /^postgresql:\/\/postgres:[^@]+@my-postgres-rw\.default\.svc\.cluster\.local:5432\/myapp$/,
        );
        await sqlVia(
          kube,
          `${NAME}-0`,
          uri,
          "CREATE TABLE proof (id int PRIMARY KEY, note text); " +
            "INSERT INTO proof SELECT g, 'row ' || g FROM generate_series(1, 100) g;",
        );
        assert.equal(await sqlVia(kube, `${NAME}-0`, uri, "SELECT count(*) FROM proof"), "100");
        // A wrong password is refused (scram-sha-256 on host connections).
        const forward = await PortForward.open(kube, `${NAME}-0`);
        try {
          const wrong = new URL(uri);
          wrong.password = "not-the-password";
          const out = await psql(localUri(wrong.toString(), forward.localPort), "SELECT 1");
          assert.notEqual(out.code, 0);
          assert.match(out.stderr, /password authentication failed/);
        } finally {
          await forward.close();
        }
      });

      await t.step("kubectl logs and kubectl exec work", async () => {
        const logs = await kube.ok("logs", `${NAME}-0`);
        assert.match(logs, /database system is ready to accept connections/);
        const version = await kube.psqlInPod(`${NAME}-0`, "myapp", "SELECT version()");
        assert.match(version, /^PostgreSQL 16\./);
      });

      await t.step("a deleted pod comes back with its rows", async () => {
        const before = (await kube.json("pod", `${NAME}-0`)).metadata.uid;
        const started = Date.now();
        await kube.ok("delete", "pod", `${NAME}-0`, "--wait=false");
        await waitFor("a new pod", async () => {
          const pod = await kube.json("pod", `${NAME}-0`);
          return pod && pod.metadata.uid !== before &&
            pod.status?.containerStatuses?.[0]?.ready === true;
        }, 240_000);
        await readyWith(kube, NAME, 1);
        console.log(`  pod delete to Ready: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        assert.equal(await sqlVia(kube, `${NAME}-0`, uri, "SELECT count(*) FROM proof"), "100");
      });

      await t.step(
        "two operator restarts: the password still works, steady state writes nothing",
        async () => {
          for (let i = 0; i < 2; i++) {
            assert.equal(await operator.stop(), 0);
            await operator.start();
          }
          const from = operator.lines.length;
          await new Promise((r) => setTimeout(r, 15_000));
          assert.equal(operator.writesSince(from), 0, "writes in a quiet 15 s after the restarts");
          assert.equal(await kube.secretValue(`${NAME}-credentials`, "uri"), uri);
          assert.equal(await sqlVia(kube, `${NAME}-0`, uri, "SELECT count(*) FROM proof"), "100");
        },
      );

      await t.step("scale 1 -> 3 -> 1 keeps every volume and the rows", async () => {
        await scale(kube, NAME, 3);
        assert.deepEqual(await pvcNames(kube), [
          "data-my-postgres-0",
          "data-my-postgres-1",
          "data-my-postgres-2",
        ]);
        await scale(kube, NAME, 1);
        await waitFor(
          "the scaled-down pods to go",
          async () =>
            (await kube.run(["get", "pod", `${NAME}-2`])).code !== 0 &&
            (await kube.run(["get", "pod", `${NAME}-1`])).code !== 0,
        );
        assert.deepEqual(await pvcNames(kube), [
          "data-my-postgres-0",
          "data-my-postgres-1",
          "data-my-postgres-2",
        ]);
        assert.equal(await sqlVia(kube, `${NAME}-0`, uri, "SELECT count(*) FROM proof"), "100");
      });

      await t.step("deleting the PostgresDB keeps its volumes", async () => {
        await kube.ok("delete", "postgresdb", NAME, "--wait=true", "--timeout=60s");
        await waitFor(
          "the StatefulSet and its pod to go",
          async () =>
            (await kube.run(["get", "statefulset", NAME])).code !== 0 &&
            (await kube.run(["get", "pod", `${NAME}-0`])).code !== 0,
          120_000,
        );
        assert.deepEqual(await pvcNames(kube), [
          "data-my-postgres-0",
          "data-my-postgres-1",
          "data-my-postgres-2",
        ]);
        for (const pvc of await pvcNames(kube)) {
          assert.equal((await kube.json("pvc", pvc)).status.phase, "Bound", pvc);
        }
      });
    } finally {
      await operator.stop();
    }
  },
});

Deno.test({
  name: "real node: the operator in-cluster from its own image",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const ns = "incluster";
    try {
      await t.step("kubectl apply -k deploy/ runs the operator's image on the node", async () => {
        await kube.ok("apply", "-k", "deploy/");
        await kube.ok(
          "wait",
          "-n",
          "postgres-operator-system",
          "--for=condition=Available",
          "deployment/postgres-operator",
          "--timeout=180s",
        );
        const pods = JSON.parse(
          await kube.ok("get", "pods", "-n", "postgres-operator-system", "-o", "json"),
        );
        const status = pods.items[0].status.containerStatuses[0];
        assert.match(status.containerID, /^containerd:\/\//);
        assert.equal(status.ready, true);
      });

      await t.step("a PostgresDB becomes Ready, and its uri logs in", async () => {
        await kube.apply(
          JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
        );
        await kube.apply(postgresDB("inside", ns, "16"));
        await readyWith(kube, "inside", 1, ns);
        const uri = await kube.secretValue("inside-credentials", "uri", ns);
        assert.equal(await sqlVia(kube, "inside-0", uri, "SELECT current_database()", ns), "app");
        const logs = await kube.ok(
          "logs",
          "-n",
          "postgres-operator-system",
          "deployment/postgres-operator",
        );
        assert.match(logs, /"msg":"Reconciled"/);
        assert.match(logs, /incluster\/inside|"name":"inside"/);
        await sqlVia(
          kube,
          "inside-0",
          uri,
          "CREATE TABLE proof AS SELECT g AS id FROM generate_series(1, 10) g",
          ns,
        );
      });

      await t.step("a deleted pod comes back with its rows", async () => {
        const before = (await kube.json("pod", "inside-0", ns)).metadata.uid;
        await kube.ok("delete", "pod", "-n", ns, "inside-0", "--wait=false");
        await waitFor("a new pod", async () => {
          const pod = await kube.json("pod", "inside-0", ns);
          return pod && pod.metadata.uid !== before &&
            pod.status?.containerStatuses?.[0]?.ready === true;
        }, 240_000);
        const uri = await kube.secretValue("inside-credentials", "uri", ns);
        assert.equal(await sqlVia(kube, "inside-0", uri, "SELECT count(*) FROM proof", ns), "10");
      });

      await t.step(
        "the operator's pod restarted: the password holds, nothing is written",
        async () => {
          const uri = await kube.secretValue("inside-credentials", "uri", ns);
          const system = "postgres-operator-system";
          // Whatever the operator writes gets a new resourceVersion: read them all before.
          const children = [
            ["postgresdb", "inside"],
            ["secret", "inside-credentials"],
            ["service", "inside"],
            ["statefulset", "inside"],
          ];
          const versions = async () =>
            await Promise.all(
              children.map(async ([kind, name]) =>
                `${kind}/${name}@${(await kube.json(kind!, name!, ns)).metadata.resourceVersion}`
              ),
            );
          const before = await versions();
          const old = JSON.parse(await kube.ok("get", "pods", "-n", system, "-o", "json")).items
            .map((p: { metadata: { name: string } }) => p.metadata.name);
          await kube.ok("delete", "pods", "-n", system, "--all", "--wait=true", "--timeout=60s");
          const pod = await waitFor("a new operator pod, ready", async () => {
            const pods = JSON.parse(await kube.ok("get", "pods", "-n", system, "-o", "json")).items;
            // deno-lint-ignore no-explicit-any
            return pods.find((p: any) =>
              !old.includes(p.metadata.name) && p.status?.containerStatuses?.[0]?.ready === true
            )?.metadata.name as string | undefined;
          }, 120_000);
          // Its caches synced, then a quiet 15 s; its own metrics say it reconciled and wrote nothing.
          await waitFor(
            "the new operator's caches",
            async () => (await kube.ok("logs", "-n", system, pod)).includes("Caches synced"),
          );
          await new Promise((r) => setTimeout(r, 15_000));
          const forward = await PortForward.open(kube, pod, {
            namespace: system,
            remotePort: 8080,
          });
          try {
            const text = await (await fetch(`http://127.0.0.1:${forward.localPort}/metrics`))
              .text();
            const { samples } = parsePrometheus(text);
            const sum = (name: string, keep: (l: Record<string, string>) => boolean = () => true) =>
              samples.filter((x) => x.name === name && keep(x.labels)).reduce(
                (n, x) => n + x.value,
                0,
              );
            assert.ok(
              sum("controller_runtime_reconcile_total") > 0,
              "the restarted operator reconciled",
            );
          } finally {
            await forward.close();
          }
          assert.deepEqual(await versions(), before, "nothing written by the restarted operator");
          assert.equal(await kube.secretValue("inside-credentials", "uri", ns), uri);
          assert.equal(await sqlVia(kube, "inside-0", uri, "SELECT count(*) FROM proof", ns), "10");
        },
      );

      await t.step("scale 1 -> 2 -> 1 and delete: every volume is kept", async () => {
        await scale(kube, "inside", 2, ns);
        await scale(kube, "inside", 1, ns);
        await kube.ok("delete", "postgresdb", "-n", ns, "inside", "--wait=true", "--timeout=60s");
        await waitFor(
          "the pods to go",
          async () => (await kube.ok("get", "pods", "-n", ns, "-o", "name")).trim() === "",
          120_000,
        );
        assert.deepEqual(await pvcNames(kube, ns), ["data-inside-0", "data-inside-1"]);
      });
    } finally {
      await kube.run(["delete", "namespace", ns, "--wait=true", "--timeout=120s"]);
      await kube.run([
        "delete",
        "deployment",
        "-n",
        "postgres-operator-system",
        "postgres-operator",
        "--wait=true",
        "--timeout=60s",
      ]);
    }
  },
});

Deno.test({
  name: "real node: every PostgreSQL major built starts, becomes Ready and answers",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const node = JSON.parse(await kube.ok("get", "nodes", "-o", "json")).items[0];
    const majors = [
      ...new Set(
        // deno-lint-ignore no-explicit-any
        node.status.images.flatMap((i: any) => i.names as string[])
          .map((n: string) => /(?:^|\/)postgres:(\d+)$/.exec(n)?.[1])
          .filter((m: string | undefined): m is string => m !== undefined),
      ),
    ].sort((a, b) => Number(a) - Number(b)) as string[];
    assert.ok(majors.includes("16") && majors.includes("17"), `majors on the node: ${majors}`);
    const ns = "majors";
    const operator = new OperatorProcess(kube.kubeconfig);
    await installCrds(kube);
    await kube.apply(
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
    );
    try {
      await operator.start();
      for (const major of majors) await kube.apply(postgresDB(`pg${major}`, ns, major));
      for (const major of majors) {
        await readyWith(kube, `pg${major}`, 1, ns);
        const inside = await kube.psqlInPod(`pg${major}-0`, "app", "SELECT version()", ns);
        console.log(`  postgres:${major} answers from inside its pod: ${inside.trim()}`);
        assert.match(inside, new RegExp(`^PostgreSQL ${major}\\.`));
        const uri = await kube.secretValue(`pg${major}-credentials`, "uri", ns);
        const viaForward = await sqlVia(kube, `pg${major}-0`, uri, "SHOW server_version_num", ns);
        assert.equal(viaForward.slice(0, 2), major.padStart(2, "0"));
      }
    } finally {
      await operator.stop();
      await kube.run(["delete", "namespace", ns, "--wait=true", "--timeout=120s"]);
    }
  },
});
