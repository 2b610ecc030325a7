// Goal: PostgresPort carries out the agent's actions on a real PostgreSQL: bootstrap, clone and
// stream, restart without a new clone, fast and immediate stops, promotion to a new timeline, and
// a diverged standby re-cloned (old data kept until the clone exists); its observation is what
// decide() expects.
// Method: real binaries from the image build cache, run as an unprivileged user on 127.0.0.1,
// with pod DNS names resolved to local ports by the port's resolver. Skips when absent.

import assert from "node:assert/strict";
import { decide } from "../core/agent/decide.ts";
import type { AgentIntent, InstanceObservation } from "../core/agent/types.ts";
import { PostgresPort } from "./postgres_port.ts";
import {
  findPostgres,
  freePort,
  ownedTempDir,
  type PgTestSetup,
  sql,
  testPortOptions,
  waitFor,
} from "./_pg_testing.ts";

const setup = await findPostgres(16);
if (typeof setup === "string") console.log(`SKIP agent/postgres_port_test.ts: ${setup}`);

function intent(self: string, primary?: InstanceObservation & { name: string }): AgentIntent {
  const value: AgentIntent = {
    self,
    targetPrimary: "db-0",
    bootstrap: self === "db-0",
    lease: { held: self === "db-0", free: false, transitions: 1 },
    major: 16,
    headlessService: "db",
    namespace: "default",
    replication: {
      user: "replicator",
      passwordSecret: { name: "db-credentials", key: "replication-password" },
    },
  };
  if (primary !== undefined && primary.data.kind === "initialized") {
    value.primary = {
      name: primary.name,
      systemId: primary.data.systemId,
      timeline: primary.data.timeline,
      history: primary.data.history,
      flushLsn: primary.data.flushLsn,
    };
  }
  return value;
}

function show(port: PostgresPort): string {
  return `${JSON.stringify(port.observe())} lastError=${port.lastError ?? "none"}\n` +
    port.serverLog().split("\n").slice(-8).join("\n");
}

async function until(
  port: PostgresPort,
  what: string,
  ok: (obs: InstanceObservation) => boolean,
  timeoutMs = 60_000,
): Promise<InstanceObservation> {
  return await waitFor(
    what,
    async () => {
      await port.refresh(true);
      const obs = port.observe();
      return ok(obs) ? obs : undefined;
    },
    () => show(port),
    timeoutMs,
  );
}

function must(result: { ok: boolean; error?: string }): void {
  assert.ok(result.ok, result.ok ? "" : result.error);
}

