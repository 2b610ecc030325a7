/**
 * Failover and switchover: when the operator moves the primary, and to whom. Pure.
 *
 * The primary Lease makes it safe ({@link ../agent/lease.ts}): an instance runs as a primary only
 * while it holds the Lease, so naming a new target can never make two writers; this module only
 * decides *when* to move and *which* standby loses least. Two phases, as CloudNativePG does:
 *
 * 1. **Pending.** The target primary does not serve: its report of this term is not a ready
 *    primary, or another instance reports the Lease free at or after the transition the primary
 *    holds (it stopped renewing: its agent is gone or cut off from the API server). After
 *    `spec.failoverDelay` seconds (0 by default: a crashed process or a deleted pod fails over at
 *    once; a delay lets the agent restart it in place first), the status gets
 *    `targetPrimary: ""` and the next term; the old
 *    primary's agent, if it still runs, stops PostgreSQL and releases the Lease. A switchover
 *    (the {@link SWITCHOVER_ANNOTATION} annotation, or a scale-down below the primary's ordinal)
 *    starts the same way from a primary that serves.
 * 2. **Choose.** Only reports made in the new term *while the Lease was free* count: they were
 *    made after any former primary fenced itself, so their WAL positions are final. The most
 *    advanced (latest timeline, then most WAL received) becomes the target. With required
 *    durability the choice waits for a quorum: reports from at least `standbys - number + 1` of
 *    the primary's synchronous standbys (or from the old primary itself), so one of them holds
 *    every acknowledged commit. Otherwise a standby further behind the primary's last known WAL
 *    than `spec.maxFailoverLagBytes` is never chosen, and the bytes that may be lost are reported.
 *    A switchover takes the requested standby once it holds the old primary's final WAL.
 *
 * The new target's agent takes the Lease and promotes; the operator marks the failover complete
 * when it reports a ready primary. Everything is kept in the status, so an operator that crashes
 * in the middle continues where it stopped.
 *
 * Caveats: the quorum assumes the synchronous standbys were the StatefulSet's other pods when the
 * commits were acknowledged (a scale-down during a failover may shrink the set); the lag bound
 * uses the old primary's last report, written at most every 10 s while only its WAL moves.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import type { ConditionInput } from "../conditions.ts";
import type { Instance } from "./instances.ts";
import { podName, podOrdinal } from "./naming.ts";
import { FIRST_TERM, isFresh, type PodReport } from "./replication.ts";
import { DATA_CLAIM } from "./statefulset.ts";
import type { TargetChoice } from "./target.ts";
import type { FailoverStatus, PostgresDB, ValidSpec } from "./types.ts";

/** The annotation that asks for a planned switchover to the named pod. */
export const SWITCHOVER_ANNOTATION = "database.thegeekyway.com/switchover-to";

/** A chosen target that has not become a ready primary after this long is replaced. */
export const PROMOTION_TIMEOUT_MS = 60_000;

/** After the first usable report of a pending failover, how long to wait for the others. */
export const CANDIDATE_WAIT_MS = 5_000;

/** How long a switchover waits for the requested standby before choosing as a failover does. */
export const SWITCHOVER_WAIT_MS = 60_000;

/** The condition reasons of a failover in progress. */
export const FAILOVER_IN_PROGRESS = "FailoverInProgress";

/** What else {@link planFailover} knows. */
export interface FailoverOptions {
  /** The updated standby a rolling update wants the primary moved to (see `rollout.ts`). */
  rolloutTo?: string | undefined;
  /** The names of the data volumes (PVCs) that exist; absent: unknown. */
  volumes?: readonly string[] | undefined;
}

/** What the operator does about the primary in this reconcile. */
export interface FailoverPlan {
  /** The target primary to write: `""` while pending. */
  targetPrimary: string;
  /** The term to write. */
  primaryTerm: number;
  /** `status.primaryUnavailableSince`. */
  unavailableSince?: string;
  /** `status.failover`. */
  failover?: FailoverStatus;
  /** `status.switchoverHandled`. */
  switchoverHandled?: string;
  /** Events to emit. */
  events: Action[];
  /** When to look again although nothing changes (a delay or a wait runs out). */
  requeueAfterMs?: number;
  /** The `Replicating` condition while a failover is in progress. */
  condition?: ConditionInput;
}

