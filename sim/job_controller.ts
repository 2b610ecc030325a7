/**
 * The built-in Job controller (batch/v1) of the simulated cluster, in-process on virtual time, in
 * the shape of {@link StatefulSetController}: it listens to store commits, coalesces the work of
 * each Job for `jobControllerDelayMs` and writes through the store as `kube-controller-manager`.
 *
 * Modelled, after `pkg/controller/job` of Kubernetes 1.35 with its default feature gates:
 * - **one pod at a time** (`parallelism: 1`, `completions: 1`, `NonIndexed`), created from the
 *   template with `generateName: <job>-` (so `<job>-<5 random chars>`), the template's labels
 *   (the API server put `batch.kubernetes.io/job-name`, `job-name`,
 *   `batch.kubernetes.io/controller-uid` and `controller-uid` there, see `_builtin_rules.ts`), a
 *   controller owner reference and the `batch.kubernetes.io/job-tracking` finalizer, removed once
 *   the pod is counted (so a finished or deleted pod is counted exactly once);
 * - **status** through the status subresource, only when it changes: `startTime` at the first
 *   sync, `active`, `ready`, `terminating`, `succeeded`, `failed` (counts omitted at 0 as the real
 *   API omits them), `uncountedTerminatedPods: {}`, `completionTime` on success, and
 *   `conditions`: `SuccessCriteriaMet` then `Complete` (reason `CompletionsReached`), or
 *   `FailureTarget` then `Failed` with reason `BackoffLimitExceeded` ("Job has reached the
 *   specified backoff limit") or `DeadlineExceeded` ("Job was active longer than specified
 *   deadline"); the terminal condition is added once no pod of the Job is active or terminating;
 * - **failures**: a pod `Failed`, or deleted while not `Succeeded` (the default
 *   `podReplacementPolicy: TerminatingOrFailed`), counts as failed; the Job fails when `failed`
 *   exceeds `backoffLimit` (default 6); a replacement pod waits for the pod-failure backoff,
 *   10 s doubling per consecutive failure, capped at 6 minutes (as the Job documentation gives it),
 *   counted from the last failed pod's `finishedAt` (or its deletion);
 * - **`activeDeadlineSeconds`**, from `startTime`: the active pod is deleted and counted failed;
 * - **`ttlSecondsAfterFinished`**: the TTL-after-finished controller deletes a finished Job (with
 *   foreground propagation, as it does) that long after its terminal condition;
 * - a Job being deleted, or a pod whose Job is gone, has its pods' finalizers removed.
 *
 * Differences from the real controller (also in `sim/README.md`):
 * - `parallelism` and `completions` other than 1, `Indexed` completion, `successPolicy`,
 *   `podFailurePolicy`, `backoffLimitPerIndex`, `podReplacementPolicy: Failed`, `suspend`,
 *   `managedBy` and `manualSelector` adoption are not modelled (the spec's values are ignored);
 * - only `restartPolicy: Never` is modelled: with `OnFailure` a real kubelet restarts the
 *   container in the same pod and the controller counts restarts against the backoff limit; here
 *   the pod ends `Failed` as with `Never`;
 * - the pod-failure backoff is kept in memory only by the real controller too, but there it is
 *   rebuilt from the pods' finish times after a controller restart; here it is never lost;
 * - no Events (`SuccessfulCreate`, `BackoffLimitExceeded`, `Completed`...), no metrics, no
 *   `uncountedTerminatedPods` entries (a pod is counted and its finalizer removed in one atomic
 *   turn of the simulated store, where the real controller needs three writes);
 * - graceful termination is not modelled (a pod the controller deletes is counted at once), and
 *   the API server's validation of a Job (immutable template, `restartPolicy` Always refused) is
 *   not modelled.
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import { type Clock, fromTimestamp, type Timer, toTimestamp } from "../core/clock.ts";
import {
  controllerOf,
  controllerReference,
  isControlledBy,
  type KubeObject,
  objectKey,
  parseObjectKey,
  type TypeRef,
} from "../core/object.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { DelayedBatch } from "./_batch.ts";
import { isRecord } from "./_json.ts";

const JOB: TypeRef = { apiVersion: "batch/v1", kind: "Job" };
const POD: TypeRef = { apiVersion: "v1", kind: "Pod" };

/** The finalizer the Job controller puts on its pods until it has counted them. */
export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";
/** The first pod-failure backoff; it doubles with each consecutive failure. */
export const POD_FAILURE_BACKOFF_MS = 10_000;
/** The pod-failure backoff's cap. */
export const POD_FAILURE_BACKOFF_MAX_MS = 360_000;

