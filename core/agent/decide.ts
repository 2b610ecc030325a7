/**
 * The instance agent's decision: classify what it observes of its PostgreSQL against what the
 * cluster intends, then turn that state into actions with an exhaustive `switch`, as the
 * operator's reconcile does one level up.
 *
 * Guarantees: only the cluster's first instance (`bootstrap`) ever runs `initdb`; an instance
 * clones only from `intent.primary`, and only when it names the target primary (a report of any
 * other instance is ignored), so never from a standby; `primary_conninfo` names the target
 * primary's pod, never a Service; an instance starts a data directory that was a primary only
 * when it is the target primary (a former primary is reconfigured as a standby first); a running
 * primary that is not the target is stopped (at once when another primary already serves); a
 * data directory is wiped and cloned again only when it cannot follow the primary (another
 * system, or WAL past the fork of its timeline), so a standby whose data is intact restarts and
 * streams again without a new clone; every decision ends with a report.
 *
 * The fence: an instance runs as a primary (starts a primary, promotes, or keeps one running)
 * only while it holds the primary Lease (`intent.lease.held`, see {@link ./lease.ts}); a running
 * primary without it stops at once (an immediate stop), whether or not it is the target. A target
 * without the Lease keeps streaming as a standby until it gets it. The target primary's
 * configuration carries its synchronous standbys, reloaded when they change.
 *
 * Assumptions: the operator changes the target primary in two phases, as CloudNativePG does: it
 * first clears it (a failover is pending) and waits for reports made while the Lease was free,
 * then names the new one; `intent.primary` is the target primary's own report made in the current
 * term, so its timeline history is final for the term; timelines are never reused (PostgreSQL
 * picks the next free one from its archive); `receivedLsn` of a stopped instance is its data's
 * flushed end, as `pg_controldata` reports it.
 *
 * Caveats: a diverged instance is re-cloned rather than rewound (`pg_rewind` is later work); a
 * data directory of another major is reported and left alone (upgrades are the operator's),
 * except a standby's of an older major once the target primary runs the new one: it re-clones.
 *
 * @module
 */

import { canFollow } from "./timeline.ts";
import type {
  AgentAction,
  AgentIntent,
  Conninfo,
  InstanceConfig,
  InstanceObservation,
  InstanceReport,
  PrimaryInfo,
} from "./types.ts";

/** The state an instance is in, decided before any action. */
export type AgentState =
  | { kind: "busy"; what: string }
  | { kind: "wrongMajor"; dataMajor: number }
  | { kind: "bootstrap" }
  | { kind: "startPrimary" }
  | { kind: "promote" }
  | { kind: "primary" }
  | { kind: "demote"; mode: "fast" | "immediate"; why: string }
  | { kind: "clone"; primary: PrimaryInfo }
  | { kind: "diverged"; primary: PrimaryInfo; why: string; running: boolean }
  | { kind: "configure"; config: InstanceConfig; why: string }
  | { kind: "startStandby" }
  | { kind: "standby" }
  | { kind: "waiting"; why: string };

/**
 * Classifies an instance. Pure; the first matching state wins.
 *
 * @example
 * ```ts
 * import { classifyInstance } from "./decide.ts";
 * const state = classifyInstance(
 *   { data: { kind: "empty" }, process: "stopped", receivedLsn: 0, replayLsn: 0 },
 *   {
 *     self: "db-0", targetPrimary: "db-0", bootstrap: true, major: 16,
 *     lease: { held: true, free: false, transitions: 1 },
 *     headlessService: "db", namespace: "default",
 *     replication: { user: "replicator", passwordSecret: { name: "db-replication", key: "password" } },
 *   },
 * );
 * console.assert(state.kind === "bootstrap");
 * ```
 */