/**
 * Plans this reconcile's part of a failover or switchover, after {@link chooseTarget} (whose
 * retarget after a lost volume wins).
 *
 * @example
 * ```ts
 * import { planFailover } from "./failover.ts";
 * const pod = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name } });
 * const report = (name: string, extra: object) => ({
 *   name, role: "standby" as const, process: "running" as const, ready: true, receivedLsn: 0,
 *   replayLsn: 0, message: "", term: 1, systemId: "7", timeline: 1, ...extra,
 * });
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "db" }, status: { targetPrimary: "db-0", primaryTerm: 1 },
 * };
 * const spec = {
 *   version: "16", storage: "1Gi", replicas: 2, databaseName: "app", deletionPolicy: "Retain" as const,
 *   failoverDelay: 0, maxFailoverLagBytes: 1000,
 * };
 * const plan = planFailover(db, spec, [
 *   { pod: pod("db-0"), report: report("db-0", { role: "primary", leaseTransitions: 1 }) },
 *   { pod: pod("db-1"), report: report("db-1", { leaseFree: true, leaseTransitions: 1 }) },
 * ], { targetPrimary: "db-0", primaryTerm: 1 }, 0);
 * console.assert(plan.targetPrimary === "" && plan.primaryTerm === 2);
 * console.assert(plan.failover?.reason === "PrimaryLost");
 * ```
 */
export function planFailover(
  db: PostgresDB,
  spec: ValidSpec,
  instances: readonly Instance[],
  choice: TargetChoice,
  nowMs: number,
  options: FailoverOptions = {},
): FailoverPlan {
  const rolloutTo = options.rolloutTo;
  const status = db.status ?? {};
  const plan: FailoverPlan = {
    targetPrimary: choice.targetPrimary,
    primaryTerm: choice.primaryTerm,
    events: [],
  };
  if (status.failover !== undefined) plan.failover = status.failover;
  // A request is remembered while its annotation is there: removing it lets the same value ask again.
  if (
    status.switchoverHandled !== undefined &&
    db.metadata.annotations?.[SWITCHOVER_ANNOTATION] === status.switchoverHandled
  ) {
    plan.switchoverHandled = status.switchoverHandled;
  }
  if (choice.retarget !== undefined) return plan;
  if (status.targetPrimary === "") {
    return choosePhase(db, spec, instances, plan, nowMs, options.volumes);
  }
  if (status.primaryUnavailableSince !== undefined) {
    plan.unavailableSince = status.primaryUnavailableSince;
  }
  return targetPhase(db, spec, instances, plan, nowMs, rolloutTo, options.volumes);
}

