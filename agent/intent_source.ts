/**
 * Where the agent learns what the cluster intends: {@link IntentSource}. The real one,
 * {@link ClusterIntentSource}, reads the PostgresDB's status and its pods' report annotations
 * through a cluster client by polling (one `get` and one `list` per round; the agent's loop
 * bounds the interval, so no watch and no watchdog are needed); tests plug in a fake.
 *
 * The rules (docs: /work/notes/replication.md): `targetPrimary` from `status.targetPrimary`;
 * `primary` from the target pod's report only when its `term` equals `status.primaryTerm` and its
 * role is primary; `bootstrap` when this pod is the target, the term is 1 and no pod's report
 * carries a system identifier.
 *
 * @module
 */

import type { ClusterClient } from "../core/cluster.ts";
import type {
  AgentIntent,
  InstanceReport,
  LeaseStanding,
  SecretKeyRef,
} from "../core/agent/types.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import { selectorLabels } from "../core/postgres/labels.ts";
import { synchronousStandbys } from "../core/postgres/intent.ts";
import type { LeaseKeeper } from "./lease_keeper.ts";
export type * from "../core/agent/types.ts";
export type * from "../core/agent/timeline.ts";

/** The Pod annotation that carries an agent's report. */
export const REPORT_ANNOTATION = "database.thegeekyway.com/instance-report";

/** The report as the annotation carries it: the agent's report, its term, and when. */
export interface AnnotatedReport extends InstanceReport {
  /** `status.primaryTerm` when the agent made the report. */
  term: number;
  /** When the report was made (system clock). */
  reportedAtMs: number;
}

/** The intent and the term it was read in. */
export interface CurrentIntent {
  /** What the cluster wants of this instance. */
  intent: AgentIntent;
  /** `status.primaryTerm` (0 before the operator set one). */
  term: number;
}

/** A source of the cluster's intent. */
export interface IntentSource {
  /** The current intent; it throws when the cluster cannot be read (the round is skipped). */
  current(): Promise<CurrentIntent>;
}

/** What an agent knows of itself, to build its intent. */
export interface IntentIdentity {
  /** This pod's name. */
  self: string;
  /** The PostgresDB's name (also its headless Service's). */
  database: string;
  /** The namespace. */
  namespace: string;
  /** The major of the binaries. */
  major: number;
  /** The PostgreSQL port. @default 5432 */
  port?: number;
  /** The replication user. @default "replicator" */
  replicationUser?: string;
  /** Where its password is. @default `<db>-credentials` / `replication-password` */
  replicationPasswordSecret?: SecretKeyRef;
}

/** The replication password's Secret key of a PostgresDB. */
export function replicationSecret(database: string): SecretKeyRef {
  return { name: `${database}-credentials`, key: "replication-password" };
}

/** Parses a report annotation; undefined when absent or not a report. */
export function parseReportAnnotation(value: string | undefined): AnnotatedReport | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(value);
    if (typeof parsed?.name !== "string" || typeof parsed?.term !== "number") return undefined;
    return parsed as AnnotatedReport;
  } catch {
    return undefined;
  }
}

/**
 * Builds the intent from the PostgresDB's status and the pods' reports (pure). `lease` is the
 * agent's standing on the primary Lease; without one, the agent holds nothing (it never runs a
 * primary) and sees the Lease taken.
 *
 * @example
 * ```ts
 * import { intentFrom } from "./intent_source.ts";
 * const { intent } = intentFrom(
 *   { self: "db-0", database: "db", namespace: "default", major: 16 },
 *   { targetPrimary: "db-0", primaryTerm: 1 },
 *   [],
 * );
 * console.assert(intent.bootstrap && intent.targetPrimary === "db-0");
 * ```
 */
export function intentFrom(
  identity: IntentIdentity,
  status: { targetPrimary?: unknown; primaryTerm?: unknown } | undefined,
  reports: readonly AnnotatedReport[],
  lease: LeaseStanding = { held: false, free: false, transitions: 0 },
): CurrentIntent {
  const term = typeof status?.primaryTerm === "number" ? status.primaryTerm : 0;
  const target = typeof status?.targetPrimary === "string" && status.targetPrimary !== ""
    ? status.targetPrimary
    : undefined;
  const intent: AgentIntent = {
    self: identity.self,
    bootstrap: target === identity.self && term === 1 &&
      !reports.some((r) => r.systemId !== undefined),
    lease,
    major: identity.major,
    headlessService: identity.database,
    namespace: identity.namespace,
    port: identity.port ?? 5432,
    replication: {
      user: identity.replicationUser ?? "replicator",
      passwordSecret: identity.replicationPasswordSecret ?? replicationSecret(identity.database),
    },
  };
  if (target !== undefined) intent.targetPrimary = target;
  const primary = reports.find((r) => r.name === target);
  if (
    primary !== undefined && primary.term === term && primary.role === "primary" &&
    primary.systemId !== undefined && primary.timeline !== undefined
  ) {
    intent.primary = {
      name: primary.name,
      systemId: primary.systemId,
      timeline: primary.timeline,
      history: primary.history ?? [],
      flushLsn: primary.receivedLsn,
    };
  }
  return { intent, term };
}

/** The primary Lease as {@link ClusterIntentSource} keeps it each round. */
export interface IntentLease {
  /** Reads and writes the Lease. */
  keeper: LeaseKeeper;
  /** True while this instance's PostgreSQL runs (or starts, or stops) as a primary. */
  runsAsPrimary: () => boolean;
}

/**
 * The intent read from the API server: the PostgresDB and its pods, polled; with `lease`, the
 * primary Lease is read and written in the same round (after the PostgresDB, whose status names
 * the target and whose uid owns the Lease), and the target gets its synchronous standbys.
 */
export class ClusterIntentSource implements IntentSource {
  readonly #client: ClusterClient;
  readonly #identity: IntentIdentity;
  readonly #lease: IntentLease | undefined;

  /** A source reading through `client` for the agent `identity`. */
  constructor(client: ClusterClient, identity: IntentIdentity, lease?: IntentLease) {
    this.#client = client;
    this.#identity = identity;
    this.#lease = lease;
  }

  /** {@inheritDoc IntentSource.current} */
  async current(): Promise<CurrentIntent> {
    const { database, namespace } = this.#identity;
    const db = await this.#client.get(POSTGRESDB, database, namespace);
    const pods = await this.#client.list({ apiVersion: "v1", kind: "Pod" }, {
      namespace,
      labelSelector: selectorLabels(database),
    });
    const reports = pods.items.flatMap((pod) => {
      const report = parseReportAnnotation(pod.metadata.annotations?.[REPORT_ANNOTATION]);
      // A report names its pod; one copied under another pod's name is ignored.
      return report !== undefined && report.name === pod.metadata.name ? [report] : [];
    });
    const status = (db as { status?: { targetPrimary?: unknown; primaryTerm?: unknown } }).status;
    const standing = this.#lease === undefined
      ? undefined
      : await this.#lease.keeper.round(db, this.#lease.runsAsPrimary());
    const current = intentFrom(this.#identity, status, reports, standing);
    const target = current.intent.targetPrimary;
    if (target !== undefined && target === this.#identity.self) {
      const byName = new Map(reports.map((r) => [r.name, r]));
      const sync = synchronousStandbys(db as PostgresDB, target, byName);
      if (sync !== undefined) current.intent.synchronous = sync;
    }
    return current;
  }
}
