/**
 * Fault schedules: what the user and the world do, when, and which faults are in force, as plain
 * JSON that a failing property test prints and the command line replays.
 *
 * @module
 */

import type { ClusterClient } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import type { Reconciler } from "../core/reconciler.ts";
import type { SimClusterOptions } from "./cluster.ts";
import type { FaultOptions } from "./faults.ts";
import { type Checker, Harness } from "./harness.ts";
import type { WriteRecord } from "./recording_client.ts";

/** One thing that happens at a virtual time (milliseconds from the start). */
export type Step =
  | { atMs: number; do: "apply"; object: KubeObject }
  | {
    atMs: number;
    do: "delete";
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
  }
  | { atMs: number; do: "deletePod"; name: string; namespace?: string }
  | { atMs: number; do: "crashPod"; name: string; namespace?: string }
  | { atMs: number; do: "loseNode"; node: string }
  | { atMs: number; do: "crashOperator" }
  | { atMs: number; do: "cutOffAgent"; name: string; namespace?: string; durationMs: number }
  | { atMs: number; do: "userDelete"; kind: ChildKind; name: string; namespace?: string }
  | { atMs: number; do: "userEdit"; kind: ChildKind; name: string; namespace?: string };

/** The kinds of child objects the user actor deletes and edits by hand. */
export type ChildKind = "Secret" | "Service" | "StatefulSet" | "PersistentVolumeClaim" | "Pod";

