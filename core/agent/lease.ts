/**
 * The primary Lease from an agent's side: who may run PostgreSQL as the primary, and when. One
 * `coordination.k8s.io/v1` Lease per PostgresDB (`<db>-primary`); its holder is a pod name. The
 * operator never writes it: it names the target primary in the status, and the target's agent
 * takes the Lease when it is free.
 *
 * The rules, as in client-go's leader election and Patroni's leader key:
 * - **Acquire** only as the target primary, and only a Lease that is free: without a holder
 *   (released), or seen unchanged (same resource version) for its whole duration on this agent's
 *   own clock. The write is conditional on the version read, so of two agents only one wins.
 * - **Renew** as the holder and target, every round; a renewal counts from the moment it was
 *   *sent*, which is before the server applied it, so the holder's deadline ends before any
 *   observer's view of the Lease can expire.
 * - **Fence**: the holder may run as a primary only while its last successful renewal was sent less
 *   than `renewDeadlineMs` ago ({@link leaseStanding}); past it, the agent stops PostgreSQL at once
 *   (an immediate stop). `durationMs - renewDeadlineMs` must cover that stop.
 * - **Release** as a holder that is no longer the target, once its PostgreSQL no longer runs as a
 *   primary (a clean stop flushed its WAL): the new target need not wait for expiry.
 *
 * Assumptions: clocks may be skewed but run at rates within a few percent of each other (only
 * durations measured on one clock are compared); the API server's conditional update is atomic.
 * Pure.
 *
 * @module
 */

import type { InstanceObservation, LeaseStanding, StopAction } from "./types.ts";

/** The Lease as read from the API server; `undefined` when it does not exist yet. */
export interface LeaseRecord {
  /** `spec.holderIdentity`: the holding pod's name; absent or empty when released. */
  holder?: string | undefined;
  /** The resource version read: every write changes it. */
  version: string;
  /** `spec.leaseDurationSeconds`, in milliseconds. */
  durationMs: number;
  /** `spec.leaseTransitions`: how many times the holder changed. */
  transitions: number;
}

/** What an agent remembers of the Lease between rounds (lost on restart, which is safe). */
export interface LeaseMemory {
  /** The version last seen, and when it was first seen with that version (this agent's clock). */
  seen?: { version: string; atMs: number } | undefined;
  /** When this agent sent the last renewal or acquisition that succeeded. */
  renewedAtMs?: number | undefined;
}

/** The timings of the primary Lease (CloudNativePG's and client-go's defaults). */
export interface LeaseTimings {
  /** How long a Lease not renewed stays held. @default 15000 */
  durationMs: number;
  /** How long after its last renewal the holder still runs as a primary. @default 10000 */
  renewDeadlineMs: number;
}

/** The default timings: a 15 s Lease, a 10 s renew deadline. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { durationMs: 15_000, renewDeadlineMs: 10_000 };

/** A write the agent sends for the Lease. */
export type LeaseWrite =
  | { kind: "create"; holder: string; reason: string }
  | { kind: "acquire"; holder: string; reason: string }
  | { kind: "renew"; holder: string; reason: string }
  | { kind: "release"; reason: string };

/** `memory` after reading `record` at `nowMs`: a new version restarts the expiry clock. */
export function observeLease(
  memory: LeaseMemory,
  record: LeaseRecord | undefined,
  nowMs: number,
): LeaseMemory {
  if (record === undefined) return { ...memory, seen: undefined };
  if (memory.seen?.version === record.version) return memory;
  return { ...memory, seen: { version: record.version, atMs: nowMs } };
}

/**
 * True when nobody holds the Lease: it has no holder, or this agent has seen it unchanged for its
 * whole duration. A Lease that does not exist is free.
 */
export function leaseFree(
  memory: LeaseMemory,
  record: LeaseRecord | undefined,
  nowMs: number,
): boolean {
  if (record === undefined || !record.holder) return true;
  const seen = memory.seen;
  return seen !== undefined && seen.version === record.version &&
    nowMs - seen.atMs >= record.durationMs;
}

