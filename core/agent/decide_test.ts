// Goal: the instance agent's decisions, state by state, on plain observations and intents.
// Method: a standby "db-1" of a cluster whose target primary is "db-0" (timeline 2, forked from
// timeline 1 at LSN 100), varied one field at a time; each case names the actions it expects.
import assert from "node:assert/strict";
import { classifyInstance, decide } from "./decide.ts";
import { canFollow } from "./timeline.ts";
import type {
  AgentAction,
  AgentIntent,
  DataDirectory,
  InstanceConfig,
  InstanceObservation,
  PrimaryInfo,
} from "./types.ts";
import { describeAgentAction } from "./types.ts";

const PRIMARY: PrimaryInfo = {
  name: "db-0",
  systemId: "s1",
  timeline: 2,
  history: [{ timeline: 1, endLsn: 100 }],
  flushLsn: 500,
};

const FOLLOW_DB0: InstanceConfig = {
  role: "standby",
  primaryConninfo: {
    host: "db-0.db.ns.svc",
    port: 5432,
    user: "replicator",
    passwordSecret: { name: "db-replication", key: "password" },
    applicationName: "db-1",
  },
};

function intent(over: Partial<AgentIntent> = {}): AgentIntent {
  return {
    self: "db-1",
    targetPrimary: "db-0",
    primary: PRIMARY,
    bootstrap: false,
    lease: { held: true, free: false, transitions: 1 },
    major: 16,
    headlessService: "db",
    namespace: "ns",
    replication: {
      user: "replicator",
      passwordSecret: { name: "db-replication", key: "password" },
    },
    ...over,
  };
}

function pending(over: Partial<AgentIntent> = {}): AgentIntent {
  const { targetPrimary: _t, primary: _p, ...rest } = intent(over);
  return rest;
}

function data(over: Partial<Extract<DataDirectory, { kind: "initialized" }>> = {}): DataDirectory {
  return {
    kind: "initialized",
    systemId: "s1",
    major: 16,
    timeline: 2,
    history: [{ timeline: 1, endLsn: 100 }],
    flushLsn: 300,
    config: FOLLOW_DB0,
    ...over,
  };
}

function obs(over: Partial<InstanceObservation> = {}): InstanceObservation {
  return { data: data(), process: "stopped", receivedLsn: 300, replayLsn: 280, ...over };
}

function running(role: "primary" | "standby", over: Partial<InstanceObservation> = {}) {
  return obs({ process: "running", reportedRole: role, ...over });
}

function kinds(actions: AgentAction[]): string[] {
  return actions.map((a) => a.kind === "stop" ? `stop ${a.mode}` : a.kind);
}

Deno.test("decide() runs initdb only on the bootstrapping target primary's empty volume", () => {
  const empty = obs({ data: { kind: "empty" } });
  const self = { self: "db-0" };
  assert.deepEqual(kinds(decide(empty, intent({ ...self, bootstrap: true }))), [
    "initdb",
    "report",
  ]);
  assert.deepEqual(kinds(decide(empty, intent({ ...self, bootstrap: false }))), ["report"]);
});

Deno.test("decide() clones an empty standby from the target primary's pod, never a Service", () => {
  const actions = decide(obs({ data: { kind: "empty" } }), intent());
  assert.deepEqual(kinds(actions), ["cloneFrom", "report"]);
  const clone = actions[0]!;
  assert.ok(clone.kind === "cloneFrom");
  assert.equal(clone.upstream, "db-0");
  assert.equal(clone.conninfo.host, "db-0.db.ns.svc");
  assert.equal(clone.conninfo.applicationName, "db-1");
});

Deno.test("decide() does not clone before the target primary reports itself primary", () => {
  assert.deepEqual(kinds(decide(obs({ data: { kind: "empty" } }), pending())), ["report"]);
  const { primary: _p, ...noReport } = intent();
  assert.deepEqual(kinds(decide(obs({ data: { kind: "empty" } }), noReport)), ["report"]);
  // A report of another instance than the target is not the primary's.
  const stale = intent({ primary: { ...PRIMARY, name: "db-2" } });
  assert.deepEqual(kinds(decide(obs({ data: { kind: "empty" } }), stale)), ["report"]);
});

Deno.test("decide() only reports while initdb, a clone, a start, a stop or a promotion runs", () => {
  for (
    const o of [
      obs({ data: { kind: "initializing", by: "clone", upstream: "db-0" } }),
      obs({ process: "starting" }),
      obs({ process: "stopping" }),
      running("standby", { promoting: true }),
    ]
  ) {
    assert.deepEqual(kinds(decide(o, intent())), ["report"], JSON.stringify(o));
  }
});

