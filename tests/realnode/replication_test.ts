// Goal: streaming replication on real PostgreSQL. On the real node, `replicas: 3` gives one primary
// and two hot standbys that stream from it (pg_stat_replication says so), `-rw` reaches only the
// primary and `-ro` only the standbys, a row written through `-rw` is read through `-ro`, a deleted
// standby pod comes back and streams again without a new clone, scaling 3 -> 1 -> 3 with an operator
// restart in the middle keeps the primary and the rows, the steady state writes nothing, and the lag
// under pgbench load is measured and reported in the status.
// Method: `main.ts start` on the host; kubectl for what a user does; psql through
// `kubectl port-forward` to the Services on 127.0.0.1; SQL inside the pods through `kubectl exec`.
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
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

const NAME = "repl";

function postgresDB(replicas: number): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: NAME, namespace: "default" },
    spec: { version: "16", storage: "1Gi", replicas, databaseName: "app" },
  });
}

interface InstanceStatus {
  name: string;
  role: string;
  ready: boolean;
  timeline?: number;
  lagBytes?: number;
  streamingFrom?: string;
}

/** Waits until the PostgresDB has `replicas` ready instances, one primary, the rest streaming. */
// deno-lint-ignore no-explicit-any
async function replicating(kube: Kube, replicas: number): Promise<any> {
  return await waitFor(`${NAME}: a primary and ${replicas - 1} streaming standbys`, async () => {
    const db = await kube.json("postgresdb", NAME);
    const status = db?.status;
    const instances: InstanceStatus[] = status?.instances ?? [];
    const replicatingCondition = status?.conditions?.find((c: { type: string }) =>
      c.type === "Replicating"
    );
    return status?.ready === true && db.status.observedGeneration === db.metadata.generation &&
      status.readyInstances === replicas && status.streamingStandbys === replicas - 1 &&
      instances.filter((i) => i.role === "primary").length === 1 &&
      status.currentPrimary === `${NAME}-0` &&
      replicatingCondition?.status === "True" && db;
  }, 300_000);
}

/** The pod names an EndpointSlice of `service` lists as ready. */
async function endpointPods(kube: Kube, service: string): Promise<string[]> {
  const out = await kube.ok(
    "get",
    "endpointslices",
    "-l",
    `kubernetes.io/service-name=${service}`,
    "-o",
    "json",
  );
  const slices = JSON.parse(out).items as {
    endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[];
  }[];
  return slices.flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => e.targetRef?.name ?? "?").sort();
}

async function streamingOnPrimary(kube: Kube): Promise<string[]> {
  const out = await kube.psqlInPod(
    `${NAME}-0`,
    "postgres",
    "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
  );
  return out.trim().split("\n").filter(Boolean);
}

