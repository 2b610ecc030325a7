// Goal: failover on real PostgreSQL, fenced by the primary Lease. On the real node, a PostgresDB of
// three instances loses its primary again and again (its postmaster killed with SIGKILL, its pod
// deleted, its agent cut off from the API server) while a writer appends numbered rows through
// `-rw`. With `synchronous: {number: 1, durability: required}` no acknowledged row is missing
// afterwards; asynchronously the rows lost are counted and reported; a planned switchover loses
// nothing; and at no moment do two instances accept writes (pg_is_in_recovery() polled on each).
// Figures: failover time (kill to the first write accepted afterwards), switchover time, rows lost
// per failover and mode.
// Method: `main.ts start` on the host; the writer is psql through `kubectl port-forward` to
// svc/<db>-rw on 127.0.0.1 (re-opened after each failure); kills through `kubectl exec` and
// `kubectl delete pod`; the cut is an iptables rule on this machine dropping the pod's packets to
// the API server's port (removed afterwards).
import assert from "node:assert/strict";
import { OperatorProcess, waitFor } from "../integration/support.ts";
import {
  diagnose,
  installCrds,
  Kube,
  REALNODE_KUBECONFIG,
  REALNODE_SKIP_REASON,
} from "./support.ts";
import { missingRows, PrimaryWatch, Writer } from "./writer.ts";

if (!REALNODE_KUBECONFIG) console.log(REALNODE_SKIP_REASON);

const NAME = "fo";
const PODS = [0, 1, 2].map((i) => `${NAME}-${i}`);
const SWITCHOVER = "database.thegeekyway.com/switchover-to";
const RULE_COMMENT = "pgop-failover-test";

function postgresDB(): string {
  return JSON.stringify({
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: NAME, namespace: "default" },
    spec: {
      version: "16",
      storage: "1Gi",
      replicas: 3,
      databaseName: "app",
      synchronous: { number: 1, durability: "required" },
      failoverDelay: 0,
    },
  });
}

// deno-lint-ignore no-explicit-any
type Db = any;

/** Waits until three instances are ready, two standbys stream, and no failover is in flight. */
async function healthy(kube: Kube, required: boolean): Promise<Db> {
  const db: Db = await waitFor(`${NAME}: a primary and two streaming standbys`, async () => {
    const db = await kube.json("postgresdb", NAME);
    const s = db?.status;
    const failover = s?.failover;
    return s?.ready === true && s.readyInstances === 3 && s.streamingStandbys === 2 &&
      typeof s.currentPrimary === "string" && s.currentPrimary === s.targetPrimary &&
      (failover === undefined || failover.completedAt !== undefined) && db;
  }, 240_000);
  if (required) {
    // The new primary has written its synchronous standbys (a configure round after promotion).
    await waitFor("synchronous_standby_names on the primary", async () => {
      const value = await kube.psqlInPod(
        db.status.currentPrimary,
        "postgres",
        "SHOW synchronous_standby_names",
      );
      return value.trim().startsWith("ANY 1 (");
    }, 60_000);
  }
  return db;
}

/** The API server's port, from the kubeconfig (what the pods reach through the Service's DNAT). */
function apiServerPort(kubeconfig: string): number {
  const m = /server:\s*https:\/\/[^:\s]+:(\d+)/.exec(Deno.readTextFileSync(kubeconfig));
  if (m === null) throw new Error(`No server port in "${kubeconfig}"`);
  return Number(m[1]);
}

