/**
 * Kind-specific behaviour of the simulated API server: defaulting (Secret `stringData`, Service
 * ports and cluster IPs, StatefulSet policies), initial status, and validation of writes
 * (immutable fields, owner references, finalizers on terminating objects).
 *
 * @module
 */

import { ApiError } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { base64Utf8, deepEqual, isRecord, type JsonRecord } from "./_json.ts";
import { defaultClaimTemplates, defaultPod, defaultPodSpec } from "./_pod_defaults.ts";
import { kindLabel, type ResourceType } from "./resource_types.ts";
import { type ClusterLookup, validateClaimUpdate } from "./_volume_rules.ts";

/** What defaulting needs from the server. */
export interface DefaultingContext {
  /** A fresh cluster IP for a Service. */
  allocateClusterIp(): string;
}

/** The StatefulSet spec fields an update may change; all others are immutable. */
const STS_MUTABLE = new Set([
  "replicas",
  "template",
  "updateStrategy",
  "ordinals",
  "revisionHistoryLimit",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
]);

function record(parent: JsonRecord, key: string): JsonRecord {
  const value = parent[key];
  if (isRecord(value)) return value;
  const fresh: JsonRecord = {};
  parent[key] = fresh;
  return fresh;
}

/** Fills the fields a real API server defaults; `object` is a fresh copy and is modified. */
export function applyDefaults(
  object: KubeObject,
  old: KubeObject | undefined,
  context: DefaultingContext,
): void {
  switch (`${object.apiVersion}/${object.kind}`) {
    case "v1/Secret":
      return defaultSecret(object);
    case "v1/Service":
      return defaultService(object, old, context);
    case "apps/v1/StatefulSet":
      return defaultStatefulSet(object);
    case "batch/v1/Job":
      return defaultJob(object, old);
    case "v1/Pod":
      return defaultPod(object, old);
    case "v1/PersistentVolumeClaim": {
      const spec = record(object, "spec");
      spec.volumeMode ??= "Filesystem";
      // The DefaultStorageClass admission plugin, on create: the simulation's default class.
      if (old === undefined) spec.storageClassName ??= "standard";
      return;
    }
    case "v1/Namespace": {
      const spec = record(object, "spec");
      spec.finalizers ??= ["kubernetes"];
      // The real server sets this label on every create and update of a Namespace.
      object.metadata.labels = {
        ...object.metadata.labels,
        "kubernetes.io/metadata.name": object.metadata.name,
      };
      return;
    }
  }
}

function defaultSecret(secret: KubeObject): void {
  secret.type ??= "Opaque";
  if (isRecord(secret.stringData)) {
    const data = record(secret, "data");
    for (const [key, value] of Object.entries(secret.stringData)) {
      data[key] = base64Utf8(String(value));
    }
  }
  delete secret.stringData;
}

function defaultService(
  service: KubeObject,
  old: KubeObject | undefined,
  context: DefaultingContext,
): void {
  const spec = record(service, "spec");
  spec.type ??= "ClusterIP";
  spec.sessionAffinity ??= "None";
  if (Array.isArray(spec.ports)) {
    for (const port of spec.ports) {
      if (!isRecord(port)) continue;
      port.protocol ??= "TCP";
      port.targetPort ??= port.port;
    }
  }
  if (spec.type === "ExternalName") return;
  const oldSpec = old && isRecord(old.spec) ? old.spec : {};
  // As the real registry does, an update that leaves clusterIP empty keeps the allocated one.
  if (spec.clusterIP === undefined || spec.clusterIP === "") {
    spec.clusterIP = typeof oldSpec.clusterIP === "string" && oldSpec.clusterIP !== ""
      ? oldSpec.clusterIP
      : context.allocateClusterIp();
  }
  spec.clusterIPs = [spec.clusterIP];
  spec.ipFamilies ??= ["IPv4"];
  spec.ipFamilyPolicy ??= "SingleStack";
  spec.internalTrafficPolicy ??= "Cluster";
}

