/**
 * What an instance agent wants of its PostgreSQL, from the PostgresDB's status and the pods'
 * reports, as `notes/replication.md` defines it. The simulated data plane and the real agent build
 * their {@link AgentIntent} here. Pure.
 *
 * @module
 */

import type { AgentIntent, LeaseStanding, SynchronousStandbys } from "../agent/types.ts";
import { podName, podOrdinal, secretName } from "./naming.ts";
import {
  FIRST_TERM,
  isFresh,
  type PodReport,
  REPLICATION_PASSWORD_KEY,
  REPLICATION_USER,
} from "./replication.ts";
import { POSTGRES_PORT, type PostgresDB } from "./types.ts";
import { versionMajor } from "./version.ts";

/**
 * The intent of the agent of pod `self`: the target primary from the status (none while a failover
 * is pending: `targetPrimary` empty); the target's report as `primary` only when it was made in
 * the current term and says primary; `bootstrap` only for the target of the first term while no
 * pod reports data; the synchronous standbys for the target (see {@link synchronousStandbys}).
 * `reports` holds every pod's report by name; `lease` is the agent's standing on the primary
 * Lease, which the caller reads.
 *
 * @example
 * ```ts
 * import { agentIntent } from "./intent.ts";
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "db", namespace: "default" }, spec: { version: "16" },
 *   status: { targetPrimary: "db-0", primaryTerm: 1 },
 * };
 * const intent = agentIntent(db, "db-0", new Map(), { held: false, free: true, transitions: 0 });
 * console.assert(intent.bootstrap && intent.targetPrimary === "db-0" && intent.major === 16);
 * ```
 */
export function agentIntent(
  db: PostgresDB,
  self: string,
  reports: ReadonlyMap<string, PodReport>,
  lease: LeaseStanding,
): AgentIntent {
  const name = db.metadata.name;
  const target = db.status?.targetPrimary;
  const term = db.status?.primaryTerm;
  const anyData = [...reports.values()].some((r) => r.systemId !== undefined);
  const intent: AgentIntent = {
    self,
    bootstrap: target === self && term === FIRST_TERM && !anyData,
    lease,
    major: versionMajor(String(db.spec?.version ?? "")) ?? 0,
    headlessService: name,
    namespace: db.metadata.namespace ?? "default",
    port: POSTGRES_PORT,
    replication: {
      user: REPLICATION_USER,
      passwordSecret: { name: secretName(name), key: REPLICATION_PASSWORD_KEY },
    },
  };
  if (target === undefined || target === "") return intent;
  intent.targetPrimary = target;
  if (target === self) {
    const sync = synchronousStandbys(db, target, reports);
    if (sync !== undefined) intent.synchronous = sync;
  }
  const report = reports.get(target);
  if (
    isFresh(report, term) && report!.role === "primary" && report!.systemId !== undefined &&
    report!.timeline !== undefined
  ) {
    intent.primary = {
      name: target,
      systemId: report!.systemId,
      timeline: report!.timeline,
      history: report!.history ?? [],
      flushLsn: report!.receivedLsn,
    };
  }
  return intent;
}

/**
 * The target primary's synchronous standbys, from `spec.synchronous`: with `required`, every other
 * pod of the StatefulSet and the spec's number; with `preferred`, only the standbys whose report
 * says they stream from the target, and at most as many as stream (none: asynchronous).
 *
 * @example
 * ```ts
 * import { synchronousStandbys } from "./intent.ts";
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB", metadata: { name: "db" },
 *   spec: { replicas: 3, synchronous: { number: 1 } },
 * };
 * const sync = synchronousStandbys(db, "db-1", new Map());
 * console.assert(sync?.number === 1 && sync.standbys.join() === "db-0,db-2");
 * ```
 */
export function synchronousStandbys(
  db: PostgresDB,
  target: string,
  reports: ReadonlyMap<string, PodReport>,
): SynchronousStandbys | undefined {
  const sync = db.spec?.synchronous as { number?: unknown; durability?: unknown } | undefined;
  const number = sync?.number;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 1) return undefined;
  const name = db.metadata.name;
  const replicas = typeof db.spec?.replicas === "number" ? db.spec.replicas : 1;
  const self = podOrdinal(name, target);
  const pods: string[] = [];
  for (let i = 0; i < replicas; i++) if (i !== self) pods.push(podName(name, i));
  const standbys = sync?.durability === "preferred"
    ? pods.filter((p) => {
      const r = reports.get(p);
      return r?.role === "standby" && r.streamingFrom === target;
    })
    : pods;
  const n = Math.min(number, standbys.length);
  return n < 1 ? undefined : { number: n, standbys };
}
