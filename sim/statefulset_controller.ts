/**
 * The built-in StatefulSet controller of the simulated cluster, in-process: it listens to store
 * commits, coalesces the work of each StatefulSet for `controllerDelayMs` and writes through the
 * store like the real controller writes through the API.
 *
 * Modelled: claims `<template>-<sts>-<ordinal>` created before their pod; pods `<sts>-<ordinal>`
 * with the StatefulSet's identity labels, hostname and subdomain; OrderedReady (one at a time,
 * each waiting for the previous to be Running and Ready; scale-down from the highest ordinal) and
 * Parallel management; `ordinals.start`; recreation of deleted or failed pods; adoption of orphan
 * pods that match the selector; RollingUpdate (with partition) and OnDelete; the claim retention
 * policy (by owner references, as the real controller does); `minReadySeconds`; status through
 * the status subresource, only when it changes.
 *
 * The objects it writes (pods, claims, status) are computed by the pure functions of
 * `_statefulset_objects.ts`; this file holds the loop: which StatefulSet to look at, and when.
 *
 * Not modelled: ControllerRevision objects (the revision is a hash of the template, and a
 * recreated pod always gets the current template), maxUnavailable, collision counts, events.
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import type { Clock } from "../core/clock.ts";
import {
  controllerOf,
  controllerReference,
  isControlledBy,
  type KubeObject,
  objectKey,
  type OwnerReference,
  parseObjectKey,
  type TypeRef,
} from "../core/object.ts";
import { matchesLabels } from "./_store_helpers.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { DelayedBatch } from "./_batch.ts";
import {
  buildClaim,
  buildPod,
  claimName,
  isRunningAndReady,
  ordinalOf,
  REVISION_LABEL,
  statefulSetRevision,
  type StatefulSetSpec,
  statefulSetStatus,
  statusPatch,
} from "./_statefulset_objects.ts";

export { statefulSetRevision } from "./_statefulset_objects.ts";

const STS: TypeRef = { apiVersion: "apps/v1", kind: "StatefulSet" };
const POD: TypeRef = { apiVersion: "v1", kind: "Pod" };
const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };

/** Options of {@link StatefulSetController}. */
export interface StatefulSetControllerOptions {
  /** Virtual delay that coalesces the changes of StatefulSets before they are reconciled. @default 10 */
  controllerDelayMs?: number;
}

/**
 * Reconciles every StatefulSet of a {@link SimApiServer} into claims and pods.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./cluster.ts";
 * const cluster = new SimCluster(); // starts a StatefulSetController
 * cluster.server.create({
 *   apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "web", namespace: "default" },
 *   spec: {
 *     replicas: 2, serviceName: "web", selector: { matchLabels: { app: "web" } },
 *     template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx" }] } },
 *   },
 * });
 * await cluster.run({ maxVirtualMs: 60_000 });
 * const sts = cluster.server.get({ apiVersion: "apps/v1", kind: "StatefulSet" }, "web", "default");
 * console.assert((sts.status as { readyReplicas?: number }).readyReplicas === 2);
 * ```
 */
export class StatefulSetController {
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #batch: DelayedBatch;
  #backoffMs = new Map<string, number>();
  /** StatefulSets waiting for a terminating claim (`namespace/claim`) to go. */
  #claimWaiters = new Map<string, string>();
  readonly #unsubscribe: () => void;

  /** Starts reconciling the StatefulSets of `server`. */
  constructor(server: SimApiServer, clock: Clock, options: StatefulSetControllerOptions = {}) {
    this.#server = server;
    this.#clock = clock;
    this.#delayMs = options.controllerDelayMs ?? 10;
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
    if (resource.kind === "StatefulSet" && resource.apiVersion === "apps/v1") {
      this.#mark(objectKey(object.metadata));
    } else if (resource.kind === "Pod" && resource.apiVersion === "v1") {
      const owner = controllerOf(object);
      if (owner?.kind === "StatefulSet" && owner.apiVersion === "apps/v1") {
        this.#mark(objectKey({ namespace: object.metadata.namespace, name: owner.name }));
      } else if (!owner && change.type !== "DELETED") {
        // An orphan: the StatefulSet its name belongs to may adopt it now (the real controller
        // syncs every set whose selector matches an orphan that was added or changed).
        const parent = /^(.*)-(0|[1-9][0-9]*)$/.exec(object.metadata.name)?.[1];
        if (parent !== undefined) {
          this.#mark(objectKey({ namespace: object.metadata.namespace, name: parent }));
        }
      }
    } else if (resource.kind === "PersistentVolumeClaim" && change.type === "DELETED") {
      const key = objectKey(object.metadata);
      const waiter = this.#claimWaiters.get(key);
      if (waiter !== undefined) {
        this.#claimWaiters.delete(key);
        this.#mark(waiter);
      }
    }
  }

