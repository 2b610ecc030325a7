// Goal: minor updates on real PostgreSQL. On the real node, a PostgresDB of three instances with
// required synchronous replication moves from the image `postgres:16` to `postgres:16.15` while a
// writer appends numbered rows through `-rw`: the standbys are replaced first, then a switchover,
// then the old primary; no acknowledged row is missing, and at no moment are two instances
// writable. A single-instance database restarts once, cleanly, with its rows.
// Figures: the time writes were refused during each update (the longest outage the writer saw).
// Method: `main.ts start` on the host; the writer and the watcher of tests/realnode/writer.ts;
// kubectl for the update.
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
import {
  installCrds,
  Kube,
  localUri,
  PortForward,
  REALNODE_KUBECONFIG,
  REALNODE_SKIP_REASON,
} from "./support.ts";
import { missingRows, PrimaryWatch, psqlWithin, Writer } from "./writer.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

const NS = "default";

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
      ...(replicas > 1 ? { synchronous: { number: 1, durability: "required" } } : {}),
    },
  });
}

// deno-lint-ignore no-explicit-any
type Db = any;

/** Ready on `version`: every instance ready and on the image, standbys streaming, no failover. */
async function settled(kube: Kube, name: string, replicas: number, version: string): Promise<Db> {
  return await waitFor(`${name}: ${replicas} instances ready on postgres:${version}`, async () => {
    const db = await kube.json("postgresdb", name, NS);
    const s = db?.status;
    if (
      s?.ready !== true || s.readyInstances !== replicas || s.streamingStandbys !== replicas - 1 ||
      s.currentPrimary !== s.targetPrimary ||
      (s.failover !== undefined && s.failover.completedAt === undefined)
    ) {
      return false;
    }
    for (let i = 0; i < replicas; i++) {
      const pod = await kube.json("pod", `${name}-${i}`, NS);
      const image = pod?.spec?.containers?.[0]?.image;
      if (image !== `postgres:${version}` || pod.status?.phase !== "Running") return false;
    }
    return db;
  }, 420_000);
}

/** The longest time the writer saw writes refused: from a failed attempt to the next ack. */
function longestOutage(writer: Writer, fromMs: number): number {
  let longest = 0;
  for (const failed of writer.failedAtMs.filter((at) => at >= fromMs)) {
    const ack = writer.firstAckAfter(failed + 1);
    if (ack !== undefined) longest = Math.max(longest, ack.ackedAtMs - failed);
  }
  return longest / 1000;
}

Deno.test({
  name: "real node: minor updates lose no acknowledged row, and a single instance restarts once",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    try {
      await installCrds(kube);
      await operator.start();

      await t.step("replicas 3 from postgres:16 to postgres:16.15 under a writer", async () => {
        const name = "mu";
        const pods = [0, 1, 2].map((i) => `${name}-${i}`);
        await kube.apply(postgresDB(name, 3, "16"));
        const before = await settled(kube, name, 3, "16");
        const uri = await kube.secretValue(`${name}-credentials`, "uri", NS);
        await waitFor("the rows table", async () => {
          const forward = await PortForward.open(kube, before.status.currentPrimary);
          try {
            const out = await psqlWithin(
              localUri(uri, forward.localPort),
              "CREATE TABLE IF NOT EXISTS rows (id int PRIMARY KEY)",
              20_000,
            );
            return out.code === 0;
          } finally {
            await forward.close();
          }
        }, 60_000);
        const writer = new Writer(kube, uri, name);
        const watch = new PrimaryWatch(kube, pods);
        writer.start();
        watch.start();
        await waitFor("the writer's first row", () => Promise.resolve(writer.acks.length > 0));
        const startedMs = Date.now();
        const uids = new Map<string, string>();
        for (const pod of pods) uids.set(pod, (await kube.json("pod", pod, NS)).metadata.uid);
        await kube.ok(
          "patch",
          "postgresdb",
          name,
          "-n",
          NS,
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { version: "16.15" } }),
        );
        const after = await settled(kube, name, 3, "16.15");
        const tookS = (Date.now() - startedMs) / 1000;
        // Keep writing a little on the new primary, then stop.
        await new Promise((r) => setTimeout(r, 3_000));
        await writer.stop();
        await watch.stop();
        const lost = await missingRows(kube, uri, writer, name);
        assert.deepEqual(lost, [], "no acknowledged row is missing");
        assert.deepEqual(watch.violations, [], "never two writable instances");
        for (const pod of pods) {
          assert.notEqual((await kube.json("pod", pod, NS)).metadata.uid, uids.get(pod), pod);
        }
        assert.equal(
          after.status.failover?.reason,
          "Switchover",
          JSON.stringify(after.status.failover),
        );
        assert.equal(after.status.failover?.from, before.status.currentPrimary);
        console.log(
          `  minor update of 3 instances: ${tookS.toFixed(1)} s; ${writer.acks.length} rows ` +
            `acknowledged, 0 lost; writes refused for at most ${
              longestOutage(writer, startedMs).toFixed(1)
            } s (${writer.failures} failed attempts); ${watch.samples} checks, never two writable`,
        );
        await kube.ok("delete", "postgresdb", name, "-n", NS, "--wait=false");
      });

      await t.step("a single instance restarts once, cleanly, with its rows", async () => {
        const name = "mu1";
        await kube.apply(postgresDB(name, 1, "16"));
        await settled(kube, name, 1, "16");
        const uri = await kube.secretValue(`${name}-credentials`, "uri", NS);
        await waitFor("rows written", async () => {
          const forward = await PortForward.open(kube, `${name}-0`);
          try {
            const out = await psqlWithin(
              localUri(uri, forward.localPort),
              "CREATE TABLE IF NOT EXISTS rows (id int PRIMARY KEY); " +
                "CREATE TABLE IF NOT EXISTS proof (id int PRIMARY KEY); " +
                "INSERT INTO proof SELECT g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING",
              20_000,
            );
            return out.code === 0;
          } finally {
            await forward.close();
          }
        }, 60_000);
        const uid = (await kube.json("pod", `${name}-0`, NS)).metadata.uid;
        const writer = new Writer(kube, uri, name);
        writer.start();
        const startedMs = Date.now();
        await kube.ok(
          "patch",
          "postgresdb",
          name,
          "-n",
          NS,
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { version: "16.15" } }),
        );
        await settled(kube, name, 1, "16.15");
        await writer.stop();
        const pod = await kube.json("pod", `${name}-0`, NS);
        assert.notEqual(pod.metadata.uid, uid, "the pod was replaced");
        assert.equal(pod.status.containerStatuses[0].restartCount, 0, "started once, cleanly");
        const count = (await kube.psqlInPod(`${name}-0`, "app", "SELECT count(*) FROM proof", NS))
          .trim();
        assert.equal(count, "1000");
        assert.deepEqual(
          await missingRows(kube, uri, writer, name),
          [],
          "no acknowledged row lost",
        );
        console.log(
          `  minor update of 1 instance: writes refused for at most ${
            longestOutage(writer, startedMs).toFixed(1)
          } s`,
        );
        await kube.ok("delete", "postgresdb", name, "-n", NS, "--wait=false");
      });
    } finally {
      await operator.stop();
    }
  },
});
