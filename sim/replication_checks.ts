/**
 * Checkers of the simulated data plane, run after every step of a replication run:
 *
 * - **single writer**: at most one instance accepts writes (a running primary) at any instant;
 * - **standbys follow the target primary**: no standby streams from another instance than the
 *   target primary for longer than a grace period after the target last changed (catching up
 *   is bounded by the convergence check at the end; nothing is checked while the target does
 *   not accept writes);
 * - **no clone from a standby**: every clone copies a running primary;
 * - **no re-clone of intact data**: a data directory that could have streamed is never wiped;
 * - **no streaming across a diverged timeline**: a streaming standby's WAL is a prefix of its
 *   upstream's (compared on the ground truth, not on reported timelines);
 * - **acknowledged commits kept**: a commit is acknowledged only once durable on the primary that
 *   acknowledged it, and every commit acknowledged in the final term is on the final primary;
 * - **acks come from the Lease holder**: the instance that acknowledges a commit holds the primary
 *   Lease at that instant (one writer per Lease epoch);
 * - **required durability keeps every acknowledged commit**: with `durability: required`, every
 *   commit acknowledged so far (all terms) is on each instance when it starts accepting writes;
 * - **failover within the lag bound**: without required durability, a new primary is never chosen
 *   further behind than `maxFailoverLagBytes` from the last primary WAL the operator knew;
 * - **-rw selects a serving primary**: no pod labelled `primary` fails to accept writes for longer
 *   than the Lease's duration, the failover delay and a second, counted while the operator runs
 *   and another instance with data has an agent that reaches the API server;
 * - **replication converges** (at the end): after the faults stop, the target primary runs and
 *   every other instance streams from it with zero lag.
 *
 * Not here: a scale-down never removing the primary belongs to the operator and comes with it.
 *
 * @module
 */

import type { CloneEvent, SimPostgresInstance } from "./postgres_instance.ts";
import { isWalPrefix, originAt, truthEnd } from "./wal_truth.ts";

/** A commit the writer saw acknowledged. */
export interface AckedCommit {
  /** When. */
  atMs: number;
  /** The instance that acknowledged it. */
  instance: string;
  /** The WAL origin it was written by. */
  origin: number;
  /** Where it ends. */
  lsn: number;
  /** Its size in bytes. */
  bytes: number;
  /** The operator's term when it was acknowledged. */
  epoch: number;
  /** The primary Lease's holder when it was acknowledged. */
  leaseHolder: string | undefined;
}

/** A new primary the operator chose after a pending failover or switchover. */
export interface FailoverChoice {
  /** When. */
  atMs: number;
  /** The old primary. */
  from: string;
  /** The new target. */
  to: string;
  /** The term. */
  term: number;
  /** The chosen instance's reported WAL. */
  chosenLsn: number;
  /**
   * The last primary WAL the operator knew: the most WAL received in the old primary's report
   * and the reports of this term, on the chosen instance's system and timeline.
   */
  lastKnownLsn: number;
}

/** What a checker sees of a replication run. */
export interface ReplicationView {
  /** Virtual time. */
  readonly nowMs: number;
  /** Every instance. */
  readonly instances: readonly SimPostgresInstance[];
  /** The operator's target primary; undefined while a failover is pending. */
  readonly targetPrimary: string | undefined;
  /** When the target primary last changed (to pending or to an instance). */
  readonly targetChangedAtMs: number;
  /** The primary term. */
  readonly epoch: number;
  /** The primary Lease's holder. */
  readonly leaseHolder: string | undefined;
  /** The spec's durability (`async` without `spec.synchronous`). */
  readonly durability: "required" | "preferred" | "async";
  /** `spec.maxFailoverLagBytes`. */
  readonly maxFailoverLagBytes: number;
  /** `spec.failoverDelay`, in milliseconds. */
  readonly failoverDelayMs: number;
  /** The primary Lease's duration. */
  readonly leaseDurationMs: number;
  /** Each pod's role label, as the operator last set it. */
  readonly roleLabels: ReadonlyMap<string, string>;
  /** Since when the operator runs; undefined while it is down. */
  readonly operatorUpSinceMs: number | undefined;
  /** New primaries chosen after a pending failover, in order. */
  readonly choices: readonly FailoverChoice[];
  /**
   * Since when the instance's agent runs and reaches the API server (it can know the target);
   * undefined while it does not.
   */
  agentInformedSinceMs(name: string): number | undefined;
  /** Clones, in order. */
  readonly clones: readonly CloneEvent[];
  /** Acknowledged commits, in order. */
  readonly acks: readonly AckedCommit[];
}

