/**
 * The instance agent's vocabulary: what it observes of its own PostgreSQL, what the cluster
 * intends, the actions it can decide, the status it reports, and the port through which a
 * simulated or a real instance carries the actions out.
 *
 * Everything here is data. The agent's decision ({@link ./decide.ts}) is a pure function from an
 * {@link InstanceObservation} and an {@link AgentIntent} to {@link AgentAction}s; an
 * {@link InstancePort} turns the actions into work and the next observation shows the result.
 *
 * @module
 */

import type { TimelineHistory } from "./timeline.ts";

/** The role of a data directory or a running server. */
export type InstanceRole = "primary" | "standby";

/** The configuration the agent writes into the data directory before a start. */
export type InstanceConfig =
  | {
    /** No `standby.signal`: the server starts as a primary. */
    role: "primary";
    /**
     * `synchronous_standby_names = 'ANY <number> (<standbys>)'`: a commit is acknowledged once
     * flushed here and on `number` of the listed standbys. Absent: asynchronous.
     */
    synchronous?: SynchronousStandbys;
  }
  | {
    /** `standby.signal` is present: the server starts in recovery and streams. */
    role: "standby";
    /** `primary_conninfo`: always a named pod, never a Service. */
    primaryConninfo: Conninfo;
  };

/** A primary's quorum of synchronous standbys. */
export interface SynchronousStandbys {
  /** How many of `standbys` must confirm each commit. */
  number: number;
  /** The instances (application names) that may confirm, in a fixed order. */
  standbys: readonly string[];
}

/**
 * This agent's standing on the cluster's primary Lease (`<db>-primary`, `coordination.k8s.io/v1`),
 * as {@link ./lease.ts} computes it. An instance runs as a primary only while `held`.
 */
export interface LeaseStanding {
  /**
   * This instance holds the Lease and its last successful renewal was sent less than the renew
   * deadline ago: it may start or keep a primary, or promote.
   */
  held: boolean;
  /**
   * Nobody holds the Lease: it was released, or this agent saw it unchanged for its whole duration
   * (on its own clock). A report made while it is free was made after any former primary fenced
   * itself, so its WAL positions are final.
   */
  free: boolean;
  /** The Lease's `leaseTransitions` as read (0 when it does not exist). */
  transitions: number;
}

/** The parts of `primary_conninfo` the agent decides. */
export interface Conninfo {
  /** The upstream pod's DNS name, `<pod>.<headless service>.<namespace>.svc`. */
  host: string;
  /** The upstream's port. */
  port: number;
  /** The replication user. */
  user: string;
  /** Where the replication password comes from (a Secret's key), never the password itself. */
  passwordSecret: SecretKeyRef;
  /** `application_name`: this instance's name, as `pg_stat_replication` lists it. */
  applicationName: string;
}

/** A key of a Secret. */
export interface SecretKeyRef {
  /** The Secret's name. */
  name: string;
  /** The key inside it. */
  key: string;
}

/** The data directory (PGDATA) as found on the volume. */
export type DataDirectory =
  | {
    /** Nothing there: a new volume, or one wiped for a re-clone. */
    kind: "empty";
  }
  | {
    /** `initdb` or `pg_basebackup` is writing it. */
    kind: "initializing";
    /** Which of the two. */
    by: "initdb" | "clone";
    /** The instance cloned from, for `clone`. */
    upstream?: string;
  }
  | {
    /** A usable data directory (`pg_controldata` answers). */
    kind: "initialized";
    /** The database system identifier: all instances of one cluster share it. */
    systemId: string;
    /** The major version the data was written by. */
    major: number;
    /** The timeline the data is on. */
    timeline: number;
    /** The timelines the data's timeline descends from, with where each one ended. */
    history: TimelineHistory;
    /** The end of the WAL flushed to disk (what survives a crash). */
    flushLsn: number;
    /** The configuration written into it (role and `primary_conninfo`). */
    config: InstanceConfig;
  };

/** The PostgreSQL process as the agent sees it. */
export type ProcessState = "stopped" | "starting" | "running" | "stopping" | "crashed";

