import assert from "node:assert/strict";
import type { Action } from "../actions.ts";
import {
  CANDIDATE_WAIT_MS,
  planFailover,
  PROMOTION_TIMEOUT_MS,
  SWITCHOVER_ANNOTATION,
} from "./failover.ts";
import type { Instance } from "./instances.ts";
import type { PodReport } from "./replication.ts";
import type { TargetChoice } from "./target.ts";
import type { PostgresDB, PostgresDBStatus, ValidSpec } from "./types.ts";

const T0 = Date.parse("2026-11-30T00:00:00Z");

function spec(over: Partial<ValidSpec> = {}): ValidSpec {
  return {
    version: "16",
    storage: "1Gi",
    replicas: 3,
    databaseName: "app",
    deletionPolicy: "Retain",
    failoverDelay: 0,
    maxFailoverLagBytes: 1000,
    ...over,
  };
}

function db(status: PostgresDBStatus, annotations?: Record<string, string>): PostgresDB {
  const metadata: PostgresDB["metadata"] = { name: "db", namespace: "ns" };
  if (annotations) metadata.annotations = annotations;
  return { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata, status };
}

type Over = { [K in keyof PodReport]?: PodReport[K] | undefined };

function report(name: string, over: Over = {}): PodReport {
  const r: Record<string, unknown> = {
    name,
    role: "standby",
    process: "running",
    ready: true,
    systemId: "sys",
    timeline: 1,
    receivedLsn: 500,
    replayLsn: 500,
    streamingFrom: "db-0",
    leaseTransitions: 1,
    message: "Streaming",
    term: 1,
    ...over,
  };
  for (const [k, v] of Object.entries(r)) if (v === undefined) delete r[k];
  return r as unknown as PodReport;
}

function primary(over: Over = {}): PodReport {
  const { streamingFrom: _s, ...rest } = report("db-0", {
    role: "primary",
    receivedLsn: 600,
    message: "Primary",
    ...over,
  });
  return rest;
}

function instances(...reports: PodReport[]): Instance[] {
  return reports.map((r) => ({
    pod: { apiVersion: "v1", kind: "Pod", metadata: { name: r.name } },
    report: r,
  }));
}

function stored(d: PostgresDB): TargetChoice {
  return {
    targetPrimary: d.status?.targetPrimary ?? "db-0",
    primaryTerm: d.status?.primaryTerm ?? 1,
  };
}

function plan(d: PostgresDB, s: ValidSpec, is: Instance[], nowMs: number) {
  return planFailover(d, s, is, stored(d), nowMs);
}

function reasons(events: Action[]): string[] {
  return events.map((e) => e.kind === "emitEvent" ? e.eventReason : e.kind);
}

const SERVING = { targetPrimary: "db-0", primaryTerm: 1 };

Deno.test("planFailover() leaves a serving primary alone and writes nothing new", () => {
  const d = db(SERVING);
  const p = plan(d, spec(), instances(primary(), report("db-1"), report("db-2")), T0);
  assert.equal(p.targetPrimary, "db-0");
  assert.equal(p.primaryTerm, 1);
  assert.deepEqual(p.events, []);
  assert.equal(p.unavailableSince, undefined);
  assert.equal(p.requeueAfterMs, undefined);
});

Deno.test("planFailover() waits spec.failoverDelay after the primary stops serving, then clears the target", () => {
  const down = instances(
    primary({ role: "none", process: "crashed", ready: false, message: "Starting" }),
    report("db-1"),
  );
  const first = plan(db(SERVING), spec({ failoverDelay: 12 }), down, T0);
  assert.equal(first.targetPrimary, "db-0");
  assert.equal(first.unavailableSince, new Date(T0).toISOString());
  assert.equal(first.requeueAfterMs, 12_000);
  const waiting = db({ ...SERVING, primaryUnavailableSince: first.unavailableSince! });
  assert.equal(plan(waiting, spec({ failoverDelay: 12 }), down, T0 + 11_999).targetPrimary, "db-0");
  const due = plan(waiting, spec({ failoverDelay: 12 }), down, T0 + 12_000);
  assert.equal(due.targetPrimary, "");
  assert.equal(due.primaryTerm, 2);
  assert.equal(due.failover?.reason, "PrimaryNotReady");
  assert.equal(due.failover?.from, "db-0");
  assert.equal(due.unavailableSince, undefined);
  assert.deepEqual(reasons(due.events), ["FailoverStarted"]);
  // It serves again before the delay: the clock is cleared.
  const back = plan(waiting, spec({ failoverDelay: 12 }), instances(primary()), T0 + 5_000);
  assert.equal(back.unavailableSince, undefined);
});