/** A replication checker: a message for a violation, undefined otherwise. */
export interface ReplicationChecker {
  /** The invariant's name, as reports and mutant tests cite it. */
  readonly name: string;
  /** Runs after every step. */
  check?(view: ReplicationView): string | undefined;
  /** Runs once when the run has settled. */
  atEnd?(view: ReplicationView): string | undefined;
}

/** Options of {@link replicationCheckers}. */
export interface ReplicationCheckOptions {
  /** How long a standby may stream from another instance after the target changed. @default 2000 */
  followGraceMs?: number;
}

/** At most one instance accepts writes at any instant. */
export function singleWriterChecker(): ReplicationChecker {
  return {
    name: "single writer",
    check(view) {
      const writers = view.instances.filter((i) => i.acceptsWrites).map((i) => i.name);
      return writers.length > 1
        ? `${writers.length} instances accept writes: ${writers}`
        : undefined;
    },
  };
}

/**
 * Standbys stream only from the target primary, once the grace after a change (or after the
 * target started accepting writes, or after their agent reached the API server again) has passed.
 */
export function followTargetChecker(graceMs = 2000): ReplicationChecker {
  let servingSince: number | undefined;
  return {
    name: "standbys follow the target primary",
    check(view) {
      // While a failover is pending, or the target does not serve, there is nothing to follow.
      const target = view.instances.find((i) => i.name === view.targetPrimary);
      if (target === undefined || !target.acceptsWrites) {
        servingSince = undefined;
        return undefined;
      }
      servingSince ??= view.nowMs;
      if (view.nowMs - Math.max(view.targetChangedAtMs, servingSince) <= graceMs) {
        return undefined;
      }
      for (const instance of view.instances) {
        const receiver = instance.walReceiver;
        if (receiver?.streaming !== true || receiver.upstream === view.targetPrimary) continue;
        // An agent cut off from the API server cannot know the target.
        const informed = view.agentInformedSinceMs(instance.name);
        if (informed === undefined || view.nowMs - informed <= graceMs) continue;
        return `"${instance.name}" streams from "${receiver.upstream}", not from the target ` +
          `primary "${view.targetPrimary ?? "(pending)"}"`;
      }
      return undefined;
    },
  };
}

/** Every clone copies a running primary. */
export function cloneSourceChecker(): ReplicationChecker {
  let seen = 0;
  return {
    name: "no clone from a standby",
    check(view) {
      for (; seen < view.clones.length; seen++) {
        const clone = view.clones[seen]!;
        if (clone.upstreamRole !== "primary") {
          return `"${clone.instance}" was cloned from "${clone.upstream}", a ${clone.upstreamRole}`;
        }
      }
      return undefined;
    },
  };
}

/** A re-clone wipes only data that could not have streamed from the upstream. */
export function intactDataChecker(): ReplicationChecker {
  let seen = 0;
  return {
    name: "no re-clone of intact data",
    check(view) {
      for (; seen < view.clones.length; seen++) {
        const clone = view.clones[seen]!;
        if (clone.reclone && clone.intact) {
          return `"${clone.instance}" was re-cloned from "${clone.upstream}" although its data ` +
            `was a prefix of the upstream's`;
        }
      }
      return undefined;
    },
  };
}