Deno.test({
  name: "real node: streaming replication with -rw and -ro Services",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    let uri = "";
    let roUri = "";
    try {
      await t.step("replicas: 3 gives a primary and two streaming standbys", async () => {
        await installCrds(kube);
        await operator.start();
        const started = Date.now();
        await kube.apply(postgresDB(3));
        const db = await replicating(kube, 3);
        console.log(
          `  apply to three ready instances: ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        assert.equal(db.status.targetPrimary, `${NAME}-0`);
        assert.deepEqual(await streamingOnPrimary(kube), [`${NAME}-1`, `${NAME}-2`]);
        const table = await kube.ok("get", "postgresdb", NAME);
        assert.match(table, new RegExp(`${NAME}-0\\s+2`), table);
      });

      await t.step("-rw selects only the primary, -ro only the standbys", async () => {
        assert.deepEqual(await endpointPods(kube, `${NAME}-rw`), [`${NAME}-0`]);
        assert.deepEqual(await endpointPods(kube, `${NAME}-ro`), [`${NAME}-1`, `${NAME}-2`]);
        for (const pod of [0, 1, 2]) {
          const role = (await kube.json("pod", `${NAME}-${pod}`)).metadata
            .labels["database.thegeekyway.com/role"];
          assert.equal(role, pod === 0 ? "primary" : "standby", `${NAME}-${pod}`);
        }
      });

      await t.step("a row written through -rw is read through -ro", async () => {
        uri = await kube.secretValue(`${NAME}-credentials`, "uri");
        roUri = await kube.secretValue(`${NAME}-credentials`, "uri-ro");
        assert.match(uri, new RegExp(`@${NAME}-rw\\.default\\.svc`));
        assert.match(roUri, new RegExp(`@${NAME}-ro\\.default\\.svc`));
        assert.equal(
          await sqlVia(kube, `svc/${NAME}-rw`, uri, "SELECT pg_is_in_recovery()"),
          "f",
        );
        await sqlVia(
          kube,
          `svc/${NAME}-rw`,
          uri,
          "CREATE TABLE proof (id int PRIMARY KEY, note text); " +
            "INSERT INTO proof SELECT g, 'row ' || g FROM generate_series(1, 100) g;",
        );
        const started = Date.now();
        await waitFor("the rows on a standby through -ro", async () => {
          const out = await sqlVia(kube, `svc/${NAME}-ro`, roUri, "SELECT count(*) FROM proof")
            .catch(() => "");
          return out === "100";
        }, 30_000);
        console.log(`  -rw write to -ro read: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        assert.equal(
          await sqlVia(kube, `svc/${NAME}-ro`, roUri, "SELECT pg_is_in_recovery()"),
          "t",
        );
        const refused = await sqlVia(kube, `svc/${NAME}-ro`, roUri, "SELECT 1").then(
          async () => {
            const forward = await PortForward.open(kube, `svc/${NAME}-ro`);
            try {
              return await psql(
                localUri(roUri, forward.localPort),
                "INSERT INTO proof VALUES (0, 'x')",
              );
            } finally {
              await forward.close();
            }
          },
        );
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /read-only transaction/);
      });

      await t.step("a deleted standby pod streams again without a new clone", async () => {
        const pod = `${NAME}-1`;
        // A file in the data directory: a clone would start from an empty directory without it.
        await kube.ok("exec", pod, "--", "sh", "-c", 'touch "$PGDATA/pgop-test-marker"');
        const before = (await kube.json("pod", pod)).metadata.uid;
        const started = Date.now();
        await kube.ok("delete", "pod", pod, "--wait=false");
        await waitFor("the standby's new pod", async () => {
          const p = await kube.json("pod", pod);
          return p && p.metadata.uid !== before && p.status?.containerStatuses?.[0]?.ready === true;
        }, 240_000);
        await replicating(kube, 3);
        console.log(
          `  standby pod delete to streaming: ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        await kube.ok("exec", pod, "--", "sh", "-c", 'test -f "$PGDATA/pgop-test-marker"');
        assert.deepEqual(await streamingOnPrimary(kube), [`${NAME}-1`, `${NAME}-2`]);
      });

      await t.step(
        "scale 3 -> 1 -> 3 with an operator restart keeps the primary and the rows",
        async () => {
          const scale = (replicas: number) =>
            kube.ok(
              "patch",
              "postgresdb",
              NAME,
              "--type=merge",
              "-p",
              JSON.stringify({ spec: { replicas } }),
            );
          await scale(1);
          await replicating(kube, 1);
          await waitFor(
            "the scaled-down pods to go",
            async () =>
              (await kube.run(["get", "pod", `${NAME}-2`])).code !== 0 &&
              (await kube.run(["get", "pod", `${NAME}-1`])).code !== 0,
            120_000,
          );
          assert.equal(await operator.stop(), 0);
          await operator.start();
          await scale(3);
          await replicating(kube, 3);
          assert.equal(
            await sqlVia(kube, `svc/${NAME}-ro`, roUri, "SELECT count(*) FROM proof"),
            "100",
          );
          assert.equal(
            await sqlVia(kube, `svc/${NAME}-rw`, uri, "SELECT count(*) FROM proof"),
            "100",
          );
        },
      );

      await t.step("the steady state writes nothing", async () => {
        const from = operator.lines.length;
        await new Promise((r) => setTimeout(r, 15_000));
        assert.equal(operator.writesSince(from), 0, "operator writes in a quiet 15 s");
      });

      await t.step("under pgbench load the lag is measured and reported", async () => {
        const password = await kube.secretValue(`${NAME}-credentials`, "password");
        const bench = (...args: string[]) =>
          kube.ok(
            "exec",
            `${NAME}-0`,
            "--",
            "env",
            `PGPASSWORD=${password}`,
            "pgbench",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            ...args,
            "app",
          );
        await bench("-i", "-s", "5", "-q");
        let maxLag = 0;
        let samples = 0;
        let maxBytes = 0;
        let maxReplayMs = 0;
        const load = bench("-c", "2", "-T", "20", "-n");
        const sampler = (async () => {
          const until = Date.now() + 20_000;
          while (Date.now() < until) {
            const db = await kube.json("postgresdb", NAME);
            for (const i of (db?.status?.instances ?? []) as InstanceStatus[]) {
              if (i.role === "standby" && typeof i.lagBytes === "number") {
                maxLag = Math.max(maxLag, i.lagBytes);
                samples++;
              }
            }
            // The primary's own view: bytes sent but not replayed, and the replay delay.
            const rows = await kube.psqlInPod(
              `${NAME}-0`,
              "postgres",
              "SELECT pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint, " +
                "coalesce(extract(epoch FROM replay_lag) * 1000, 0)::bigint FROM pg_stat_replication",
            ).catch(() => "");
            for (const row of rows.trim().split("\n").filter(Boolean)) {
              const [bytes, ms] = row.split("|").map(Number);
              maxBytes = Math.max(maxBytes, bytes ?? 0);
              maxReplayMs = Math.max(maxReplayMs, ms ?? 0);
            }
            await new Promise((r) => setTimeout(r, 1_000));
          }
        })();
        const out = await load;
        await sampler;
        const tps = /tps = ([\d.]+)/.exec(out)?.[1];
        console.log(
          `  pgbench: ${tps} tps; on the primary, largest lag: ${maxBytes} bytes, ` +
            `${maxReplayMs} ms replay; largest lag in the status: ${maxLag} bytes ` +
            `(${samples} samples)`,
        );
        assert.ok(Number(tps) > 0, out);
        assert.ok(samples > 0, "the status reported standby lag");
        // Once the load stops, the standbys catch up and the status says so.
        await waitFor("the standbys to catch up", async () => {
          const db = await kube.json("postgresdb", NAME);
          const standbys = ((db?.status?.instances ?? []) as InstanceStatus[])
            .filter((i) => i.role === "standby");
          return standbys.length === 2 && standbys.every((i) => (i.lagBytes ?? 1) === 0);
        }, 120_000);
      });

      await t.step("deleting the PostgresDB", async () => {
        await kube.ok("delete", "postgresdb", NAME, "--wait=true", "--timeout=120s");
        await waitFor(
          "the pods to go",
          async () => (await kube.run(["get", "pod", `${NAME}-0`])).code !== 0,
          120_000,
        );
        // The volumes are kept (deletionPolicy Retain); suites after this one count the PVCs.
        await kube.ok(
          "delete",
          "pvc",
          "--ignore-not-found",
          ...[0, 1, 2].map((i) => `data-${NAME}-${i}`),
        );
      });
    } finally {
      await operator.stop();
    }
  },
});
