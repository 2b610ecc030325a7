// Goal: the simulated PostgreSQL instance behaves as its module comment says: commits flush
// before they are acknowledged, standbys stream with a lag, a crash loses only unflushed WAL, a
// clone copies the upstream, a promotion forks a timeline, and the WAL receiver refuses a
// diverged timeline but follows a timeline switch.
// Method: a hand-driven network (a clock moved in 10 ms ticks, links cut by hand) and the
// instance's port, with no agent: each test performs actions itself.
import assert from "node:assert/strict";
import type { Conninfo, InstanceConfig } from "../core/agent/types.ts";
import { type SimNetwork, SimPostgresInstance } from "./postgres_instance.ts";
import { isWalPrefix } from "./wal_truth.ts";

class TestNet implements SimNetwork {
  now = 0;
  readonly instances = new Map<string, SimPostgresInstance>();
  readonly isolated = new Set<string>();
  #counter = 0;
  clockMs(): number {
    return this.now;
  }
  resolve(host: string): SimPostgresInstance | undefined {
    return host.endsWith(".db.ns.svc") ? this.instances.get(host.split(".")[0]!) : undefined;
  }
  linkUp(a: string, b: string): boolean {
    return !this.isolated.has(a) && !this.isolated.has(b);
  }
  newTimeline(): number {
    return ++this.#counter;
  }
  newSystemId(): string {
    return `sys-${++this.#counter}`;
  }
  newOrigin(): number {
    return ++this.#counter;
  }
  add(name: string): SimPostgresInstance {
    const instance = new SimPostgresInstance(name, this, {
      diskBytesPerMs: 10,
      streamBytesPerMs: 5,
      applyBytesPerMs: 5,
    });
    this.instances.set(name, instance);
    return instance;
  }
  run(ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      this.now += 10;
      for (const instance of this.instances.values()) instance.advance(10);
    }
  }
}

function conninfo(upstream: string, self: string): Conninfo {
  return {
    host: `${upstream}.db.ns.svc`,
    port: 5432,
    user: "replicator",
    passwordSecret: { name: "db-replication", key: "password" },
    applicationName: self,
  };
}

function follow(upstream: string, self: string): InstanceConfig {
  return { role: "standby", primaryConninfo: conninfo(upstream, self) };
}

function ok(result: { ok: boolean; error?: string }): void {
  assert.ok(result.ok, (result as { error?: string }).error);
}

/** A running primary "db-0" and a standby "db-1" streaming from it. */
function pair(): { net: TestNet; primary: SimPostgresInstance; standby: SimPostgresInstance } {
  const net = new TestNet();
  const primary = net.add("db-0");
  const standby = net.add("db-1");
  ok(primary.perform({ kind: "initdb", reason: "test" }));
  net.run(600);
  ok(primary.perform({ kind: "start", reason: "test" }));
  net.run(400);
  ok(
    standby.perform({
      kind: "cloneFrom",
      upstream: "db-0",
      conninfo: conninfo("db-0", "db-1"),
      reason: "test",
    }),
  );
  net.run(400);
  ok(standby.perform({ kind: "start", reason: "test" }));
  net.run(400);
  return { net, primary, standby };
}

Deno.test("SimPostgresInstance: a commit is acknowledged only once flushed", () => {
  const { net, primary } = pair();
  assert.ok(primary.acceptsWrites);
  const commit = primary.commit(500)!;
  assert.equal(commit.lsn, 500);
  assert.ok(primary.ackableLsn() < 500, "not flushed yet");
  net.run(50);
  assert.equal(primary.ackableLsn(), 500);
});

Deno.test("SimPostgresInstance: a standby streams with a lag and replays behind it", () => {
  const { net, primary, standby } = pair();
  assert.equal(standby.role, "standby");
  primary.commit(1000);
  net.run(100); // flushed at 10 bytes/ms
  assert.equal(primary.flushLsn, 1000);
  assert.ok(standby.flushLsn < 1000, `received ${standby.flushLsn}`);
  assert.ok(standby.replayLsn <= standby.flushLsn);
  net.run(400);
  assert.equal(standby.flushLsn, 1000);
  assert.equal(standby.replayLsn, 1000);
  assert.deepEqual(standby.walReceiver, { upstream: "db-0", streaming: true });
  assert.ok(isWalPrefix(standby.truth, primary.truth));
});

Deno.test("SimPostgresInstance: a slow disk slows replay, not receipt", () => {
  const { net, primary, standby } = pair();
  standby.setSlowDisk(5);
  primary.commit(1000);
  net.run(500);
  assert.equal(standby.flushLsn, 1000);
  assert.ok(standby.replayLsn < 1000, `replayed ${standby.replayLsn}`);
});

Deno.test("SimPostgresInstance: a crash loses unflushed WAL and keeps flushed WAL", () => {
  const { net, primary } = pair();
  primary.commit(100);
  net.run(20);
  primary.commit(400); // written, not flushed
  primary.crash();
  assert.equal(primary.process, "crashed");
  assert.equal(primary.flushLsn, 100);
  assert.equal(primary.writtenLsn, 100);
  ok(primary.perform({ kind: "start", reason: "test" }));
  net.run(400);
  assert.ok(primary.acceptsWrites, "restarts as a primary from its data");
});

