/**
 * The labels of everything the operator creates, from one place.
 *
 * @module
 */

import type { ValidSpec } from "./types.ts";

/** The `app.kubernetes.io/managed-by` value, and the field manager of the operator's writes. */
export const MANAGER = "postgres-operator";

/** The labels that select one PostgresDB's pods; they never change for the object's life. */
export function selectorLabels(name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "postgres",
    "app.kubernetes.io/instance": name,
  };
}

/** The labels on every child: the selector labels plus component, manager and version. */
export function commonLabels(name: string, spec: ValidSpec): Record<string, string> {
  return {
    ...selectorLabels(name),
    "app.kubernetes.io/component": "database",
    "app.kubernetes.io/managed-by": MANAGER,
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
export function sourceGeneration(child: { metadata: { annotations?: Record<string, string> } }) {
  const text = child.metadata.annotations?.[SOURCE_GENERATION];
  const n = text === undefined ? NaN : Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
