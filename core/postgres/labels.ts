/**
 * The labels of everything the operator creates, from one place.
 *
 * @module
 */

import type { ValidSpec } from "./types.ts";

/** The `app.kubernetes.io/managed-by` value, and the field manager of the operator's writes. */
export const MANAGER = "postgres-operator";

/** The label that names who manages an object; the operator's own carry {@link MANAGER}. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";

/** The label that names the PostgresDB an object belongs to. */
const INSTANCE_LABEL = "app.kubernetes.io/instance";

/** The labels that select one PostgresDB's pods; they never change for the object's life. */
export function selectorLabels(name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "postgres",
    [INSTANCE_LABEL]: name,
  };
}

/**
 * The name of the PostgresDB whose StatefulSet claimed a volume with these labels (a PVC carries
 * the pods' {@link selectorLabels}), or undefined for a volume that is not a PostgresDB's.
 *
 * @example
 * ```ts
 * import { instanceOfVolume, selectorLabels } from "./labels.ts";
 * console.assert(instanceOfVolume(selectorLabels("db")) === "db");
 * console.assert(instanceOfVolume({ "app.kubernetes.io/instance": "db" }) === undefined);
 * ```
 */
export function instanceOfVolume(labels: Record<string, string> | undefined): string | undefined {
  const name = labels?.[INSTANCE_LABEL];
  if (!name) return undefined;
  const selects = Object.entries(selectorLabels(name)).every(([k, v]) => labels?.[k] === v);
  return selects ? name : undefined;
}

/** The labels that bring an object into the operator's caches: {@link MANAGED_BY_LABEL}. */
export function managedByLabels(): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGER };
}

/** The labels on every child: the selector labels plus component, manager and version. */
export function commonLabels(name: string, spec: ValidSpec): Record<string, string> {
  return {
    ...selectorLabels(name),
    "app.kubernetes.io/component": "database",
    [MANAGED_BY_LABEL]: MANAGER,
    "app.kubernetes.io/version": spec.version,
  };
}

/**
 * The annotation that records which PostgresDB generation a child was last written for. A view in
 * which the PostgresDB is older than that is stale (a lagging cache, a restart that listed from
 * a behind server): acting on it would move the child back in time, so the operator waits.
 */
export const SOURCE_GENERATION = "database.thegeekyway.com/source-generation";

/** The annotations of a child written for `generation`. */
export function childAnnotations(generation: number | undefined): Record<string, string> {
  return { [SOURCE_GENERATION]: String(generation ?? 0) };
}

/** The generation recorded on a child, or undefined. */
export function sourceGeneration(
  child: { metadata: { annotations?: Record<string, string> } },
): number | undefined {
  const text = child.metadata.annotations?.[SOURCE_GENERATION];
  const n = text === undefined ? NaN : Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