Deno.test({
  name: "PostgresPort: bootstraps, clones a streaming standby, restarts it, promotes and re-clones",
  ignore: typeof setup === "string",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const s = setup as PgTestSetup;
  const ports = new Map([["db-0", freePort()], ["db-1", freePort()]]);
  const dir0 = ownedTempDir(s, "pgop-port-0-");
  const dir1 = ownedTempDir(s, "pgop-port-1-");
  const log: string[] = [];
  const p0 = new PostgresPort({
    ...testPortOptions(s, dir0, ports.get("db-0")!, ports),
    log: (line) => log.push(line),
  });
  const p1 = new PostgresPort(testPortOptions(s, dir1, ports.get("db-1")!, ports));
  const named = (name: string, obs: InstanceObservation) => ({ ...obs, name });
  try {
    await t.step("bootstrap: initdb then start as a primary with the replicator role", async () => {
      await p0.refresh();
      assert.equal(decide(p0.observe(), intent("db-0"))[0]?.kind, "initdb");
      must(p0.perform({ kind: "initdb", reason: "test" }));
      assert.equal(p0.observe().data.kind, "initializing");
      const stopped = await until(p0, "initdb to finish", (o) => o.data.kind === "initialized");
      assert.equal(decide(stopped, intent("db-0"))[0]?.kind, "start");
      must(p0.perform({ kind: "start", reason: "test" }));
      const running = await until(p0, "the primary to run", (o) => o.process === "running");
      assert.equal(running.reportedRole, "primary");
      assert.ok(running.data.kind === "initialized" && running.data.timeline === 1);
      assert.ok(running.receivedLsn > 0 && running.receivedLsn === running.replayLsn);
      assert.equal(decide(running, intent("db-0"))[0]?.kind, "report");
      assert.equal(
        await sql(
          s,
          ports.get("db-0")!,
          "select rolreplication from pg_roles where rolname = 'replicator'",
        ),
        "t",
      );
      await sql(s, ports.get("db-0")!, "create table t (v int); insert into t values (1)");
    });

    await t.step("clone: a standby streams and reads a row written on the primary", async () => {
      const primaryObs = named("db-0", p0.observe());
      await p1.refresh();
      const [clone] = decide(p1.observe(), intent("db-1", primaryObs));
      assert.equal(clone?.kind, "cloneFrom");
      const started = Date.now();
      must(p1.perform(clone as never));
      const cloned = await until(p1, "the clone to finish", (o) => o.data.kind === "initialized");
      assert.ok(cloned.data.kind === "initialized" && cloned.data.config.role === "standby");
      assert.equal(decide(cloned, intent("db-1", primaryObs))[0]?.kind, "start");
      must(p1.perform({ kind: "start", reason: "test" }));
      const streaming = await until(
        p1,
        "the standby to stream",
        (o) => o.walReceiver?.streaming === true,
      );
      console.log(`clone to streaming: ${Date.now() - started} ms`);
      assert.deepEqual(streaming.walReceiver, { upstream: "db-0", streaming: true });
      assert.equal(streaming.reportedRole, "standby");
      assert.ok(streaming.data.kind === "initialized");
      assert.equal(streaming.data.systemId, (primaryObs.data as { systemId: string }).systemId);
      assert.equal(decide(streaming, intent("db-1", primaryObs))[0]?.kind, "report");
      const listed = await sql(
        s,
        ports.get("db-0")!,
        "select application_name || ':' || state from pg_stat_replication",
      );
      assert.equal(listed, "db-1:streaming");
      await sql(s, ports.get("db-0")!, "insert into t values (2)");
      await waitFor(
        "row 2 on the standby",
        async () =>
          (await sql(s, ports.get("db-1")!, "select count(*) from t where v = 2")) === "1"
            ? true
            : undefined,
        () => show(p1),
        30_000,
      );
    });

    await t.step("restart: a fast-stopped standby starts again without a new clone", async () => {
      const before = p1.observe();
      must(p1.perform({ kind: "stop", mode: "fast", reason: "test" }));
      assert.equal(p1.observe().process, "stopping");
      const stopped = await until(p1, "the standby to stop", (o) => o.process === "stopped");
      assert.ok(stopped.data.kind === "initialized" && before.data.kind === "initialized");
      assert.equal(stopped.data.systemId, before.data.systemId);
      const primaryObs = named("db-0", p0.observe());
      assert.equal(decide(stopped, intent("db-1", primaryObs))[0]?.kind, "start");
      must(p1.perform({ kind: "start", reason: "test" }));
      await until(p1, "the standby to stream again", (o) => o.walReceiver?.streaming === true);
      assert.equal(await sql(s, ports.get("db-1")!, "select count(*) from t"), "2");
    });

    await t.step("immediate stop: the standby stops at once and restarts", async () => {
      must(p1.perform({ kind: "stop", mode: "immediate", reason: "test" }));
      await until(p1, "the immediate stop", (o) => o.process === "stopped");
      must(p1.perform({ kind: "start", reason: "test" }));
      await until(p1, "streaming after a crash stop", (o) => o.walReceiver?.streaming === true);
    });

    await t.step("promote: a cut-off standby becomes a primary on a new timeline", async () => {
      must(p1.perform({ kind: "stop", mode: "fast", reason: "test" }));
      await until(p1, "the standby to stop", (o) => o.process === "stopped");
      // The primary moves on without the standby: its WAL goes past the coming fork.
      await sql(s, ports.get("db-0")!, "insert into t select generate_series(3, 1000)");
      await sql(s, ports.get("db-0")!, "checkpoint");
      ports.set("db-9", freePort()); // nobody listens there: the standby streams from nowhere
      must(p1.perform({
        kind: "writeConfig",
        config: {
          role: "standby",
          primaryConninfo: {
            host: "db-9.db.default.svc",
            port: 5432,
            user: "replicator",
            passwordSecret: { name: "db-credentials", key: "replication-password" },
            applicationName: "db-1",
          },
        },
        reason: "test",
      }));
      must(p1.perform({ kind: "start", reason: "test" }));
      await until(p1, "the standby to run", (o) => o.process === "running");
      must(p1.perform({ kind: "promote", reason: "test" }));
      assert.equal(p1.observe().promoting, true);
      const promoted = await until(
        p1,
        "the promotion",
        (o) => o.reportedRole === "primary" && o.promoting !== true,
      );
      assert.ok(promoted.data.kind === "initialized");
      assert.equal(promoted.data.timeline, 2);
      assert.equal(promoted.data.history.length, 1);
      assert.equal(promoted.data.history[0]?.timeline, 1);
      assert.equal(promoted.data.config.role, "primary");
      assert.equal(await sql(s, ports.get("db-1")!, "select count(*) from t"), "2");
    });

    await t.step("diverged: the old primary is re-cloned from the new one", async () => {
      must(p0.perform({ kind: "stop", mode: "fast", reason: "test" }));
      const old = await until(p0, "the old primary to stop", (o) => o.process === "stopped");
      const newPrimary = { ...intent("db-0", named("db-1", p1.observe())), targetPrimary: "db-1" };
      const [action] = decide(old, newPrimary);
      assert.equal(action?.kind, "reclone", JSON.stringify(action));
      const marker = `${dir0}/pgdata/pgop-marker`;
      Deno.writeTextFileSync(marker, "old data");
      // At every moment, the old data or its complete replacement is on disk.
      const pgdata = `${dir0}/pgdata`;
      let violations = 0;
      const watch = setInterval(() => {
        const asides = [...Deno.readDirSync(dir0)].filter((e) => e.name.startsWith("pgdata.old-"));
        const old = exists(marker) || asides.some((e) => exists(`${dir0}/${e.name}/pgop-marker`));
        const replaced = !exists(marker) && exists(`${pgdata}/standby.signal`);
        if (!old && !replaced) violations++;
      }, 2);
      try {
        must(p0.perform(action as never));
        const recloned = await until(p0, "the re-clone", (o) => o.data.kind === "initialized");
        assert.ok(recloned.data.kind === "initialized" && recloned.data.timeline === 2);
      } finally {
        clearInterval(watch);
      }
      assert.equal(violations, 0, "neither the old data nor its replacement was on disk");
      assert.ok(!exists(marker), "the old data was replaced");
      assert.ok(log.some((line) => line.startsWith("moved the old data aside")), log.join("\n"));
      assert.deepEqual([...Deno.readDirSync(dir0)].filter((e) => e.name.startsWith("pgdata.")), []);
      must(p0.perform({ kind: "start", reason: "test" }));
      await until(p0, "the re-cloned standby to stream", (o) => o.walReceiver?.streaming === true);
      assert.equal(await sql(s, ports.get("db-0")!, "select count(*) from t"), "2");
    });
  } finally {
    await p1.shutdown();
    await p0.shutdown();
    Deno.removeSync(dir0, { recursive: true });
    Deno.removeSync(dir1, { recursive: true });
  }
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "PostgresPort: a primary's synchronous standbys are written, reloaded and read back",
  ignore: typeof setup === "string",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const s = setup as PgTestSetup;
  const ports = new Map([["db-0", freePort()], ["db-1", freePort()]]);
  const dir0 = ownedTempDir(s, "pgop-sync-0-");
  const dir1 = ownedTempDir(s, "pgop-sync-1-");
  const p0 = new PostgresPort(testPortOptions(s, dir0, ports.get("db-0")!, ports));
  const p1 = new PostgresPort(testPortOptions(s, dir1, ports.get("db-1")!, ports));
  const port0 = ports.get("db-0")!;
  try {
    must(p0.perform({ kind: "initdb", reason: "test" }));
    await until(p0, "initdb", (o) => o.data.kind === "initialized");
    must(p0.perform({ kind: "start", reason: "test" }));
    await until(p0, "the primary", (o) => o.reportedRole === "primary");
    await p1.refresh();
    const [clone] = decide(p1.observe(), intent("db-1", { ...p0.observe(), name: "db-0" }));
    must(p1.perform(clone as never));
    await until(p1, "the clone", (o) => o.data.kind === "initialized");
    must(p1.perform({ kind: "start", reason: "test" }));
    await until(p1, "the standby to stream", (o) => o.walReceiver?.streaming === true);

    const sync = { number: 1, standbys: ["db-1", "db-2"] };
    const withSync = { ...intent("db-0"), synchronous: sync };
    const [configure] = decide(p0.observe(), withSync);
    assert.equal(configure?.kind, "writeConfig", JSON.stringify(configure));
    must(p0.perform(configure as never));
    await waitFor(
      "the reloaded setting",
      async () =>
        await sql(s, port0, "show synchronous_standby_names") === 'ANY 1 ("db-1", "db-2")'
          ? true
          : undefined,
      () => show(p0),
      30_000,
    );
    await waitFor(
      "db-1 as a quorum standby",
      async () =>
        await sql(
            s,
            port0,
            "select application_name || ':' || sync_state from pg_stat_replication",
          ) ===
            "db-1:quorum"
          ? true
          : undefined,
      () => show(p0),
      30_000,
    );
    // Read back from the data directory: the next decision is to do nothing.
    const configured = await until(
      p0,
      "the config read back",
      (o) =>
        o.data.kind === "initialized" && o.data.config.role === "primary" &&
        o.data.config.synchronous !== undefined,
    );
    assert.ok(configured.data.kind === "initialized");
    assert.deepEqual(configured.data.config, { role: "primary", synchronous: sync });
    assert.equal(decide(configured, withSync)[0]?.kind, "report");
    // A commit waits for the standby: acknowledged only once db-1 flushed it.
    await sql(s, port0, "create table t (v int); insert into t values (1)");
    assert.equal(await sql(s, ports.get("db-1")!, "select count(*) from t"), "1");

    // No quorum: asynchronous again.
    const [clear] = decide(configured, intent("db-0"));
    assert.equal(clear?.kind, "writeConfig");
    must(p0.perform(clear as never));
    await waitFor(
      "the setting cleared",
      async () => await sql(s, port0, "show synchronous_standby_names") === "" ? true : undefined,
      () => show(p0),
      30_000,
    );
    await p0.refresh(true);
    const cleared = p0.observe();
    assert.ok(cleared.data.kind === "initialized");
    assert.deepEqual(cleared.data.config, { role: "primary" });
  } finally {
    await p1.shutdown();
    await p0.shutdown();
    Deno.removeSync(dir0, { recursive: true });
    Deno.removeSync(dir1, { recursive: true });
  }
});