Deno.test("decide() leaves data of another major alone", () => {
  const actions = decide(obs({ data: data({ major: 15 }) }), intent());
  assert.deepEqual(kinds(actions), ["report"]);
  assert.match((actions[0] as { status: { message: string } }).status.message, /major 15/);
});

Deno.test("decide() re-clones an older major's standby once the target primary runs the new one", () => {
  const upgraded = intent({ major: 17, primary: { ...PRIMARY, systemId: "s-upgraded" } });
  const old = obs({ data: data({ major: 16 }) });
  const actions = decide(old, upgraded);
  assert.deepEqual(kinds(actions), ["reclone", "report"]);
  assert.match((actions[0] as { reason: string }).reason, /major 16; the primary runs major 17/);
  // Not before the primary reports, not on the target primary itself, never a newer major's data,
  // and not when the primary is still the same system (it did not upgrade).
  assert.deepEqual(kinds(decide(old, pending({ major: 17 }))), ["report"]);
  assert.deepEqual(kinds(decide(old, { ...upgraded, self: "db-0" })), ["report"]);
  assert.deepEqual(kinds(decide(obs({ data: data({ major: 18 }) }), upgraded)), ["report"]);
  assert.deepEqual(kinds(decide(old, intent({ major: 17 }))), ["report"]);
});

Deno.test("decide() starts, promotes and then keeps the target primary", () => {
  const self = intent({ self: "db-0" });
  assert.deepEqual(kinds(decide(obs({ process: "crashed" }), self)), ["start", "report"]);
  assert.deepEqual(kinds(decide(running("standby"), self)), ["promote", "report"]);
  const steady = decide(running("primary", { data: data({ config: { role: "primary" } }) }), self);
  assert.deepEqual(kinds(steady), ["report"]);
  const report = steady[0]!;
  assert.ok(report.kind === "report" && report.status.ready && report.status.role === "primary");
});

Deno.test("decide() stops a primary that is not the target: fast while pending, at once when another serves", () => {
  assert.deepEqual(kinds(decide(running("primary"), pending())), ["stop fast", "report"]);
  assert.deepEqual(kinds(decide(running("primary"), intent())), ["stop immediate", "report"]);
});

Deno.test("decide() restarts an intact standby without a new clone", () => {
  assert.deepEqual(kinds(decide(obs({ process: "crashed" }), intent())), ["start", "report"]);
  // On the ancestor timeline, before the fork: it follows the timeline switch.
  const ancestor = obs({ data: data({ timeline: 1, history: [], flushLsn: 90 }) });
  assert.deepEqual(kinds(decide(ancestor, intent())), ["start", "report"]);
  // Ahead of a primary's older report on the same timeline is not a divergence.
  const ahead = obs({ data: data({ flushLsn: 900 }) });
  assert.deepEqual(kinds(decide(ahead, intent())), ["start", "report"]);
});

Deno.test("decide() re-clones data past the fork of its timeline, stopping it first", () => {
  const diverged = data({ timeline: 1, history: [], flushLsn: 150 });
  const actions = decide(obs({ data: diverged }), intent());
  assert.deepEqual(kinds(actions), ["reclone", "report"]);
  assert.ok(actions[0]!.kind === "reclone" && actions[0]!.upstream === "db-0");
  assert.match(actions[0]!.reason, /past its fork at 100/);
  assert.deepEqual(kinds(decide(running("standby", { data: diverged }), intent())), [
    "stop fast",
    "report",
  ]);
  const otherSystem = obs({ data: data({ systemId: "s9" }) });
  assert.deepEqual(kinds(decide(otherSystem, intent())), ["reclone", "report"]);
});

Deno.test("decide() points a standby at the new primary's pod", () => {
  const old: InstanceConfig = {
    ...FOLLOW_DB0,
    primaryConninfo: { ...FOLLOW_DB0.primaryConninfo, host: "db-2.db.ns.svc" },
  } as InstanceConfig;
  const actions = decide(running("standby", { data: data({ config: old }) }), intent());
  assert.deepEqual(kinds(actions), ["writeConfig", "report"]);
  assert.deepEqual((actions[0] as { config: InstanceConfig }).config, FOLLOW_DB0);
});

Deno.test("decide() turns an intact former primary into a standby before it starts", () => {
  const former = obs({ data: data({ config: { role: "primary" } }) });
  assert.deepEqual(kinds(decide(former, intent())), ["writeConfig", "report"]);
  // While a failover is pending, it waits; a standby restarts.
  assert.deepEqual(kinds(decide(former, pending())), ["report"]);
  assert.deepEqual(kinds(decide(obs(), pending())), ["start", "report"]);
});

