/**
 * What an instance agent wants of its PostgreSQL, from the PostgresDB's status and the pods'
 * reports, as `notes/replication.md` defines it. The simulated data plane and the real agent build
 * their {@link AgentIntent} here. Pure.
 *
 * @module
 */

import type { AgentIntent } from "../agent/types.ts";
import { secretName } from "./naming.ts";
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
 * The intent of the agent of pod `self`: the target primary from the status; the target's report
 * as `primary` only when it was made in the current term and says primary; `bootstrap` only for the
 * target of the first term while no pod reports data. `reports` holds every pod's report by name.
 *
 * @example
 * ```ts
 * import { agentIntent } from "./intent.ts";
 * const db = {
 *   apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB",
 *   metadata: { name: "db", namespace: "default" }, spec: { version: "16" },
 *   status: { targetPrimary: "db-0", primaryTerm: 1 },
 * };
 * const intent = agentIntent(db, "db-0", new Map());
 * console.assert(intent.bootstrap && intent.targetPrimary === "db-0" && intent.major === 16);
 * ```
 */
export function agentIntent(
  db: PostgresDB,
  self: string,
  reports: ReadonlyMap<string, PodReport>,
): AgentIntent {
  const name = db.metadata.name;
  const target = db.status?.targetPrimary;
  const term = db.status?.primaryTerm;
  const anyData = [...reports.values()].some((r) => r.systemId !== undefined);
  const intent: AgentIntent = {
    self,
    bootstrap: target === self && term === FIRST_TERM && !anyData,
    major: versionMajor(String(db.spec?.version ?? "")) ?? 0,
    headlessService: name,
    namespace: db.metadata.namespace ?? "default",
    port: POSTGRES_PORT,
    replication: {
      user: REPLICATION_USER,
      passwordSecret: { name: secretName(name), key: REPLICATION_PASSWORD_KEY },
    },
  };
  if (target === undefined) return intent;
  intent.targetPrimary = target;
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
