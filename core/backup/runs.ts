/**
 * Reading a run's outcome from its Job and its pod: whether the Job finished, and the
 * {@link RunnerResult} the runner left as its container's termination message.
 *
 * @module
 */

import { fromTimestamp } from "../clock.ts";
import { isRecord } from "../compare.ts";
import type { Condition, KubeObject } from "../object.ts";
import type { Observed } from "../reconciler.ts";
import { POD } from "../postgres/types.ts";
import type { FailureReason, RunnerResult } from "./types.ts";

/** The Job controller's label on a Job's pods. */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

/** How a Job ended, from its conditions. */
export interface JobEnd {
  /** `Succeeded` (condition `Complete`) or `Failed` (condition `Failed`). */
  outcome: "Succeeded" | "Failed";
  /** The condition's reason, e.g. `BackoffLimitExceeded` or `DeadlineExceeded`. */
  reason: string;
  /** The condition's message. */
  message: string;
  /** When it ended (the condition's transition time), RFC 3339. */
  at: string;
}

/** How `job` ended, or undefined while it runs. */
export function jobEnd(job: KubeObject): JobEnd | undefined {
  const status = isRecord(job.status) ? job.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions as Condition[] : [];
  for (const c of conditions) {
    if (c.status !== "True") continue;
    if (c.type === "Complete" || c.type === "Failed") {
      return {
        outcome: c.type === "Complete" ? "Succeeded" : "Failed",
        reason: c.reason ?? c.type,
        message: c.message ?? "",
        at: c.lastTransitionTime ?? "",
      };
    }
  }
  return undefined;
}

const REASONS = new Set<FailureReason>([
  "StoreUnreachable",
  "BadCredentials",
  "BucketNotFound",
  "DatabaseUnreachable",
  "DumpFailed",
  "UploadFailed",
  "BackupNotFound",
  "ChecksumMismatch",
  "RestoreFailed",
  "VerificationFailed",
  "InvalidConfiguration",
]);

/**
 * Parses a termination message into a {@link RunnerResult}, or undefined when it is not one (a
 * crash's message, say). Only the fields the operator reads are checked.
 */
export function parseRunnerResult(text: string): RunnerResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  if (value.outcome === "Failed") {
    if (value.mode !== "backup" && value.mode !== "restore") return undefined;
    if (typeof value.message !== "string") return undefined;
    const reason = REASONS.has(value.reason as FailureReason) ? value.reason : "RestoreFailed";
    return { ...(value as object), reason } as RunnerResult;
  }
  if (value.outcome !== "Succeeded") return undefined;
  if (value.mode === "backup") {
    const b = value.backup;
    if (!isRecord(b) || typeof b.id !== "string" || typeof b.sha256 !== "string") return undefined;
    if (!Array.isArray(value.deleted)) return undefined;
    return value as unknown as RunnerResult;
  }
  if (value.mode === "restore" && typeof value.id === "string") {
    return value as unknown as RunnerResult;
  }
  return undefined;
}

/** A pod's runner container's termination, if it ended. */
function termination(pod: KubeObject): { message: string; finishedAt: string } | undefined {
  const status = isRecord(pod.status) ? pod.status : {};
  const containers = Array.isArray(status.containerStatuses) ? status.containerStatuses : [];
  for (const c of containers) {
    if (!isRecord(c) || !isRecord(c.state) || !isRecord(c.state.terminated)) continue;
    const t = c.state.terminated;
    return {
      message: typeof t.message === "string" ? t.message : "",
      finishedAt: typeof t.finishedAt === "string" ? t.finishedAt : "",
    };
  }
  return undefined;
}

/**
 * The result of the latest pod of `job` that ended with one, among `pods` (the Job's pods from
 * the cache; others are ignored).
 */
export function runResult<R = RunnerResult>(
  job: KubeObject,
  pods: readonly KubeObject[],
  parse: (text: string) => R | undefined = parseRunnerResult as (text: string) => R | undefined,
): R | undefined {
  const uid = job.metadata.uid;
  const ended = pods
    .filter((p) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === uid))
    .map((p) => termination(p))
    .filter((t) => t !== undefined)
    .sort((a, b) => a.finishedAt < b.finishedAt ? -1 : a.finishedAt > b.finishedAt ? 1 : 0);
  for (let i = ended.length - 1; i >= 0; i--) {
    const result = parse(ended[i]!.message);
    if (result !== undefined) return result;
  }
  return undefined;
}

/** How long a finished Job's pod may lag behind it in the cache before the run is judged. */
export const RESULT_GRACE_MS = 30_000;

/** Where a run stands, as its Job and its pod in the cache tell it. */
export type RunState<R = RunnerResult> =
  /** The Job has not ended. */
  | { state: "running" }
  /** The Job ended, but its pod's report has not reached the cache yet: look again soon. */
  | { state: "awaitingReport" }
  /** The Job ended: how, and the runner's report (absent when it was never found). */
  | { state: "ended"; end: JobEnd; result: R | undefined };

/**
 * Where the run of `job` stands: its end from the Job's conditions and the runner's report from
 * its pod (listed from the cache by the Job controller's label). A report still missing
 * {@link RESULT_GRACE_MS} after the Job ended is taken as lost.
 */
export function runState<R = RunnerResult>(
  observed: Observed,
  job: KubeObject,
  nowMs: number,
  parse?: (text: string) => R | undefined,
): RunState<R> {
  const end = jobEnd(job);
  if (end === undefined) return { state: "running" };
  const namespace = job.metadata.namespace ?? "default";
  const pods = observed.list?.(POD, namespace, { [JOB_NAME_LABEL]: job.metadata.name }) ?? [];
  const result = runResult<R>(job, pods, parse);
  const endMs = end.at ? fromTimestamp(end.at) : nowMs;
  if (result === undefined && nowMs - endMs < RESULT_GRACE_MS) return { state: "awaitingReport" };
  return { state: "ended", end, result };
}

/** Container waiting reasons that mean the image cannot be had. */
const PULL_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName"]);

/**
 * Why a running Job's pod cannot start, when an image of it cannot be pulled (its name and the
 * kubelet's message), or undefined.
 */
export function imageProblem(observed: Observed, job: KubeObject): string | undefined {
  const namespace = job.metadata.namespace ?? "default";
  const pods = observed.list?.(POD, namespace, { [JOB_NAME_LABEL]: job.metadata.name }) ?? [];
  for (const pod of pods) {
    const status = isRecord(pod.status) ? pod.status : {};
    const containers = [
      ...(Array.isArray(status.initContainerStatuses) ? status.initContainerStatuses : []),
      ...(Array.isArray(status.containerStatuses) ? status.containerStatuses : []),
    ];
    for (const c of containers) {
      if (!isRecord(c) || !isRecord(c.state) || !isRecord(c.state.waiting)) continue;
      const reason = c.state.waiting.reason;
      if (typeof reason !== "string" || !PULL_FAILURES.has(reason)) continue;
      const message = typeof c.state.waiting.message === "string" ? c.state.waiting.message : "";
      return `The image ${JSON.stringify(c.image ?? "")} cannot be pulled (${reason}` +
        `${message ? `: ${message}` : ""})`;
    }
  }
  return undefined;
}
