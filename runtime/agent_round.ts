/**
 * One round of an instance agent: observe the instance through its port, decide, perform the
 * actions in order (stopping at the first the instance refuses), and hand the report to the
 * operator's side (also after a refusal, with the refusal in its message). The runtime of the agent, as the executor is the operator's: the same round
 * runs against a simulated instance (`sim/data_plane.ts`, `sim/replication_world.ts`) and a real
 * PostgreSQL (`agent/agent_loop.ts`); the world around it decides when rounds run.
 *
 * @module
 */

import { decide } from "../core/agent/decide.ts";
import type {
  AgentAction,
  AgentIntent,
  InstanceObservation,
  InstancePort,
  InstanceReport,
} from "../core/agent/types.ts";

/** The agent's decision function: {@link decide}, or a test mutant of it. */
export type DecideFn = (obs: InstanceObservation, intent: AgentIntent) => AgentAction[];

/** What one round did. */
export interface AgentRound {
  /** The actions decided. */
  actions: AgentAction[];
  /** The first refusal of the instance, if any (the round stopped there). */
  error?: string;
}

/**
 * Runs one agent round.
 *
 * @example
 * ```ts
 * import { agentRound } from "./agent_round.ts";
 * const port = {
 *   observe: () => ({ data: { kind: "empty" as const }, process: "stopped" as const, receivedLsn: 0, replayLsn: 0 }),
 *   perform: () => ({ ok: true as const }),
 * };
 * const intent = {
 *   self: "db-0", targetPrimary: "db-0", bootstrap: true, major: 16,
 *   lease: { held: true, free: false, transitions: 1 },
 *   headlessService: "db", namespace: "default",
 *   replication: { user: "replicator", passwordSecret: { name: "db-replication", key: "password" } },
 * };
 * const round = agentRound(port, intent, () => {});
 * console.assert(round.actions[0]?.kind === "initdb");
 * ```
 */
export function agentRound(
  port: InstancePort,
  intent: AgentIntent,
  report: (status: InstanceReport) => void,
  decideFn: DecideFn = decide,
): AgentRound {
  const actions = decideFn(port.observe(), intent);
  for (const action of actions) {
    if (action.kind === "report") {
      report(action.status);
      continue;
    }
    const result = port.perform(action);
    if (!result.ok) {
      // The report still goes out, saying what was refused: the operator decides on it (a
      // failover waits for reports that the Lease is free).
      const last = actions.find((a) => a.kind === "report");
      if (last?.kind === "report") {
        report({ ...last.status, message: `${last.status.message}: ${result.error}` });
      }
      return { actions, error: result.error };
    }
  }
  return { actions };
}
