// Goal: leader election keeps at most one leader at every instant, hands over only after the
// lease has expired (or was released), and a leader that cannot renew, or sees another holder,
// stops at once.
// Method: candidates on the simulated cluster's Lease, in virtual time; the invariant "never two
// leaders" is checked between every two instants of the run; timings are exact virtual times.
import assert from "node:assert/strict";
import { ApiError } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { SimCluster } from "../sim/cluster.ts";
import type { SimClient } from "../sim/client.ts";
import { LeaderElector, LEASE, microTime } from "./leader_election.ts";

const LEASE_MS = 15_000;
const RENEW_MS = 10_000;
const RETRY_MS = 2_000;

interface Candidate {
  elector: LeaderElector;
  client: SimClient;
  startedMs: number[];
  stoppedMs: number[];
  reasons: string[];
}

function election(seed: number, names: string[]) {
  const cluster = new SimCluster({ seed });
  const candidates = names.map((name): Candidate => {
    const client = cluster.client({ name });
    const elector = new LeaderElector(client, {
      clock: cluster.clock,
      random: cluster.random.fork(),
      namespace: "default",
      name: "pgop-leader",
      identity: name,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_MS,
      retryPeriodMs: RETRY_MS,
    });
    return { elector, client, startedMs: [], stoppedMs: [], reasons: [] };
  });
  let overlaps = 0;
  const leaders = () => candidates.filter((c) => c.elector.isLeader);
  return {
    cluster,
    candidates,
    leaders,
    get overlaps() {
      return overlaps;
    },
    start(candidate: Candidate) {
      candidate.elector.start({
        onStartedLeading: () => candidate.startedMs.push(cluster.nowMs()),
        onStoppedLeading: (reason) => {
          candidate.stoppedMs.push(cluster.nowMs());
          candidate.reasons.push(reason);
        },
      });
    },
    /** Runs virtual time, counting instants with two leaders. */
    async run(maxVirtualMs: number, until?: () => boolean) {
      await cluster.run({
        maxVirtualMs,
        until: () => {
          if (leaders().length > 1) overlaps++;
          return until?.() ?? false;
        },
      });
    },
    lease(): KubeObject & { spec: Record<string, unknown> } {
      const lease = cluster.objects().find((o) => o.kind === "Lease");
      assert.ok(lease, "a Lease exists");
      return lease as KubeObject & { spec: Record<string, unknown> };
    },
  };
}

function partition(client: SimClient): void {
  client.hooks = {
    beforeRequest() {
      throw new ApiError("ServiceUnavailable", "connection refused (partitioned)");
    },
  };
}

for (const seed of [1, 2, 3]) {
  Deno.test(`LeaderElector: two candidates, exactly one leads and keeps leading (seed ${seed})`, async () => {
    const world = election(seed, ["a", "b"]);
    for (const c of world.candidates) world.start(c);
    await world.run(120_000);
    assert.equal(world.overlaps, 0, `never two leaders (seed ${seed})`);
    assert.equal(world.leaders().length, 1, `one leader (seed ${seed})`);
    const [leader] = world.leaders();
    assert.equal(leader!.startedMs.length, 1, "it started leading once");
    assert.equal(leader!.stoppedMs.length, 0, "and never stopped");
    assert.equal(world.lease().spec.holderIdentity, leader!.elector.identity);
    for (const c of world.candidates) {
      assert.equal(c.elector.leader, leader!.elector.identity, "both observed the leader");
    }
    for (const c of world.candidates) c.elector.abandon();
  });
}

Deno.test("LeaderElector: a partitioned leader stops at its renew deadline; the other takes over after the lease expires, not before", async () => {
  const world = election(7, ["a", "b"]);
  for (const c of world.candidates) world.start(c);
  await world.run(30_000);
  const [leader] = world.leaders();
  const other = world.candidates.find((c) => c !== leader)!;
  assert.ok(leader);
  partition(leader.client);
  const renewedMs = Date.parse(String(world.lease().spec.renewTime));
  await world.run(120_000, () => other.elector.isLeader);
  assert.equal(world.overlaps, 0, "never two leaders");
  assert.deepEqual(leader.stoppedMs, [renewedMs + RENEW_MS], "stopped exactly at the deadline");
  assert.match(leader.reasons[0]!, /not renewed within 10000ms/);
  const takeoverMs = other.startedMs[0]!;
  assert.ok(
    takeoverMs >= renewedMs + LEASE_MS,
    `took over ${takeoverMs - renewedMs}ms after the last renewal, not before the lease expired`,
  );
  assert.ok(
    takeoverMs <= renewedMs + LEASE_MS + 2.2 * RETRY_MS + 10,
    `took over ${
      takeoverMs - renewedMs
    }ms after the last renewal: within a jittered retry period of expiry`,
  );
  other.elector.abandon();
});