Deno.test("planFailover() fails over when a standby saw the primary's Lease expire, not before it was taken", () => {
  const lost = plan(
    db(SERVING),
    spec(),
    instances(primary(), report("db-1", { leaseFree: true })),
    T0,
  );
  assert.equal(lost.targetPrimary, "");
  assert.equal(lost.failover?.reason, "PrimaryLost");
  assert.match(lost.failover!.message, /"db-1" saw it free/);
  // A report from before the primary took the Lease (an older transition) is stale.
  const stale = plan(
    db(SERVING),
    spec(),
    instances(primary({ leaseTransitions: 2 }), report("db-1", { leaseFree: true })),
    T0,
  );
  assert.equal(stale.targetPrimary, "db-0");
});

Deno.test("planFailover() does not fail over where no other instance has the cluster's data", () => {
  const alone = instances(
    primary({ role: "none", ready: false }),
    report("db-1", { systemId: undefined, role: "none", ready: false }),
  );
  const p = plan(db(SERVING), spec(), alone, T0);
  assert.equal(p.targetPrimary, "db-0");
  assert.deepEqual(p.events, []);
});

const PENDING: PostgresDBStatus = {
  targetPrimary: "",
  primaryTerm: 2,
  failover: {
    reason: "PrimaryLost",
    from: "db-0",
    term: 2,
    startedAt: new Date(T0).toISOString(),
    message: 'Failover from "db-0"',
  },
};

Deno.test("planFailover() chooses the most advanced standby that reported while the Lease was free", () => {
  const reports = [
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 550 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 580 }),
  ];
  const p = plan(db(PENDING), spec(), instances(...reports), T0 + 1_000);
  assert.equal(p.targetPrimary, "db-2");
  assert.equal(p.primaryTerm, 2);
  assert.equal(p.failover?.to, "db-2");
  assert.equal(p.failover?.lossWindowBytes, 0);
  assert.deepEqual(reasons(p.events), ["PrimaryChosen"]);
  // Reports made before the Lease was free, or in the previous term, do not count.
  const early = plan(
    db(PENDING),
    spec(),
    instances(report("db-1", { term: 2 }), report("db-2", { leaseFree: true })),
    T0 + 1_000,
  );
  assert.equal(early.targetPrimary, "");
  assert.equal(early.requeueAfterMs, 1000);
});

Deno.test("planFailover() waits a moment for every instance's report before choosing", () => {
  const one = instances(report("db-1", { term: 2, leaseFree: true }), report("db-2"));
  const first = plan(db(PENDING), spec(), one, T0 + 1_000);
  assert.equal(first.targetPrimary, "");
  assert.equal(first.failover?.candidatesSince, new Date(T0 + 1_000).toISOString());
  const later = db({ ...PENDING, failover: first.failover! });
  assert.equal(plan(later, spec(), one, T0 + 1_000 + CANDIDATE_WAIT_MS - 1).targetPrimary, "");
  assert.equal(plan(later, spec(), one, T0 + 1_000 + CANDIDATE_WAIT_MS).targetPrimary, "db-1");
});

Deno.test("planFailover() never promotes a standby further behind than maxFailoverLagBytes", () => {
  const reports = [
    report("db-0", { term: 1, role: "primary", receivedLsn: 5_000, streamingFrom: undefined }),
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 3_000 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 4_200 }),
  ];
  const p = plan(db(PENDING), spec({ maxFailoverLagBytes: 1000 }), instances(...reports), T0);
  assert.equal(p.targetPrimary, "db-2");
  assert.equal(p.failover?.lossWindowBytes, 800);
  const none = plan(db(PENDING), spec({ maxFailoverLagBytes: 100 }), instances(...reports), T0);
  assert.equal(none.targetPrimary, "");
  assert.match(none.condition!.message, /maxFailoverLagBytes 100/);
});

Deno.test("planFailover() with required durability promotes only with a quorum of standby reports", () => {
  const required = spec({ synchronous: { number: 1, durability: "required" } });
  const one = instances(report("db-1", { term: 2, leaseFree: true }));
  const waiting = plan(db(PENDING), required, one, T0 + 60_000);
  assert.equal(waiting.targetPrimary, "");
  assert.match(waiting.condition!.message, /quorum: 1 of the 2/);
  const two = instances(
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 700 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 650 }),
  );
  const chosen = plan(db(PENDING), required, two, T0);
  assert.equal(chosen.targetPrimary, "db-1");
  assert.equal(chosen.failover?.lossWindowBytes, 0);
  // Every standby synchronous: one report is enough.
  const all = spec({ synchronous: { number: 2, durability: "required" } });
  assert.equal(plan(db(PENDING), all, one, T0 + 60_000).targetPrimary, "db-1");
});