/** A streaming standby's WAL is a prefix of its running upstream's. */
export function timelineChecker(): ReplicationChecker {
  return {
    name: "no streaming across a diverged timeline",
    check(view) {
      for (const instance of view.instances) {
        const receiver = instance.walReceiver;
        if (receiver?.streaming !== true) continue;
        const upstream = view.instances.find((i) => i.name === receiver.upstream);
        // A receiver's flag is as of the last tick; an upstream that stopped since is skipped.
        if (upstream === undefined || upstream.process !== "running") continue;
        if (!isWalPrefix(instance.truth, upstream.truth)) {
          return `"${instance.name}" streams from "${upstream.name}" but its WAL ` +
            `${JSON.stringify(instance.truth)} is not a prefix of ${
              JSON.stringify(upstream.truth)
            }`;
        }
      }
      return undefined;
    },
  };
}

/** True when `instance`'s flushed WAL holds the commit (ground truth: same origin at its end). */
export function durableOn(
  ack: { origin: number; lsn: number },
  instance: SimPostgresInstance,
): boolean {
  return truthEnd(instance.truth) >= ack.lsn &&
    originAt(instance.truth, ack.lsn - 1) === ack.origin;
}

/** Acknowledged means durable; the final term's acknowledged commits are on the final primary. */
export function ackedCommitsChecker(): ReplicationChecker {
  let seen = 0;
  return {
    name: "acknowledged commits kept",
    check(view) {
      for (; seen < view.acks.length; seen++) {
        const ack = view.acks[seen]!;
        const instance = view.instances.find((i) => i.name === ack.instance);
        if (instance === undefined || !durableOn(ack, instance)) {
          return `"${ack.instance}" acknowledged a commit at ${ack.lsn} that it has not flushed`;
        }
      }
      return undefined;
    },
    atEnd(view) {
      const primary = view.instances.find((i) => i.name === view.targetPrimary);
      if (primary === undefined) return undefined;
      const lost = view.acks.filter((a) => a.epoch === view.epoch && !durableOn(a, primary));
      return lost.length > 0
        ? `${lost.length} commits acknowledged in term ${view.epoch} are not on "${primary.name}" ` +
          `(first at ${lost[0]!.lsn})`
        : undefined;
    },
  };
}

/** Every acknowledgement comes from the primary Lease's holder at that instant. */
export function leaseHolderAckChecker(): ReplicationChecker {
  let seen = 0;
  return {
    name: "acks come from the Lease holder",
    check(view) {
      for (; seen < view.acks.length; seen++) {
        const ack = view.acks[seen]!;
        if (ack.leaseHolder !== ack.instance) {
          return `"${ack.instance}" acknowledged a commit at ${ack.lsn} while the primary Lease ` +
            `was held by ${JSON.stringify(ack.leaseHolder ?? null)}`;
        }
      }
      return undefined;
    },
  };
}

/**
 * With required durability, each instance that starts accepting writes holds every commit
 * acknowledged so far, in every term.
 */
export function requiredDurabilityChecker(): ReplicationChecker {
  const writing = new Map<string, boolean>();
  return {
    name: "required durability keeps every acknowledged commit",
    check(view) {
      for (const instance of view.instances) {
        const writes = instance.acceptsWrites;
        const was = writing.get(instance.name) ?? false;
        writing.set(instance.name, writes);
        if (!writes || was || view.durability !== "required") continue;
        const lost = view.acks.filter((a) => !durableOn(a, instance));
        if (lost.length > 0) {
          return `"${instance.name}" accepts writes in term ${view.epoch} without ${lost.length} ` +
            `acknowledged commits (the first at ${lost[0]!.lsn}, acknowledged by ` +
            `"${lost[0]!.instance}" in term ${lost[0]!.epoch})`;
        }
      }
      return undefined;
    },
  };
}

/**
 * Without required durability, no new primary is chosen further behind the last primary WAL the
 * operator knew than `maxFailoverLagBytes`.
 */
