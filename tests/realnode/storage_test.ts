// Goal: storage growth on real PostgreSQL. On the real node (volumes are filesystems of the
// claim's size that the project's provisioner grows online), a PostgresDB of two instances with
// rows grows from 1Gi to 2Gi: every claim and the filesystem PostgreSQL sees are larger, the
// StatefulSet's claim template follows, no pod is restarted or replaced, the rows are intact. A
// smaller storage is refused and changes nothing.
// Figures: time from the change to every claim and the template at the new size.
// Method: `main.ts start` on the host; kubectl for the change; `df` and psql in the pods.
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
import { installCrds, Kube, REALNODE_KUBECONFIG, REALNODE_SKIP_REASON } from "./support.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

const NS = "default";
const NAME = "grow";
const PODS = [`${NAME}-0`, `${NAME}-1`];

function postgresDB(storage: string): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: NAME, namespace: NS },
    spec: { version: "16", storage, replicas: 2, databaseName: "app" },
  });
}

/** The size of the filesystem under PGDATA in a pod, in MiB (`df -m`). */
async function dataFsMiB(kube: Kube, pod: string): Promise<number> {
  const out = await kube.ok(
    "exec",
    "-n",
    NS,
    pod,
    "--",
    "df",
    "-m",
    "/var/lib/postgresql/data",
  );
  const line = out.trim().split("\n").at(-1) ?? "";
  return Number(line.split(/\s+/)[1]);
}

// deno-lint-ignore no-explicit-any
type Any = any;

async function ready(kube: Kube): Promise<Any> {
  return await waitFor(`${NAME} Ready with 2 instances`, async () => {
    const db = await kube.json("postgresdb", NAME, NS);
    const s = db?.status;
    return s?.ready === true && s.readyInstances === 2 &&
      s.streamingStandbys === 1 &&
      s.observedGeneration === db.metadata.generation && db;
  }, 300_000);
}

Deno.test({
  name: "real node: storage grows from 1Gi to 2Gi without a restart; shrinking is refused",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const sc = await kube.json("storageclass", "standard", "");
    if (sc?.allowVolumeExpansion !== true) {
      console.log(
        "SKIP storage growth: the real node's volumes cannot grow here (plain directories)",
      );
      return;
    }
    const operator = new OperatorProcess(kube.kubeconfig);
    try {
      await installCrds(kube);
      await operator.start();
      await kube.apply(postgresDB("1Gi"));
      await ready(kube);
      await kube.psqlInPod(
        `${NAME}-0`,
        "app",
        "CREATE TABLE proof AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 10000) g",
        NS,
      );
      const proof = "SELECT count(*), md5(string_agg(note, ',' ORDER BY id)) FROM proof";
      const before = (await kube.psqlInPod(`${NAME}-0`, "app", proof, NS))
        .trim();
      const uids = new Map<string, string>();
      for (const pod of PODS) {
        uids.set(pod, (await kube.json("pod", pod, NS)).metadata.uid);
        const mib = await dataFsMiB(kube, pod);
        assert.ok(
          mib > 900 && mib < 1100,
          `${pod}: a 1Gi filesystem, ${mib} MiB`,
        );
      }

      await t.step(
        "1Gi to 2Gi: every claim and filesystem larger, no pod restarted",
        async () => {
          const started = Date.now();
          await kube.ok(
            "patch",
            "postgresdb",
            NAME,
            "-n",
            NS,
            "--type=merge",
            "-p",
            JSON.stringify({ spec: { storage: "2Gi" } }),
          );
          await waitFor(
            "every claim and the claim template at 2Gi",
            async () => {
              for (const pod of PODS) {
                const pvc = await kube.json("pvc", `data-${pod}`, NS);
                if (pvc?.status?.capacity?.storage !== "2Gi") return false;
              }
              const sts = await kube.json("statefulset", NAME, NS);
              const template = sts?.spec?.volumeClaimTemplates?.[0]?.spec
                ?.resources?.requests?.storage;
              return template === "2Gi";
            },
            300_000,
          );
          const took = (Date.now() - started) / 1000;
          const db = await ready(kube);
          for (const pod of PODS) {
            const mib = await dataFsMiB(kube, pod);
            assert.ok(
              mib > 1900,
              `${pod}: the filesystem PostgreSQL sees grew, ${mib} MiB`,
            );
            const live = await kube.json("pod", pod, NS);
            assert.equal(
              live.metadata.uid,
              uids.get(pod),
              `${pod} was not replaced`,
            );
            assert.equal(
              live.status.containerStatuses[0].restartCount,
              0,
              `${pod} did not restart`,
            );
          }
          assert.equal(
            (await kube.psqlInPod(`${NAME}-0`, "app", proof, NS)).trim(),
            before,
          );
          const resize = db.status.conditions.find((c: Any) => c.type === "VolumeResize");
          assert.ok(
            resize === undefined || resize.status === "True",
            JSON.stringify(resize),
          );
          console.log(
            `  grow 1Gi to 2Gi (2 instances): ${took.toFixed(1)} s to every claim and the template`,
          );
        },
      );

      await t.step(
        "a smaller storage is refused with a condition, and nothing changes",
        async () => {
          await kube.ok(
            "patch",
            "postgresdb",
            NAME,
            "-n",
            NS,
            "--type=merge",
            "-p",
            JSON.stringify({ spec: { storage: "1Gi" } }),
          );
          const db = await waitFor("the shrink refused", async () => {
            const db = await kube.json("postgresdb", NAME, NS);
            const c = db?.status?.conditions?.find((c: Any) => c.type === "VolumeResize");
            return c?.status === "False" && /Shrink/.test(c.reason) && db;
          }, 60_000);
          assert.ok(db);
          for (const pod of PODS) {
            const pvc = await kube.json("pvc", `data-${pod}`, NS);
            assert.equal(pvc.spec.resources.requests.storage, "2Gi");
            assert.equal(
              (await kube.json("pod", pod, NS)).metadata.uid,
              uids.get(pod),
            );
          }
        },
      );
      await kube.ok("delete", "postgresdb", NAME, "-n", NS, "--wait=false");
    } finally {
      await operator.stop();
    }
  },
});