Deno.test("decide() reports a streaming standby's lag and upstream", () => {
  const o = running("standby", { walReceiver: { upstream: "db-0", streaming: true } });
  const actions = decide(o, intent());
  assert.deepEqual(kinds(actions), ["report"]);
  const report = actions[0]!;
  assert.ok(report.kind === "report");
  assert.equal(report.status.ready, true);
  assert.equal(report.status.lagBytes, 500 - 280);
  assert.equal(report.status.streamingFrom, "db-0");
  const cut = running("standby", {
    walReceiver: { upstream: "db-0", streaming: false, error: "link down" },
  });
  const catching = decide(cut, intent())[0]!;
  assert.ok(catching.kind === "report" && !catching.status.ready);
  assert.match(catching.status.message, /Catching up: link down/);
});

Deno.test("decide() ends every decision with one report", () => {
  const observations = [
    obs(),
    obs({ data: { kind: "empty" } }),
    running("primary"),
    running("standby"),
    obs({ data: data({ timeline: 1, history: [], flushLsn: 150 }) }),
  ];
  for (const o of observations) {
    for (const i of [intent(), pending(), intent({ self: "db-0" })]) {
      const actions = decide(o, i);
      assert.equal(actions.at(-1)?.kind, "report", classifyInstance(o, i).kind);
      assert.equal(actions.filter((a) => a.kind === "report").length, 1);
      for (const a of actions) assert.ok(describeAgentAction(a).length > 0);
    }
  }
});

Deno.test("canFollow() accepts the primary's timeline and its ancestors up to the fork", () => {
  const primary = {
    timeline: 3,
    history: [{ timeline: 1, endLsn: 100 }, { timeline: 2, endLsn: 200 }],
    lsn: 0,
  };
  assert.ok(canFollow({ timeline: 3, history: [], lsn: 999 }, primary).ok);
  assert.ok(canFollow({ timeline: 2, history: [], lsn: 200 }, primary).ok);
  assert.ok(!canFollow({ timeline: 2, history: [], lsn: 201 }, primary).ok);
  assert.ok(!canFollow({ timeline: 4, history: [], lsn: 1 }, primary).ok);
});

Deno.test("decide() reports what initialises the data directory, and nothing once empty or usable", () => {
  const reportOf = (o: InstanceObservation) => {
    const last = decide(o, intent({ self: "db-1" })).at(-1);
    return last?.kind === "report" ? last.status : undefined;
  };
  const cloning = obs({ data: { kind: "initializing", by: "clone", upstream: "db-0" } });
  assert.equal(reportOf(cloning)?.initializing, "clone");
  assert.equal(reportOf(cloning)?.systemId, undefined);
  assert.equal(reportOf(obs({ data: { kind: "empty" } }))?.initializing, undefined);
  assert.equal(reportOf(obs())?.initializing, undefined);
});

Deno.test("decide() runs a primary only while it holds the primary Lease", () => {
  const primaryData = data({ config: { role: "primary" } });
  const lease = (held: boolean) => ({ held, free: !held, transitions: 1 });
  const target = (held: boolean) => intent({ self: "db-0", lease: lease(held) });
  // A running primary that lost the Lease stops at once, target or not.
  const fenced = decide(running("primary", { data: primaryData }), target(false));
  assert.deepEqual(kinds(fenced), ["stop immediate", "report"]);
  const report = fenced.at(-1);
  assert.ok(report?.kind === "report" && !report.status.ready && report.status.leaseFree);
  // A target without the Lease neither starts a primary's data nor promotes: a standby streams on.
  assert.deepEqual(kinds(decide(obs({ data: primaryData }), target(false))), ["report"]);
  assert.deepEqual(kinds(decide(running("standby"), target(false))), ["report"]);
  assert.deepEqual(kinds(decide(obs(), target(false))), ["start", "report"]);
  // With the Lease it does.
  assert.deepEqual(kinds(decide(obs({ data: primaryData }), target(true))), ["start", "report"]);
  assert.deepEqual(kinds(decide(running("standby"), target(true))), ["promote", "report"]);
});

Deno.test("decide() writes the target primary's synchronous standbys and reloads them on change", () => {
  const synchronous = { number: 1, standbys: ["db-1", "db-2"] };
  const self = intent({ self: "db-0", synchronous });
  const asyncData = data({ config: { role: "primary" } });
  const actions = decide(running("primary", { data: asyncData }), self);
  assert.deepEqual(kinds(actions), ["writeConfig", "report"]);
  const write = actions[0]!;
  assert.ok(write.kind === "writeConfig" && write.config.role === "primary");
  assert.deepEqual(write.config.synchronous, synchronous);
  const syncData = data({ config: { role: "primary", synchronous } });
  assert.deepEqual(kinds(decide(running("primary", { data: syncData }), self)), ["report"]);
  const fewer = intent({ self: "db-0", synchronous: { number: 1, standbys: ["db-1"] } });
  assert.deepEqual(kinds(decide(running("primary", { data: syncData }), fewer)), [
    "writeConfig",
    "report",
  ]);
});