Deno.test("planFailover() completes when the chosen target reports a ready primary", () => {
  const chosen: PostgresDBStatus = {
    targetPrimary: "db-1",
    primaryTerm: 2,
    failover: {
      ...PENDING.failover!,
      to: "db-1",
      chosenAt: new Date(T0 + 2_000).toISOString(),
      lossWindowBytes: 0,
    },
  };
  const done = plan(
    db(chosen),
    spec(),
    instances(
      report("db-1", { term: 2, role: "primary", timeline: 2, leaseTransitions: 2 }),
      report("db-2", { term: 2, streamingFrom: "db-1", leaseTransitions: 2 }),
    ),
    T0 + 7_300,
  );
  assert.equal(done.targetPrimary, "db-1");
  assert.equal(done.failover?.durationSeconds, 7.3);
  assert.equal(done.failover?.timeline, 2);
  assert.equal(done.failover?.completedAt, new Date(T0 + 7_300).toISOString());
  assert.deepEqual(reasons(done.events), ["FailoverCompleted"]);
  // A chosen target that never becomes primary is replaced after the promotion timeout.
  const stuck = instances(
    report("db-1", { term: 2, role: "none", ready: false }),
    report("db-2", { term: 2 }),
  );
  assert.equal(plan(db(chosen), spec(), stuck, T0 + 2_000).targetPrimary, "db-1");
  const since = { ...chosen, primaryUnavailableSince: new Date(T0 + 2_000).toISOString() };
  const later = plan(db(since), spec(), stuck, T0 + 2_000 + PROMOTION_TIMEOUT_MS);
  assert.equal(later.targetPrimary, "");
  assert.equal(later.primaryTerm, 3);
});

Deno.test("planFailover() switches over once to the annotated standby, after it holds the final WAL", () => {
  const annotated = db(SERVING, { [SWITCHOVER_ANNOTATION]: "db-2" });
  const serving = instances(primary(), report("db-1"), report("db-2"));
  const start = plan(annotated, spec(), serving, T0);
  assert.equal(start.targetPrimary, "");
  assert.equal(start.failover?.reason, "Switchover");
  assert.equal(start.failover?.requestedTo, "db-2");
  assert.equal(start.switchoverHandled, "db-2");
  assert.deepEqual(reasons(start.events), ["SwitchoverStarted"]);
  const pending = db({
    targetPrimary: "",
    primaryTerm: 2,
    failover: start.failover!,
    switchoverHandled: "db-2",
  });
  const stopped = report("db-0", {
    term: 2,
    role: "none",
    process: "stopped",
    ready: false,
    leaseFree: true,
    receivedLsn: 900,
  });
  const behind = instances(
    stopped,
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 900 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 800 }),
  );
  // The requested standby reported after the old primary stopped, short of its final WAL: it
  // never catches up, so the standby that holds it all is chosen at once (nothing lost).
  const fallback = plan(pending, spec(), behind, T0 + 1_000);
  assert.equal(fallback.targetPrimary, "db-1");
  assert.equal(fallback.failover?.lossWindowBytes, 0);
  // Before the old primary's final report, it waits.
  const early = instances(
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 900 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 800 }),
  );
  assert.equal(plan(pending, spec(), early, T0 + 1_000).targetPrimary, "");
  const caughtUp = instances(
    stopped,
    report("db-1", { term: 2, leaseFree: true, receivedLsn: 900 }),
    report("db-2", { term: 2, leaseFree: true, receivedLsn: 900 }),
  );
  assert.equal(plan(pending, spec(), caughtUp, T0 + 1_000).targetPrimary, "db-2");
  // The same annotation value is not acted on again while it stays.
  const again = db({ ...SERVING, switchoverHandled: "db-2" }, { [SWITCHOVER_ANNOTATION]: "db-2" });
  assert.equal(plan(again, spec(), serving, T0).targetPrimary, "db-0");
  assert.equal(plan(again, spec(), serving, T0).switchoverHandled, "db-2");
  // Removed, it is forgotten: the same value may ask again later.
  const removed = db({ ...SERVING, switchoverHandled: "db-2" });
  assert.equal(plan(removed, spec(), serving, T0).switchoverHandled, undefined);
});

Deno.test("planFailover() refuses a switchover to a pod that does not stream from the primary", () => {
  for (const to of ["db-0", "db-7", "other-1", "db-1"]) {
    const reports = [
      primary(),
      report("db-1", { streamingFrom: undefined, message: "Catching up" }),
    ];
    const p = plan(db(SERVING, { [SWITCHOVER_ANNOTATION]: to }), spec(), instances(...reports), T0);
    assert.equal(p.targetPrimary, "db-0", to);
    assert.equal(p.switchoverHandled, to);
    assert.deepEqual(reasons(p.events), ["SwitchoverRefused"], to);
  }
});

