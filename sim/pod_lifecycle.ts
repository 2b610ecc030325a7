/**
 * The scheduler, kubelet and volume binder of the simulated cluster, reduced to timing:
 *
 * - a PersistentVolumeClaim is Bound `bindDelayMs` after it appears (`spec.volumeName`
 *   `pv-<first 8 chars of its uid>`, capacity = the request);
 * - a new Pod is bound to a node `scheduleDelayMs` after it appears, once every claim it mounts is
 *   Bound (as with immediate volume binding), and is Running with its containers started;
 * - `readyDelayMs` (plus a seeded jitter) later it is Ready;
 * - PostgreSQL's data directory: the first pod of image `postgres:<major>...` that starts on a
 *   claim initialises it with its major ({@link PodLifecycle.dataMajor}); a pod of another major
 *   on that claim never becomes Ready (PostgreSQL refuses the directory and exits): its container
 *   is left waiting in `CrashLoopBackOff` with one restart (a kubelet retries forever, with the
 *   same outcome);
 * - a container's environment from `secretKeyRef` is read when it starts: a missing Secret or key
 *   keeps it from starting (CreateContainerConfigError) until the Secret appears. The first start
 *   on a claim initialises its data with the `POSTGRES_PASSWORD` it read, and the lifecycle keeps
 *   that password ({@link PodLifecycle.dataPassword}), so a checker can tell whether the Secret
 *   still opens the data;
 * - a container's end ({@link PodLifecycle.finishPod}, called by whoever runs its program, e.g.
 *   the backup runner's host `job_runner.ts`): the pod is `Succeeded` (exit code 0) or `Failed`,
 *   its container `terminated` with the exit code, `Completed` or `Error`, and the termination
 *   message cut to {@link TERMINATION_MESSAGE_MAX_BYTES} as the kubelet reads it; Ready and
 *   ContainersReady turn False with reason `PodCompleted`. The pods are taken to have
 *   `restartPolicy: Never` (nothing restarts them); a container that waits for a missing Secret
 *   is shown `waiting` with reason `CreateContainerConfigError`, the pod staying Pending;
 * - a claim carries the `kubernetes.io/pvc-protection` finalizer, removed once it is terminating
 *   and no pod mounts it, as the real admission plugin and controller do.
 *
 * Faults for later scenarios: {@link PodLifecycle.crashPod}, {@link PodLifecycle.setNodeLost} and
 * {@link PodLifecycle.keepPodsUnready}. Every status write goes through the status subresource.
 *
 * @module
 */

import { type Clock, type Random, toTimestamp } from "../core/clock.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { UPGRADE_COMMAND } from "../core/upgrade/job.ts";

const POD: TypeRef = { apiVersion: "v1", kind: "Pod" };
const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };
const SECRET: TypeRef = { apiVersion: "v1", kind: "Secret" };
const PVC_PROTECTION = "kubernetes.io/pvc-protection";

interface EnvVar {
  name: string;
  valueFrom?: { secretKeyRef?: { name?: string; key?: string } };
}

/** Options of {@link PodLifecycle}. */
export interface PodLifecycleOptions {
  /** The simulated nodes. @default ["node-1", "node-2", "node-3"] */
  nodes?: string[];
  /** How a node is chosen: in turn, or drawn from the seeded generator. @default "roundRobin" */
  nodeSelection?: "roundRobin" | "random";
  /** Virtual delay from a Pod's creation to its scheduling and start. @default 100 */
  scheduleDelayMs?: number;
  /** Virtual delay from a Pod's start (or crash) to Ready. @default 2000 */
  readyDelayMs?: number;
  /** Up to this much seeded extra delay before Ready. @default 0 */
  readyJitterMs?: number;
  /** Virtual delay from a claim's creation to Bound. @default 50 */
  bindDelayMs?: number;
  /** Pods start but never become Ready while this is set. @default false */
  keepPodsUnready?: boolean;
}

/** The kubelet reads at most this many bytes of a container's termination message file. */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

