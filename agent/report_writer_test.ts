// Goal: ReportWriter writes the report annotation of its own pod by server-side apply with the
// field manager pgop-agent, only when it changed: at once for what the operator acts on, at most
// every lagWriteMs for WAL positions alone, never in the steady state; ClusterIntentSource builds
// the intent from the written reports by the contract's rules.
// Method: a SimCluster (virtual time) as the API server, a hand-driven clock for the writer.

import assert from "node:assert/strict";
import { SimCluster } from "../sim/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import type { InstanceReport } from "../core/agent/types.ts";
import { AGENT_FIELD_MANAGER, ReportWriter } from "./report_writer.ts";
import { ClusterIntentSource, REPORT_ANNOTATION } from "./intent_source.ts";
import { selectorLabels } from "../core/postgres/labels.ts";

const POD = { apiVersion: "v1", kind: "Pod" };

function pod(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: selectorLabels("db") },
    spec: { containers: [{ name: "postgres", image: "postgres:16" }] },
  };
}

const primary: InstanceReport = {
  name: "db-0",
  role: "primary",
  process: "running",
  ready: true,
  systemId: "7350",
  timeline: 1,
  history: [],
  receivedLsn: 100,
  replayLsn: 100,
  lagBytes: 0,
  message: "Primary",
};

async function settle<T>(cluster: SimCluster, work: Promise<T>): Promise<T> {
  return await cluster.request(work);
}

Deno.test("ReportWriter: writes on change only, positions at most every lagWriteMs", async () => {
  const cluster = new SimCluster();
  const client = cluster.client();
  await settle(cluster, client.create(pod("db-0")));
  let now = 1_000_000;
  const writer = new ReportWriter(client, {
    pod: "db-0",
    namespace: "default",
    nowMs: () => now,
    lagWriteMs: 10_000,
  });
  assert.equal(await settle(cluster, writer.write(primary, 1)), true, "the first report");
  assert.equal(await settle(cluster, writer.write(primary, 1)), false, "the same report");
  now += 1_000;
  const moved = { ...primary, receivedLsn: 200, replayLsn: 200 };
  assert.equal(await settle(cluster, writer.write(moved, 1)), false, "positions within 10 s");
  now += 9_000;
  assert.equal(await settle(cluster, writer.write(moved, 1)), true, "positions after 10 s");
  assert.equal(
    await settle(cluster, writer.write({ ...moved, ready: false, message: "Stopping" }, 1)),
    true,
    "readiness at once",
  );
  assert.equal(
    await settle(cluster, writer.write({ ...moved, ready: false, message: "Stopping" }, 2)),
    true,
    "a new term",
  );
  assert.equal(writer.writes, 4);
  assert.equal(client.stats.writesByVerb.apply, 4);
  const stored = cluster.server.peek(POD, "db-0", "default")!;
  const annotation = JSON.parse(stored.metadata.annotations![REPORT_ANNOTATION]!);
  assert.equal(annotation.term, 2);
  assert.equal(annotation.reportedAtMs, now);
  assert.equal(annotation.message, "Stopping");
  const managers = (stored.metadata as { managedFields?: { manager: string }[] }).managedFields
    ?.map((m) => m.manager);
  assert.ok(managers?.includes(AGENT_FIELD_MANAGER), JSON.stringify(managers));
});

Deno.test("ClusterIntentSource: the primary's report of the current term, bootstrap only before any data", async () => {
  const cluster = new SimCluster();
  const client = cluster.client();
  await settle(cluster, client.create(pod("db-0")));
  await settle(cluster, client.create(pod("db-1")));
  const db: KubeObject = {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: "db", namespace: "default" },
    spec: {},
  };
  const identity = { database: "db", namespace: "default", major: 16 };
  const fakeGet = {
    ...client,
    get: () => Promise.resolve({ ...db, status: { targetPrimary: "db-0", primaryTerm: 1 } }),
    list: client.list.bind(client),
  };
  const withStatus = (self: string) =>
    new ClusterIntentSource(fakeGet as unknown as typeof client, { ...identity, self });
  const first = await settle(cluster, withStatus("db-0").current());
  assert.equal(first.intent.bootstrap, true);
  assert.equal(first.intent.targetPrimary, "db-0");
  assert.equal(first.intent.primary, undefined);
  const writer = new ReportWriter(client, { pod: "db-0", namespace: "default" });
  await settle(cluster, writer.write(primary, 0));
  const stale = await settle(cluster, withStatus("db-1").current());
  assert.equal(stale.intent.primary, undefined, "a report of another term is ignored");
  assert.equal(stale.intent.bootstrap, false);
  await settle(cluster, writer.write(primary, 1));
  const current = await settle(cluster, withStatus("db-1").current());
  assert.deepEqual(current.intent.primary, {
    name: "db-0",
    systemId: "7350",
    timeline: 1,
    history: [],
    flushLsn: 100,
  });
  assert.equal(current.intent.bootstrap, false);
  assert.equal(current.term, 1);
});