export function classifyInstance(obs: InstanceObservation, intent: AgentIntent): AgentState {
  const data = obs.data;
  if (data.kind === "initializing") return { kind: "busy", what: `${data.by} runs` };
  if (obs.process === "starting" || obs.process === "stopping") {
    return { kind: "busy", what: `PostgreSQL is ${obs.process}` };
  }
  if (obs.promoting === true) return { kind: "busy", what: "promotion runs" };
  if (data.kind === "initialized" && data.major !== intent.major) {
    const primary = intent.primary;
    if (
      data.major < intent.major && intent.targetPrimary !== intent.self &&
      primary !== undefined && primary.name === intent.targetPrimary &&
      primary.systemId !== data.systemId
    ) {
      // After a major upgrade: the target primary runs this instance's binaries on its
      // upgraded data (another system), so this old-major copy can only be cloned again.
      return {
        kind: "diverged",
        primary,
        running: false,
        why: `data of major ${data.major}; the primary runs major ${intent.major}`,
      };
    }
    return { kind: "wrongMajor", dataMajor: data.major };
  }
  const running = obs.process === "running";
  const leader = intent.lease.held;
  if (running && obs.reportedRole === "primary" && !leader) {
    // The fence: without the Lease, a primary stops at once, target or not.
    return {
      kind: "demote",
      mode: "immediate",
      why: "this instance does not hold the primary Lease",
    };
  }
  if (intent.targetPrimary === intent.self) {
    if (data.kind === "empty") {
      return intent.bootstrap
        ? { kind: "bootstrap" }
        : { kind: "waiting", why: "the target primary has no data and is not the first instance" };
    }
    if (!leader) {
      // A standby keeps streaming (or starts again) meanwhile; a primary's data waits stopped.
      if (running) return { kind: "standby" };
      return data.config.role === "standby"
        ? { kind: "startStandby" }
        : { kind: "waiting", why: "the target primary waits for the primary Lease" };
    }
    if (!running) return { kind: "startPrimary" };
    if (obs.reportedRole !== "primary") return { kind: "promote" };
    const config = primaryConfig(intent);
    return sameConfig(data.config, config)
      ? { kind: "primary" }
      : { kind: "configure", config, why: "synchronous standbys changed" };
  }
  if (running && obs.reportedRole === "primary") {
    const other = intent.primary !== undefined && intent.primary.name !== intent.self;
    return other
      ? { kind: "demote", mode: "immediate", why: `"${intent.primary!.name}" is the primary` }
      : { kind: "demote", mode: "fast", why: "this instance is not the target primary" };
  }
  const primary = intent.primary;
  if (primary === undefined || primary.name !== intent.targetPrimary) {
    return withoutPrimary(obs);
  }
  if (data.kind === "empty") return { kind: "clone", primary };
  if (data.systemId !== primary.systemId) {
    return {
      kind: "diverged",
      primary,
      running,
      why: `system ${data.systemId} is not the primary's ${primary.systemId}`,
    };
  }
  const follow = canFollow(
    { timeline: data.timeline, history: data.history, lsn: data.flushLsn },
    { timeline: primary.timeline, history: primary.history, lsn: primary.flushLsn },
  );
  if (!follow.ok) return { kind: "diverged", primary, running, why: follow.reason };
  const config = standbyConfig(primary.name, intent);
  if (!sameConfig(data.config, config)) {
    return { kind: "configure", config, why: `follow "${primary.name}"` };
  }
  return running ? { kind: "standby" } : { kind: "startStandby" };
}

/** The states of a non-primary while no primary is known in this term. */
function withoutPrimary(obs: InstanceObservation): AgentState {
  const data = obs.data;
  if (data.kind !== "initialized") return { kind: "waiting", why: "no primary to clone from" };
  if (obs.process === "running") return { kind: "standby" };
  // Restarting a standby is always safe; a former primary waits to learn whom to follow.
  return data.config.role === "standby"
    ? { kind: "startStandby" }
    : { kind: "waiting", why: "a former primary waits for the new primary" };
}

/**
 * Decides what the agent does for its instance now.
 *
 * @example
 * ```ts
 * import { decide } from "./decide.ts";
 * const actions = decide(
 *   { data: { kind: "empty" }, process: "stopped", receivedLsn: 0, replayLsn: 0 },
 *   {
 *     self: "db-1", targetPrimary: "db-0", bootstrap: false, major: 16,
 *     lease: { held: false, free: false, transitions: 1 },
 *     primary: { name: "db-0", systemId: "7", timeline: 1, history: [], flushLsn: 100 },
 *     headlessService: "db", namespace: "default",
 *     replication: { user: "replicator", passwordSecret: { name: "db-replication", key: "password" } },
 *   },
 * );
 * console.assert(actions[0]?.kind === "cloneFrom");
 * ```
 */