/** Options of {@link JobController}. */
export interface JobControllerOptions {
  /** Virtual delay that coalesces the changes of Jobs before they are reconciled. @default 10 */
  jobControllerDelayMs?: number;
}

/** A condition of a Job's status. */
interface JobCondition {
  type: string;
  status: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

interface JobSpec {
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  template?: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: unknown;
  };
}

interface JobStatus {
  startTime?: string;
  succeeded?: number;
  failed?: number;
  conditions?: JobCondition[];
  [field: string]: unknown;
}

/** The failures since the last success, and when the last one happened. */
interface BackoffRecord {
  failures: number;
  lastFailureMs: number;
}

const BACKOFF_MESSAGE = "Job has reached the specified backoff limit";
const DEADLINE_MESSAGE = "Job was active longer than specified deadline";
const COMPLETE_MESSAGE = "Reached expected number of succeeded pods";

/**
 * The pod-failure backoff after `failures` consecutive failures: 10 s, 20 s, 40 s... capped at
 * {@link POD_FAILURE_BACKOFF_MAX_MS}; 0 without failures.
 *
 * @example
 * ```ts
 * import { podFailureBackoffMs } from "./job_controller.ts";
 * console.assert(podFailureBackoffMs(1) === 10_000 && podFailureBackoffMs(3) === 40_000);
 * console.assert(podFailureBackoffMs(20) === 360_000);
 * ```
 */
export function podFailureBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(
    POD_FAILURE_BACKOFF_MS * 2 ** Math.min(failures - 1, 30),
    POD_FAILURE_BACKOFF_MAX_MS,
  );
}

/**
 * Runs every Job of a {@link SimApiServer} to completion or failure, one pod at a time.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./cluster.ts";
 * const cluster = new SimCluster({ dataPlane: false, jobRunner: false });
 * cluster.server.create({
 *   apiVersion: "batch/v1", kind: "Job", metadata: { name: "once", namespace: "default" },
 *   spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } } },
 * });
 * await cluster.run({ maxVirtualMs: 1_000 });
 * const [pod] = cluster.server.peekList({ apiVersion: "v1", kind: "Pod" }, "default");
 * cluster.pods.finishPod(pod!.metadata.uid!, { exitCode: 0 });
 * await cluster.run({ maxVirtualMs: 1_000 });
 * const job = cluster.server.get({ apiVersion: "batch/v1", kind: "Job" }, "once", "default");
 * console.assert((job.status as { succeeded?: number }).succeeded === 1);
 * ```
 */
export class JobController {
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #batch: DelayedBatch;
  readonly #apiBackoffMs = new Map<string, number>();
  /** Pod-failure backoff by Job uid. */
  readonly #failures = new Map<string, BackoffRecord>();
  /** Timers already set for a Job (deadline, backoff, TTL), by `key@dueMs`. */
  /** The wake timers by `<key>@<dueMs>`: a deleted Job's are cancelled (nothing left to wake). */
  readonly #timers = new Map<string, Timer>();
  readonly #unsubscribe: () => void;

  /** Starts reconciling the Jobs of `server`. */
  constructor(server: SimApiServer, clock: Clock, options: JobControllerOptions = {}) {
    this.#server = server;
    this.#clock = clock;
    this.#delayMs = options.jobControllerDelayMs ?? 10;
    this.#batch = new DelayedBatch(clock, this.#delayMs, (key) => this.#handle(key));
    this.#unsubscribe = server.subscribe((change) => this.#onChange(change));
  }

  /** Stops the controller. */
  stop(): void {
    this.#unsubscribe();
    this.#batch.cancel();
  }