/** How a pod's (only) container ended, for {@link PodLifecycle.finishPod}. */
export interface PodTermination {
  /** The process's exit code: 0 ends the pod `Succeeded`, anything else `Failed`. */
  exitCode: number;
  /** What the container wrote to its termination message file (cut to 4096 bytes). */
  message?: string;
}

interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  [field: string]: unknown;
}

interface ContainerStatus {
  name: string;
  restartCount: number;
  [field: string]: unknown;
}

/** True when the Pod's `Ready` condition is `True`. */
export function isPodReady(pod: KubeObject): boolean {
  return conditionsOf(pod).some((c) => c.type === "Ready" && c.status === "True");
}

/** The `lastTransitionTime` of a true `Ready` condition, or undefined when not Ready. */
export function podReadySince(pod: KubeObject): string | undefined {
  const ready = conditionsOf(pod).find((c) => c.type === "Ready" && c.status === "True");
  return ready?.lastTransitionTime;
}

function conditionsOf(pod: KubeObject): PodCondition[] {
  const status = pod.status as { conditions?: PodCondition[] } | undefined;
  return status?.conditions ?? [];
}

/**
 * Drives Pods and claims through their lifecycle on virtual time.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./cluster.ts";
 * import { isPodReady } from "./pod_lifecycle.ts";
 * const cluster = new SimCluster();
 * cluster.server.create({
 *   apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default" },
 *   spec: { containers: [{ name: "c", image: "busybox" }] },
 * });
 * await cluster.run({ maxVirtualMs: 10_000 });
 * console.assert(isPodReady(cluster.server.get({ apiVersion: "v1", kind: "Pod" }, "p", "default")));
 * ```
 */
export class PodLifecycle {
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #nodes: string[];
  readonly #options: Required<Omit<PodLifecycleOptions, "nodes" | "keepPodsUnready">>;
  #keepUnready: boolean;
  #lost = new Set<string>();
  #nextNode = 0;
  #nextIp = 2;
  /** Pods waiting for a claim (`namespace/claim`) to be Bound. */
  #waitingForClaim = new Map<string, Set<string>>();
  /** Pods that found no live node. */
  #unschedulable = new Set<string>();
  /** Pods whose Ready was held back by `keepPodsUnready`. */
  #held = new Set<string>();
  /** The PostgreSQL major each claim's data directory was initialised with, by claim uid. */
  #dataMajor = new Map<string, number>();
  /** Bumped by every start or crash, so only the latest ready timer of a pod acts. */
  #readyToken = new Map<string, number>();
  /** Pods that could not start for want of a Secret (`namespace/secret`). */
  #waitingForSecret = new Map<string, Set<string>>();
  /** The password each claim's data was initialised with, by claim uid. */
  #claimPasswords = new Map<string, string>();
  /** The password of the data each started pod runs on, by pod uid. */
  #podPasswords = new Map<string, string>();
  /**
   * A readiness probe: false keeps a started pod from Ready (and {@link reconsiderReadiness}
   * applies a change); undefined or true leaves Ready to the timer. Set by the data plane, whose
   * agents answer for their pods.
   */
  readinessGate: ((pod: KubeObject) => boolean | undefined) | undefined;
  /**
   * Where the data's major is read when a data plane models the data directories (a major upgrade
   * changes it); absent: the first PostgreSQL pod on a claim sets it for good.
   */
  dataMajorSource: ((namespace: string, claim: string) => number | undefined) | undefined;
  readonly #unsubscribe: () => void;

