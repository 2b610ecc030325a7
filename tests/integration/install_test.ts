// Goal: the in-cluster install works as a platform engineer expects, against a real control
// plane: `deno task bundle` is what kustomize renders; `kubectl apply -k deploy/` is accepted
// (server dry run, then for real, the pod passing the namespace's "restricted" Pod Security
// admission); the operator runs the tutorial's story with only the generated ServiceAccount's
// permissions, and fails visibly when one rule is removed; /readyz turns 200 once the caches
// synced and /metrics parses as Prometheus text and moves with reconciles; of two replicas with
// --leader-elect exactly one reconciles, SIGKILL hands over within the lease bounds, SIGTERM
// hands over at once, and a leader that sees another holder exits non-zero.
// Method: `main.ts start` subprocesses with a ServiceAccount token kubeconfig, kubectl for what a
// user does; metrics servers on 127.0.0.1 with free ports; every wait is bounded.
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { OPERATOR_RULES } from "../../deploy/rbac.ts";
import {
  freePort,
  getJson,
  httpGet,
  KUBECONFIG,
  kubectl,
  kubectlApply,
  kubectlOk,
  type LogLine,
  OperatorSubprocess,
  parsePrometheus,
  SKIP_REASON,
  waitFor,
  writeServiceAccountKubeconfig,
} from "./support.ts";

if (!KUBECONFIG) console.log(SKIP_REASON);

const SYSTEM_NS = "postgres-operator-system";
const SA = "postgres-operator";
const NS = "pgop-install";
const LEASE_FLAGS = [
  "--leader-election-lease-duration=4s",
  "--leader-election-renew-deadline=3s",
  "--leader-election-retry-period=1s",
];

function db(name: string, replicas = 1) {
  return {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace: NS },
    spec: { version: "16", storage: "1Gi", replicas, databaseName: "app" },
  };
}

async function applyJson(object: unknown): Promise<void> {
  const out = await kubectlApply(JSON.stringify(object));
  assert.equal(out.code, 0, out.stderr);
}

async function readyDb(name: string, replicas: number, timeoutMs = 90_000) {
  return await waitFor(`${name} Ready with ${replicas}`, async () => {
    const object = await getJson("postgresdb", name, NS);
    return object?.status?.ready === true &&
      object.status.observedGeneration === object.metadata.generation &&
      object.status.readyReplicas === replicas && object;
  }, timeoutMs);
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const { samples } = parsePrometheus(text);
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  ).reduce((n, s) => n + s.value, 0);
}

const is = (msg: string) => (line: LogLine) => line.msg === msg;

