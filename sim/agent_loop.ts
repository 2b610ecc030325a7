/**
 * One round of an instance agent: observe the instance through its port, decide, perform the
 * actions in order (stopping at the first the instance refuses), and hand the report to the
 * operator's side. The same round runs against a simulated instance here and a real PostgreSQL
 * later; the world around it decides when rounds run (every `intervalMs` of virtual time, not
 * while the pod is down).
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
 * import { agentRound } from "./agent_loop.ts";
 * const port = {
 *   observe: () => ({ data: { kind: "empty" as const }, process: "stopped" as const, receivedLsn: 0, replayLsn: 0 }),
 *   perform: () => ({ ok: true as const }),
 * };
 * const intent = {
 *   self: "db-0", targetPrimary: "db-0", bootstrap: true, major: 16,
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
    if (!result.ok) return { actions, error: result.error };
  }
  return { actions };
}
