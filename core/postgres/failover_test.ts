// Goal: the operator's failover plan never chooses a standby further behind the primary's last
// known WAL than spec.maxFailoverLagBytes, counting every report of the term (found by the
// failover campaign: a standby that had not yet seen the Lease free held 19502 bytes more).
// Method: planFailover in its choose phase on hand-made reports.
import assert from "node:assert/strict";
import { planFailover } from "./failover.ts";
import type { Instance } from "./instances.ts";
import type { PodReport } from "./replication.ts";
import type { PostgresDB, ValidSpec } from "./types.ts";

const SPEC: ValidSpec = {
  version: "16",
  storage: "1Gi",
  replicas: 3,
  databaseName: "app",
  deletionPolicy: "Retain",
  failoverDelay: 1,
  maxFailoverLagBytes: 6530,
  synchronous: { number: 1, durability: "preferred" },
};

function instance(name: string, report: Partial<PodReport>): Instance {
  return {
    pod: { apiVersion: "v1", kind: "Pod", metadata: { name } },
    report: {
      name,
      role: "standby",
      process: "running",
      ready: false,
      receivedLsn: 0,
      replayLsn: 0,
      message: "",
      systemId: "sys-1",
      timeline: 1,
      ...report,
    },
  };
}

Deno.test("planFailover() does not choose a standby further behind than the bound a report of the term shows", () => {
  const startedAt = "2026-01-01T00:00:07.950Z";
  const db: PostgresDB = {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: "pg", namespace: "sim" },
    status: {
      targetPrimary: "",
      primaryTerm: 2,
      failover: {
        reason: "PrimaryLost",
        from: "pg-0",
        term: 2,
        startedAt,
        // The first candidate reported 5 s ago: the wait for the others is over.
        candidatesSince: "2026-01-01T00:00:08.050Z",
        message: "Failover",
      },
    },
  };
  const instances = [
    instance("pg-0", { role: "primary", term: 1, receivedLsn: 25151, leaseTransitions: 1 }),
    instance("pg-1", { term: 2, receivedLsn: 22572, leaseFree: true, leaseTransitions: 1 }),
    // Not a candidate yet (it has not seen the Lease free), but the primary had this much WAL.
    instance("pg-2", { term: 2, receivedLsn: 42074, leaseTransitions: 1 }),
  ];
  const nowMs = Date.parse(startedAt) + 5100;
  const plan = planFailover(
    db,
    SPEC,
    instances,
    { targetPrimary: "", primaryTerm: 2 },
    nowMs,
  );
  assert.notEqual(plan.targetPrimary, "pg-1");
  assert.equal(plan.targetPrimary, "");
});