function defaultStatefulSet(sts: KubeObject): void {
  const spec = record(sts, "spec");
  spec.replicas ??= 1;
  spec.podManagementPolicy ??= "OrderedReady";
  spec.revisionHistoryLimit ??= 10;
  const strategy = record(spec, "updateStrategy");
  strategy.type ??= "RollingUpdate";
  // The real server defaults the partition only inside a rollingUpdate the writer gave.
  if (strategy.type === "RollingUpdate" && isRecord(strategy.rollingUpdate)) {
    strategy.rollingUpdate.partition ??= 0;
  }
  const retention = record(spec, "persistentVolumeClaimRetentionPolicy");
  retention.whenDeleted ??= "Retain";
  retention.whenScaled ??= "Retain";
  const template = record(spec, "template");
  defaultPodSpec(record(template, "spec"));
  defaultClaimTemplates(spec);
}

/**
 * A Job's defaults, as the real server's strategy and `SetDefaults_Job` give them: one pod to one
 * completion, `backoffLimit: 6`, and on create (without `manualSelector`) a selector on the Job's
 * own uid whose labels the template gets, with the Job's name.
 */
function defaultJob(job: KubeObject, old: KubeObject | undefined): void {
  const spec = record(job, "spec");
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= "NonIndexed";
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= "TerminatingOrFailed";
  const template = record(spec, "template");
  const metadata = record(template, "metadata");
  if (spec.manualSelector === true) return defaultPodSpec(record(template, "spec"));
  // The selector and the template's labels are set once; an update that leaves them out keeps them.
  const oldSpec = old && isRecord(old.spec) ? old.spec : undefined;
  const uid = job.metadata.uid ?? "";
  const name = job.metadata.name;
  spec.selector ??= oldSpec?.selector ??
    { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
  metadata.labels = {
    ...(isRecord(metadata.labels) ? metadata.labels : {}),
    "batch.kubernetes.io/controller-uid": uid,
    "batch.kubernetes.io/job-name": name,
    "controller-uid": uid,
    "job-name": name,
  };
  defaultPodSpec(record(template, "spec"));
}

/** The status a new object starts with, for kinds whose status the server initialises. */
export function initialStatus(object: KubeObject): JsonRecord | undefined {
  switch (`${object.apiVersion}/${object.kind}`) {
    case "v1/Namespace":
      return { phase: "Active" };
    case "v1/Pod":
    case "v1/PersistentVolumeClaim":
      return { phase: "Pending" };
    case "v1/Service":
      return { loadBalancer: {} };
    case "apiextensions.k8s.io/v1/CustomResourceDefinition": {
      const spec = isRecord(object.spec) ? object.spec : {};
      return {
        acceptedNames: spec.names ?? {},
        conditions: [
          { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "" },
          { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "" },
        ],
      };
    }
  }
  return undefined;
}

/** An `Invalid` (422) error in the real server's words: `Kind "name" is invalid: detail`. */
export function invalid(type: ResourceType, name: string, detail: string): ApiError {
  return new ApiError("Invalid", `${kindLabel(type)} "${name}" is invalid: ${detail}`);
}

function goStrings(values: string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(", ")}}`;
}

/** Validates a create or an update of `next` (the old object is absent on create). */
export function validateWrite(
  type: ResourceType,
  next: KubeObject,
  old: KubeObject | undefined,
  lookup: ClusterLookup = () => undefined,
): void {
  const name = next.metadata.name;
  const refs = next.metadata.ownerReferences ?? [];
  for (const ref of refs) {
    if (!ref.uid) {
      throw invalid(
        type,
        name,
        `metadata.ownerReferences.uid: Invalid value: "": must not be empty`,
      );
    }
  }
  if (type.apiVersion === "v1" && type.kind === "Service") validateServicePorts(type, next);
  const controllers = refs.filter((ref) => ref.controller === true);
  if (controllers.length > 1) {
    // In the real server's words: the references (fields in Go's order), then the controllers.
    const shown = refs.map((ref) => {
      const out: JsonRecord = {};
      for (const key of ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"]) {
        const value = (ref as unknown as JsonRecord)[key];
        if (value !== undefined) out[key] = value;
      }
      return out;
    });
    const found = controllers.map((ref) => `${ref.kind}/${ref.name}`).join(" and ");
    throw invalid(
      type,
      name,
      `metadata.ownerReferences: Invalid value: ${
        JSON.stringify(shown)
      }: Only one reference can have Controller set to true. Found "true" in references for ${found}`,
    );
  }
  if (!old) return;
  if (old.metadata.deletionTimestamp) {
    const before = new Set(old.metadata.finalizers ?? []);
    const added = (next.metadata.finalizers ?? []).filter((f) => !before.has(f));
    if (added.length > 0) {
      throw invalid(
        type,
        name,
        `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${
          goStrings(added)
        }`,
      );
    }
  }
  validateImmutable(type, next, old);
  if (type.apiVersion === "v1" && type.kind === "PersistentVolumeClaim") {
    validateClaimUpdate(type, next, old, lookup);
  }
}

/**
 * Service ports, as the real server checks them: with more than one port every port needs a name,
 * names are unique, and so are port and protocol pairs.
 */
function validateServicePorts(type: ResourceType, service: KubeObject): void {
  const spec = isRecord(service.spec) ? service.spec : {};
  const ports = Array.isArray(spec.ports) ? spec.ports.filter(isRecord) : [];
  const names = new Set<unknown>();
  const keys = new Set<string>();
  ports.forEach((port, i) => {
    const name = service.metadata.name;
    if (ports.length > 1 && (port.name === undefined || port.name === "")) {
      throw invalid(type, name, `spec.ports[${i}].name: Required value`);
    }
    if (port.name !== undefined && port.name !== "") {
      if (names.has(port.name)) {
        throw invalid(
          type,
          name,
          `spec.ports[${i}].name: Duplicate value: ${JSON.stringify(port.name)}`,
        );
      }
      names.add(port.name);
    }
    const key = `${String(port.port)}/${String(port.protocol ?? "TCP")}`;
    if (keys.has(key)) {
      throw invalid(
        type,
        name,
        `spec.ports[${i}]: Duplicate value: core.ServicePort{Name:"", Protocol:${
          JSON.stringify(port.protocol ?? "TCP")
        }, AppProtocol:(*string)(nil), Port:${
          String(port.port)
        }, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
      );
    }
    keys.add(key);
  });
}