export function lagBoundChecker(): ReplicationChecker {
  let seen = 0;
  return {
    name: "failover within the lag bound",
    check(view) {
      for (; seen < view.choices.length; seen++) {
        const choice = view.choices[seen]!;
        if (view.durability === "required") continue;
        const behind = choice.lastKnownLsn - choice.chosenLsn;
        if (behind > view.maxFailoverLagBytes) {
          return `"${choice.to}" was chosen in term ${choice.term} ${behind} bytes behind the ` +
            `last known primary WAL ${choice.lastKnownLsn}, past spec.maxFailoverLagBytes ` +
            `${view.maxFailoverLagBytes}`;
        }
      }
      return undefined;
    },
  };
}

/**
 * `-rw` selects only a primary that accepts writes: a pod labelled `primary` may fail to accept
 * writes for at most the Lease's duration, the failover delay and `extraMs`, counted only while
 * the operator runs (a crashed operator relabels nothing) and the agent of another instance with
 * data reaches the API server (the operator learns that a primary is gone from the others'
 * reports, and fails over only to an instance with the cluster's data).
 */
export function readWriteChecker(extraMs = 1000): ReplicationChecker {
  const since = new Map<string, number>();
  return {
    name: "-rw selects a serving primary",
    check(view) {
      const grace = view.leaseDurationMs + view.failoverDelayMs + extraMs;
      for (const instance of view.instances) {
        const selected = view.roleLabels.get(instance.name) === "primary";
        if (!selected || instance.acceptsWrites) {
          since.delete(instance.name);
          continue;
        }
        const from = since.get(instance.name) ?? view.nowMs;
        since.set(instance.name, from);
        const up = view.operatorUpSinceMs;
        // Only another agent can tell the operator that this one is gone (its report is stale),
        // and only one with the cluster's data can replace it.
        const informed = view.instances.filter((i) => i !== instance && i.systemId !== undefined)
          .map((i) => view.agentInformedSinceMs(i.name))
          .filter((t) => t !== undefined);
        if (up === undefined || informed.length === 0) continue;
        const forMs = view.nowMs - Math.max(from, up, Math.min(...informed));
        if (forMs > grace) {
          return `-rw selects "${instance.name}" (${instance.process}, ` +
            `${instance.role ?? "no role"}) which has not accepted writes for ${forMs} ms`;
        }
      }
      return undefined;
    },
  };
}

/**
 * Why the run has not converged, or undefined when it has: the target primary runs and every
 * other instance streams from it with zero lag.
 */
export function notConverged(view: ReplicationView): string | undefined {
  const primary = view.instances.find((i) => i.name === view.targetPrimary);
  if (primary === undefined) return "no target primary";
  if (!primary.acceptsWrites) return `the target primary "${primary.name}" does not accept writes`;
  for (const instance of view.instances) {
    if (instance === primary) continue;
    const receiver = instance.walReceiver;
    if (receiver?.streaming !== true || receiver.upstream !== primary.name) {
      return `"${instance.name}" (${instance.process}, ${instance.role ?? "no role"}) does not ` +
        `stream from "${primary.name}": ${receiver?.error ?? "no WAL receiver"}`;
    }
    if (instance.replayLsn !== primary.flushLsn) {
      return `"${instance.name}" replayed ${instance.replayLsn} of ${primary.flushLsn}`;
    }
  }
  return undefined;
}

/** After the faults stop, replication converges (checked once, at the end). */
export function convergenceChecker(): ReplicationChecker {
  return { name: "replication converges", atEnd: notConverged };
}

/** Every replication checker, fresh for one run. */
export function replicationCheckers(options: ReplicationCheckOptions = {}): ReplicationChecker[] {
  return [
    singleWriterChecker(),
    followTargetChecker(options.followGraceMs),
    cloneSourceChecker(),
    intactDataChecker(),
    timelineChecker(),
    ackedCommitsChecker(),
    leaseHolderAckChecker(),
    requiredDurabilityChecker(),
    lagBoundChecker(),
    readWriteChecker(),
    convergenceChecker(),
  ];
}
