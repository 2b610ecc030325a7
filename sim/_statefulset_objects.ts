/**
 * The objects the simulated StatefulSet controller writes, computed purely from the StatefulSet
 * and its pods: pods, claims, the revision of a template, and the status. The loop that decides
 * when to write them is in `statefulset_controller.ts`.
 *
 * @module
 */

import { fromTimestamp } from "../core/clock.ts";
import { controllerReference, type KubeObject } from "../core/object.ts";
import { canonicalJson, deepClone, deepEqual, fnv1a32 } from "./_json.ts";
import { isPodReady, podReadySince } from "./pod_lifecycle.ts";

/** The pod label that names the revision a pod was made from. */
export const REVISION_LABEL = "controller-revision-hash";

/** A volume claim template, as much of it as the controller reads. */
export interface ClaimTemplate {
  /** The template's name (the claim's prefix), labels and annotations. */
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  /** The claim's spec, copied as it is. */
  spec?: Record<string, unknown>;
}

/** A StatefulSet spec, as much of it as the controller reads. */
export interface StatefulSetSpec {
  /** Instances wanted. @default 1 */
  replicas?: number;
  /** The governing Service: the pods' subdomain. */
  serviceName?: string;
  /** The labels that select the pods (and label the claims). */
  selector?: { matchLabels?: Record<string, string> };
  /** The pod template. */
  template?: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: Record<string, unknown>;
  };
  /** One claim per template and ordinal, made before the pod. */
  volumeClaimTemplates?: ClaimTemplate[];
  /** `OrderedReady` (the default) or `Parallel`. */
  podManagementPolicy?: string;
  /** `RollingUpdate` (with a partition) or `OnDelete`. */
  updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  /** Whether claims go with the StatefulSet (`whenDeleted`) or with a scale-down (`whenScaled`). */
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string };
  /** How long a Ready pod waits before it counts as available. @default 0 */
  minReadySeconds?: number;
  /** The first ordinal. @default 0 */
  ordinals?: { start?: number };
}

/**
 * The name of the revision a StatefulSet's template defines: `<name>-<hash of the template>`.
 * Pods carry it in their `controller-revision-hash` label.
 */
export function statefulSetRevision(sts: KubeObject): string {
  const spec = (sts.spec ?? {}) as StatefulSetSpec;
  const hash = fnv1a32(canonicalJson(spec.template ?? {})).toString(16).padStart(8, "0");
  return `${sts.metadata.name}-${hash}`;
}

/** True when the pod is Running and Ready: OrderedReady waits for this. */
export function isRunningAndReady(pod: KubeObject): boolean {
  return (pod.status as { phase?: string } | undefined)?.phase === "Running" && isPodReady(pod);
}

/** The ordinal in a pod name `<sts>-<ordinal>`, or undefined when the name is not one. */
export function ordinalOf(podName: string, stsName: string): number | undefined {
  if (!podName.startsWith(`${stsName}-`)) return undefined;
  const suffix = podName.slice(stsName.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(suffix) ? Number(suffix) : undefined;
}

/** The claim of one ordinal: `<template>-<sts>-<ordinal>`. */
export function claimName(template: ClaimTemplate, sts: KubeObject, ordinal: number): string {
  return `${template.metadata?.name ?? ""}-${sts.metadata.name}-${ordinal}`;
}

/** The claim of one template, labelled with the selector; owned when `whenDeleted` is Delete. */
export function buildClaim(
  sts: KubeObject,
  template: ClaimTemplate,
  name: string,
  owned: boolean,
): KubeObject {
  const spec = sts.spec as StatefulSetSpec;
  const claim: KubeObject = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: sts.metadata.namespace ?? "default",
      labels: { ...template.metadata?.labels, ...spec.selector?.matchLabels },
    },
    spec: deepClone(template.spec ?? {}),
  };
  if (template.metadata?.annotations) {
    claim.metadata.annotations = { ...template.metadata.annotations };
  }
  if (owned) claim.metadata.ownerReferences = [controllerReference(sts)];
  return claim;
}

