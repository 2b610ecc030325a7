/**
 * Failover mutants: the agent's decision, the operator's failover plan, its role label rule or
 * the agents' Lease timing, each with one bug that loses data or makes two writers. The failover
 * campaign (`tests/property/replication_campaign.ts` with failover schedules) must catch each one
 * with the named checker and print a shrunk schedule that replays it.
 *
 * @module
 */

import { decide } from "../../core/agent/decide.ts";
import type { AgentAction, AgentIntent, InstanceObservation } from "../../core/agent/types.ts";
import { type FailoverPlan, planFailover } from "../../core/postgres/failover.ts";
import { type Instance, wantedRole } from "../../core/postgres/instances.ts";
import { ROLE_LABEL } from "../../core/postgres/labels.ts";
import { isFresh } from "../../core/postgres/replication.ts";
import { SimPostgresInstance } from "../../sim/postgres_instance.ts";
import { type ReplicationRunOptions, SIM_LEASE_TIMINGS } from "../../sim/replication_world.ts";

/** One failover mutant. */
export interface FailoverMutant {
  /** A short name. */
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  /** The checker that must catch it. */
  caughtBy: string;
  /** Fresh run options for one schedule. */
  options: () => ReplicationRunOptions;
}

/** The decision with the Lease ignored: it believes it always holds the primary Lease. */
function ignoresLease(obs: InstanceObservation, intent: AgentIntent): AgentAction[] {
  return decide(obs, { ...intent, lease: { ...intent.lease, held: true } });
}

/**
 * The plan with the chosen target replaced by the least advanced candidate (fresh in the term,
 * Lease seen free, not a primary, with data), when the real plan has just chosen.
 */
function promotesLeastAdvanced(...args: Parameters<typeof planFailover>): FailoverPlan {
  const [db, , instances, , nowMs] = args;
  const plan = planFailover(...args);
  const chosenNow = plan.failover?.chosenAt === new Date(nowMs).toISOString() &&
    db.status?.targetPrimary === "";
  if (!chosenNow) return plan;
  const candidates = instances.filter((i: Instance) => {
    const r = i.report;
    return isFresh(r, plan.primaryTerm) && r!.leaseFree === true && r!.role !== "primary" &&
      r!.systemId !== undefined;
  }).sort((a, b) => a.report!.receivedLsn - b.report!.receivedLsn);
  const least = candidates[0]?.pod.metadata.name;
  if (least === undefined) return plan;
  return { ...plan, targetPrimary: least, failover: { ...plan.failover!, to: least } };
}

/** The plan without the quorum check: required durability is planned as asynchronous. */
function skipsQuorum(...args: Parameters<typeof planFailover>): FailoverPlan {
  const [db, spec, instances, choice, nowMs] = args;
  if (spec.synchronous?.durability !== "required") return planFailover(...args);
  const { synchronous: _sync, ...rest } = spec;
  const loose = { ...rest, maxFailoverLagBytes: Number.MAX_SAFE_INTEGER };
  return planFailover(db, loose, instances, choice, nowMs);
}

/** The role label rule that never takes `primary` away from a pod that has it. */
function relabelsLate(...args: Parameters<typeof wantedRole>): ReturnType<typeof wantedRole> {
  const [instance] = args;
  if (instance.pod.metadata.labels?.[ROLE_LABEL] === "primary") return "primary";
  return wantedRole(...args);
}

/** A model whose WAL receiver streams past the fork of its timeline. */
class StreamsAcrossFork extends SimPostgresInstance {
  protected override refusesFork(): boolean {
    return false;
  }
}

/** The decision without the re-clone: diverged data is configured and started as a standby. */
function neverReclones(obs: InstanceObservation, intent: AgentIntent): AgentAction[] {
  return decide(obs, intent).flatMap((a): AgentAction[] => {
    if (a.kind === "reclone") {
      return [
        {
          kind: "writeConfig",
          config: { role: "standby", primaryConninfo: a.conninfo },
          reason: "mutant: rejoin as is",
        },
        { kind: "start", reason: "mutant: rejoin as is" },
      ];
    }
    if (a.kind === "stop" && a.reason.startsWith("to re-clone")) return [];
    return [a];
  });
}

/** Every failover mutant. */
export const FAILOVER_MUTANTS: readonly FailoverMutant[] = [
  {
    name: "primary-without-lease",
    bug: "promotes, starts or keeps a primary without holding the primary Lease",
    caughtBy: "single writer",
    options: () => ({ decide: ignoresLease }),
  },
  {
    name: "promotes-least-advanced",
    bug: "promotes the least advanced standby instead of the most advanced",
    caughtBy: "failover within the lag bound",
    options: () => ({ planFailover: promotesLeastAdvanced }),
  },
  {
    name: "relabels-late",
    bug: "keeps the primary role label on a pod that is no longer the target primary",
    caughtBy: "-rw selects a serving primary",
    options: () => ({ wantedRole: relabelsLate }),
  },
  {
    name: "rejoins-without-rewind",
    bug: "starts a diverged former primary as a standby without rewind or re-clone",
    caughtBy: "no streaming across a diverged timeline",
    options: () => ({
      decide: neverReclones,
      createInstance: (name, network, options) => new StreamsAcrossFork(name, network, options),
    }),
  },
  {
    name: "skips-quorum",
    bug: "chooses a new primary under required durability without a quorum of standby reports",
    caughtBy: "required durability keeps every acknowledged commit",
    options: () => ({ planFailover: skipsQuorum }),
  },
  {
    name: "fences-late",
    bug: "keeps running as the primary past the renew deadline, until three Lease durations",
    caughtBy: "single writer",
    options: () => ({ agentRenewDeadlineMs: 3 * SIM_LEASE_TIMINGS.durationMs }),
  },
];