/** The WAL receiver of a running standby. */
export interface WalReceiver {
  /** The instance it connects to (from `primary_conninfo`). */
  upstream: string;
  /** True while it streams; false while it retries (upstream down, link down, refused). */
  streaming: boolean;
  /** Why it does not stream, when it does not. */
  error?: string;
}

/** What the agent observes of its own instance. */
export interface InstanceObservation {
  /** The data directory. */
  data: DataDirectory;
  /** The process. */
  process: ProcessState;
  /** The role the running server reports (`pg_is_in_recovery()`); absent unless running. */
  reportedRole?: InstanceRole;
  /** An operation in flight (`promote`), if any. */
  promoting?: boolean;
  /** WAL received and flushed (a primary: WAL flushed). */
  receivedLsn: number;
  /** WAL replayed (a primary: WAL flushed). */
  replayLsn: number;
  /** The WAL receiver, when the server is a running standby. */
  walReceiver?: WalReceiver;
}

/** What the target primary last reported, as far as a standby needs it. */
export interface PrimaryInfo {
  /** The primary's instance (pod) name. */
  name: string;
  /** Its system identifier. */
  systemId: string;
  /** Its timeline. */
  timeline: number;
  /** Its timeline history. */
  history: TimelineHistory;
  /** Its flushed WAL end when it reported: the reference for lag. */
  flushLsn: number;
}

/** What the cluster wants of this instance, from the PostgresDB's status and spec. */
export interface AgentIntent {
  /** This instance's name (its pod's name). */
  self: string;
  /** The cluster's target primary; absent while a failover is pending or none is chosen yet. */
  targetPrimary?: string;
  /**
   * The target primary's report, once it runs as a primary in the current term; absent before.
   * A standby clones and streams only from this instance.
   */
  primary?: PrimaryInfo;
  /** This instance is the cluster's first: it may run `initdb` on an empty volume. */
  bootstrap: boolean;
  /** The primary Lease as this agent stands on it. */
  lease: LeaseStanding;
  /** The target primary's synchronous standbys; absent: asynchronous replication. */
  synchronous?: SynchronousStandbys;
  /** The major version of the binaries this agent runs. */
  major: number;
  /** The headless Service that gives each pod its DNS name. */
  headlessService: string;
  /** The namespace of the pods. */
  namespace: string;
  /** The PostgreSQL port. @default 5432 */
  port?: number;
  /** The replication user and where its password is. */
  replication: { user: string; passwordSecret: SecretKeyRef };
}

/** The status an agent reports to the operator. */
export interface InstanceReport {
  /** The instance's name. */
  name: string;
  /** The role of the running server, or `none` when it does not run. */
  role: InstanceRole | "none";
  /** The process state. */
  process: ProcessState;
  /** True when it serves its role: a running primary, or a standby streaming from the target. */
  ready: boolean;
  /** The data's system identifier, once there is data. */
  systemId?: string;
  /**
   * Present while `initdb` or a clone writes the data directory (which of the two); absent once
   * the data is usable and while the directory is empty. The operator tells an empty target
   * primary (its volume was lost) from one being initialised by it.
   */
  initializing?: "initdb" | "clone";
  /** The timeline, once there is data. */
  timeline?: number;
  /** The timeline history, once there is data. */
  history?: TimelineHistory;
  /** WAL received (a primary: flushed). */
  receivedLsn: number;
  /** WAL replayed (a primary: flushed). */
  replayLsn: number;
  /** Bytes between the target primary's last reported flush and this replay; 0 on the primary. */
  lagBytes?: number;
  /** The instance a standby streams from, while it streams. */
  streamingFrom?: string;
  /** True when the agent saw the primary Lease free when it made this report. */
  leaseFree?: boolean;
  /**
   * The Lease's transitions as the agent read them: a report saying the Lease is free counts
   * against a primary only when made at or after the transition that primary holds.
   */
  leaseTransitions?: number;
  /** What the agent is doing or waiting for, in a sentence. */
  message: string;
}