Deno.test("planFailover() moves the primary off a pod that a scale-down removes", () => {
  const status = { targetPrimary: "db-2", primaryTerm: 1 };
  const reports = [
    report("db-0", { streamingFrom: "db-2", receivedLsn: 400 }),
    report("db-1", { streamingFrom: "db-2", receivedLsn: 450 }),
    { ...primary(), name: "db-2" },
  ];
  const p = plan(db(status), spec({ replicas: 2 }), instances(...reports), T0);
  assert.equal(p.targetPrimary, "");
  assert.equal(p.failover?.requestedTo, "db-1");
  assert.match(p.failover!.message, /spec.replicas 2 removes the primary's pod/);
});

// Found by the failover campaign (seed 23): a standby that had not yet seen the Lease free held
// 19502 bytes more of the primary's WAL than the one that had.
const LAG_SPEC: ValidSpec = spec({
  failoverDelay: 1,
  maxFailoverLagBytes: 6530,
  synchronous: { number: 1, durability: "preferred" },
});

function laggard(name: string, over: Over): Instance {
  return instances(
    report(name, { ready: false, streamingFrom: undefined, systemId: "sys-1", ...over }),
  )[0]!;
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
    laggard("pg-0", { role: "primary", term: 1, receivedLsn: 25151, leaseTransitions: 1 }),
    laggard("pg-1", { term: 2, receivedLsn: 22572, leaseFree: true, leaseTransitions: 1 }),
    // Not a candidate yet (it has not seen the Lease free), but the primary had this much WAL.
    laggard("pg-2", { term: 2, receivedLsn: 42074, leaseTransitions: 1 }),
  ];
  const nowMs = Date.parse(startedAt) + 5100;
  const plan = planFailover(
    db,
    LAG_SPEC,
    instances,
    { targetPrimary: "", primaryTerm: 2 },
    nowMs,
  );
  assert.notEqual(plan.targetPrimary, "pg-1");
  assert.equal(plan.targetPrimary, "");
});

Deno.test("planFailover() starts afresh on <name>-0 when no volume holds data any more, and not before", () => {
  const empty = (name: string) =>
    report(name, {
      term: 2,
      role: "none",
      process: "stopped",
      ready: false,
      systemId: undefined,
      timeline: undefined,
      streamingFrom: undefined,
      leaseFree: true,
    });
  const gone = planFailover(
    db(PENDING),
    spec({ replicas: 2 }),
    instances(empty("db-0")),
    {
      targetPrimary: "",
      primaryTerm: 2,
    },
    T0,
    { volumes: ["data-db-0"] },
  );
  assert.equal(gone.targetPrimary, "db-0");
  assert.equal(gone.primaryTerm, 1);
  assert.deepEqual(reasons(gone.events), ["AllDataLost"]);
  // A volume without a report may hold data: wait.
  const unknown = planFailover(
    db(PENDING),
    spec({ replicas: 2 }),
    instances(empty("db-0")),
    {
      targetPrimary: "",
      primaryTerm: 2,
    },
    T0,
    { volumes: ["data-db-0", "data-db-1"] },
  );
  assert.equal(unknown.targetPrimary, "");
  // Without knowing the volumes, never.
  const blind = planFailover(db(PENDING), spec({ replicas: 1 }), instances(empty("db-0")), {
    targetPrimary: "",
    primaryTerm: 2,
  }, T0);
  assert.equal(blind.targetPrimary, "");
});

Deno.test("planFailover() starts afresh when the chosen target's volume was made again, empty, and nothing else holds data", () => {
  const empty = report("db-0", {
    term: 2,
    role: "none",
    process: "stopped",
    ready: false,
    systemId: undefined,
    timeline: undefined,
    streamingFrom: undefined,
    leaseFree: false,
  });
  const chosen: PostgresDBStatus = {
    ...PENDING,
    targetPrimary: "db-0",
    failover: { ...PENDING.failover!, to: "db-0", chosenAt: new Date(T0).toISOString() },
  };
  const state = { targetPrimary: "db-0", primaryTerm: 2 };
  const plan = planFailover(db(chosen), spec({ replicas: 2 }), instances(empty), state, T0 + 1000, {
    volumes: ["data-db-0"],
  });
  assert.equal(plan.targetPrimary, "db-0");
  assert.equal(plan.primaryTerm, 1, "the first term again: db-0 alone may run initdb");
  assert.deepEqual(reasons(plan.events), ["AllDataLost"]);
  // Another volume that may hold data (no report yet): wait, as before.
  const wait = planFailover(db(chosen), spec({ replicas: 2 }), instances(empty), state, T0 + 1000, {
    volumes: ["data-db-0", "data-db-1"],
  });
  assert.equal(wait.primaryTerm, 2);
  assert.deepEqual(wait.events, []);
});