/** The type of each {@link ChildKind}. */
export const CHILD_TYPES: Record<ChildKind, { apiVersion: string; kind: ChildKind }> = {
  Secret: { apiVersion: "v1", kind: "Secret" },
  Service: { apiVersion: "v1", kind: "Service" },
  StatefulSet: { apiVersion: "apps/v1", kind: "StatefulSet" },
  PersistentVolumeClaim: { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  Pod: { apiVersion: "v1", kind: "Pod" },
};

/** A replayable run: seed, steps, faults. */
export interface Schedule {
  /** The seed of the cluster, the faults and the operator's random source. */
  seed: number;
  /** What the user and the world do, at their times. */
  steps: Step[];
  /** Faults at the operator's cluster port while faults are on. */
  faults?: FaultOptions;
  /** Probability of an operator crash after each of its writes, while faults are on. */
  crashRate?: number;
  /** Crash the operator right after its n-th successful write (every prefix of a reconcile). */
  crashAfterWrites?: number[];
  /** Faults stop this long after the last step. @default 0 */
  faultsAfterLastStepMs?: number;
  /** Cluster options: slow readiness (`readyDelayMs`), a lagging GC (`gcDelayMs`), ... */
  cluster?: Omit<SimClusterOptions, "seed">;
}

/** What the controller under test is, for {@link runSchedule}. */
export interface Subject {
  /** The reconciler under test; its `for` kind is the one whose steady state is judged. */
  reconciler: Reconciler;
  /** Wraps the controller's client (client-side mutants). */
  wrapClient?: (client: ClusterClient) => ClusterClient;
  /** Objects installed first (CRDs). */
  install?: KubeObject[];
  /** Safety checkers, fresh for each run. */
  checkers(): Checker[];
  /** End-state checks after convergence: problems found. */
  converged?(harness: Harness): string[];
  /**
   * Options of the simulated cluster (a mutant data plane, say); a schedule's own `cluster`
   * options take precedence.
   */
  cluster?: Omit<SimClusterOptions, "seed">;
}

/** The outcome of a run. */
export interface RunReport {
  /** Every rule broken, by checker. */
  violations: { checker: string; message: string; atMs: number }[];
  /** True when the world came to rest after the faults stopped. */
  converged: boolean;
  /** Virtual time of the whole run. */
  virtualMs: number;
  /** Faults injected, by name. */
  injected: Record<string, number>;
  /** Reconciles run, across restarts. */
  reconciles: number;
  /** The controller's writes that reached the API server (see {@link Harness.serverWrites}). */
  writes: number;
  /** The controller's writes that succeeded (what `crashAfterWrites` counts). */
  successfulWrites: number;
  /** Equal for equal seeds and schedules. */
  traceHash: string;
  /** The harness, to inspect the end state. */
  harness: Harness;
}

/** Options of {@link runSchedule}. */
export interface RunScheduleOptions {
  /** Virtual time allowed to converge after the faults stop. @default 600000 */
  convergeWithinMs?: number;
}

/**
 * Runs a schedule: steps at their times with faults on, then faults off, then the liveness check
 * (rest within the bound, end state matches, a full resync writes nothing), then the steady state
 * of what the schedule deleted.
 *
 * The steady state ("a converged object reconciles to no write") is judged on every object of the
 * reconciled kind that the schedule applied, not only on those that remain: a controller that
 * writes on every reconcile would otherwise pass every schedule that ends by deleting its objects,
 * since a resync of an empty world reconciles nothing. So, after the end state is judged, each
 * object the schedule applied and that no longer exists is applied again (its last manifest),
 * brought to rest without faults, and resynced; every write of that resync counts, whatever its
 * target (an Event, a child created or deleted again). The objects are then deleted again, and the
 * world must come to rest.
 */
export async function runSchedule(
  schedule: Schedule,
  subject: Subject,
  options: RunScheduleOptions = {},
): Promise<RunReport> {
  const harnessOptions = {
    seed: schedule.seed,
    reconciler: subject.reconciler,
    install: subject.install ?? [],
    checkers: subject.checkers(),
    faults: schedule.faults ?? {},
    crashRate: schedule.crashRate ?? 0,
    ...(schedule.crashAfterWrites ? { crashAfterWrites: schedule.crashAfterWrites } : {}),
    ...(subject.wrapClient ? { wrapClient: subject.wrapClient } : {}),
  };
  const cluster = subject.cluster || schedule.cluster
    ? { ...subject.cluster, ...schedule.cluster }
    : undefined;
  const harness = new Harness(cluster ? { ...harnessOptions, cluster } : harnessOptions);
  await harness.start();
  const steps = [...schedule.steps].sort((a, b) => a.atMs - b.atMs);
  const deletedSecrets = new Map<string, KubeObject>();
  for (const step of steps) {
    if (harness.stopped) break;
    const waitMs = step.atMs - harness.atMs;
    if (waitMs > 0) await harness.runFor(waitMs);
    perform(harness, step, deletedSecrets);
  }
  await harness.runFor(schedule.faultsAfterLastStepMs ?? 0);
  harness.stopFaults();
  restoreSecrets(harness, deletedSecrets);
  const bound = options.convergeWithinMs ?? 600_000;
  const converged = !harness.stopped && await harness.settle(bound);
  if (harness.stopped) {
    // A safety violation ended the run: liveness is not judged.
  } else if (!converged) {
    harness.violate(
      "liveness",
      `not at rest within ${bound / 1000} virtual seconds after the faults stopped`,
    );
  } else {
    for (const problem of subject.converged?.(harness) ?? []) harness.violate("liveness", problem);
    const extra = await harness.resync(bound);
    if (extra.length > 0) {
      harness.violate("steady state", `${extra.length} writes after convergence: ${list(extra)}`);
    } else {
      await judgeDeleted(harness, deletedPrimaries(harness, steps, subject.reconciler), bound);
    }
  }
  return {
    violations: harness.violations,
    converged,
    virtualMs: harness.atMs,
    injected: harness.injected,
    reconciles: harness.reconciles,
    writes: harness.serverWrites,
    successfulWrites: harness.successfulWrites,
    traceHash: harness.traceHash,
    harness,
  };
}

/**
 * The last manifest of each object of the reconciled kind that the schedule applied and that no
 * longer exists, in the order they were first applied.
 */
function deletedPrimaries(harness: Harness, steps: Step[], reconciler: Reconciler): KubeObject[] {
  const type = reconciler.for;
  const last = new Map<string, KubeObject>();
  for (const step of steps) {
    if (step.do !== "apply") continue;
    const o = step.object;
    if (o.apiVersion !== type.apiVersion || o.kind !== type.kind) continue;
    last.set(`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
  }
  return [...last.values()].filter((o) =>
    harness.cluster.server.peek(type, o.metadata.name, o.metadata.namespace ?? "default") ===
      undefined
  );
}

/**
 * The steady state of objects the schedule deleted (see {@link runSchedule}): applied again,
 * brought to rest, resynced (no write allowed), deleted again, brought to rest.
 */
async function judgeDeleted(harness: Harness, objects: KubeObject[], boundMs: number) {
  if (objects.length === 0) return;
  const names = objects.map((o) =>
    `${o.kind} ${o.metadata.namespace ?? "default"}/${o.metadata.name}`
  )
    .join(", ");
  try {
    for (const object of objects) {
      await harness.request(harness.user.apply(object, { fieldManager: "kubectl" }), boundMs);
    }
  } catch (error) {
    harness.violate("liveness", `cannot re-create ${names}: ${String(error)}`);
    return;
  }
  if (!await harness.settle(boundMs)) {
    if (!harness.stopped) {
      harness.violate("liveness", `re-created ${names} not at rest within ${boundMs / 1000} s`);
    }
    return;
  }
  const extra = await harness.resync(boundMs);
  if (extra.length > 0) {
    harness.violate(
      "steady state",
      `${extra.length} writes after convergence of the re-created ${names} (the schedule had ` +
        `deleted them): ${list(extra)}`,
    );
    return;
  }
  for (const o of objects) {
    const namespace = o.metadata.namespace ?? "default";
    await harness.request(harness.user.delete(o, o.metadata.name, namespace), boundMs)
      .catch(() => undefined);
  }
  if (!await harness.settle(boundMs) && !harness.stopped) {
    harness.violate("liveness", `${names} deleted again: not at rest within ${boundMs / 1000} s`);
  }
}

function list(writes: readonly WriteRecord[]): string {
  return writes.slice(0, 3).map((w) => `${w.verb} ${w.target}`).join(", ");
}

/**
 * The user puts back, as the operator's `CredentialsMissing` message asks, every credentials
 * Secret it deleted that is still missing: the last copy it deleted, with no owner.
 */
function restoreSecrets(harness: Harness, deleted: Map<string, KubeObject>): void {
  for (const secret of deleted.values()) {
    const { name, namespace } = secret.metadata;
    if (harness.cluster.server.peek(CHILD_TYPES.Secret, name, namespace)) continue;
    const copy: KubeObject = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: namespace ?? "default" },
      data: structuredClone(secret.data),
    };
    void harness.user.create(copy).catch(() => {});
  }
}

/** A hand edit of a child, as a user with kubectl edit makes it. */
function edited(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  copy.metadata.annotations = { ...copy.metadata.annotations, "example.com/edited-by": "user" };
  // deno-lint-ignore no-explicit-any
  const spec = copy.spec as any;
  if (copy.kind === "StatefulSet" && spec) spec.replicas = (spec.replicas ?? 1) + 1;
  return copy;
}

/** Starts one step; user requests run on virtual time and may fail like real ones. */
function perform(harness: Harness, step: Step, deletedSecrets: Map<string, KubeObject>): void {
  const pods = harness.cluster.pods;
  const ignore = (promise: Promise<unknown>) => void promise.catch(() => {});
  switch (step.do) {
    case "apply":
      return ignore(harness.user.apply(step.object, { fieldManager: "kubectl" }));
    case "delete":
      return ignore(
        harness.user.delete(
          { apiVersion: step.apiVersion, kind: step.kind },
          step.name,
          step.namespace ?? "default",
        ),
      );
    case "deletePod":
      return ignore(
        harness.user.delete(
          { apiVersion: "v1", kind: "Pod" },
          step.name,
          step.namespace ?? "default",
        ),
      );
    case "crashPod":
      try {
        pods.crashPod(step.namespace ?? "default", step.name);
      } catch {
        // The pod may not exist (yet, or any more): nothing to crash.
      }
      return;
    case "loseNode":
      pods.setNodeLost(step.node);
      harness.cluster.clock.setTimer(30_000, () => pods.setNodeLost(step.node, false));
      return;
    case "crashOperator":
      return harness.crash("scheduled");
    case "cutOffAgent":
      harness.cluster.dataPlane?.cutOff(step.namespace ?? "default", step.name, step.durationMs);
      return;
    case "userDelete": {
      const type = CHILD_TYPES[step.kind];
      const namespace = step.namespace ?? "default";
      const stored = harness.cluster.server.peek(type, step.name, namespace);
      if (stored && step.kind === "Secret") deletedSecrets.set(`${namespace}/${step.name}`, stored);
      ignore(harness.user.delete(type, step.name, namespace));
      if (step.kind !== "PersistentVolumeClaim") return;
      // A claim in use stays until its pods are gone (pvc-protection), and a pod that has not
      // started on it never will: the user deletes the pods that mount it, as Kubernetes asks.
      for (const pod of harness.cluster.server.peekList(CHILD_TYPES.Pod)) {
        const volumes =
          (pod.spec as { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] })
            ?.volumes ?? [];
        if (pod.metadata.namespace !== namespace) continue;
        if (!volumes.some((v) => v.persistentVolumeClaim?.claimName === step.name)) continue;
        ignore(harness.user.delete(CHILD_TYPES.Pod, pod.metadata.name, namespace));
      }
      return;
    }
    case "userEdit": {
      const type = CHILD_TYPES[step.kind];
      const stored = harness.cluster.server.peek(type, step.name, step.namespace ?? "default");
      // An update of the version read: a conflict with the operator is the user's to retry.
      if (stored) ignore(harness.user.update(edited(stored)));
      return;
    }
  }
}
