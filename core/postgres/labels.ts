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