  /** Starts the lifecycle on `server`. */
  constructor(
    server: SimApiServer,
    clock: Clock,
    random: Random,
    options: PodLifecycleOptions = {},
  ) {
    this.#server = server;
    this.#clock = clock;
    this.#random = random;
    this.#nodes = [...(options.nodes ?? ["node-1", "node-2", "node-3"])];
    this.#keepUnready = options.keepPodsUnready ?? false;
    this.#options = {
      nodeSelection: options.nodeSelection ?? "roundRobin",
      scheduleDelayMs: options.scheduleDelayMs ?? 100,
      readyDelayMs: options.readyDelayMs ?? 2000,
      readyJitterMs: options.readyJitterMs ?? 0,
      bindDelayMs: options.bindDelayMs ?? 50,
    };
    this.#unsubscribe = server.subscribe((change) => this.#onChange(change));
  }

  /** The simulated nodes. */
  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /** While true, started pods do not become Ready; setting it false readies the held ones. */
  get keepPodsUnready(): boolean {
    return this.#keepUnready;
  }

  set keepPodsUnready(value: boolean) {
    this.#keepUnready = value;
    if (value) return;
    const held = [...this.#held];
    this.#held.clear();
    for (const uid of held) this.#scheduleReady(uid);
  }

  /**
   * The PostgreSQL major that initialised the data on a claim, or undefined when no PostgreSQL
   * pod has started on it yet.
   */
  dataMajor(namespace: string, claim: string): number | undefined {
    if (this.dataMajorSource !== undefined) return this.dataMajorSource(namespace, claim);
    const uid = this.#server.peek(PVC, claim, namespace)?.metadata.uid;
    return uid === undefined ? undefined : this.#dataMajor.get(uid);
  }

  /**
   * The password the data under a running pod was initialised with (the `POSTGRES_PASSWORD` of the
   * first pod that started on its claim), or undefined when the pod has not started.
   */
  dataPassword(podUid: string): string | undefined {
    return this.#podPasswords.get(podUid);
  }

  /**
   * Applies the {@link readinessGate}'s answer to a started pod now: Ready when it says so (and the
   * start delay has passed), not Ready when it says false. Does nothing for a pod still starting.
   */
  reconsiderReadiness(uid: string): void {
    if (this.#readyToken.has(uid)) return;
    const pod = this.#server.byUid(uid);
    if (!pod || pod.metadata.deletionTimestamp) return;
    if ((pod.status as { phase?: string } | undefined)?.phase !== "Running") return;
    if (this.#keepUnready || this.#majorClash(pod) !== undefined) return;
    const want = this.readinessGate?.(pod) !== false;
    if (want === isPodReady(pod)) return;
    const now = toTimestamp(this.#clock.nowMs());
    const status = want ? "True" : "False";
    let conditions = withCondition(conditionsOf(pod), "Ready", status, now);
    conditions = withCondition(conditions, "ContainersReady", status, now);
    const containerStatuses = containerStatusesOf(pod).map((s) => ({ ...s, ready: want }));
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      { conditions, containerStatuses },
    );
  }

  /** Stops driving pods and claims. */
  stop(): void {
    this.#unsubscribe();
  }

  /**
   * Crashes the containers of a running pod: Ready=False, restartCount+1; it becomes Ready again
   * `readyDelayMs` later. Throws NotFound when the pod does not exist.
   */
  crashPod(namespace: string, name: string): void {
    const pod = this.#server.get(POD, name, namespace);
    if ((pod.status as { phase?: string } | undefined)?.phase !== "Running") return;
    const now = toTimestamp(this.#clock.nowMs());
    const statuses = containerStatusesOf(pod).map((status) => ({
      ...status,
      ready: false,
      restartCount: status.restartCount + 1,
      lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: now } },
      state: { running: { startedAt: now } },
    }));
    let conditions = withCondition(conditionsOf(pod), "Ready", "False", now);
    conditions = withCondition(conditions, "ContainersReady", "False", now);
    this.#server.patchStatus(
      { ...POD, name, namespace },
      { conditions, containerStatuses: statuses },
    );
    this.#scheduleReady(pod.metadata.uid ?? "");
  }

  /**
   * The pod's containers exited (a Job's pod that ran to its end): the pod becomes `Succeeded`
   * when the exit code is 0, `Failed` otherwise, with each container `terminated` as a kubelet
   * reports it. Does nothing for a pod that does not run (or is gone or terminating).
   */
  finishPod(uid: string, termination: PodTermination): void {
    const pod = this.#server.byUid(uid);
    if (!pod || pod.metadata.deletionTimestamp) return;
    if ((pod.status as { phase?: string } | undefined)?.phase !== "Running") return;
    this.#readyToken.delete(uid);
    this.#held.delete(uid);
    const now = toTimestamp(this.#clock.nowMs());
    const ok = termination.exitCode === 0;
    const message = truncateMessage(termination.message ?? "");
    const containerStatuses = containerStatusesOf(pod).map((status) => {
      const running = (status.state as { running?: { startedAt?: string } } | undefined)?.running;
      return {
        ...status,
        ready: false,
        started: false,
        state: {
          terminated: {
            exitCode: termination.exitCode,
            reason: ok ? "Completed" : "Error",
            ...(message === "" ? {} : { message }),
            startedAt: running?.startedAt ?? now,
            finishedAt: now,
          },
        },
      };
    });
    const conditions = conditionsOf(pod).map((c) =>
      c.type === "Ready" || c.type === "ContainersReady"
        ? { type: c.type, status: "False", lastTransitionTime: now, reason: "PodCompleted" }
        : c
    );
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      { phase: ok ? "Succeeded" : "Failed", conditions, containerStatuses },
    );
  }

  /**
   * Marks a node lost (its pods are deleted at once and nothing is scheduled there) or, with
   * `lost` false, back (pods that found no node are scheduled again).
   */
  setNodeLost(node: string, lost = true): void {
    if (!lost) {
      this.#lost.delete(node);
      const waiting = [...this.#unschedulable];
      this.#unschedulable.clear();
      for (const uid of waiting) this.#schedule(uid);
      return;
    }
    this.#lost.add(node);
    for (const pod of this.#server.peekList(POD)) {
      const spec = pod.spec as { nodeName?: string } | undefined;
      if (spec?.nodeName !== node || pod.metadata.deletionTimestamp) continue;
      this.#server.delete(POD, pod.metadata.name, pod.metadata.namespace, {
        uid: pod.metadata.uid ?? "",
      });
    }
  }

  #onChange(change: StoreChange): void {
    const object = change.object;
    const kind = change.resource.kind;
    if (kind === "Secret" && change.type !== "DELETED") {
      const key = `${object.metadata.namespace ?? "default"}/${object.metadata.name}`;
      const waiting = this.#waitingForSecret.get(key);
      this.#waitingForSecret.delete(key);
      for (const uid of waiting ?? []) this.#start(uid);
    }
    if (kind === "PersistentVolumeClaim" && change.type !== "DELETED") this.#protect(object);
    if (kind === "Pod" && (change.type === "DELETED" || object.metadata.deletionTimestamp)) {
      this.#podPasswords.delete(object.metadata.uid ?? "");
      const namespace = object.metadata.namespace ?? "default";
      for (const claim of claimNames(object)) {
        const pvc = this.#server.peek(PVC, claim, namespace);
        if (pvc) this.#protect(pvc);
      }
    }
    if (change.type !== "ADDED") return;
    const uid = object.metadata.uid ?? "";
    if (change.resource.kind === "Pod" && change.resource.apiVersion === "v1") {
      const bound = Boolean((object.spec as { nodeName?: string } | undefined)?.nodeName);
      this.#clock.setTimer(
        this.#options.scheduleDelayMs,
        () => bound ? this.#start(uid) : this.#schedule(uid),
      );
    } else if (
      change.resource.kind === "PersistentVolumeClaim" && change.resource.apiVersion === "v1"
    ) {
      this.#clock.setTimer(this.#options.bindDelayMs, () => this.#bindClaim(uid));
    }
  }

  #schedule(uid: string): void {
    const pod = this.#server.byUid(uid);
    if (!pod || pod.metadata.deletionTimestamp) return;
    if ((pod.spec as { nodeName?: string } | undefined)?.nodeName) return;
    const namespace = pod.metadata.namespace ?? "default";
    for (const claim of claimNames(pod)) {
      const pvc = this.#server.peek(PVC, claim, namespace);
      if ((pvc?.status as { phase?: string } | undefined)?.phase === "Bound") continue;
      const key = `${namespace}/${claim}`;
      let waiting = this.#waitingForClaim.get(key);
      if (!waiting) this.#waitingForClaim.set(key, waiting = new Set());
      waiting.add(uid);
      return;
    }
    const node = this.#pickNode();
    if (node === undefined) {
      this.#unschedulable.add(uid);
      return;
    }
    this.#server.bindPod(namespace, pod.metadata.name, node);
    this.#start(uid);
  }

  #pickNode(): string | undefined {
    const live = this.#nodes.filter((node) => !this.#lost.has(node));
    if (live.length === 0) return undefined;
    if (this.#options.nodeSelection === "random") return live[this.#random.int(live.length)];
    return live[this.#nextNode++ % live.length];
  }

  /**
   * The claim's finalizer: added while it lives, removed once it is terminating and no live pod
   * mounts it.
   */
  #protect(pvc: KubeObject): void {
    const finalizers = pvc.metadata.finalizers ?? [];
    const has = finalizers.includes(PVC_PROTECTION);
    if (!pvc.metadata.deletionTimestamp) {
      if (!has) {
        this.#server.update({
          ...pvc,
          metadata: { ...pvc.metadata, finalizers: [...finalizers, PVC_PROTECTION] },
        });
      }
      return;
    }
    if (!has) return;
    const namespace = pvc.metadata.namespace ?? "default";
    const inUse = this.#server.peekList(POD).some((pod) =>
      (pod.metadata.namespace ?? "default") === namespace && !pod.metadata.deletionTimestamp &&
      claimNames(pod).includes(pvc.metadata.name)
    );
    if (inUse) return;
    this.#server.update({
      ...pvc,
      metadata: { ...pvc.metadata, finalizers: finalizers.filter((f) => f !== PVC_PROTECTION) },
    });
  }

  /**
   * The environment from Secrets, as the kubelet resolves it when a container starts; undefined
   * (and the pod queued for the Secret) when a Secret or key is missing.
   */
  #resolveSecrets(pod: KubeObject): Map<string, string> | undefined {
    const namespace = pod.metadata.namespace ?? "default";
    const spec = pod.spec as { containers?: { env?: EnvVar[] }[] } | undefined;
    const values = new Map<string, string>();
    for (const container of spec?.containers ?? []) {
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (!ref?.name || !ref.key) continue;
        const secret = this.#server.peek(SECRET, ref.name, namespace);
        const data = secret?.data as Record<string, string> | undefined;
        const value = data?.[ref.key];
        if (value === undefined || secret?.metadata.deletionTimestamp) {
          this.#configError(
            pod,
            secret && !secret.metadata.deletionTimestamp
              ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`
              : `secret ${JSON.stringify(ref.name)} not found`,
          );
          const key = `${namespace}/${ref.name}`;
          let waiting = this.#waitingForSecret.get(key);
          if (!waiting) this.#waitingForSecret.set(key, waiting = new Set());
          waiting.add(pod.metadata.uid ?? "");
          return undefined;
        }
        values.set(env.name, atob(value));
      }
    }
    return values;
  }

  /** A container that cannot be configured waits, as the kubelet reports it; the pod stays Pending. */
  #configError(pod: KubeObject, message: string): void {
    const spec = pod.spec as { containers?: { name: string; image?: string }[] } | undefined;
    const containerStatuses = (spec?.containers ?? []).map((container) => ({
      name: container.name,
      image: container.image ?? "",
      ready: false,
      started: false,
      restartCount: 0,
      state: { waiting: { reason: "CreateContainerConfigError", message } },
    }));
    const stored = JSON.stringify(containerStatusesOf(pod));
    if (stored === JSON.stringify(containerStatuses)) return;
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      { containerStatuses },
    );
  }

  /** The kubelet starts the containers: Running, started, not yet ready. */
  #start(uid: string): void {
    const pod = this.#server.byUid(uid);
    if (!pod || pod.metadata.deletionTimestamp) return;
    if ((pod.status as { phase?: string } | undefined)?.phase === "Running") return;
    const env = this.#resolveSecrets(pod);
    if (env === undefined) return;
    const password = env.get("POSTGRES_PASSWORD");
    if (password !== undefined) {
      for (const claim of claimNames(pod)) {
        const pvc = this.#server.peek(PVC, claim, pod.metadata.namespace ?? "default");
        const claimUid = pvc?.metadata.uid;
        if (claimUid === undefined) continue;
        if (!this.#claimPasswords.has(claimUid)) this.#claimPasswords.set(claimUid, password);
        this.#podPasswords.set(uid, this.#claimPasswords.get(claimUid)!);
      }
    }
    const spec = pod.spec as { nodeName?: string; containers?: { name: string; image?: string }[] };
    const now = toTimestamp(this.#clock.nowMs());
    const ip = this.#nextIp++;
    const podIP = `10.244.${(ip >> 8) & 255}.${ip & 255}`;
    let conditions = withCondition(conditionsOf(pod), "Initialized", "True", now);
    conditions = withCondition(conditions, "Ready", "False", now);
    conditions = withCondition(conditions, "ContainersReady", "False", now);
    conditions = withCondition(conditions, "PodScheduled", "True", now);
    const containerStatuses = (spec.containers ?? []).map((container) => ({
      name: container.name,
      image: container.image ?? "",
      ready: false,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    }));
    this.#initdb(pod);
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      {
        phase: "Running",
        hostIP: `10.0.0.${this.#nodes.indexOf(spec.nodeName ?? "") + 1}`,
        podIP,
        podIPs: [{ ip: podIP }],
        startTime: now,
        conditions,
        containerStatuses,
      },
    );
    this.#scheduleReady(uid);
  }

  #scheduleReady(uid: string): void {
    const token = (this.#readyToken.get(uid) ?? 0) + 1;
    this.#readyToken.set(uid, token);
    const jitter = this.#options.readyJitterMs > 0
      ? this.#random.int(this.#options.readyJitterMs + 1)
      : 0;
    this.#clock.setTimer(this.#options.readyDelayMs + jitter, () => this.#ready(uid, token));
  }

  #ready(uid: string, token: number): void {
    if (this.#readyToken.get(uid) !== token) return;
    const pod = this.#server.byUid(uid);
    if (!pod || pod.metadata.deletionTimestamp) {
      this.#readyToken.delete(uid);
      return;
    }
    if (this.#keepUnready) {
      this.#held.add(uid);
      return;
    }
    const now = toTimestamp(this.#clock.nowMs());
    const clash = this.#majorClash(pod);
    if (clash !== undefined) {
      this.#crashLoop(pod, clash, now);
      this.#readyToken.delete(uid);
      return;
    }
    this.#readyToken.delete(uid);
    // The gate (an agent's readiness) answers from now on, through reconsiderReadiness.
    if (this.readinessGate?.(pod) === false) return;
    let conditions = withCondition(conditionsOf(pod), "Ready", "True", now);
    conditions = withCondition(conditions, "ContainersReady", "True", now);
    const containerStatuses = containerStatusesOf(pod).map((s) => ({ ...s, ready: true }));
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      { conditions, containerStatuses },
    );
    this.#readyToken.delete(uid);
  }

  /** A PostgreSQL pod starting on an empty claim initialises it with its own major. */
  #initdb(pod: KubeObject): void {
    const major = postgresMajor(pod);
    if (major === undefined) return;
    for (const claim of claimNames(pod)) {
      const uid = this.#server.peek(PVC, claim, pod.metadata.namespace ?? "default")?.metadata.uid;
      if (uid !== undefined && !this.#dataMajor.has(uid)) this.#dataMajor.set(uid, major);
    }
  }

  /** Why PostgreSQL refuses a claim's data directory, or undefined when it accepts them all. */
  #majorClash(pod: KubeObject): string | undefined {
    const major = postgresMajor(pod);
    // The upgrade runner works on another major's data: that is its job.
    if (major === undefined || runsUpgrade(pod)) return undefined;
    for (const claim of claimNames(pod)) {
      const data = this.dataMajor(pod.metadata.namespace ?? "default", claim);
      if (data !== undefined && data !== major) {
        return `FATAL: database files are incompatible with server: the data directory on ` +
          `claim ${JSON.stringify(claim)} was initialized by PostgreSQL version ${data}, which ` +
          `is not compatible with this version ${major}`;
      }
    }
    return undefined;
  }

  /** PostgreSQL exits at start: the container waits in CrashLoopBackOff, never Ready. */
  #crashLoop(pod: KubeObject, message: string, now: string): void {
    const statuses = containerStatusesOf(pod).map((status) => ({
      ...status,
      ready: false,
      started: false,
      restartCount: status.restartCount + 1,
      lastState: { terminated: { exitCode: 1, reason: "Error", message, finishedAt: now } },
      state: { waiting: { reason: "CrashLoopBackOff", message } },
    }));
    this.#server.patchStatus(
      { ...POD, name: pod.metadata.name, namespace: pod.metadata.namespace },
      { containerStatuses: statuses },
    );
  }

  /** The volume binder: a matching volume appears and the claim is Bound to it. */
  #bindClaim(uid: string): void {
    const pvc = this.#server.byUid(uid);
    if (!pvc || pvc.metadata.deletionTimestamp) return;
    const spec = (pvc.spec ?? {}) as {
      volumeName?: string;
      accessModes?: string[];
      resources?: { requests?: { storage?: string } };
    };
    const name = pvc.metadata.name;
    const namespace = pvc.metadata.namespace ?? "default";
    if (!spec.volumeName) {
      this.#server.update({
        ...pvc,
        metadata: {
          ...pvc.metadata,
          annotations: {
            ...pvc.metadata.annotations,
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
          },
        },
        spec: { ...spec, volumeName: `pv-${uid.slice(0, 8)}` },
      });
    }
    const status: Record<string, unknown> = { phase: "Bound", accessModes: spec.accessModes ?? [] };
    const storage = spec.resources?.requests?.storage;
    if (storage !== undefined) status.capacity = { storage };
    this.#server.patchStatus({ ...PVC, name, namespace }, status);
    const key = `${namespace}/${name}`;
    const waiting = this.#waitingForClaim.get(key);
    this.#waitingForClaim.delete(key);
    for (const podUid of waiting ?? []) this.#schedule(podUid);
  }
}