Deno.test("SimPostgresInstance: a crashed standby restarts and streams on without a clone", () => {
  const { net, primary, standby } = pair();
  primary.commit(200);
  net.run(200);
  const received = standby.flushLsn;
  standby.crash();
  assert.equal(standby.flushLsn, received);
  primary.commit(200);
  ok(standby.perform({ kind: "start", reason: "test" }));
  net.run(600);
  assert.equal(standby.flushLsn, primary.flushLsn);
  assert.ok(isWalPrefix(standby.truth, primary.truth));
});

Deno.test("SimPostgresInstance: a clone copies the upstream's system and WAL, and fails if the upstream stops", () => {
  const { net, primary, standby } = pair();
  assert.equal(standby.systemId, primary.systemId);
  assert.equal(standby.dataRole, "standby");
  const third = net.add("db-2");
  primary.commit(300);
  net.run(100);
  ok(
    third.perform({
      kind: "cloneFrom",
      upstream: "db-0",
      conninfo: conninfo("db-0", "db-2"),
      reason: "test",
    }),
  );
  primary.crash();
  net.run(1000);
  assert.deepEqual(third.observe().data, { kind: "empty" });
  // A host that is not the named upstream's pod is refused.
  const refused = third.perform({
    kind: "cloneFrom",
    upstream: "db-0",
    conninfo: { ...conninfo("db-0", "db-2"), host: "db-rw.ns.svc" },
    reason: "test",
  });
  assert.equal(refused.ok, false);
});

Deno.test("SimPostgresInstance: a cut link stops streaming until it is back", () => {
  const { net, primary, standby } = pair();
  net.isolated.add("db-1");
  primary.commit(300);
  net.run(200);
  assert.equal(standby.walReceiver?.streaming, false);
  assert.equal(standby.flushLsn, 0);
  net.isolated.delete("db-1");
  net.run(200);
  assert.equal(standby.flushLsn, 300);
});

Deno.test("SimPostgresInstance: promotion forks a timeline; a diverged old primary is refused, a lagging standby switches", () => {
  const { net, primary, standby } = pair();
  const third = net.add("db-2");
  ok(
    third.perform({
      kind: "cloneFrom",
      upstream: "db-0",
      conninfo: conninfo("db-0", "db-2"),
      reason: "test",
    }),
  );
  net.run(400);
  ok(third.perform({ kind: "start", reason: "test" }));
  primary.commit(200);
  net.run(400);
  net.isolated.add("db-2"); // db-2 lags behind
  primary.commit(200);
  net.run(200);
  primary.commit(300); // flushed on db-0 only: db-1 is cut off before it arrives
  net.isolated.add("db-1");
  net.run(200);
  const oldTimeline = primary.timeline!;
  primary.crash();
  net.isolated.delete("db-1");
  const fork = standby.flushLsn;
  ok(standby.perform({ kind: "promote", reason: "test" }));
  net.run(300);
  assert.ok(standby.acceptsWrites);
  assert.ok(fork < primary.flushLsn);
  assert.ok(standby.flushLsn > fork, "the end-of-recovery record is the new timeline's first WAL");
  assert.notEqual(standby.timeline, oldTimeline);
  assert.deepEqual(standby.history, [{ timeline: oldTimeline, endLsn: fork }]);
  // The old primary, past the fork, is refused as a standby of the new one.
  ok(primary.perform({ kind: "writeConfig", config: follow("db-1", "db-0"), reason: "test" }));
  ok(primary.perform({ kind: "start", reason: "test" }));
  net.run(400);
  assert.equal(primary.walReceiver?.streaming, false);
  assert.match(primary.walReceiver?.error ?? "", /forked at/);
  // db-2, behind the fork, follows the new timeline.
  net.isolated.delete("db-2");
  ok(third.perform({ kind: "writeConfig", config: follow("db-1", "db-2"), reason: "test" }));
  standby.commit(100);
  net.run(800);
  assert.equal(third.timeline, standby.timeline);
  assert.equal(third.flushLsn, standby.flushLsn);
  assert.ok(isWalPrefix(third.truth, standby.truth));
});

Deno.test("SimPostgresInstance: a fast stop flushes written WAL, an immediate one loses it", () => {
  const { net, primary } = pair();
  primary.commit(300);
  ok(primary.perform({ kind: "stop", mode: "fast", reason: "test" }));
  net.run(200);
  assert.equal(primary.process, "stopped");
  assert.equal(primary.flushLsn, 300);
  ok(primary.perform({ kind: "start", reason: "test" }));
  net.run(400);
  primary.commit(300);
  ok(primary.perform({ kind: "stop", mode: "immediate", reason: "test" }));
  assert.equal(primary.process, "stopped");
  assert.equal(primary.flushLsn, 300);
});

Deno.test("SimPostgresInstance: the port refuses what PostgreSQL would refuse", () => {
  const { primary, standby } = pair();
  assert.equal(primary.perform({ kind: "initdb", reason: "test" }).ok, false);
  assert.equal(primary.perform({ kind: "promote", reason: "test" }).ok, false);
  assert.equal(standby.perform({ kind: "start", reason: "test" }).ok, false);
  const reclone = standby.perform({
    kind: "reclone",
    upstream: "db-0",
    conninfo: conninfo("db-0", "db-1"),
    reason: "test",
  });
  assert.match((reclone as { error: string }).error, /PostgreSQL is running/);
});
