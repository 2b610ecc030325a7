// Goal: two real agents (the process loop, real PostgreSQL) converge to a primary and a streaming
// standby from an empty start, with the intent built by the same rules as from the API server.
// Method: an in-memory intent source and report sink in place of the API server (intentFrom
// over the reports the agents wrote, the primary Lease kept by each agent's LeaseKeeper on an
// in-memory Lease server); real binaries as in postgres_port_test.ts; skips without.

import assert from "node:assert/strict";
import { InstanceAgent } from "./agent_loop.ts";
import {
  type AnnotatedReport,
  type CurrentIntent,
  intentFrom,
  type IntentSource,
} from "./intent_source.ts";
import { PostgresPort } from "./postgres_port.ts";
import { FakeLeaseServer, postgresDB } from "./_fake_leases.ts";
import { runsAsPrimary } from "./fence.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import {
  findPostgres,
  freePort,
  ownedTempDir,
  type PgTestSetup,
  sql,
  testPortOptions,
  waitFor,
} from "./_pg_testing.ts";
import type { InstanceReport } from "../core/agent/types.ts";

const setup = await findPostgres(16);
if (typeof setup === "string") console.log(`SKIP agent/agent_e2e_test.ts: ${setup}`);

/** The operator's side, as far as agents read and write it. */
class FakeCluster {
  status = { targetPrimary: "db-0", primaryTerm: 1 };
  reports = new Map<string, AnnotatedReport>();
  writes = 0;
  leases = new FakeLeaseServer();

  source(self: string, port: PostgresPort): IntentSource {
    const keeper = new LeaseKeeper(this.leases.client(), {
      self,
      database: "db",
      namespace: "default",
      log: () => {},
    });
    return {
      current: async (): Promise<CurrentIntent> => {
        const lease = await keeper.round(
          postgresDB(this.status.targetPrimary),
          runsAsPrimary(port.observe()),
        );
        return intentFrom(
          { self, database: "db", namespace: "default", major: 16 },
          this.status,
          [...this.reports.values()],
          lease,
        );
      },
    };
  }

  sink() {
    return {
      write: (report: InstanceReport, term: number) => {
        const last = this.reports.get(report.name);
        const next = { ...report, term, reportedAtMs: Date.now() };
        if (
          last !== undefined && JSON.stringify({ ...last, reportedAtMs: 0 }) ===
            JSON.stringify({ ...next, reportedAtMs: 0 })
        ) return Promise.resolve(false);
        this.reports.set(report.name, next);
        this.writes++;
        return Promise.resolve(true);
      },
    };
  }
}

Deno.test({
  name: "InstanceAgent: two agents converge to a primary and a streaming standby",
  ignore: typeof setup === "string",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const s = setup as PgTestSetup;
  const cluster = new FakeCluster();
  const ports = new Map([["db-0", freePort()], ["db-1", freePort()]]);
  const dirs = ["db-0", "db-1"].map((name) => ownedTempDir(s, `pgop-e2e-${name}-`));
  const instances = ["db-0", "db-1"].map((name, i) =>
    new PostgresPort(testPortOptions(s, dirs[i]!, ports.get(name)!, ports))
  );
  const agents = ["db-0", "db-1"].map((name, i) =>
    new InstanceAgent({
      port: instances[i]!,
      intents: cluster.source(name, instances[i]!),
      reports: cluster.sink(),
      intervalMs: 200,
      log: () => {},
    })
  );
  const describe = () =>
    JSON.stringify([...cluster.reports.values()].map((r) => [r.name, r.role, r.ready, r.message])) +
    ` errors: ${agents.map((a) => a.lastError ?? "none").join("; ")}\n` +
    instances.map((p) => p.serverLog().split("\n").slice(-5).join("\n")).join("\n---\n");
  const started = Date.now();
  try {
    for (const port of instances) {
      await port.refresh();
      port.run();
    }
    for (const agent of agents) agent.start();
    await waitFor(
      "db-0 ready as the primary",
      () => {
        const r = cluster.reports.get("db-0");
        return r?.ready && r.role === "primary" ? r : undefined;
      },
      describe,
      90_000,
    );
    const primaryAtMs = Date.now() - started;
    const standby = await waitFor(
      "db-1 ready and streaming from db-0",
      () => {
        const r = cluster.reports.get("db-1");
        return r?.ready && r.streamingFrom === "db-0" ? r : undefined;
      },
      describe,
      90_000,
    );
    console.log(`primary ready: ${primaryAtMs} ms; standby streaming: ${Date.now() - started} ms`);
    assert.equal(standby.role, "standby");
    assert.equal(standby.systemId, cluster.reports.get("db-0")!.systemId);
    assert.equal(
      await sql(
        s,
        ports.get("db-0")!,
        "select application_name || ':' || state from pg_stat_replication",
      ),
      "db-1:streaming",
    );
    await sql(s, ports.get("db-0")!, "create table e2e (v int); insert into e2e values (42)");
    await waitFor(
      "the row on the standby",
      async () =>
        await sql(s, ports.get("db-1")!, "select v from e2e").catch(() => "") === "42"
          ? true
          : undefined,
      describe,
      30_000,
    );
    // The steady state writes nothing but lag (positions) moves.
    const writes = cluster.writes;
    const rounds = agents.map((a) => a.rounds);
    await waitFor(
      "five more rounds of each agent",
      () => agents.every((a, i) => a.rounds >= rounds[i]! + 5) ? true : undefined,
      describe,
      30_000,
    );
    assert.ok(
      cluster.writes - writes <= 2,
      `steady state wrote ${cluster.writes - writes} reports`,
    );
  } finally {
    for (const agent of agents) await agent.stop();
    for (const port of instances) await port.shutdown();
    for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
  }
});