  #onChange(change: StoreChange): void {
    const { resource, object } = change;
    if (resource.kind === "Job" && resource.apiVersion === "batch/v1") {
      if (change.type === "DELETED") {
        this.#failures.delete(object.metadata.uid ?? "");
        this.#cancelWakes(objectKey(object.metadata));
      }
      this.#batch.mark(objectKey(object.metadata));
    } else if (resource.kind === "Pod" && resource.apiVersion === "v1") {
      const owner = controllerOf(object);
      if (owner?.kind === "Job" && owner.apiVersion === "batch/v1") {
        this.#batch.mark(objectKey({ namespace: object.metadata.namespace, name: owner.name }));
      }
      if (
        change.type !== "DELETED" && object.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)
      ) {
        this.#batch.mark(`pod:${object.metadata.uid ?? ""}`);
      }
    }
  }

  /** One key's turn; an API error retries it with backoff, as a rate-limited queue does. */
  #handle(key: string): void {
    try {
      if (key.startsWith("pod:")) this.#releaseOrphan(key.slice(4));
      else this.#reconcile(key);
      this.#apiBackoffMs.delete(key);
    } catch (error) {
      if (!isApiError(error)) throw error;
      const delayMs = Math.min((this.#apiBackoffMs.get(key) ?? this.#delayMs * 5) * 2, 10_000);
      this.#apiBackoffMs.set(key, delayMs);
      this.#clock.setTimer(delayMs, () => this.#batch.mark(key));
    }
  }

  /** A pod with the tracking finalizer whose Job is gone (or terminating) loses the finalizer. */
  #releaseOrphan(uid: string): void {
    const pod = this.#server.byUid(uid);
    if (!pod?.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)) return;
    const owner = controllerOf(pod);
    const job = owner ? this.#server.byUid(owner.uid) : undefined;
    if (job && !job.metadata.deletionTimestamp) return;
    this.#removeFinalizer(pod);
  }

  #reconcile(key: string): void {
    const { namespace, name } = parseObjectKey(key);
    const job = this.#server.peek(JOB, name, namespace);
    if (!job) return;
    const pods = this.#server.dependentsOf(job.metadata.uid ?? "")
      .filter((p) => p.kind === "Pod" && isControlledBy(p, job));
    if (job.metadata.deletionTimestamp) {
      for (const pod of pods) this.#removeFinalizer(pod);
      return;
    }
    const status = (job.status ?? {}) as JobStatus;
    if (finishedCondition(status) !== undefined) {
      for (const pod of pods) this.#removeFinalizer(pod);
      // A finished Job has no deadline or backoff left to wake for (its TTL, if any, is set anew).
      this.#cancelWakes(key);
      this.#expire(job, key, status);
      return;
    }
    this.#sync(job, key, pods, status);
  }

  /** One pass over a running Job: count finished pods, decide, create or delete, write status. */
  #sync(job: KubeObject, key: string, pods: KubeObject[], status: JobStatus): void {
    const spec = (job.spec ?? {}) as JobSpec;
    const nowMs = this.#clock.nowMs();
    const startTime = status.startTime ?? toTimestamp(nowMs);
    const counted = pods.filter((p) =>
      p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) && finishedAs(p) !== undefined
    );
    let succeeded = status.succeeded ?? 0;
    let failed = status.failed ?? 0;
    const record = this.#failures.get(job.metadata.uid ?? "") ?? { failures: 0, lastFailureMs: 0 };
    for (const pod of counted) {
      if (finishedAs(pod) === "Succeeded") {
        succeeded++;
        record.failures = 0;
      } else {
        failed++;
        record.failures++;
        record.lastFailureMs = Math.max(record.lastFailureMs, finishedAtMs(pod, nowMs));
      }
    }
    this.#failures.set(job.metadata.uid ?? "", record);
    let conditions = status.conditions ?? [];
    const now = toTimestamp(nowMs);
    const deadlineMs = spec.activeDeadlineSeconds === undefined
      ? undefined
      : fromTimestamp(startTime) + spec.activeDeadlineSeconds * 1000;
    if (
      !hasCondition(conditions, "FailureTarget") && !hasCondition(conditions, "SuccessCriteriaMet")
    ) {
      if (succeeded >= 1) {
        conditions = [
          ...conditions,
          condition("SuccessCriteriaMet", "CompletionsReached", COMPLETE_MESSAGE, now),
        ];
      } else if (failed > (spec.backoffLimit ?? 6)) {
        conditions = [
          ...conditions,
          condition("FailureTarget", "BackoffLimitExceeded", BACKOFF_MESSAGE, now),
        ];
      } else if (deadlineMs !== undefined && nowMs >= deadlineMs) {
        conditions = [
          ...conditions,
          condition("FailureTarget", "DeadlineExceeded", DEADLINE_MESSAGE, now),
        ];
      }
    }
    const target = conditions.find((c) =>
      c.type === "FailureTarget" || c.type === "SuccessCriteriaMet"
    );
    const live = pods.filter((p) => !p.metadata.deletionTimestamp && finishedAs(p) === undefined);
    if (target !== undefined) {
      // Finishing: the active pods go (counted as failed on the next pass).
      for (const pod of live) this.#deletePod(pod);
    } else if (live.length === 0) {
      this.#createOrWait(job, key, record, nowMs);
    }
    if (target === undefined && deadlineMs !== undefined) this.#wakeAt(key, deadlineMs);
    const countedUids = new Set(counted.map((p) => p.metadata.uid ?? ""));
    const next = { startTime, succeeded, failed, conditions, target, now, countedUids };
    this.#writeStatus(job, status, next, key);
    for (const pod of counted) this.#removeFinalizer(pod);
  }

  /** Creates the next pod, or waits out the pod-failure backoff. */
  #createOrWait(job: KubeObject, key: string, record: BackoffRecord, nowMs: number): void {
    const dueMs = record.lastFailureMs + podFailureBackoffMs(record.failures);
    if (record.failures > 0 && dueMs > nowMs) {
      this.#wakeAt(key, dueMs);
      return;
    }
    const spec = (job.spec ?? {}) as JobSpec;
    const template = spec.template ?? {};
    const metadata: KubeObject["metadata"] = {
      name: "",
      generateName: `${job.metadata.name}-`,
      namespace: job.metadata.namespace ?? "default",
      ownerReferences: [controllerReference(job)],
      finalizers: [JOB_TRACKING_FINALIZER],
    };
    if (template.metadata?.labels) metadata.labels = { ...template.metadata.labels };
    if (template.metadata?.annotations) metadata.annotations = { ...template.metadata.annotations };
    this.#server.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata,
      spec: structuredClone(isRecord(template.spec) ? template.spec : {}),
    });
  }

  /** The status the Job has now; written only when it differs from the stored one. */
  #writeStatus(
    job: KubeObject,
    old: JobStatus,
    next: {
      startTime: string;
      succeeded: number;
      failed: number;
      conditions: JobCondition[];
      target: JobCondition | undefined;
      now: string;
      countedUids: Set<string>;
    },
    key: string,
  ): void {
    const pods = this.#server.dependentsOf(job.metadata.uid ?? "")
      .filter((p) => p.kind === "Pod" && isControlledBy(p, job));
    const active = pods.filter((p) => !p.metadata.deletionTimestamp && finishedAs(p) === undefined);
    // Pods counted in this pass lose their finalizer right after this write: they are gone.
    const terminating = pods.filter((p) =>
      p.metadata.deletionTimestamp && !isTerminal(p) && !next.countedUids.has(p.metadata.uid ?? "")
    );
    let conditions = next.conditions;
    const status: Record<string, unknown> = {
      startTime: next.startTime,
      ready: active.filter(isReady).length,
      terminating: terminating.length,
      uncountedTerminatedPods: {},
    };
    if (active.length > 0) status.active = active.length;
    if (next.succeeded > 0) status.succeeded = next.succeeded;
    if (next.failed > 0) status.failed = next.failed;
    if (next.target !== undefined && active.length === 0 && terminating.length === 0) {
      const success = next.target.type === "SuccessCriteriaMet";
      const { reason = "", message = "" } = next.target;
      conditions = [
        ...conditions,
        condition(success ? "Complete" : "Failed", reason, message, next.now),
      ];
      if (success) status.completionTime = next.now;
    }
    if (conditions.length > 0) status.conditions = conditions;
    const patch: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(status)) {
      if (JSON.stringify(old[field]) !== JSON.stringify(value)) patch[field] = value;
    }
    for (const field of Object.keys(old)) if (!(field in status)) patch[field] = null;
    if (Object.keys(patch).length === 0) return;
    this.#server.patchStatus(
      { ...JOB, name: job.metadata.name, namespace: job.metadata.namespace },
      patch,
    );
    if (finishedCondition(status as JobStatus)) this.#batch.mark(key);
  }

  /** The TTL-after-finished controller: deletes the Job once its TTL after finishing passed. */
  #expire(job: KubeObject, key: string, status: JobStatus): void {
    const ttl = (job.spec as JobSpec | undefined)?.ttlSecondsAfterFinished;
    const finished = finishedCondition(status);
    if (ttl === undefined || finished?.lastTransitionTime === undefined) return;
    const dueMs = fromTimestamp(finished.lastTransitionTime) + ttl * 1000;
    if (this.#clock.nowMs() < dueMs) {
      this.#wakeAt(key, dueMs);
      return;
    }
    this.#server.delete(JOB, job.metadata.name, job.metadata.namespace, {
      uid: job.metadata.uid ?? "",
      propagationPolicy: "Foreground",
    });
  }

  /** Cancels the wake timers of the Job `key` (deleted, or finished). */
  #cancelWakes(key: string): void {
    const prefix = `${key}@`;
    for (const [id, timer] of this.#timers) {
      if (!id.startsWith(prefix)) continue;
      timer.cancel();
      this.#timers.delete(id);
    }
  }

  /** Marks the Job again at `dueMs` (one timer per instant). */
  #wakeAt(key: string, dueMs: number): void {
    const id = `${key}@${dueMs}`;
    if (this.#timers.has(id)) return;
    this.#timers.set(
      id,
      this.#clock.setTimer(dueMs - this.#clock.nowMs(), () => {
        this.#timers.delete(id);
        this.#batch.mark(key);
      }),
    );
  }

  #removeFinalizer(pod: KubeObject): void {
    const finalizers = pod.metadata.finalizers ?? [];
    if (!finalizers.includes(JOB_TRACKING_FINALIZER)) return;
    const current = this.#server.byUid(pod.metadata.uid ?? "");
    if (!current) return;
    this.#server.update({
      ...current,
      metadata: {
        ...current.metadata,
        finalizers: (current.metadata.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER),
      },
    });
  }

  #deletePod(pod: KubeObject): void {
    this.#server.delete(POD, pod.metadata.name, pod.metadata.namespace, {
      uid: pod.metadata.uid ?? "",
    });
  }
}