Deno.test({
  name:
    "integration: install in a cluster: bundle, RBAC, least privilege, metrics, leader election",
  ignore: !KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "pgop-install-test-" });
    const saKubeconfig = `${dir}/sa-kubeconfig`;
    const processes: OperatorSubprocess[] = [];
    const operator = (podName: string, args: string[]) => {
      const p = new OperatorSubprocess({ kubeconfig: saKubeconfig, podName, args });
      processes.push(p);
      p.start();
      return p;
    };
    try {
      await t.step("deno task bundle prints what kustomize renders from deploy/", async () => {
        const kustomized = await kubectlOk("kustomize", "deploy/");
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-read=.", "--allow-env", "main.ts", "bundle"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const parse = (text: string) =>
          parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o !== null);
        const key = (o: { kind: string; metadata: { namespace?: string; name: string } }) =>
          `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
        const fromKustomize = parse(kustomized);
        const fromBundle = parse(new TextDecoder().decode(out.stdout));
        assert.deepEqual(fromBundle.map(key), fromKustomize.map(key), "same objects, same order");
        assert.deepEqual(fromBundle, fromKustomize);
      });

      await t.step("kubectl apply -k deploy/ --dry-run=server is accepted", async () => {
        // A server dry run cannot create the Namespace for the objects in it, so it goes first
        // (as it does for any first install checked with --dry-run=server).
        await kubectlOk("apply", "-f", "deploy/namespace.yaml");
        const out = await kubectlOk("apply", "-k", "deploy/", "--dry-run=server");
        for (
          const kind of [
            "customresourcedefinition",
            "serviceaccount",
            "clusterrole",
            "clusterrolebinding",
            "role",
            "rolebinding",
            "deployment",
            "service",
          ]
        ) {
          assert.match(out, new RegExp(`^${kind}\\S* .*\\(server dry run\\)$`, "m"), kind);
        }
      });

      const healthPort = freePort();
      const first = await (async () => {
        let started: OperatorSubprocess | undefined;
        await t.step(
          "without its RBAC the ServiceAccount's operator is alive but not ready",
          async () => {
            await kubectlOk(
              "create",
              "serviceaccount",
              SA,
              "-n",
              SYSTEM_NS,
              "--dry-run=client",
              "-o",
              "json",
            )
              .then((json) => applyJson(JSON.parse(json)));
            await kubectl("delete", "clusterrolebinding", SA, "--ignore-not-found");
            await kubectl(
              "delete",
              "rolebinding",
              `${SA}-leader-election`,
              "-n",
              SYSTEM_NS,
              "--ignore-not-found",
            );
            await writeServiceAccountKubeconfig(SA, SYSTEM_NS, saKubeconfig);
            started = operator("install-first", [
              "--leader-elect",
              `--leader-election-namespace=${SYSTEM_NS}`,
              ...LEASE_FLAGS,
              `--metrics-bind-address=127.0.0.1:${healthPort}`,
              `--health-probe-bind-address=127.0.0.1:${healthPort}`,
            ]);
            await waitFor(
              "/healthz",
              async () => (await httpGet(`http://127.0.0.1:${healthPort}/healthz`)).status === 200,
              30_000,
            );
            await started.waitForLine(
              "a forbidden Lease read",
              (l) =>
                l.msg === "Cannot acquire the leader lease, retrying" &&
                /forbidden/i.test(String(l.error)),
            );
            const ready = await httpGet(`http://127.0.0.1:${healthPort}/readyz`);
            assert.equal(ready.status, 503, ready.text);
          },
        );
        return started!;
      })();

      await t.step(
        "kubectl apply -k deploy/ installs it; /readyz turns 200 once the caches synced",
        async () => {
          await kubectlOk("apply", "-k", "deploy/");
          await kubectlOk(
            "wait",
            "--for=condition=Established",
            "crd/postgresdbs.database.thegeekyway.com",
            "crd/postgresbackups.database.thegeekyway.com",
            "--timeout=60s",
          );
          // The pod spec passes the namespace's "restricted" Pod Security admission (kwok runs
          // no container, so the pod is only scheduled and marked ready).
          await kubectlOk(
            "rollout",
            "status",
            "deployment/postgres-operator",
            "-n",
            SYSTEM_NS,
            "--timeout=90s",
          );
          await kubectlOk("scale", "deployment/postgres-operator", "-n", SYSTEM_NS, "--replicas=0");
          const readyAt = await waitFor("/readyz 200", async () => {
            const r = await httpGet(`http://127.0.0.1:${healthPort}/readyz`);
            return r.status === 200 && Date.now();
          }, 90_000);
          const synced = first.lines.find(is("Caches synced, starting workers"));
          assert.ok(synced, "caches synced before /readyz said so");
          assert.ok(Number(synced.receivedMs) <= readyAt);
        },
      );

      await t.step(
        "with only its ServiceAccount's permissions the operator runs the story; metrics move",
        async () => {
          const url = `http://127.0.0.1:${healthPort}/metrics`;
          const before = (await httpGet(url)).text;
          assert.equal(metricValue(before, "leader_election_master_status"), 1);
          await kubectl("create", "namespace", NS);
          await applyJson(db("story"));
          await readyDb("story", 1);
          const secret = await getJson("secret", "story-credentials", NS);
          assert.equal(atob(secret.data.database), "app");
          await applyJson(db("story", 2));
          await readyDb("story", 2);
          const events = await kubectlOk(
            "get",
            "events",
            "-n",
            NS,
            "--field-selector",
            "involvedObject.name=story",
            "-o",
            "jsonpath={.items[*].reason}",
          );
          assert.match(events, /Created/);
          assert.match(events, /Scaled/);
          const after = (await httpGet(url)).text;
          const controller = { controller: "postgres-operator" };
          const success = (text: string) =>
            metricValue(text, "controller_runtime_reconcile_total", {
              ...controller,
              result: "success",
            }) +
            metricValue(text, "controller_runtime_reconcile_total", {
              ...controller,
              result: "requeue_after",
            });
          assert.ok(success(after) > success(before), "reconcile_total moved");
          assert.ok(
            metricValue(after, "workqueue_adds_total", { name: "postgres-operator" }) >
              metricValue(before, "workqueue_adds_total", { name: "postgres-operator" }),
          );
          assert.ok(
            metricValue(after, "controller_runtime_reconcile_time_seconds_count", controller) >
              metricValue(before, "controller_runtime_reconcile_time_seconds_count", controller),
          );
          const { types } = parsePrometheus(after);
          for (
            const [name, type] of [
              ["controller_runtime_reconcile_total", "counter"],
              ["controller_runtime_reconcile_errors_total", "counter"],
              ["controller_runtime_reconcile_time_seconds", "histogram"],
              ["workqueue_depth", "gauge"],
              ["workqueue_adds_total", "counter"],
              ["workqueue_queue_duration_seconds", "histogram"],
              ["workqueue_retries_total", "counter"],
              ["leader_election_master_status", "gauge"],
            ]
          ) assert.equal(types.get(name!), type, name);
          assert.equal(
            first.lines.filter((l) => /forbidden/i.test(JSON.stringify(l))).filter((l) =>
              Number(l.receivedMs) >
                Number(first.lines.find(is("Caches synced, starting workers"))!.receivedMs)
            ).length,
            0,
            "nothing was forbidden once the RBAC was in place",
          );
        },
      );

      await t.step(
        "without create on statefulsets the operator fails visibly, and recovers when it is back",
        async () => {
          const index = OPERATOR_RULES.findIndex((r) => r.resource === "statefulsets");
          const verbs = OPERATOR_RULES[index]!.verbs.filter((v) => v !== "create");
          await kubectlOk(
            "patch",
            "clusterrole",
            SA,
            "--type=json",
            "-p",
            JSON.stringify([{ op: "replace", path: `/rules/${index}/verbs`, value: verbs }]),
          );
          // RBAC changes reach the authorizer's cache within a moment.
          await waitFor("the rule to be gone", async () =>
            (await kubectl(
              "auth",
              "can-i",
              "create",
              "statefulsets.apps",
              "-n",
              NS,
              `--as=system:serviceaccount:${SYSTEM_NS}:${SA}`,
            )).stdout.trim() === "no");
          const from = first.lines.length;
          await applyJson(db("denied"));
          const forbidden = await first.waitForLine(
            "a Forbidden StatefulSet create",
            (l) =>
              first.lines.indexOf(l) >= from && l.msg === "Reconcile failed, requeued" &&
              /forbidden/i.test(String(l.error)) && /statefulsets/.test(String(l.error)),
          );
          assert.equal(forbidden.key, `${NS}/denied`);
          assert.equal(await getJson("statefulset", "denied", NS), undefined, "no StatefulSet");
          assert.ok(await getJson("secret", "denied-credentials", NS), "the Secret before it");
          const metrics = (await httpGet(`http://127.0.0.1:${healthPort}/metrics`)).text;
          assert.ok(
            metricValue(metrics, "controller_runtime_reconcile_errors_total", {
              controller: "postgres-operator",
            }) > 0,
          );
          await kubectlOk("apply", "-f", "deploy/rbac.yaml");
          await readyDb("denied", 1, 120_000);
        },
      );

      await t.step(
        "SIGTERM: a clean exit that releases the Lease; the next replica leads at once",
        async () => {
          const next = operator("install-next", [
            "--leader-elect",
            `--leader-election-namespace=${SYSTEM_NS}`,
            ...LEASE_FLAGS,
          ]);
          await next.waitForLine("the standby", is("Observed the leader"));
          const stoppedAt = Date.now();
          assert.equal(await first.kill("SIGTERM"), 0);
          assert.ok(first.logged(is("Released the leader lease")));
          const acquired = await next.waitForLine(
            "the takeover",
            is("Acquired the leader lease"),
            20_000,
          );
          const handoverMs = Number(acquired.receivedMs) - stoppedAt;
          console.log(`  handover after SIGTERM (lease released): ${handoverMs}ms`);
          assert.ok(handoverMs < 4_000, `${handoverMs}ms, less than a lease duration`);
          assert.equal(await next.kill("SIGTERM"), 0);
        },
      );

      await t.step(
        "two replicas with --leader-elect: one reconciles; SIGKILL hands over within the lease bounds",
        async () => {
          const args = () => [
            "--leader-elect",
            `--leader-election-namespace=${SYSTEM_NS}`,
            "--leader-election-id=pgop-install-test",
            ...LEASE_FLAGS,
            `--metrics-bind-address=127.0.0.1:${freePort()}`,
            `--health-probe-bind-address=0`,
          ];
          const a = operator("replica-a", args());
          const b = operator("replica-b", args());
          const leader = await waitFor("a leader", () =>
            Promise.resolve(
              [a, b].find((p) => p.logged(is("Caches synced, starting workers"))),
            ), 60_000);
          const standby = leader === a ? b : a;
          await standby.waitForLine("the standby observes it", is("Observed the leader"));
          await applyJson(db("story", 3));
          await readyDb("story", 3);
          assert.ok(leader.logged(is("Reconciled")), "the leader reconciled");
          assert.ok(!standby.logged(is("Reconciled")), "the standby did not");
          assert.ok(!standby.logged(is("Caches synced, starting workers")), "nor started workers");
          const killedAt = Date.now();
          await leader.kill("SIGKILL");
          const acquired = await standby.waitForLine(
            "the takeover",
            is("Acquired the leader lease"),
            30_000,
          );
          const handoverMs = Number(acquired.receivedMs) - killedAt;
          console.log(`  handover after SIGKILL (lease 4s, renew 3s, retry 1s): ${handoverMs}ms`);
          // The standby waits a full lease from the last renewal it saw, which was at most a
          // retry period (with up to 1.2 jitter) before the kill.
          assert.ok(handoverMs >= 4_000 - 2_200, `${handoverMs}ms: not before the lease expired`);
          assert.ok(handoverMs <= 4_000 + 2_200 + 1_500, `${handoverMs}ms: within the bounds`);
          const holder = await kubectlOk(
            "get",
            "lease",
            "pgop-install-test",
            "-n",
            SYSTEM_NS,
            "-o",
            "jsonpath={.spec.holderIdentity}",
          );
          assert.equal(holder, standby.options.podName);
          const from = standby.lines.length;
          await applyJson(db("story", 1));
          await readyDb("story", 1);
          assert.ok(standby.lines.slice(from).some(is("Reconciled")), "the new leader reconciles");

          // Someone else takes the Lease: the leader stops and exits non-zero at once.
          await kubectlOk(
            "patch",
            "lease",
            "pgop-install-test",
            "-n",
            SYSTEM_NS,
            "--type=merge",
            "-p",
            JSON.stringify({
              spec: {
                holderIdentity: "intruder",
                renewTime: new Date().toISOString().replace(/Z$/, "000Z"),
              },
            }),
          );
          const seenAt = Date.now();
          const code = await waitFor("the leader to exit", async () => {
            const status = await Promise.race([
              standby.exitCode(),
              new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
            ]);
            return status;
          }, 15_000);
          console.log(`  exit after seeing another holder: ${Date.now() - seenAt}ms, code ${code}`);
          assert.equal(code, 1);
          assert.ok(standby.logged(is("Lost the leader lease")));
          assert.ok(standby.logged(is("Leader election lost, exiting")));
        },
      );
    } finally {
      for (const p of processes) await p.kill("SIGKILL");
      await kubectl("delete", "postgresdb", "--all", "-n", NS, "--wait=false");
      await kubectl("delete", "namespace", NS, "--wait=false");
      await kubectl("delete", "-f", "deploy/manager.yaml", "--ignore-not-found", "--wait=false");
      await kubectl("delete", "lease", "--all", "-n", SYSTEM_NS, "--ignore-not-found");
      await kubectlOk("apply", "-f", "deploy/rbac.yaml").catch(() => "");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
