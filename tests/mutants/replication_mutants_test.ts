// Goal: each replication checker catches the bug it guards against. Each mutant is the agent's
// decision or the instance model with one bug; the replication campaign must catch it with the
// named checker within a bounded number of schedules on a fixed seed.
// Method: the campaign of tests/property/replication_campaign.ts, run until a schedule's
// violations include the expected checker; the unmutated agent and model pass the same schedules.
import assert from "node:assert/strict";
import { decide } from "../../core/agent/decide.ts";
import type { AgentAction, AgentIntent, InstanceObservation } from "../../core/agent/types.ts";
import {
  type SimInstanceOptions,
  type SimNetwork,
  SimPostgresInstance,
} from "../../sim/postgres_instance.ts";
import type { ReplicationRunOptions } from "../../sim/replication_world.ts";
import { describeFailure, runReplicationCampaign } from "../property/replication_campaign.ts";

interface ReplicationMutant {
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  /** The checker that must catch it. */
  caughtBy: string;
  /** Fresh run options for one schedule. */
  options: () => ReplicationRunOptions;
}

function pod(name: string, intent: AgentIntent): string {
  return `${name}.${intent.headlessService}.${intent.namespace}.svc`;
}

/** Options whose decide sees the run's instances (for mutants that pick a peer). */
function withPeers(
  mutate: (
    actions: AgentAction[],
    obs: InstanceObservation,
    intent: AgentIntent,
    peers: SimPostgresInstance[],
  ) => AgentAction[],
): () => ReplicationRunOptions {
  return () => {
    const peers: SimPostgresInstance[] = [];
    return {
      createInstance(name: string, network: SimNetwork, options: SimInstanceOptions) {
        const instance = new SimPostgresInstance(name, network, options);
        peers.push(instance);
        return instance;
      },
      decide: (obs, intent) => mutate(decide(obs, intent), obs, intent, peers),
    };
  };
}

/** A model whose WAL receiver streams past the fork of its timeline. */
class StreamsAcrossFork extends SimPostgresInstance {
  protected override refusesFork(): boolean {
    return false;
  }
}

/** A model that acknowledges a commit once written, before it is flushed. */
class AcksBeforeFlush extends SimPostgresInstance {
  override ackableLsn(): number {
    return this.writtenLsn;
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

const MUTANTS: readonly ReplicationMutant[] = [
  {
    name: "clone-from-standby",
    bug: "clones from a running standby rather than from the target primary",
    caughtBy: "no clone from a standby",
    options: withPeers((actions, _obs, intent, peers) =>
      actions.map((a) => {
        if (a.kind !== "cloneFrom" && a.kind !== "reclone") return a;
        const standby = peers.find((p) => p.name !== intent.self && p.role === "standby");
        if (standby === undefined) return a;
        return {
          ...a,
          upstream: standby.name,
          conninfo: { ...a.conninfo, host: pod(standby.name, intent) },
        };
      })
    ),
  },
  {
    name: "follows-stale-primary",
    bug: "keeps primary_conninfo on the cluster's first primary after a failover",
    caughtBy: "standbys follow the target primary",
    options: () => ({
      decide: (obs, intent) =>
        decide(obs, intent).map((a) => {
          if (a.kind !== "writeConfig" || a.config.role !== "standby" || intent.self === "pg-0") {
            return a;
          }
          const conninfo = { ...a.config.primaryConninfo, host: pod("pg-0", intent) };
          return { ...a, config: { role: "standby", primaryConninfo: conninfo } };
        }),
    }),
  },
  {
    name: "reclones-healthy-standby",
    bug: "re-clones a stopped standby whose data is intact instead of restarting it",
    caughtBy: "no re-clone of intact data",
    options: () => ({
      decide: (obs, intent) =>
        decide(obs, intent).map((a) =>
          a.kind === "start" && a.reason === "standby data is intact" && intent.primary
            ? {
              kind: "reclone",
              upstream: intent.primary.name,
              conninfo: {
                host: pod(intent.primary.name, intent),
                port: 5432,
                user: intent.replication.user,
                passwordSecret: intent.replication.passwordSecret,
                applicationName: intent.self,
              },
              reason: "mutant: clone again",
            }
            : a
        ),
    }),
  },
  {
    name: "starts-primary-without-target",
    bug:
      "restarts a data directory that was a primary as a primary, whatever the target (no Lease gate)",
    caughtBy: "single writer",
    options: () => ({
      decide(obs, intent) {
        const stopped = obs.process === "stopped" || obs.process === "crashed";
        if (stopped && obs.data.kind === "initialized" && obs.data.config.role === "primary") {
          return [{ kind: "start", reason: "mutant: it was the primary" }];
        }
        return decide(obs, intent);
      },
    }),
  },
  {
    name: "never-reclones",
    bug: "starts a diverged data directory as a standby instead of re-cloning it",
    caughtBy: "replication converges",
    options: () => ({ decide: neverReclones }),
  },
  {
    name: "rejoins-across-fork",
    bug: "starts a diverged data directory as a standby, and the WAL receiver accepts it",
    caughtBy: "no streaming across a diverged timeline",
    options: () => ({
      decide: neverReclones,
      createInstance: (name, network, options) => new StreamsAcrossFork(name, network, options),
    }),
  },
  {
    name: "acks-before-flush",
    bug: "acknowledges a commit once written, before the WAL is flushed",
    caughtBy: "acknowledged commits kept",
    options: () => ({
      createInstance: (name, network, options) => new AcksBeforeFlush(name, network, options),
    }),
  },
];

const SEED = 1;
const RUNS_MAX = 400;

for (const mutant of MUTANTS) {
  Deno.test(`replication mutant ${mutant.name} is caught by "${mutant.caughtBy}"`, () => {
    const result = runReplicationCampaign({
      runs: RUNS_MAX,
      seed: SEED,
      options: mutant.options,
      until: (r) => r.violations.some((v) => v.checker === mutant.caughtBy),
    });
    for (const line of describeFailure(result, false)) console.log(line);
    assert.ok(result.failed, `${mutant.bug}: not caught in ${RUNS_MAX} schedules (seed ${SEED})`);
  });
}

Deno.test("the unmutated agent and model pass the mutants' schedules", () => {
  const result = runReplicationCampaign({ runs: RUNS_MAX, seed: SEED });
  for (const line of describeFailure(result)) console.log(line);
  assert.equal(result.failed, false);
});