Deno.test("LeaderElector: a killed leader is replaced after the lease expires, counted from the last renewal seen", async () => {
  const world = election(11, ["a", "b"]);
  for (const c of world.candidates) world.start(c);
  await world.run(30_000);
  const [leader] = world.leaders();
  const other = world.candidates.find((c) => c !== leader)!;
  leader!.elector.abandon();
  const renewedMs = Date.parse(String(world.lease().spec.renewTime));
  const transitions = Number(world.lease().spec.leaseTransitions);
  await world.run(120_000, () => other.elector.isLeader);
  const takeoverMs = other.startedMs[0]!;
  assert.ok(takeoverMs >= renewedMs + LEASE_MS, `${takeoverMs - renewedMs}ms >= ${LEASE_MS}ms`);
  assert.ok(takeoverMs <= renewedMs + LEASE_MS + 2.2 * RETRY_MS + 10);
  assert.equal(world.lease().spec.holderIdentity, other.elector.identity);
  assert.equal(Number(world.lease().spec.leaseTransitions), transitions + 1);
  other.elector.abandon();
});

Deno.test("LeaderElector: a leader that stops and releases hands over within a retry period", async () => {
  const world = election(5, ["a", "b"]);
  for (const c of world.candidates) world.start(c);
  await world.run(30_000);
  const [leader] = world.leaders();
  const other = world.candidates.find((c) => c !== leader)!;
  const stopping = leader!.elector.stop({ release: true });
  await world.run(10_000, () => !leader!.elector.isLeader);
  await world.run(60_000, () => other.elector.isLeader);
  await stopping;
  const releasedMs = Date.parse(String(world.lease().spec.acquireTime));
  assert.ok(other.elector.isLeader);
  assert.ok(other.startedMs[0]! - releasedMs <= 2.2 * RETRY_MS + 10, "within a retry period");
  assert.equal(leader!.stoppedMs.length, 0, "a clean stop does not report a loss");
  other.elector.abandon();
});

Deno.test("LeaderElector: a leader that sees another holder stops at once", async () => {
  const world = election(3, ["a"]);
  world.start(world.candidates[0]!);
  await world.run(10_000);
  const leader = world.candidates[0]!;
  assert.ok(leader.elector.isLeader);
  // Someone else (a misconfigured second deployment, an admin) takes the Lease.
  const intruder = world.cluster.client({ name: "intruder" });
  const lease = world.lease();
  const overwrite = intruder.update({
    ...lease,
    spec: {
      ...lease.spec,
      holderIdentity: "intruder",
      renewTime: microTime(world.cluster.nowMs()),
    },
  });
  const seenMs = world.cluster.nowMs();
  await world.run(10_000, () => !leader.elector.isLeader);
  await overwrite;
  assert.equal(leader.elector.isLeader, false);
  assert.match(leader.reasons[0]!, /held by "intruder"/);
  assert.ok(leader.stoppedMs[0]! - seenMs <= RETRY_MS + 10, "at its next renewal");
});

Deno.test("LeaderElector: the Lease carries client-go's fields with MicroTime timestamps", async () => {
  const world = election(1, ["a"]);
  world.start(world.candidates[0]!);
  await world.run(5_000);
  const spec = world.lease().spec;
  assert.equal(spec.holderIdentity, "a");
  assert.equal(spec.leaseDurationSeconds, 15);
  assert.equal(spec.leaseTransitions, 0);
  assert.match(String(spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(world.lease().apiVersion, LEASE.apiVersion);
  world.candidates[0]!.elector.abandon();
});

Deno.test("LeaderElector: timings that cannot work are refused", () => {
  const cluster = new SimCluster();
  const base = { clock: cluster.clock, namespace: "default", name: "l", identity: "a" };
  assert.throws(
    () =>
      new LeaderElector(cluster.client(), {
        ...base,
        leaseDurationMs: 5000,
        renewDeadlineMs: 5000,
      }),
    RangeError,
  );
  assert.throws(
    () =>
      new LeaderElector(cluster.client(), { ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 }),
    RangeError,
  );
});