/** The pod of one ordinal, as the real controller builds it from the template. */
export function buildPod(sts: KubeObject, ordinal: number, revision: string): KubeObject {
  const spec = sts.spec as StatefulSetSpec;
  const template = spec.template ?? {};
  const name = `${sts.metadata.name}-${ordinal}`;
  const podSpec = deepClone(template.spec ?? {}) as Record<string, unknown> & {
    volumes?: { name: string }[];
  };
  const claims = (spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? "");
  const volumes: { name: string; [field: string]: unknown }[] = claims.map((claim) => ({
    name: claim,
    persistentVolumeClaim: { claimName: `${claim}-${sts.metadata.name}-${ordinal}` },
  }));
  for (const volume of podSpec.volumes ?? []) {
    if (!claims.includes(volume.name)) volumes.push(volume);
  }
  if (volumes.length > 0) podSpec.volumes = volumes;
  podSpec.hostname = name;
  if (spec.serviceName) podSpec.subdomain = spec.serviceName;
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      // As the real controller sets it (the name is given, so it is not used to make one).
      generateName: `${sts.metadata.name}-`,
      namespace: sts.metadata.namespace ?? "default",
      labels: {
        ...template.metadata?.labels,
        [REVISION_LABEL]: revision,
        "statefulset.kubernetes.io/pod-name": name,
        "apps.kubernetes.io/pod-index": String(ordinal),
      },
      ownerReferences: [controllerReference(sts)],
    },
    spec: podSpec,
  };
  if (template.metadata?.annotations) {
    pod.metadata.annotations = { ...template.metadata.annotations };
  }
  return pod;
}

/** A StatefulSet's status from its pods, and when pods still waiting for `minReadySeconds` count. */
export interface ComputedStatus {
  /** The status the real API would show (zero counters omitted). */
  status: Record<string, unknown>;
  /** For each Ready pod not yet available: how long until it is, to look again then. */
  availableInMs: number[];
}

/**
 * The status of a StatefulSet with these pods (terminating ones skipped) at `nowMs`: counts by
 * revision, readiness and availability, and the current revision once the update is complete.
 */
export function statefulSetStatus(
  sts: KubeObject,
  pods: readonly KubeObject[],
  revision: string,
  nowMs: number,
): ComputedStatus {
  const spec = sts.spec as StatefulSetSpec;
  const old = (sts.status ?? {}) as Record<string, unknown>;
  const currentRevision = typeof old.currentRevision === "string" ? old.currentRevision : revision;
  const minReadyMs = (spec.minReadySeconds ?? 0) * 1000;
  const availableInMs: number[] = [];
  let replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    replicas++;
    const hash = pod.metadata.labels?.[REVISION_LABEL];
    if (hash === currentRevision) current++;
    if (hash === revision) updated++;
    if (!isPodReady(pod)) continue;
    ready++;
    const sinceMs = fromTimestamp(podReadySince(pod) ?? "");
    const waitMs = Number.isNaN(sinceMs) ? 0 : sinceMs + minReadyMs - nowMs;
    if (minReadyMs === 0 || waitMs <= 0) available++;
    else availableInMs.push(waitMs);
  }
  const complete = updated === replicas && ready === replicas;
  const status: Record<string, unknown> = {
    observedGeneration: sts.metadata.generation ?? 1,
    replicas,
    readyReplicas: ready,
    currentReplicas: complete ? updated : current,
    updatedReplicas: updated,
    availableReplicas: available,
    currentRevision: complete ? revision : currentRevision,
    updateRevision: revision,
    collisionCount: 0,
  };
  // The real API omits these counters when they are zero.
  for (const key of ["readyReplicas", "currentReplicas", "updatedReplicas"]) {
    if (status[key] === 0) delete status[key];
  }
  return { status, availableInMs };
}

/**
 * The merge patch from the stored status to `status` (a removed key patched to null), or
 * undefined when they are equal: a status is written only when it changes.
 */
export function statusPatch(
  old: Record<string, unknown>,
  status: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (deepEqual(status, old)) return undefined;
  const patch: Record<string, unknown> = { ...status };
  for (const key of Object.keys(old)) if (!(key in status)) patch[key] = null;
  return patch;
}
