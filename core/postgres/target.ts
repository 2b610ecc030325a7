/**
 * The target primary of a PostgresDB: kept from the status (`<name>-0` in term 1 at bootstrap),
 * and changed in one case only, a lost primary volume: the target's fresh report says its data
 * directory is empty (its claim was deleted and re-created), nothing initialises it, and other
 * instances report the cluster's data. Then the most advanced of those (highest received WAL,
 * then lowest ordinal) becomes the target in the next term, and the old target clones from it.
 * Nobody may run `initdb` there: a new empty primary would make every standby re-clone an empty
 * database.
 *
 * This is not failover (`failover.ts`): a target that is unreachable, crashed or stopped with its
 * data is never replaced here, and no running primary is ever demoted by a retarget.
 *
 * Also the replicas the StatefulSet keeps: never fewer than the target's ordinal + 1, so that a
 * scale-down never removes the primary (until a switchover moves it first). Pure.
 *
 * @module
 */

import type { ConditionInput } from "../conditions.ts";
import { podName, podOrdinal } from "./naming.ts";
import type { Instance } from "./instances.ts";
import { FIRST_TERM, isFresh } from "./replication.ts";
import type { PostgresDB } from "./types.ts";

/** Why a target changed, for the Event and the `Replicating` condition. */
export interface Retarget {
  /** The previous target primary. */
  from: string;
  /** The new one. */
  to: string;
  /** The new term. */
  term: number;
  /** A sentence saying why. */
  message: string;
}

/** The target primary this reconcile works with, and the retarget that chose it, if any. */
export interface TargetChoice {
  /** The target primary's pod name. */
  targetPrimary: string;
  /** Its term. */
  primaryTerm: number;
  /** Set when this reconcile changed the target. */
  retarget?: Retarget;
}

/** The condition reason of a retarget after a lost primary volume. */
export const PRIMARY_DATA_LOST = "PrimaryDataLost";

/** The target primary and its term as stored: `<name>-0` in term 1 before any. */
export function storedTarget(db: PostgresDB): { targetPrimary: string; primaryTerm: number } {
  return {
    targetPrimary: db.status?.targetPrimary ?? podName(db.metadata.name, 0),
    primaryTerm: db.status?.primaryTerm ?? FIRST_TERM,
  };
}

/**
 * The target primary: the stored one, or, when the stored target's fresh report says its data
 * directory is empty (no system identifier, nothing initialising it), no instance reports a
 * running primary, and the other instances' fresh reports carry one system identifier, the most
 * advanced of them (highest `receivedLsn`, then lowest ordinal) in the next term.
 *
 * @example
 * ```ts
 * import { chooseTarget } from "./target.ts";
 * const pod = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name } });
 * const report = (name: string, extra: object) => ({
 *   name, role: "none" as const, process: "stopped" as const, ready: false, receivedLsn: 0,
 *   replayLsn: 0, message: "", term: 1, ...extra,
 * });
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "db" }, status: { targetPrimary: "db-0", primaryTerm: 1 },
 * };
 * const choice = chooseTarget(db, [
 *   { pod: pod("db-0"), report: report("db-0", {}) },
 *   { pod: pod("db-1"), report: report("db-1", { role: "standby", systemId: "7", receivedLsn: 9 }) },
 * ]);
 * console.assert(choice.targetPrimary === "db-1" && choice.primaryTerm === 2);
 * ```
 */
export function chooseTarget(db: PostgresDB, instances: readonly Instance[]): TargetChoice {
  const stored = storedTarget(db);
  const { targetPrimary, primaryTerm } = stored;
  const target = instances.find((i) => i.pod.metadata.name === targetPrimary);
  const report = target?.report;
  if (!isFresh(report, primaryTerm)) return stored;
  if (report!.systemId !== undefined || report!.initializing !== undefined) return stored;
  if (report!.process === "running" || report!.role !== "none") return stored;
  // Never while any instance says it runs as a primary (no second primary, no demotion here).
  if (instances.some((i) => i.report?.role === "primary")) return stored;
  const holders = instances.filter((i) =>
    i !== target && isFresh(i.report, primaryTerm) && i.report!.systemId !== undefined &&
    podOrdinal(db.metadata.name, i.pod.metadata.name) !== undefined
  );
  const systems = new Set(holders.map((i) => i.report!.systemId));
  // No data elsewhere: wait (nobody may initdb); two systems: which is the cluster's is unknown.
  if (systems.size !== 1) return stored;
  const ordinal = (i: Instance) => podOrdinal(db.metadata.name, i.pod.metadata.name)!;
  const best = [...holders].sort((a, b) =>
    b.report!.receivedLsn - a.report!.receivedLsn || ordinal(a) - ordinal(b)
  )[0]!;
  const to = best.pod.metadata.name;
  const term = primaryTerm + 1;
  const message = `The target primary ${JSON.stringify(targetPrimary)} has an empty data ` +
    `directory (its volume was lost) while ${JSON.stringify(to)} holds the cluster's data ` +
    `(system ${JSON.stringify([...systems][0])}, WAL ${best.report!.receivedLsn}): ` +
    `${JSON.stringify(to)} becomes the primary in term ${term} and ` +
    `${JSON.stringify(targetPrimary)} clones from it`;
  return {
    targetPrimary: to,
    primaryTerm: term,
    retarget: { from: targetPrimary, to, term, message },
  };
}

/** The StatefulSet's replicas: the spec's, or more to keep the target primary's pod. */
export interface HeldReplicas {
  /** The replicas to write. */
  replicas: number;
  /** The `ScaleDown` condition to set, when the spec's replicas would remove the primary. */
  condition?: ConditionInput;
}

/** The condition type that reports a held scale-down. */
export const SCALE_DOWN = "ScaleDown";

/**
 * `max(replicas, ordinal of the target + 1)`: a scale-down never removes the target primary. A
 * PostgresDB whose primary is at an ordinal at or above the requested replicas keeps that many
 * instances and says so in a `ScaleDown` condition, until a switchover (`failover.ts` starts one)
 * has moved the primary to a standby that stays.
 *
 * @example
 * ```ts
 * import { heldReplicas } from "./target.ts";
 * console.assert(heldReplicas("db", 1, "db-2").replicas === 3);
 * console.assert(heldReplicas("db", 3, "db-0").condition === undefined);
 * ```
 */
export function heldReplicas(name: string, replicas: number, targetPrimary: string): HeldReplicas {
  const ordinal = podOrdinal(name, targetPrimary);
  if (ordinal === undefined || ordinal < replicas) return { replicas };
  const held = ordinal + 1;
  return {
    replicas: held,
    condition: {
      type: SCALE_DOWN,
      status: "False",
      reason: "PrimaryAboveReplicas",
      message: `spec.replicas ${replicas} would remove the primary ${
        JSON.stringify(targetPrimary)
      }: keeping ${held} instances until a switchover moves the primary to a standby that stays`,
    },
  };
}
