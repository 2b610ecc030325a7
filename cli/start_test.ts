// Goal: two replicas of the operator on one cluster with leader election: only the leader
// reconciles, a standby is ready without reconciling, and when the leader dies the standby takes
// over after the lease expires and finishes the work; the old leader writes nothing after its
// loss. Also: a hot loop of Events is cut by the rate limit and counted in the metrics.
// Method: operatorManager (what `deno task start` runs: the PostgresDB controller on the
// library's Manager) twice on the simulated cluster, in virtual time; writes are attributed to
// replicas through their clients' counters.
import assert from "node:assert/strict";
import { POSTGRESDB } from "../core/postgres/types.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { silentLogger } from "../runtime/log.ts";
import { SimCluster } from "../sim/cluster.ts";
import { sampleYaml } from "../tests/support/world.ts";
import { parseManifests } from "./manifests.ts";
import { operatorManager } from "./start.ts";

const ELECTION = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

async function twoReplicas(seed: number) {
  const cluster = new SimCluster({ seed });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  const lost: string[] = [];
  const replicas = ["pod-a", "pod-b"].map((identity) => {
    const client = cluster.client({ name: identity });
    const operator = operatorManager(client, {
      clock: cluster.clock,
      random: cluster.random.fork(),
      logger: silentLogger,
      watchInactivityMs: 0,
      leaderElection: { namespace: "default", name: "pgop-leader", identity, ...ELECTION },
      onLeadershipLost: () => lost.push(identity),
    });
    return { identity, client, operator };
  });
  const apply = async (yaml: string) => {
    for (const object of parseManifests(yaml, "test")) {
      await cluster.request(user.apply(object, { fieldManager: "kubectl" }));
    }
  };
  return { cluster, replicas, apply, lost };
}

for (const seed of [1, 2, 3]) {
  Deno.test(`operatorManager(): of two replicas only the leader reconciles; the standby takes over when it dies (seed ${seed})`, async () => {
    const { cluster, replicas, apply } = await twoReplicas(seed);
    for (const r of replicas) r.operator.manager.start();
    await cluster.run({ maxVirtualMs: 5_000 });
    for (const r of replicas) {
      assert.ok(
        r.operator.manager.ready().ready,
        `${r.identity} ready: ${r.operator.manager.ready().reason}`,
      );
    }
    await apply(sampleYaml());
    let both = 0;
    const leaders = () => replicas.filter((r) => r.operator.manager.elector!.isLeader);
    await cluster.run({
      maxVirtualMs: 60_000,
      until: () => (leaders().length > 1 && both++, false),
    });
    assert.equal(both, 0, `never two leaders (seed ${seed})`);
    const [leader] = leaders();
    const standby = replicas.find((r) => r !== leader)!;
    assert.ok(leader, `a leader (seed ${seed})`);
    assert.ok(leader.operator.controller.stats.reconciles > 0);
    assert.equal(standby.operator.controller.stats.reconciles, 0, "the standby did not reconcile");
    assert.equal(standby.client.stats.writesByVerb.apply ?? 0, 0);
    assert.equal(leader.operator.manager.metrics.leaderStatus.get({ name: "pgop-leader" }), 1);
    assert.equal(standby.operator.manager.metrics.leaderStatus.get({ name: "pgop-leader" }), 0);

    // SIGKILL: the leader's timers and watches stop without a word to the API server.
    leader.operator.manager.elector!.abandon();
    await cluster.request(leader.operator.controller.stop());
    const leaderWrites = leader.client.stats.writes;
    const killedMs = cluster.nowMs();
    await apply(sampleYaml({ replicas: 2 }));
    await cluster.run({
      maxVirtualMs: 60_000,
      until: () => standby.operator.manager.elector!.isLeader,
    });
    const handoverMs = cluster.nowMs() - killedMs;
    assert.ok(handoverMs <= ELECTION.leaseDurationMs + 2.2 * ELECTION.retryPeriodMs + 50);
    await cluster.run({ maxVirtualMs: 60_000 });
    const db = cluster.objects().find((o) =>
      o.kind === POSTGRESDB.kind && o.metadata.name === "my-postgres"
    ) as { status?: { readyReplicas?: number } };
    assert.equal(db.status?.readyReplicas, 2, "the new leader finished the scale-up");
    assert.equal(leader.client.stats.writes, leaderWrites, "the dead leader wrote nothing more");
    await cluster.request(standby.operator.manager.stop());
  });
}

Deno.test("operatorManager(): a leader cut off from the API server stops reconciling at its renew deadline", async () => {
  const { cluster, replicas, apply, lost } = await twoReplicas(4);
  const [a] = replicas;
  a!.operator.manager.start();
  await cluster.run({ maxVirtualMs: 3_000, until: () => a!.operator.manager.elector!.isLeader });
  await apply(sampleYaml());
  await cluster.run({ maxVirtualMs: 30_000 });
  a!.client.hooks = {
    beforeRequest(request) {
      if (request.kind === "Lease") throw new Error("connection refused (partitioned)");
    },
  };
  await cluster.run({ maxVirtualMs: 10_000, until: () => lost.length > 0 });
  assert.deepEqual(lost, ["pod-a"]);
  assert.equal(a!.operator.manager.ready().ready, false);
  assert.match(a!.operator.manager.ready().reason, /lost the lease/);
  const writes = a!.client.stats.writes;
  await apply(sampleYaml({ replicas: 3 }));
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.equal(a!.client.stats.writes, writes, "no write after the loss");
});

Deno.test("operatorManager(): Events beyond the per-object burst are dropped and counted", async () => {
  const cluster = new SimCluster({ seed: 9 });
  const user = cluster.client({ name: "kubectl" });
  for (const { crd } of CRDS) await cluster.request(user.apply(crd, { fieldManager: "kubectl" }));
  const client = cluster.client({ name: "operator" });
  const operator = operatorManager(client, {
    clock: cluster.clock,
    random: cluster.random.fork(),
    logger: silentLogger,
    watchInactivityMs: 0,
    eventBurst: 2,
  });
  operator.manager.start();
  await cluster.run({ maxVirtualMs: 1_000 });
  // Flip the spec between invalid and valid: every reconcile wants to tell the user something.
  for (let i = 0; i < 6; i++) {
    for (const object of parseManifests(sampleYaml({ storage: i % 2 ? "1Gi" : "0" }), "t")) {
      await cluster.request(user.apply(object, { fieldManager: "kubectl" }));
    }
    await cluster.run({ maxVirtualMs: 30_000 });
  }
  const events = cluster.objects().filter((o) => o.kind === "Event");
  assert.equal(events.length, 2, "two Events reached the API server");
  const dropped = operator.manager.events.dropped;
  assert.ok(dropped > 0);
  const text = operator.manager.metrics.registry.render();
  const counted = [...text.matchAll(/^pgop_events_dropped_total\{reason="[^"]*"\} (\d+)$/gm)]
    .reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(counted, dropped);
  await cluster.request(operator.manager.stop());
});