/** The target is named: complete a failover, start a switchover, or start a failover. */
function targetPhase(
  db: PostgresDB,
  spec: ValidSpec,
  instances: readonly Instance[],
  plan: FailoverPlan,
  nowMs: number,
  rolloutTo?: string,
  volumes?: readonly string[],
): FailoverPlan {
  const target = plan.targetPrimary;
  const term = plan.primaryTerm;
  const targetReport = reportOf(instances, target);
  const lost = leaseLost(instances, target, targetReport, term);
  const serves = isFresh(targetReport, term) && targetReport!.role === "primary" &&
    targetReport!.ready && lost === undefined;
  const inFlight = plan.failover !== undefined && plan.failover.to === target &&
    plan.failover.completedAt === undefined;
  if (serves) {
    delete plan.unavailableSince;
    if (inFlight) complete(db, plan, targetReport!, nowMs);
    return switchoverPhase(db, spec, instances, plan, nowMs, rolloutTo);
  }
  // Nobody else has the cluster's data: there is nowhere to fail over to; the agent restarts it.
  const others = instances.filter((i) =>
    i.pod.metadata.name !== target && isFresh(i.report, term) && i.report!.systemId !== undefined
  );
  if (others.length === 0) {
    // Unless the target's data went too (its volume deleted and made again, empty, after it was
    // chosen): past the first term its agent never runs initdb, so start the cluster afresh.
    if (
      term !== FIRST_TERM && volumes !== undefined &&
      noDataLeft(db.metadata.name, spec, instances, term, volumes)
    ) {
      const failover: FailoverStatus =
        plan.failover?.completedAt === undefined && plan.failover !== undefined ? plan.failover : {
          reason: "PrimaryNotReady",
          from: target,
          term,
          startedAt: new Date(nowMs).toISOString(),
          message: `Failover from ${JSON.stringify(target)}: it has no data`,
        };
      return startAfresh(db, plan, failover);
    }
    return plan;
  }
  const sinceMs = plan.unavailableSince === undefined ? nowMs : Date.parse(plan.unavailableSince);
  let dueMs = sinceMs + spec.failoverDelay * 1000;
  if (inFlight && plan.failover!.chosenAt !== undefined) {
    dueMs = Math.max(dueMs, Date.parse(plan.failover!.chosenAt) + PROMOTION_TIMEOUT_MS);
  }
  if (nowMs < dueMs) {
    plan.unavailableSince = new Date(sinceMs).toISOString();
    plan.requeueAfterMs = dueMs - nowMs;
    return plan;
  }
  const reason = lost !== undefined ? "PrimaryLost" : "PrimaryNotReady";
  const why = lost !== undefined
    ? `its primary Lease expired (${JSON.stringify(lost)} saw it free)`
    : `it does not serve as a primary (${
      targetReport === undefined
        ? "no report"
        : !isFresh(targetReport, term)
        ? "no report in this term"
        : `${targetReport.role}, ${JSON.stringify(targetReport.message)}`
    })`;
  return startPending(db, plan, {
    reason,
    message: `Failover from ${JSON.stringify(target)}: ${why}`,
  }, nowMs);
}

/** A switchover the annotation or a scale-down asks for, from a primary that serves. */
function switchoverPhase(
  db: PostgresDB,
  spec: ValidSpec,
  instances: readonly Instance[],
  plan: FailoverPlan,
  nowMs: number,
  rolloutTo?: string,
): FailoverPlan {
  const target = plan.targetPrimary;
  const name = db.metadata.name;
  const requested = db.metadata.annotations?.[SWITCHOVER_ANNOTATION];
  if (requested !== undefined && requested !== plan.switchoverHandled) {
    plan.switchoverHandled = requested;
    const problem = switchoverProblem(name, spec, instances, target, plan.primaryTerm, requested);
    if (problem !== undefined) {
      plan.events.push(warning(db, "SwitchoverRefused", problem));
      return plan;
    }
    return startPending(db, plan, {
      reason: "Switchover",
      requestedTo: requested,
      message: `Switchover from ${JSON.stringify(target)} to ${JSON.stringify(requested)}, as ` +
        `the annotation ${SWITCHOVER_ANNOTATION} asks`,
    }, nowMs);
  }
  if (rolloutTo !== undefined && rolloutTo !== target) {
    return startPending(db, plan, {
      reason: "Switchover",
      requestedTo: rolloutTo,
      message: `Switchover from ${JSON.stringify(target)} to ${JSON.stringify(rolloutTo)}: ` +
        "a rolling update replaces the primary's pod last, after a clean demotion",
    }, nowMs);
  }
  const ordinal = podOrdinal(name, target);
  if (ordinal === undefined || ordinal < spec.replicas) return plan;
  // A scale-down below the primary's ordinal: move the primary to the best standby that stays.
  const staying = instances.filter((i) => {
    const o = podOrdinal(name, i.pod.metadata.name);
    const r = i.report;
    return o !== undefined && o < spec.replicas && isFresh(r, plan.primaryTerm) &&
      r!.role === "standby" && r!.streamingFrom === target;
  }).sort((a, b) => b.report!.receivedLsn - a.report!.receivedLsn);
  const to = staying[0];
  if (to === undefined) return plan;
  return startPending(db, plan, {
    reason: "Switchover",
    requestedTo: to.pod.metadata.name,
    message: `Switchover from ${JSON.stringify(target)} to ${
      JSON.stringify(to.pod.metadata.name)
    }: spec.replicas ${spec.replicas} removes the primary's pod`,
  }, nowMs);
}

