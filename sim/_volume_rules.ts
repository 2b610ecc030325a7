/**
 * The API server's rules for a PersistentVolumeClaim update, as the real validation and the
 * `PersistentVolumeClaimResize` admission plugin apply them: a bound claim's spec may change only
 * in `resources.requests`; its storage request may not fall to or below `status.capacity`
 * (recovering from a failed expansion may lower it above the capacity); a larger request is
 * forbidden unless the claim's StorageClass has `allowVolumeExpansion: true`. An unbound claim's
 * spec is immutable.
 *
 * @module
 */

import { ApiError } from "../core/cluster.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import { parseQuantity } from "../core/quantity.ts";
import { deepEqual, isRecord, type JsonRecord } from "./_json.ts";
import { invalid } from "./_builtin_rules.ts";
import type { ResourceType } from "./resource_types.ts";

/** The StorageClass kind (cluster-scoped). */
export const STORAGE_CLASS: TypeRef = { apiVersion: "storage.k8s.io/v1", kind: "StorageClass" };

/** Reads a stored cluster-scoped object by name. */
export type ClusterLookup = (type: TypeRef, name: string) => KubeObject | undefined;

/** Validates an update of a PersistentVolumeClaim; throws the real server's error. */
export function validateClaimUpdate(
  type: ResourceType,
  next: KubeObject,
  old: KubeObject,
  lookup: ClusterLookup,
): void {
  const name = next.metadata.name;
  const nextSpec = isRecord(next.spec) ? next.spec : {};
  const oldSpec = isRecord(old.spec) ? old.spec : {};
  // The volume binder fills volumeName once: that is not the user's change.
  const comparable = (spec: JsonRecord) => {
    const { resources: _r, volumeName: _v, ...rest } = spec;
    return rest;
  };
  const bound = (old.status as { phase?: string } | undefined)?.phase === "Bound";
  const newSize = storageOf(nextSpec);
  const oldSize = storageOf(oldSpec);
  const resized = newSize !== oldSize;
  if (!deepEqual(comparable(nextSpec), comparable(oldSpec)) || (resized && !bound)) {
    throw invalid(
      type,
      name,
      "spec: Forbidden: spec is immutable after creation except resources.requests and " +
        "volumeAttributesClassName for bound claims",
    );
  }
  if (!resized) return;
  const capacityText = (old.status as { capacity?: { storage?: string } } | undefined)?.capacity
    ?.storage;
  const size = bytes(newSize);
  if (size < bytes(oldSize) && size <= bytes(capacityText ?? oldSize)) {
    throw invalid(
      type,
      name,
      "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity",
    );
  }
  if (size <= bytes(oldSize)) return;
  const className = typeof oldSpec.storageClassName === "string" ? oldSpec.storageClassName : "";
  const storageClass = className === "" ? undefined : lookup(STORAGE_CLASS, className);
  if (storageClass?.allowVolumeExpansion !== true) {
    throw new ApiError(
      "Forbidden",
      `persistentvolumeclaims "${name}" is forbidden: only dynamically provisioned pvc can be ` +
        "resized and the storageclass that provisions the pvc must support resize",
    );
  }
}

function storageOf(spec: JsonRecord): string | undefined {
  const resources = isRecord(spec.resources) ? spec.resources : {};
  const requests = isRecord(resources.requests) ? resources.requests : {};
  return typeof requests.storage === "string" ? requests.storage : undefined;
}

function bytes(text: string | undefined): number {
  if (text === undefined) return 0;
  const parsed = parseQuantity(text);
  return parsed.ok ? parsed.value : 0;
}
