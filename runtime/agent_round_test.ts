// Goal: one agent round performs the decided actions in order, stops at the first refusal, and
// hands reports to the operator's side rather than to the instance, also after a refusal (the
// operator's failover waits on reports).
// Method: a recording port that refuses a chosen action kind, and a fixed decision.
import assert from "node:assert/strict";
import type { AgentAction, InstanceAction, InstanceReport } from "../core/agent/types.ts";
import { agentRound } from "./agent_round.ts";

const REPORT: InstanceReport = {
  name: "db-1",
  role: "none",
  process: "stopped",
  ready: false,
  receivedLsn: 0,
  replayLsn: 0,
  message: "test",
};

const INTENT = {
  self: "db-1",
  bootstrap: false,
  lease: { held: false, free: false, transitions: 1 },
  major: 16,
  headlessService: "db",
  namespace: "ns",
  replication: { user: "replicator", passwordSecret: { name: "db-replication", key: "password" } },
};

function port(refuse?: InstanceAction["kind"]) {
  const performed: string[] = [];
  return {
    performed,
    observe: () => ({
      data: { kind: "empty" as const },
      process: "stopped" as const,
      receivedLsn: 0,
      replayLsn: 0,
    }),
    perform(action: InstanceAction) {
      performed.push(action.kind);
      return action.kind === refuse
        ? { ok: false as const, error: `Cannot ${action.kind}` }
        : { ok: true as const };
    },
  };
}

const ACTIONS: AgentAction[] = [
  { kind: "writeConfig", config: { role: "primary" }, reason: "test" },
  { kind: "start", reason: "test" },
  { kind: "report", status: REPORT },
];

Deno.test("agentRound() performs actions in order and sends the report to the operator", () => {
  const p = port();
  const reports: InstanceReport[] = [];
  const round = agentRound(p, INTENT, (r) => reports.push(r), () => ACTIONS);
  assert.deepEqual(p.performed, ["writeConfig", "start"]);
  assert.deepEqual(reports, [REPORT]);
  assert.equal(round.error, undefined);
});

Deno.test("agentRound() stops at the first action the instance refuses and still reports, with the refusal", () => {
  const p = port("writeConfig");
  const reports: InstanceReport[] = [];
  const round = agentRound(p, INTENT, (r) => reports.push(r), () => ACTIONS);
  assert.deepEqual(p.performed, ["writeConfig"]);
  assert.deepEqual(reports, [{ ...REPORT, message: "test: Cannot writeConfig" }]);
  assert.equal(round.error, "Cannot writeConfig");
});