function claimNames(pod: KubeObject): string[] {
  const spec = pod.spec as { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
  const names: string[] = [];
  for (const volume of spec?.volumes ?? []) {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (claim) names.push(claim);
  }
  return names;
}

/** True when the pod's first container runs the upgrade runner. */
function runsUpgrade(pod: KubeObject): boolean {
  const spec = pod.spec as { containers?: { command?: string[] }[] } | undefined;
  return spec?.containers?.[0]?.command?.join("\u0000") === UPGRADE_COMMAND.join("\u0000");
}

/** The major of a pod's `postgres:<major>...` container image, or undefined. */
function postgresMajor(pod: KubeObject): number | undefined {
  const spec = pod.spec as { containers?: { image?: string }[] } | undefined;
  for (const container of spec?.containers ?? []) {
    const match = /^(?:.*\/)?postgres:([1-9][0-9])(?![0-9])/.exec(container.image ?? "");
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** The first {@link TERMINATION_MESSAGE_MAX_BYTES} bytes of a message, as the kubelet reads the file. */
function truncateMessage(message: string): string {
  const bytes = new TextEncoder().encode(message);
  if (bytes.length <= TERMINATION_MESSAGE_MAX_BYTES) return message;
  // The kubelet keeps raw bytes; a string here ends before a character the cut would split.
  let end = TERMINATION_MESSAGE_MAX_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

function containerStatusesOf(pod: KubeObject): ContainerStatus[] {
  const status = pod.status as { containerStatuses?: ContainerStatus[] } | undefined;
  return status?.containerStatuses ?? [];
}

/** Sets one condition, keeping its transition time when the status does not change. */
function withCondition(
  conditions: PodCondition[],
  type: string,
  status: string,
  now: string,
): PodCondition[] {
  const existing = conditions.find((c) => c.type === type);
  if (existing?.status === status) return conditions;
  const next = { type, status, lastTransitionTime: now };
  return existing ? conditions.map((c) => (c.type === type ? next : c)) : [...conditions, next];
}