/** Why a switchover to `to` cannot start, or undefined when it can. */
function switchoverProblem(
  name: string,
  spec: ValidSpec,
  instances: readonly Instance[],
  target: string,
  term: number,
  to: string,
): string | undefined {
  const ordinal = podOrdinal(name, to);
  const quoted = JSON.stringify(to);
  if (ordinal === undefined || ordinal >= spec.replicas) {
    return `Cannot switch over to ${quoted}: not an instance of ${JSON.stringify(name)} ` +
      `(${podName(name, 0)} to ${podName(name, spec.replicas - 1)})`;
  }
  if (to === target) return `Cannot switch over to ${quoted}: it is already the primary`;
  const report = reportOf(instances, to);
  if (!isFresh(report, term) || report!.role !== "standby" || report!.streamingFrom !== target) {
    return `Cannot switch over to ${quoted}: it does not stream from the primary ` +
      `${JSON.stringify(target)} (${report?.message ?? "no report"})`;
  }
  return undefined;
}

/** Phase 1: clear the target, next term; the old primary stops and releases the Lease. */
function startPending(
  db: PostgresDB,
  plan: FailoverPlan,
  what: { reason: string; message: string; requestedTo?: string },
  nowMs: number,
): FailoverPlan {
  const term = plan.primaryTerm + 1;
  const failover: FailoverStatus = {
    reason: what.reason,
    from: plan.targetPrimary,
    term,
    startedAt: new Date(nowMs).toISOString(),
    message: what.message,
  };
  if (what.requestedTo !== undefined) failover.requestedTo = what.requestedTo;
  plan.failover = failover;
  plan.targetPrimary = "";
  plan.primaryTerm = term;
  delete plan.unavailableSince;
  const type = what.reason === "Switchover" ? "Normal" : "Warning";
  plan.events.push(event(db, type, `${kindOf(failover)}Started`, what.message));
  plan.condition = inProgress(failover, "the old primary stops; waiting for the standbys' reports");
  return plan;
}

