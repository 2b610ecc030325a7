/**
 * The contract between the operator and the instance agents (see `notes/replication.md`): the
 * names both sides use, the report an agent writes on its own pod, and how a report is read back.
 * Pure.
 *
 * @module
 */

import type { KubeObject } from "../object.ts";
import type { InstanceReport } from "../agent/types.ts";

/** The replication user the agents connect as. */
export const REPLICATION_USER = "replicator";

/** The credentials Secret's key that holds the replication user's password. */
export const REPLICATION_PASSWORD_KEY = "replication-password";

/** The annotation on each instance's pod that holds its agent's report, as JSON. */
export const REPORT_ANNOTATION = "database.thegeekyway.com/instance-report";

/** The field manager of the agents' report writes. */
export const AGENT_FIELD_MANAGER = "pgop-agent";

/** The agent's HTTP port: `/healthz`, `/readyz`, `/status`. */
export const AGENT_PORT = 8008;

/** The first term: the target primary chosen at bootstrap. */
export const FIRST_TERM = 1;

/** What an agent writes in {@link REPORT_ANNOTATION}: its report, the term it saw, and when. */
export interface PodReport extends InstanceReport {
  /** The `status.primaryTerm` the agent saw when it made the report. */
  term?: number;
  /** When the report was made, in epoch milliseconds. */
  reportedAtMs?: number;
}

/**
 * A pod's report, or undefined when it has none or the annotation is not a report (one that does
 * not parse, or lacks a name, role or readiness, is ignored as absent).
 *
 * @example
 * ```ts
 * import { readReport, REPORT_ANNOTATION } from "./replication.ts";
 * const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "db-0", annotations: {
 *   [REPORT_ANNOTATION]: '{"name":"db-0","role":"primary","ready":true,"process":"running"}' } } };
 * console.assert(readReport(pod)?.role === "primary");
 * ```
 */
export function readReport(pod: KubeObject): PodReport | undefined {
  const text = pod.metadata.annotations?.[REPORT_ANNOTATION];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const report = value as Partial<PodReport>;
  const roles = ["primary", "standby", "none"];
  if (typeof report.name !== "string" || !roles.includes(report.role as string)) return undefined;
  if (typeof report.ready !== "boolean") return undefined;
  return report as PodReport;
}

/** True when a report was made in `term` (a report of an earlier term may be stale). */
export function isFresh(report: PodReport | undefined, term: number | undefined): boolean {
  return report !== undefined && term !== undefined && report.term === term;
}

/**
 * The report as compared, without `reportedAtMs` and with its fields in a fixed order: two reports
 * with equal texts say the same, and an agent writes only when the text changes.
 */
export function reportText(report: PodReport): string {
  const { reportedAtMs: _at, ...rest } = report;
  const entries = Object.entries(rest).filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify(Object.fromEntries(entries));
}