/** Start PostgreSQL's first data directory on an empty volume (the cluster's first primary). */
export interface InitdbAction {
  /** The action's kind. */
  kind: "initdb";
  /** Why, for logs and plans. */
  reason: string;
}

/** `pg_basebackup` from the target primary into an empty data directory. */
export interface CloneFromAction {
  /** The action's kind. */
  kind: "cloneFrom";
  /** The target primary's instance name. */
  upstream: string;
  /** How to reach it: a named pod. */
  conninfo: Conninfo;
  /** Why. */
  reason: string;
}

/** Wipe a data directory that cannot follow the primary, then clone it again. */
export interface RecloneAction {
  /** The action's kind. */
  kind: "reclone";
  /** The target primary's instance name. */
  upstream: string;
  /** How to reach it. */
  conninfo: Conninfo;
  /** Why (the divergence found). */
  reason: string;
}

/** Write the role and `primary_conninfo` (a standby's is reloaded by a running server). */
export interface WriteConfigAction {
  /** The action's kind. */
  kind: "writeConfig";
  /** The configuration. */
  config: InstanceConfig;
  /** Why. */
  reason: string;
}

/** Start PostgreSQL on the data directory. */
export interface StartAction {
  /** The action's kind. */
  kind: "start";
  /** Why. */
  reason: string;
}

/** Stop PostgreSQL: `fast` flushes WAL and ends cleanly, `immediate` stops at once as a crash. */
export interface StopAction {
  /** The action's kind. */
  kind: "stop";
  /** `pg_ctl stop -m <mode>`. */
  mode: "fast" | "immediate";
  /** Why. */
  reason: string;
}

/** `pg_ctl promote`: a standby becomes a primary on a new timeline. */
export interface PromoteAction {
  /** The action's kind. */
  kind: "promote";
  /** Why. */
  reason: string;
}

/** Report this instance's status to the operator. */
export interface ReportAction {
  /** The action's kind. */
  kind: "report";
  /** The status. */
  status: InstanceReport;
}

/** Everything the agent can decide; `kind` completes "the agent will ...". */
export type AgentAction =
  | InitdbAction
  | CloneFromAction
  | RecloneAction
  | WriteConfigAction
  | StartAction
  | StopAction
  | PromoteAction
  | ReportAction;

/** The actions an {@link InstancePort} performs (reports go to the operator, not the instance). */
export type InstanceAction = Exclude<AgentAction, ReportAction>;

/** The outcome of {@link InstancePort.perform}: it started, or why it could not. */
export type PerformResult = { ok: true } | { ok: false; error: string };

/**
 * The agent's port to its PostgreSQL: a simulated instance now, a real process later. `perform`
 * starts an action and returns; long operations (initdb, clone, start, stop, promote) go on in
 * the background and the next {@link InstancePort.observe} shows their progress.
 */
export interface InstancePort {
  /** The instance as it is now. */
  observe(): InstanceObservation;
  /** Starts one action. */
  perform(action: InstanceAction): PerformResult;
}

/**
 * One line that completes "the agent will ...".
 *
 * @example
 * ```ts
 * import { describeAgentAction } from "./types.ts";
 * const line = describeAgentAction({ kind: "stop", mode: "fast", reason: "not the target" });
 * console.assert(line === "stop (fast): not the target");
 * ```
 */
export function describeAgentAction(action: AgentAction): string {
  switch (action.kind) {
    case "initdb":
      return `initdb: ${action.reason}`;
    case "cloneFrom":
      return `clone from "${action.upstream}": ${action.reason}`;
    case "reclone":
      return `re-clone from "${action.upstream}": ${action.reason}`;
    case "writeConfig":
      return `write config (${action.config.role}): ${action.reason}`;
    case "start":
      return `start: ${action.reason}`;
    case "stop":
      return `stop (${action.mode}): ${action.reason}`;
    case "promote":
      return `promote: ${action.reason}`;
    case "report":
      return `report ${action.status.role}: ${action.status.message}`;
  }
}
