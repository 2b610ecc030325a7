// Goal: the agent's Lease I/O follows the Lease rules on an API server: the target creates the
// Lease owned by its PostgresDB and renews it, another agent takes it only once it has seen it
// unchanged for its whole duration, two agents never both take it, a Lease that cannot be read
// leaves the memory as it is (held decays at the renew deadline), and a release empties it.
// Method: an in-memory API server for Leases and a fake clock.

import assert from "node:assert/strict";
import { FakeLeaseServer, postgresDB } from "./_fake_leases.ts";
import { LeaseKeeper, leaseRecord, primaryLeaseName } from "./lease_keeper.ts";

function keeper(server: FakeLeaseServer, self: string, clock: { now: number }) {
  return new LeaseKeeper(server.client(), {
    self,
    database: "db",
    namespace: "default",
    nowMs: () => clock.now,
    log: () => {},
  });
}

Deno.test("LeaseKeeper: the target creates the Lease, owned by its PostgresDB, and renews it", async () => {
  const server = new FakeLeaseServer();
  const clock = { now: 1_000 };
  const k = keeper(server, "db-0", clock);
  const standing = await k.round(postgresDB("db-0"), false);
  assert.deepEqual(standing, { held: true, free: false, transitions: 1 });
  const lease = server.lease(primaryLeaseName("db"))!;
  const spec = (lease as { spec?: Record<string, unknown> }).spec!;
  assert.equal(spec.holderIdentity, "db-0");
  assert.equal(spec.leaseDurationSeconds, 15);
  assert.equal(spec.leaseTransitions, 1);
  assert.equal(spec.acquireTime, "1970-01-01T00:00:01.000000Z");
  assert.deepEqual(lease.metadata.ownerReferences, [{
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    name: "db",
    uid: "uid-db",
  }]);
  clock.now = 3_000;
  await k.round(postgresDB("db-0"), true);
  const renewed = (server.lease("db-primary") as { spec?: Record<string, unknown> }).spec!;
  assert.equal(renewed.renewTime, "1970-01-01T00:00:03.000000Z");
  assert.equal(renewed.leaseTransitions, 1, "a renewal is no transition");
  assert.equal(k.memory.renewedAtMs, 3_000);
  assert.equal(server.requests.filter((r) => r.startsWith("update")).length, 1);
});

Deno.test("LeaseKeeper: a new target takes the Lease only after seeing it unchanged for 15 s", async () => {
  const server = new FakeLeaseServer();
  const clock = { now: 0 };
  const old = keeper(server, "db-0", clock);
  await old.round(postgresDB("db-0"), true);
  const next = keeper(server, "db-1", clock);
  clock.now = 1_000;
  assert.equal((await next.round(postgresDB("db-1"), false)).held, false);
  clock.now = 15_999;
  assert.deepEqual(await next.round(postgresDB("db-1"), false), {
    held: false,
    free: false,
    transitions: 1,
  });
  clock.now = 16_000;
  assert.deepEqual(await next.round(postgresDB("db-1"), false), {
    held: true,
    free: false,
    transitions: 2,
  });
  assert.equal(leaseRecord(server.lease("db-primary")!).holder, "db-1");
  // The old holder, long past its deadline, sees another holder: never held again.
  assert.equal((await old.round(postgresDB("db-1"), false)).held, false);
});

Deno.test("LeaseKeeper: of two agents taking a free Lease, only one succeeds", async () => {
  const server = new FakeLeaseServer();
  const clock = { now: 0 };
  const first = keeper(server, "db-0", clock);
  await first.round(postgresDB("db-0"), false);
  assert.ok(await first.release());
  const a = keeper(server, "db-1", clock);
  const b = keeper(server, "db-2", clock);
  // Both read the released Lease before either writes: the second update is a conflict.
  const [sa, sb] = await Promise.all([
    a.round(postgresDB("db-1"), false),
    b.round(postgresDB("db-2"), false),
  ]);
  assert.equal(Number(sa.held) + Number(sb.held), 1, JSON.stringify([sa, sb]));
  assert.match((sa.held ? b : a).lastError ?? "", /modified/);
});

Deno.test("LeaseKeeper: an unreachable API server leaves the memory as is, and held ends at the renew deadline", async () => {
  const server = new FakeLeaseServer();
  const clock = { now: 0 };
  const k = keeper(server, "db-0", clock);
  await k.round(postgresDB("db-0"), true);
  server.unreachable = true;
  clock.now = 9_999;
  const memory = k.memory;
  assert.equal((await k.round(postgresDB("db-0"), true)).held, true);
  assert.equal(k.memory, memory);
  assert.match(k.lastError ?? "", /connection refused/);
  clock.now = 10_000;
  assert.equal(k.standing().held, false);
  server.unreachable = false;
  clock.now = 11_000;
  assert.equal((await k.round(postgresDB("db-0"), true)).held, true, "renewed once reachable");
  assert.equal(k.lastError, undefined);
});

Deno.test("LeaseKeeper: a holder no longer the target releases once it does not run as a primary", async () => {
  const server = new FakeLeaseServer();
  const clock = { now: 0 };
  const k = keeper(server, "db-0", clock);
  await k.round(postgresDB("db-0"), true);
  clock.now = 2_000;
  assert.equal((await k.round(postgresDB(""), true)).held, true, "kept while it runs");
  assert.equal(leaseRecord(server.lease("db-primary")!).holder, "db-0");
  clock.now = 4_000;
  assert.deepEqual(await k.round(postgresDB(""), false), {
    held: false,
    free: true,
    transitions: 1,
  });
  assert.equal(leaseRecord(server.lease("db-primary")!).holder, undefined);
  const next = keeper(server, "db-1", clock);
  assert.equal((await next.round(postgresDB("db-1"), false)).held, true, "taken at once");
});