async function iptables(...args: string[]): Promise<void> {
  const out = await new Deno.Command("iptables", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (out.code !== 0) {
    throw new Error(`iptables ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

type Kill = "sigkill" | "delete" | "cut";

interface Outcome {
  mode: string;
  kill: Kill | "switchover";
  from: string;
  to: string;
  failedOver: boolean;
  seconds: number;
  lost: number;
  statusSeconds?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

Deno.test({
  name: "real node: failover and switchover on real PostgreSQL, fenced by the primary Lease",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const kube = new Kube(REALNODE_KUBECONFIG!);
    const operator = new OperatorProcess(kube.kubeconfig);
    const apiPort = apiServerPort(kube.kubeconfig);
    const outcomes: Outcome[] = [];
    const cuts: string[][] = [];
    let writer: Writer | undefined;
    let watch: PrimaryWatch | undefined;
    let uri = "";

    /** Kills the primary by `kill` and waits for the first accepted write and a healthy cluster. */
    const failover = async (mode: string, kill: Kill): Promise<Outcome> => {
      const before = await healthy(kube, mode === "required");
      const from = before.status.currentPrimary as string;
      const term = before.status.primaryTerm as number;
      await new Promise((r) => setTimeout(r, 1_000)); // some writes acknowledged by this primary
      const killedAtMs = Date.now();
      let cut: string[] | undefined;
      if (kill === "sigkill") {
        await kube.ok(
          "exec",
          from,
          "--",
          "sh",
          "-c",
          'kill -9 "$(head -1 "$PGDATA/postmaster.pid")"',
        );
      } else if (kill === "delete") {
        await kube.ok("delete", "pod", from, "--wait=false");
      } else {
        const ip = (await kube.json("pod", from)).status.podIP as string;
        cut = [
          "INPUT",
          "-s",
          ip,
          "-p",
          "tcp",
          "--dport",
          String(apiPort),
          "-m",
          "comment",
          "--comment",
          RULE_COMMENT,
          "-j",
          "DROP",
        ];
        await iptables("-I", ...cut.slice(0, 1), "1", ...cut.slice(1));
        cuts.push(cut);
      }
      const ack = await waitFor(
        `the first write accepted after the ${kill} of ${from} stopped the writes`,
        () => Promise.resolve(writer!.outageEndAfter(killedAtMs)),
        180_000,
      ).catch(async (e) => {
        const failed = writer!.failedEndedAtMs.filter((at) => at >= killedAtMs);
        console.log(
          `  writer: ${writer!.acks.length} acknowledged, the last at ${
            new Date(writer!.acks.at(-1)?.ackedAtMs ?? 0).toISOString()
          }; ${failed.length} failed attempts ended since the kill at ${
            new Date(killedAtMs).toISOString()
          }, the last at ${new Date(failed.at(-1) ?? 0).toISOString()}; last error: ${
            writer!.lastError
          }`,
        );
        console.log(await diagnose(kube, NAME, PODS, operator.lines));
        throw e;
      });
      const seconds = (ack.ackedAtMs - killedAtMs) / 1000;
      if (cut !== undefined) {
        // The old primary's agent comes back: it must rejoin as a standby.
        await iptables("-D", ...cut);
        cuts.splice(cuts.indexOf(cut), 1);
      }
      const after = await healthy(kube, mode === "required");
      const lost = (await missingRows(kube, uri, writer!, NAME)).length;
      const outcome: Outcome = {
        mode,
        kill,
        from,
        to: after.status.currentPrimary,
        failedOver: after.status.primaryTerm > term,
        seconds,
        lost,
      };
      const f = after.status.failover;
      if (outcome.failedOver && typeof f?.durationSeconds === "number") {
        outcome.statusSeconds = f.durationSeconds;
      }
      console.log(
        `  ${mode} ${kill} of ${from}: ${
          outcome.failedOver ? `failover to ${outcome.to}` : "recovered in place"
        } in ${seconds.toFixed(1)} s to the first accepted write` +
          `${outcome.statusSeconds === undefined ? "" : ` (status: ${outcome.statusSeconds} s)`}` +
          `; acknowledged rows missing: ${lost}`,
      );
      outcomes.push(outcome);
      return outcome;
    };

    const switchover = async (mode: string): Promise<Outcome> => {
      const before = await healthy(kube, mode === "required");
      const from = before.status.currentPrimary as string;
      const to = PODS.find((p) => p !== from)!;
      await new Promise((r) => setTimeout(r, 1_000));
      const startedAtMs = Date.now();
      await kube.ok("annotate", "postgresdb", NAME, `${SWITCHOVER}=${to}`, "--overwrite");
      const db: Db = await waitFor(`the switchover to ${to}`, async () => {
        const db = await kube.json("postgresdb", NAME);
        const f = db?.status?.failover;
        return f?.reason === "Switchover" && f.to === to && f.completedAt !== undefined &&
          db.status.currentPrimary === to && db;
      }, 180_000);
      const ack = await waitFor(
        `a write accepted by ${to}`,
        () => Promise.resolve(writer!.firstAckAfter(Date.parse(db.status.failover.completedAt))),
        60_000,
      );
      const seconds = (ack.ackedAtMs - startedAtMs) / 1000;
      // Done: remove the request, so that the same pod may be asked for again later.
      await kube.ok("annotate", "postgresdb", NAME, `${SWITCHOVER}-`);
      await waitFor("the switchover request forgotten", async () => {
        const db = await kube.json("postgresdb", NAME);
        return db?.status?.switchoverHandled === undefined;
      }, 60_000);
      await healthy(kube, mode === "required");
      const lost = (await missingRows(kube, uri, writer!, NAME)).length;
      const outcome: Outcome = {
        mode,
        kill: "switchover",
        from,
        to,
        failedOver: true,
        seconds,
        lost,
        statusSeconds: db.status.failover.durationSeconds,
      };
      console.log(
        `  ${mode} switchover ${from} -> ${to}: ${seconds.toFixed(1)} s to a write on ${to} ` +
          `(status: ${outcome.statusSeconds} s); acknowledged rows missing: ${lost}`,
      );
      outcomes.push(outcome);
      return outcome;
    };

    try {
      await t.step("three instances with synchronous replication (required)", async () => {
        await installCrds(kube);
        await operator.start();
        // What an interrupted run left: its PostgresDB and volumes.
        await kube.ok("delete", "postgresdb", NAME, "--ignore-not-found", "--wait=true");
        await waitFor(
          "the pods of an earlier run to go",
          async () => (await kube.run(["get", "pod", PODS[0]!])).code !== 0,
          120_000,
        );
        await kube.ok("delete", "pvc", "--ignore-not-found", ...PODS.map((p) => `data-${p}`));
        await kube.apply(postgresDB());
        const db = await healthy(kube, true);
        assert.equal(db.status.currentPrimary, `${NAME}-0`);
        const lease = await kube.json("lease", `${NAME}-primary`);
        assert.equal(lease?.spec?.holderIdentity, `${NAME}-0`);
        assert.equal(lease?.metadata?.ownerReferences?.[0]?.uid, db.metadata.uid);
        uri = await kube.secretValue(`${NAME}-credentials`, "uri");
        await kube.ok(
          "exec",
          `${NAME}-0`,
          "--",
          "psql",
          "-X",
          "-U",
          "postgres",
          "-d",
          "app",
          "-c",
          "CREATE TABLE rows (id bigint PRIMARY KEY, at timestamptz DEFAULT now())",
        );
        writer = new Writer(kube, uri, NAME);
        writer.start();
        watch = new PrimaryWatch(kube, PODS);
        watch.start();
        await waitFor("the first acknowledged row", () => Promise.resolve(writer!.acks[0]), 60_000);
      });

      await t.step("required: kills lose no acknowledged row", async () => {
        for (const kill of ["delete", "cut", "sigkill", "delete", "cut", "delete"] as Kill[]) {
          const outcome = await failover("required", kill);
          assert.equal(outcome.lost, 0, `${kill}: acknowledged rows missing`);
        }
      });

      await t.step("required: a switchover loses nothing", async () => {
        assert.equal((await switchover("required")).lost, 0);
      });

      await t.step("asynchronous: kills lose rows, counted", async () => {
        await kube.ok(
          "patch",
          "postgresdb",
          NAME,
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { synchronous: null } }),
        );
        await waitFor("asynchronous replication on the primary", async () => {
          const db = await kube.json("postgresdb", NAME);
          const value = await kube.psqlInPod(
            db.status.currentPrimary,
            "postgres",
            "SHOW synchronous_standby_names",
          );
          return value.trim() === "";
        }, 60_000);
        for (const kill of ["delete", "cut", "sigkill", "delete"] as Kill[]) {
          await failover("async", kill);
        }
      });

      await t.step("asynchronous: a switchover loses nothing", async () => {
        assert.equal((await switchover("async")).lost, 0);
      });

      await t.step("never two writable instances; the figures", async () => {
        await writer!.stop();
        await watch!.stop();
        assert.deepEqual(watch!.violations, [], "two instances accepted writes at once");
        assert.ok(watch!.samples > 10, `${watch!.samples} samples`);
        const failovers = outcomes.filter((o) => o.kill !== "switchover");
        const times = failovers.map((o) => o.seconds);
        console.log(
          `  ${failovers.length} kills (${
            failovers.filter((o) => o.failedOver).length
          } failovers): kill to first accepted write median ${median(times).toFixed(1)} s, ` +
            `worst ${Math.max(...times).toFixed(1)} s; by kind: ${
              (["sigkill", "delete", "cut"] as Kill[]).map((k) => {
                const ts = failovers.filter((o) => o.kill === k).map((o) => o.seconds);
                return `${k} ${ts.map((s) => s.toFixed(1)).join("/")} s`;
              }).join(", ")
            }`,
        );
        for (const mode of ["required", "async"]) {
          const lost = failovers.filter((o) => o.mode === mode).map((o) => o.lost);
          console.log(`  ${mode}: acknowledged rows lost per kill: ${lost.join(", ")}`);
        }
        const switches = outcomes.filter((o) => o.kill === "switchover").map((o) => o.seconds);
        console.log(
          `  switchover to the first write on the new primary: ${
            switches.map((s) => s.toFixed(1)).join(", ")
          } s; rows written ${writer!.acks.length}, failed attempts ${writer!.failures}, ` +
            `${watch!.samples} samples of pg_is_in_recovery() on each pod`,
        );
        assert.ok(failovers.filter((o) => o.failedOver).length >= 8, "at least 8 real failovers");
      });

      await t.step("deleting the PostgresDB", async () => {
        await kube.ok("delete", "postgresdb", NAME, "--wait=true", "--timeout=120s");
        await waitFor(
          "the pods to go",
          async () => (await kube.run(["get", "pod", `${NAME}-0`])).code !== 0,
          120_000,
        );
        await kube.ok("delete", "pvc", "--ignore-not-found", ...PODS.map((p) => `data-${p}`));
      });
    } finally {
      for (const cut of cuts) await iptables("-D", ...cut).catch(() => {});
      await writer?.stop();
      await watch?.stop();
      await operator.stop();
    }
  },
});