/** Phase 2: choose the new target among the reports made while the Lease was free. */
function choosePhase(
  db: PostgresDB,
  spec: ValidSpec,
  instances: readonly Instance[],
  plan: FailoverPlan,
  nowMs: number,
  volumes?: readonly string[],
): FailoverPlan {
  const name = db.metadata.name;
  const term = plan.primaryTerm;
  const failover: FailoverStatus = plan.failover ?? {
    reason: "PrimaryNotReady",
    from: "",
    term,
    startedAt: new Date(nowMs).toISOString(),
    message: "Failover pending",
  };
  plan.failover = failover;
  const from = failover.from;
  const fromReport = reportOf(instances, from);
  const inSpec = (i: Instance) => {
    const o = podOrdinal(name, i.pod.metadata.name);
    return o !== undefined && o < spec.replicas;
  };
  let candidates = instances.filter((i) => {
    const r = i.report;
    return inSpec(i) && isFresh(r, term) && r!.leaseFree === true && r!.role !== "primary" &&
      r!.systemId !== undefined && r!.timeline !== undefined && r!.initializing === undefined;
  });
  const system = fromReport?.systemId ?? mostCommon(candidates.map((i) => i.report!.systemId!));
  candidates = candidates.filter((i) => i.report!.systemId === system);
  const latest = Math.max(0, ...candidates.map((i) => i.report!.timeline!));
  candidates = candidates.filter((i) => i.report!.timeline === latest);
  const wait = (message: string, afterMs = 1000): FailoverPlan => {
    plan.condition = inProgress(failover, message);
    plan.requeueAfterMs = afterMs;
    return plan;
  };
  if (candidates.length === 0) {
    if (volumes !== undefined && noDataLeft(name, spec, instances, term, volumes)) {
      return startAfresh(db, plan, failover);
    }
    return wait("waiting for reports made while the Lease is free");
  }
  const startedMs = Date.parse(failover.startedAt);
  const requested = failover.requestedTo;
  if (requested !== undefined && nowMs - startedMs < SWITCHOVER_WAIT_MS) {
    const to = candidates.find((i) => i.pod.metadata.name === requested);
    const final = isFresh(fromReport, term) && fromReport!.leaseFree === true &&
        fromReport!.process !== "running"
      ? fromReport!.receivedLsn
      : undefined;
    if (to !== undefined && final !== undefined && to.report!.receivedLsn >= final) {
      return choose(db, plan, failover, to, 0, nowMs);
    }
    // The old primary stopped and released the Lease, and the standby reported after that: its
    // WAL is final too. Short of the old primary's, it never catches up: choose as a failover.
    const settled = to !== undefined && final !== undefined;
    if (!settled) {
      return wait(
        `waiting for ${JSON.stringify(requested)} to hold the old primary's final WAL`,
        Math.min(1000, SWITCHOVER_WAIT_MS - (nowMs - startedMs)),
      );
    }
  }
  const sync = spec.synchronous;
  const expected = instances.filter((i) => inSpec(i) && i.pod.metadata.name !== from);
  let eligible = candidates;
  let lastKnown = 0;
  if (sync?.durability === "required") {
    const fromIn = candidates.some((i) => i.pod.metadata.name === from);
    const standbys = Math.max(spec.replicas - 1, 0);
    const need = standbys - sync.number + 1;
    const have = candidates.filter((i) => i.pod.metadata.name !== from).length;
    if (!fromIn && have < need) {
      return wait(
        `waiting for a quorum: ${have} of the ${need} standby reports needed to be sure the ` +
          "new primary holds every acknowledged commit",
      );
    }
  } else {
    // Every report of this term counts, not only the candidates': a standby that has not seen
    // the Lease free yet may already hold WAL the candidates lack.
    const fresh = instances.filter((i) => isFresh(i.report, term)).map((i) => i.report);
    const known = [fromReport, ...fresh].filter((r) =>
      r !== undefined && r.systemId === system && r.timeline === latest
    ) as PodReport[];
    lastKnown = Math.max(0, ...known.map((r) => r.receivedLsn));
    eligible = candidates.filter((i) =>
      lastKnown - i.report!.receivedLsn <= spec.maxFailoverLagBytes
    );
    if (eligible.length === 0) {
      return wait(
        `no standby is within spec.maxFailoverLagBytes ${spec.maxFailoverLagBytes} of the old ` +
          `primary's last known WAL ${lastKnown}`,
        5000,
      );
    }
  }
  // Give the others a moment to report: the first report is not necessarily the best.
  if (candidates.length < expected.length) {
    const since = failover.candidatesSince === undefined
      ? nowMs
      : Date.parse(failover.candidatesSince);
    if (nowMs - since < CANDIDATE_WAIT_MS) {
      plan.failover = { ...failover, candidatesSince: new Date(since).toISOString() };
      return wait(
        `${candidates.length} of ${expected.length} instances reported`,
        CANDIDATE_WAIT_MS - (nowMs - since),
      );
    }
  }
  const ordinal = (i: Instance) => podOrdinal(name, i.pod.metadata.name) ?? 0;
  const best = [...eligible].sort((a, b) =>
    b.report!.receivedLsn - a.report!.receivedLsn ||
    Number(b.report!.role === "standby") - Number(a.report!.role === "standby") ||
    ordinal(a) - ordinal(b)
  )[0]!;
  const loss = sync?.durability === "required"
    ? 0
    : Math.max(0, lastKnown - best.report!.receivedLsn);
  return choose(db, plan, failover, best, loss, nowMs);
}

function choose(
  db: PostgresDB,
  plan: FailoverPlan,
  failover: FailoverStatus,
  best: Instance,
  lossWindowBytes: number,
  nowMs: number,
): FailoverPlan {
  const to = best.pod.metadata.name;
  const { candidatesSince: _since, ...rest } = failover;
  plan.failover = { ...rest, to, chosenAt: new Date(nowMs).toISOString(), lossWindowBytes };
  plan.targetPrimary = to;
  const chosen = `${JSON.stringify(to)} chosen (WAL ${best.report!.receivedLsn} on timeline ${
    best.report!.timeline
  }; at most ${lossWindowBytes} bytes of WAL lost)`;
  plan.condition = inProgress(plan.failover, `${chosen}; it takes the Lease and promotes`);
  plan.events.push(event(db, "Normal", "PrimaryChosen", `${failover.message}: ${chosen}`));
  return plan;
}

/**
 * True when no instance holds data any more: for every ordinal of the spec, its volume does not
 * exist, or its agent reported in this term an empty data directory that nothing initialises
 * (the volumes were deleted, e.g. with the StatefulSet under `deletionPolicy: Delete`).
 */