export function decide(obs: InstanceObservation, intent: AgentIntent): AgentAction[] {
  const state = classifyInstance(obs, intent);
  const report = (message: string): AgentAction => ({
    kind: "report",
    status: buildReport(obs, intent, message),
  });
  switch (state.kind) {
    case "busy":
      return [report(`Waiting: ${state.what}`)];
    case "wrongMajor":
      return [
        report(`Cannot start major ${intent.major} on data of major ${state.dataMajor}`),
      ];
    case "bootstrap":
      return [{ kind: "initdb", reason: "first instance of the cluster" }, report("Initializing")];
    case "startPrimary":
      return [{ kind: "start", reason: "this instance is the target primary" }, report("Starting")];
    case "promote":
      return [
        { kind: "promote", reason: "this instance is the target primary" },
        report("Promoting"),
      ];
    case "primary":
      return [report("Primary")];
    case "demote":
      return [{ kind: "stop", mode: state.mode, reason: state.why }, report("Stopping")];
    case "clone":
      return [
        {
          kind: "cloneFrom",
          upstream: state.primary.name,
          conninfo: conninfo(state.primary.name, intent),
          reason: "empty data directory",
        },
        report(`Cloning from "${state.primary.name}"`),
      ];
    case "diverged":
      return state.running
        ? [{ kind: "stop", mode: "fast", reason: `to re-clone: ${state.why}` }, report("Stopping")]
        : [
          {
            kind: "reclone",
            upstream: state.primary.name,
            conninfo: conninfo(state.primary.name, intent),
            reason: state.why,
          },
          report(`Re-cloning from "${state.primary.name}": ${state.why}`),
        ];
    case "configure":
      return [
        { kind: "writeConfig", config: state.config, reason: state.why },
        report("Configuring"),
      ];
    case "startStandby":
      return [{ kind: "start", reason: "standby data is intact" }, report("Starting")];
    case "standby":
      return [report(standbyMessage(obs, intent))];
    case "waiting":
      return [report(`Waiting: ${state.why}`)];
  }
}

/** The pod DNS name of an instance: never a Service. */
export function podAddress(name: string, intent: AgentIntent): string {
  return `${name}.${intent.headlessService}.${intent.namespace}.svc`;
}

function conninfo(upstream: string, intent: AgentIntent): Conninfo {
  return {
    host: podAddress(upstream, intent),
    port: intent.port ?? 5432,
    user: intent.replication.user,
    passwordSecret: intent.replication.passwordSecret,
    applicationName: intent.self,
  };
}

/** The configuration of the target primary: its synchronous standbys, if any. */
function primaryConfig(intent: AgentIntent): InstanceConfig {
  const sync = intent.synchronous;
  if (sync === undefined || sync.number < 1) return { role: "primary" };
  return { role: "primary", synchronous: { number: sync.number, standbys: [...sync.standbys] } };
}

function standbyConfig(upstream: string, intent: AgentIntent): InstanceConfig {
  return { role: "standby", primaryConninfo: conninfo(upstream, intent) };
}

function sameConfig(a: InstanceConfig, b: InstanceConfig): boolean {
  if (a.role === "primary" && b.role === "primary") {
    const x = a.synchronous;
    const y = b.synchronous;
    if (x === undefined || y === undefined) return x === y;
    return x.number === y.number && x.standbys.join(",") === y.standbys.join(",");
  }
  if (a.role === "primary" || b.role === "primary") return false;
  const x = a.primaryConninfo;
  const y = b.primaryConninfo;
  return x.host === y.host && x.port === y.port && x.user === y.user &&
    x.applicationName === y.applicationName && x.passwordSecret.name === y.passwordSecret.name &&
    x.passwordSecret.key === y.passwordSecret.key;
}

function standbyMessage(obs: InstanceObservation, intent: AgentIntent): string {
  const receiver = obs.walReceiver;
  if (receiver?.streaming) return `Streaming from "${receiver.upstream}"`;
  const why = receiver?.error ?? "no WAL receiver";
  return intent.primary ? `Catching up: ${why}` : `Waiting for a primary: ${why}`;
}

/** The status an agent reports for `obs`. */
export function buildReport(
  obs: InstanceObservation,
  intent: AgentIntent,
  message: string,
): InstanceReport {
  const running = obs.process === "running";
  const role = running ? obs.reportedRole ?? "standby" : "none";
  const receiver = obs.walReceiver;
  const streamingFrom = receiver?.streaming ? receiver.upstream : undefined;
  const report: InstanceReport = {
    name: intent.self,
    role,
    process: obs.process,
    ready: role === "primary"
      ? intent.targetPrimary === intent.self && intent.lease.held
      : role === "standby" && streamingFrom !== undefined &&
        streamingFrom === intent.targetPrimary,
    receivedLsn: obs.receivedLsn,
    replayLsn: obs.replayLsn,
    message,
  };
  if (obs.data.kind === "initialized") {
    report.systemId = obs.data.systemId;
    report.timeline = obs.data.timeline;
    report.history = obs.data.history;
  } else if (obs.data.kind === "initializing") report.initializing = obs.data.by;
  if (role === "primary") report.lagBytes = 0;
  else if (intent.primary) {
    report.lagBytes = Math.max(0, intent.primary.flushLsn - obs.replayLsn);
  }
  if (streamingFrom !== undefined) report.streamingFrom = streamingFrom;
  if (intent.lease.free) report.leaseFree = true;
  if (intent.lease.transitions > 0) report.leaseTransitions = intent.lease.transitions;
  return report;
}