function phaseOf(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function isTerminal(pod: KubeObject): boolean {
  const phase = phaseOf(pod);
  return phase === "Succeeded" || phase === "Failed";
}

/** How a pod counts: `Succeeded`, `Failed` (failed, or deleted before it succeeded), or not yet. */
function finishedAs(pod: KubeObject): "Succeeded" | "Failed" | undefined {
  const phase = phaseOf(pod);
  if (phase === "Succeeded") return "Succeeded";
  if (phase === "Failed" || pod.metadata.deletionTimestamp) return "Failed";
  return undefined;
}

/** When a failed pod ended: its containers' last `finishedAt`, else its deletion, else now. */
function finishedAtMs(pod: KubeObject, nowMs: number): number {
  const statuses = (pod.status as
    | { containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[] }
    | undefined)
    ?.containerStatuses ?? [];
  let latest: number | undefined;
  for (const s of statuses) {
    const at = s.state?.terminated?.finishedAt;
    if (at !== undefined) latest = Math.max(latest ?? 0, fromTimestamp(at));
  }
  if (latest !== undefined) return latest;
  const deleted = pod.metadata.deletionTimestamp;
  return deleted !== undefined ? fromTimestamp(deleted) : nowMs;
}

function isReady(pod: KubeObject): boolean {
  const conditions = (pod.status as { conditions?: { type: string; status: string }[] } | undefined)
    ?.conditions ?? [];
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

function hasCondition(conditions: JobCondition[], type: string): boolean {
  return conditions.some((c) => c.type === type && c.status === "True");
}

/** The Job's `Complete` or `Failed` condition, when it finished. */
function finishedCondition(status: JobStatus): JobCondition | undefined {
  return status.conditions?.find((c) =>
    (c.type === "Complete" || c.type === "Failed") && c.status === "True"
  );
}

function condition(type: string, reason: string, message: string, now: string): JobCondition {
  return { type, status: "True", lastProbeTime: now, lastTransitionTime: now, reason, message };
}