function noDataLeft(
  name: string,
  spec: ValidSpec,
  instances: readonly Instance[],
  term: number,
  volumes: readonly string[],
): boolean {
  for (let ordinal = 0; ordinal < spec.replicas; ordinal++) {
    const pod = podName(name, ordinal);
    if (!volumes.includes(`${DATA_CLAIM}-${pod}`)) continue;
    const r = reportOf(instances, pod);
    const empty = isFresh(r, term) && r!.systemId === undefined && r!.initializing === undefined &&
      r!.process !== "running";
    if (!empty) return false;
  }
  return true;
}

/**
 * Nothing is left to fail over to: the cluster starts again as a new one, `<name>-0` in the first
 * term, which alone may run `initdb` (the data was deleted; there is nothing to protect).
 */
function startAfresh(db: PostgresDB, plan: FailoverPlan, failover: FailoverStatus): FailoverPlan {
  const first = podName(db.metadata.name, 0);
  const message = `${failover.message}: no instance holds the cluster's data any more (its ` +
    `volumes were deleted or are empty): starting a new, empty database on ${
      JSON.stringify(first)
    }`;
  plan.targetPrimary = first;
  plan.primaryTerm = FIRST_TERM;
  plan.failover = { ...failover, to: first, message };
  plan.events.push(warning(db, "AllDataLost", message));
  return plan;
}

/** The target reports a ready primary: the failover is complete. */
function complete(db: PostgresDB, plan: FailoverPlan, report: PodReport, nowMs: number): void {
  const failover = plan.failover!;
  const seconds = Math.round((nowMs - Date.parse(failover.startedAt)) / 100) / 10;
  const done: FailoverStatus = {
    ...failover,
    completedAt: new Date(nowMs).toISOString(),
    durationSeconds: seconds,
  };
  if (report.timeline !== undefined) done.timeline = report.timeline;
  plan.failover = done;
  const message = `${kindOf(failover)} from ${JSON.stringify(failover.from)} to ${
    JSON.stringify(failover.to)
  } completed in ${seconds} s on timeline ${report.timeline ?? "?"} (at most ${
    failover.lossWindowBytes ?? 0
  } bytes of WAL lost)`;
  plan.events.push(event(db, "Normal", `${kindOf(failover)}Completed`, message));
}

/**
 * The instance that saw the Lease free at or after the transition the target holds (so the
 * target stopped renewing it), if any. A target without a report (its pod was re-created) is
 * taken to hold the latest transition any report saw.
 */
function leaseLost(
  instances: readonly Instance[],
  target: string,
  targetReport: PodReport | undefined,
  term: number,
): string | undefined {
  // A target that reports another role than primary is not serving for its own reason; one
  // without a report (its pod was re-created) held the latest transition anyone saw.
  if (targetReport !== undefined && targetReport.role !== "primary") return undefined;
  const held = targetReport?.leaseTransitions ??
    Math.max(0, ...instances.map((i) => i.report?.leaseTransitions ?? 0));
  const seen = instances.find((i) =>
    i.pod.metadata.name !== target && isFresh(i.report, term) && i.report!.leaseFree === true &&
    (i.report!.leaseTransitions ?? 0) >= held && held > 0
  );
  return seen?.pod.metadata.name;
}

function reportOf(instances: readonly Instance[], name: string): PodReport | undefined {
  return instances.find((i) => i.pod.metadata.name === name)?.report;
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

function kindOf(failover: FailoverStatus): "Switchover" | "Failover" {
  return failover.reason === "Switchover" ? "Switchover" : "Failover";
}

function inProgress(failover: FailoverStatus, what: string): ConditionInput {
  return {
    type: "Replicating",
    status: "False",
    reason: failover.reason === "Switchover" ? "SwitchoverInProgress" : FAILOVER_IN_PROGRESS,
    message: `${failover.message}: ${what}`,
  };
}

function event(
  db: PostgresDB,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Action {
  return { kind: "emitEvent", regarding: db, type, eventReason: reason, message };
}

function warning(db: PostgresDB, reason: string, message: string): Action {
  return event(db, "Warning", reason, message);
}
