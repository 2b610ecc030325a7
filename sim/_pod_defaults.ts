/**
 * The defaults a real API server gives a pod spec (in a Pod and in a StatefulSet's template), and
 * what its admission plugins add to a Pod (ServiceAccount, DefaultTolerationSeconds, Priority).
 * Measured against the real node (tests/realnode/fidelity_test.ts): without them a controller that
 * compares a template it built with the one it reads back would see a difference on a real server
 * that the simulation never shows.
 *
 * @module
 */

import type { KubeObject } from "../core/object.ts";
import { isRecord, type JsonRecord } from "./_json.ts";

const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;

/** Defaults of `PodSpec`, as the apiserver's `SetDefaults_PodSpec` and friends give them. */
export function defaultPodSpec(spec: JsonRecord): void {
  spec.dnsPolicy ??= "ClusterFirst";
  spec.restartPolicy ??= "Always";
  spec.schedulerName ??= "default-scheduler";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  // The deprecated alias, kept in step by the API server's conversion of every PodSpec.
  if (spec.serviceAccountName !== undefined) spec.serviceAccount ??= spec.serviceAccountName;
  for (const key of ["initContainers", "containers"]) {
    const containers = spec[key];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (isRecord(container)) defaultContainer(container);
    }
  }
}

function defaultContainer(container: JsonRecord): void {
  container.terminationMessagePath ??= "/dev/termination-log";
  container.terminationMessagePolicy ??= "File";
  if (container.imagePullPolicy === undefined) {
    const image = String(container.image ?? "");
    container.imagePullPolicy = image.endsWith(":latest") || !/:[^/]+$/.test(image)
      ? "Always"
      : "IfNotPresent";
  }
  for (const name of PROBES) {
    const probe = container[name];
    if (!isRecord(probe)) continue;
    probe.timeoutSeconds ??= 1;
    probe.periodSeconds ??= 10;
    probe.successThreshold ??= 1;
    probe.failureThreshold ??= 3;
    if (isRecord(probe.httpGet)) probe.httpGet.scheme ??= "HTTP";
  }
  if (Array.isArray(container.env)) {
    for (const variable of container.env) {
      const fieldRef = isRecord(variable) && isRecord(variable.valueFrom)
        ? variable.valueFrom.fieldRef
        : undefined;
      if (isRecord(fieldRef)) fieldRef.apiVersion ??= "v1";
    }
  }
  if (Array.isArray(container.ports)) {
    for (const port of container.ports) if (isRecord(port)) port.protocol ??= "TCP";
  }
}

/**
 * A new Pod as admission leaves it: the `default` ServiceAccount and its token volume, the two
 * default tolerations of five minutes, priority 0; `metadata.generation` starts at 1 and an update
 * keeps it.
 */
export function defaultPod(pod: KubeObject, old: KubeObject | undefined): void {
  const spec = isRecord(pod.spec) ? pod.spec : (pod.spec = {});
  defaultPodSpec(spec);
  if (old !== undefined) {
    // Server-managed: an update that leaves it out keeps it (a Pod's spec barely changes).
    pod.metadata.generation = old.metadata.generation ?? 1;
    return;
  }
  pod.metadata.generation ??= 1;
  spec.serviceAccountName ??= "default";
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  const tolerations = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    if (!tolerations.some((t) => isRecord(t) && t.key === key)) {
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
  }
  spec.tolerations = tolerations;
  if (spec.automountServiceAccountToken !== false) addTokenVolume(spec);
}

/** The ServiceAccount admission plugin's projected `kube-api-access-*` volume and its mounts. */
function addTokenVolume(spec: JsonRecord): void {
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  if (volumes.some((v) => isRecord(v) && String(v.name).startsWith("kube-api-access-"))) return;
  const name = "kube-api-access-sim00";
  volumes.push({
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        {
          downwardAPI: {
            items: [{
              path: "namespace",
              fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" },
            }],
          },
        },
      ],
    },
  });
  spec.volumes = volumes;
  for (const key of ["initContainers", "containers"]) {
    const containers = spec[key];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (!isRecord(container)) continue;
      const mounts = Array.isArray(container.volumeMounts) ? container.volumeMounts : [];
      mounts.push({
        name,
        readOnly: true,
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
      });
      container.volumeMounts = mounts;
    }
  }
}

/** A StatefulSet's claim templates as the server stores them. */
export function defaultClaimTemplates(spec: JsonRecord): void {
  const templates = spec.volumeClaimTemplates;
  if (!Array.isArray(templates)) return;
  for (const template of templates) {
    if (!isRecord(template)) continue;
    template.apiVersion ??= "v1";
    template.kind ??= "PersistentVolumeClaim";
    const claimSpec = isRecord(template.spec) ? template.spec : (template.spec = {});
    claimSpec.volumeMode ??= "Filesystem";
    const status = isRecord(template.status) ? template.status : (template.status = {});
    status.phase ??= "Pending";
  }
}