/**
 * The agent's standing: `held` while `self` is the holder and its last successful renewal was sent
 * less than `renewDeadlineMs` ago.
 *
 * @example
 * ```ts
 * import { leaseStanding } from "./lease.ts";
 * const record = { holder: "db-0", version: "7", durationMs: 15000, transitions: 1 };
 * const memory = { seen: { version: "7", atMs: 0 }, renewedAtMs: 0 };
 * console.assert(leaseStanding("db-0", memory, record, 9000, 10000).held);
 * console.assert(!leaseStanding("db-0", memory, record, 10000, 10000).held);
 * ```
 */
export function leaseStanding(
  self: string,
  memory: LeaseMemory,
  record: LeaseRecord | undefined,
  nowMs: number,
  renewDeadlineMs: number,
): LeaseStanding {
  const held = record?.holder === self && memory.renewedAtMs !== undefined &&
    nowMs - memory.renewedAtMs < renewDeadlineMs;
  return { held, free: leaseFree(memory, record, nowMs), transitions: record?.transitions ?? 0 };
}

/**
 * The Lease write this agent sends now, if any: create or acquire as the target when the Lease is
 * free, renew as the holder and target, release as a holder that is no longer the target once its
 * PostgreSQL does not run as a primary.
 *
 * @example
 * ```ts
 * import { leaseWrite } from "./lease.ts";
 * const record = { holder: "db-0", version: "7", durationMs: 15000, transitions: 1 };
 * const seen = { seen: { version: "7", atMs: 0 } };
 * console.assert(leaseWrite("db-1", "db-1", seen, record, 1000, false) === undefined);
 * console.assert(leaseWrite("db-1", "db-1", seen, record, 15000, false)?.kind === "acquire");
 * ```
 */
export function leaseWrite(
  self: string,
  targetPrimary: string | undefined,
  memory: LeaseMemory,
  record: LeaseRecord | undefined,
  nowMs: number,
  runsAsPrimary: boolean,
): LeaseWrite | undefined {
  const target = targetPrimary === self;
  if (record === undefined) {
    return target ? { kind: "create", holder: self, reason: "the target primary" } : undefined;
  }
  if (record.holder === self) {
    if (target) return { kind: "renew", holder: self, reason: "the target primary" };
    return runsAsPrimary ? undefined : {
      kind: "release",
      reason: `"${targetPrimary ?? "(pending)"}" is the target primary`,
    };
  }
  if (!target || !leaseFree(memory, record, nowMs)) return undefined;
  const why = record.holder ? `"${record.holder}" let it expire` : "it was released";
  return { kind: "acquire", holder: self, reason: `the target primary: ${why}` };
}

/** `memory` after a write sent at `sentAtMs` succeeded (a release forgets the renewal). */
export function afterLeaseWrite(
  memory: LeaseMemory,
  write: LeaseWrite,
  sentAtMs: number,
): LeaseMemory {
  if (write.kind === "release") return { seen: memory.seen };
  return { ...memory, renewedAtMs: sentAtMs };
}

/**
 * True while PostgreSQL runs as a primary, or may: running with the primary role, or starting or
 * stopping on a primary's data directory (a stopping primary still sends WAL). A holder releases
 * the Lease only when this is false.
 *
 * @example
 * ```ts
 * import { runsAsPrimary } from "./lease.ts";
 * const data = {
 *   kind: "initialized" as const, systemId: "7", major: 16, timeline: 1, history: [], flushLsn: 0,
 *   config: { role: "primary" as const },
 * };
 * console.assert(runsAsPrimary({ data, process: "stopping", receivedLsn: 0, replayLsn: 0 }));
 * console.assert(!runsAsPrimary({ data, process: "stopped", receivedLsn: 0, replayLsn: 0 }));
 * ```
 */
export function runsAsPrimary(obs: InstanceObservation): boolean {
  if (obs.process === "stopped" || obs.process === "crashed") return false;
  if (obs.reportedRole !== undefined) return obs.reportedRole === "primary";
  return obs.data.kind === "initialized" && obs.data.config.role === "primary";
}

/**
 * The fence on its own, without the rest of a decision (an agent that cannot run its rounds, or a
 * watchdog between them): an immediate stop of a running primary whose agent does not hold the
 * Lease, or nothing.
 */
export function fenceStop(obs: InstanceObservation, held: boolean): StopAction | undefined {
  if (held || obs.process !== "running" || obs.reportedRole !== "primary") return undefined;
  return {
    kind: "stop",
    mode: "immediate",
    reason: "this instance does not hold the primary Lease",
  };
}