function validateImmutable(type: ResourceType, next: KubeObject, old: KubeObject): void {
  const name = next.metadata.name;
  switch (`${type.apiVersion}/${type.kind}`) {
    case "apps/v1/StatefulSet": {
      if (!deepEqual(withoutKeys(next.spec, STS_MUTABLE), withoutKeys(old.spec, STS_MUTABLE))) {
        throw invalid(
          type,
          name,
          "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
      }
      return;
    }
    case "v1/Service": {
      const was = isRecord(old.spec) ? old.spec.clusterIP : undefined;
      const now = isRecord(next.spec) ? next.spec.clusterIP : undefined;
      if (typeof was === "string" && was !== "" && now !== was) {
        throw invalid(
          type,
          name,
          `spec.clusterIPs[0]: Invalid value: ${
            JSON.stringify([now ?? ""])
          }: may not change once set`,
        );
      }
      return;
    }
    case "v1/Secret":
      if (next.type !== old.type) {
        throw invalid(
          type,
          name,
          `type: Invalid value: ${JSON.stringify(next.type)}: field is immutable`,
        );
      }
      return validateImmutableData(type, next, old, ["data"]);
    case "v1/ConfigMap":
      return validateImmutableData(type, next, old, ["data", "binaryData"]);
  }
}

function validateImmutableData(
  type: ResourceType,
  next: KubeObject,
  old: KubeObject,
  fields: string[],
): void {
  if (old.immutable !== true) return;
  const name = next.metadata.name;
  if (next.immutable !== true) {
    throw invalid(type, name, "immutable: Forbidden: field is immutable when `immutable` is set");
  }
  for (const field of fields) {
    if (!deepEqual(next[field], old[field])) {
      throw invalid(
        type,
        name,
        `${field}: Forbidden: field is immutable when \`immutable\` is set`,
      );
    }
  }
}

function withoutKeys(value: unknown, keys: Set<string>): JsonRecord {
  const out: JsonRecord = {};
  if (!isRecord(value)) return out;
  for (const [key, member] of Object.entries(value)) if (!keys.has(key)) out[key] = member;
  return out;
}