  /** The revision of each stored StatefulSet version. */
  readonly #revisions = new WeakMap<KubeObject, string>();

  #mark(key: string): void {
    this.#batch.mark(key);
  }

  /** One StatefulSet's turn; an API error retries it with backoff, as a rate-limited queue does. */
  #handle(key: string): void {
    try {
      this.#reconcile(key);
      this.#backoffMs.delete(key);
    } catch (error) {
      if (!isApiError(error)) throw error;
      const delayMs = Math.min((this.#backoffMs.get(key) ?? this.#delayMs * 5) * 2, 10_000);
      this.#backoffMs.set(key, delayMs);
      this.#clock.setTimer(delayMs, () => this.#mark(key));
    }
  }

  #reconcile(key: string): void {
    const { namespace, name } = parseObjectKey(key);
    const sts = this.#server.peek(STS, name, namespace);
    if (!sts || sts.metadata.deletionTimestamp) return;
    // Stored objects are replaced, never changed: the template's hash is computed once per version.
    let revision = this.#revisions.get(sts);
    if (revision === undefined) {
      revision = statefulSetRevision(sts);
      this.#revisions.set(sts, revision);
    }
    this.#adoptOrphans(sts);
    this.#sync(sts, this.#pods(sts), revision);
    this.#writeStatus(sts, revision);
  }

  /** The pods this StatefulSet controls, by ordinal. */
  #pods(sts: KubeObject): Map<number, KubeObject> {
    const pods = new Map<number, KubeObject>();
    for (const dependent of this.#server.dependentsOf(sts.metadata.uid ?? "")) {
      if (dependent.kind !== "Pod" || !isControlledBy(dependent, sts)) continue;
      const ordinal = ordinalOf(dependent.metadata.name, sts.metadata.name);
      if (ordinal !== undefined) pods.set(ordinal, dependent);
    }
    return pods;
  }

  /** One pass of the real controller's algorithm; returns early where it would wait. */
  #sync(sts: KubeObject, pods: Map<number, KubeObject>, revision: string): void {
    const spec = sts.spec as StatefulSetSpec;
    const start = spec.ordinals?.start ?? 0;
    const end = start + (spec.replicas ?? 1);
    const parallel = spec.podManagementPolicy === "Parallel";
    for (let ordinal = start; ordinal < end; ordinal++) {
      const pod = pods.get(ordinal);
      if (!pod) {
        this.#createPod(sts, ordinal, revision);
        if (parallel) continue;
        return;
      }
      if (pod.metadata.deletionTimestamp) {
        if (parallel) continue;
        return;
      }
      const phase = (pod.status as { phase?: string } | undefined)?.phase;
      if (phase === "Failed" || phase === "Succeeded") {
        this.#deletePod(pod);
        if (parallel) continue;
        return;
      }
      this.#ensureClaims(sts, ordinal);
      if (!parallel && !isRunningAndReady(pod)) return;
    }
    const condemned = [...pods].filter(([ordinal]) => ordinal < start || ordinal >= end)
      .sort((a, b) => b[0] - a[0]);
    for (const [ordinal, pod] of condemned) {
      if (!pod.metadata.deletionTimestamp) {
        if (spec.persistentVolumeClaimRetentionPolicy?.whenScaled === "Delete") {
          this.#handClaimsToPod(sts, ordinal, pod);
        }
        this.#deletePod(pod);
      }
      if (!parallel) return;
    }
    if (condemned.length > 0 || spec.updateStrategy?.type === "OnDelete") return;
    this.#rollingUpdate(spec, pods, start, end, revision);
  }

  /** Replaces one outdated pod, highest ordinal first, once every pod is Running and Ready. */
  #rollingUpdate(
    spec: StatefulSetSpec,
    pods: Map<number, KubeObject>,
    start: number,
    end: number,
    revision: string,
  ): void {
    for (let ordinal = start; ordinal < end; ordinal++) {
      const pod = pods.get(ordinal);
      if (!pod || pod.metadata.deletionTimestamp || !isRunningAndReady(pod)) return;
    }
    const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    for (let ordinal = end - 1; ordinal >= start + partition; ordinal--) {
      const pod = pods.get(ordinal)!;
      if (pod.metadata.labels?.[REVISION_LABEL] !== revision) {
        this.#deletePod(pod);
        return;
      }
    }
  }

  #createPod(sts: KubeObject, ordinal: number, revision: string): void {
    const namespace = sts.metadata.namespace ?? "default";
    const name = `${sts.metadata.name}-${ordinal}`;
    const existing = this.#server.peek(POD, name, namespace);
    if (existing) {
      this.#adopt(sts, existing);
      return;
    }
    if (!this.#ensureClaims(sts, ordinal)) return;
    this.#server.create(buildPod(sts, ordinal, revision));
  }

  /**
   * Adopts every orphan pod of its name pattern that matches the selector, beyond the replicas too
   * (the real controller claims them all, then deletes the condemned ones).
   */
  #adoptOrphans(sts: KubeObject): void {
    if (sts.metadata.deletionTimestamp) return;
    for (const pod of this.#server.peekList(POD, sts.metadata.namespace ?? "default")) {
      if (ordinalOf(pod.metadata.name, sts.metadata.name) === undefined) continue;
      if (!controllerOf(pod)) this.#adopt(sts, pod);
    }
  }

  /** Adopts an orphan pod that matches the selector; a pod another owner controls is left. */
  #adopt(sts: KubeObject, pod: KubeObject): void {
    if (controllerOf(pod) || pod.metadata.deletionTimestamp) return;
    const selector = (sts.spec as StatefulSetSpec).selector?.matchLabels ?? {};
    if (!matchesLabels(pod, selector)) return;
    const ownerReferences = [...(pod.metadata.ownerReferences ?? []), controllerReference(sts)];
    this.#server.update({ ...pod, metadata: { ...pod.metadata, ownerReferences } });
  }

  /**
   * Creates the missing claims of one ordinal and keeps their owner reference to the StatefulSet
   * in line with `whenDeleted`. False when a claim is terminating: the pod must wait for it.
   */
  #ensureClaims(sts: KubeObject, ordinal: number): boolean {
    const spec = sts.spec as StatefulSetSpec;
    const namespace = sts.metadata.namespace ?? "default";
    const owned = spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === "Delete";
    let ready = true;
    for (const template of spec.volumeClaimTemplates ?? []) {
      const name = claimName(template, sts, ordinal);
      const claim = this.#server.peek(PVC, name, namespace);
      if (!claim) {
        this.#server.create(buildClaim(sts, template, name, owned));
      } else if (claim.metadata.deletionTimestamp) {
        this.#claimWaiters.set(objectKey(claim.metadata), objectKey(sts.metadata));
        ready = false;
      } else {
        const refs = claim.metadata.ownerReferences ?? [];
        const hasRef = refs.some((ref) => ref.uid === sts.metadata.uid);
        if (owned === hasRef) continue;
        const ownerReferences = owned
          ? [...refs, controllerReference(sts)]
          : refs.filter((ref) => ref.uid !== sts.metadata.uid);
        this.#server.update({ ...claim, metadata: { ...claim.metadata, ownerReferences } });
      }
    }
    return ready;
  }

  /** With `whenScaled: Delete`, a condemned pod's claims become the pod's, so they go with it. */
  #handClaimsToPod(sts: KubeObject, ordinal: number, pod: KubeObject): void {
    const spec = sts.spec as StatefulSetSpec;
    const podRef: OwnerReference = {
      apiVersion: "v1",
      kind: "Pod",
      name: pod.metadata.name,
      uid: pod.metadata.uid ?? "",
    };
    for (const template of spec.volumeClaimTemplates ?? []) {
      const claim = this.#server.peek(
        PVC,
        claimName(template, sts, ordinal),
        pod.metadata.namespace,
      );
      if (!claim || claim.metadata.deletionTimestamp) continue;
      const refs = claim.metadata.ownerReferences ?? [];
      if (refs.length === 1 && refs[0]!.uid === podRef.uid) continue;
      this.#server.update({ ...claim, metadata: { ...claim.metadata, ownerReferences: [podRef] } });
    }
  }

  #deletePod(pod: KubeObject): void {
    this.#server.delete(POD, pod.metadata.name, pod.metadata.namespace, {
      uid: pod.metadata.uid ?? "",
    });
  }

  #writeStatus(sts: KubeObject, revision: string): void {
    const pods = [...this.#pods(sts).values()];
    const { status, availableInMs } = statefulSetStatus(sts, pods, revision, this.#clock.nowMs());
    for (const waitMs of availableInMs) {
      this.#clock.setTimer(waitMs, () => this.#mark(objectKey(sts.metadata)));
    }
    const patch = statusPatch((sts.status ?? {}) as Record<string, unknown>, status);
    if (patch === undefined) return;
    this.#server.patchStatus(
      { ...STS, name: sts.metadata.name, namespace: sts.metadata.namespace },
      patch,
    );
  }
}
