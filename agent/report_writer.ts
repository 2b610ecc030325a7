/**
 * Writes the agent's report into its own Pod's annotation
 * (`database.thegeekyway.com/instance-report`) by server-side apply with the field manager
 * `pgop-agent`, only when it changed: at once when what the operator acts on changed (role,
 * readiness, process, timeline, system, upstream, message), at most every `lagWriteMs` when only
 * WAL positions and lag moved, and never in the steady state.
 *
 * @module
 */

import type { ClusterClient } from "../core/cluster.ts";
import type { InstanceReport } from "../core/agent/types.ts";
import { type AnnotatedReport, REPORT_ANNOTATION } from "./intent_source.ts";
export type * from "../core/agent/types.ts";
export type * from "../core/agent/timeline.ts";
export type { AnnotatedReport } from "./intent_source.ts";

/** The field manager of the agent's writes. */
export const AGENT_FIELD_MANAGER = "pgop-agent";

/** Options of {@link ReportWriter}. */
export interface ReportWriterOptions {
  /** This pod's name. */
  pod: string;
  /** Its namespace. */
  namespace: string;
  /** The system clock. @default Date.now */
  nowMs?: () => number;
  /** The least time between writes that only move WAL positions and lag. @default 10000 */
  lagWriteMs?: number;
}

/** Writes reports, skipping those that did not change. */
export class ReportWriter {
  readonly #client: ClusterClient;
  readonly #o: Required<ReportWriterOptions>;
  #last: AnnotatedReport | undefined;
  #writes = 0;

  /** A writer through `client`. */
  constructor(client: ClusterClient, options: ReportWriterOptions) {
    this.#client = client;
    this.#o = { nowMs: () => Date.now(), lagWriteMs: 10_000, ...options };
  }

  /** How many writes were sent. */
  get writes(): number {
    return this.#writes;
  }

  /** The last report written. */
  get last(): AnnotatedReport | undefined {
    return this.#last;
  }

  /** Writes `report` of `term` if it changed enough; returns whether it wrote. */
  async write(report: InstanceReport, term: number): Promise<boolean> {
    const now = this.#o.nowMs();
    if (!this.#due(report, term, now)) return false;
    const annotated: AnnotatedReport = { ...report, term, reportedAtMs: now };
    await this.#client.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: this.#o.pod,
        namespace: this.#o.namespace,
        annotations: { [REPORT_ANNOTATION]: JSON.stringify(annotated) },
      },
    }, { fieldManager: AGENT_FIELD_MANAGER, force: true });
    this.#last = annotated;
    this.#writes++;
    return true;
  }

  #due(report: InstanceReport, term: number, now: number): boolean {
    const last = this.#last;
    if (last === undefined) return true;
    const { term: lastTerm, reportedAtMs, ...lastReport } = last;
    if (lastTerm !== term || significant(lastReport) !== significant(report)) return true;
    if (JSON.stringify(moving(lastReport)) === JSON.stringify(moving(report))) return false;
    return now - reportedAtMs >= this.#o.lagWriteMs;
  }
}

/** The fields the operator acts on, as one string. */
function significant(report: InstanceReport): string {
  const { receivedLsn: _r, replayLsn: _p, lagBytes: _l, ...rest } = report;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

function moving(report: InstanceReport): [number, number, number | undefined] {
  return [report.receivedLsn, report.replayLsn, report.lagBytes];
}
