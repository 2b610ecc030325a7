/**
 * Names and addresses derived from a PostgresDB.
 *
 * @module
 */

import { POSTGRES_PORT } from "./types.ts";

const CREDENTIALS_SUFFIX = "-credentials";

/** The credentials Secret's name. */
export function secretName(name: string): string {
  return `${name}${CREDENTIALS_SUFFIX}`;
}

/**
 * The PostgresDB whose credentials Secret would have this name (the inverse of
 * {@link secretName}), or undefined for a name no PostgresDB's Secret has.
 *
 * @example
 * ```ts
 * import { ownerOfCredentialsSecret } from "./naming.ts";
 * console.assert(ownerOfCredentialsSecret("db-credentials") === "db");
 * console.assert(ownerOfCredentialsSecret("-credentials") === undefined);
 * ```
 */
export function ownerOfCredentialsSecret(name: string): string | undefined {
  if (name.length <= CREDENTIALS_SUFFIX.length || !name.endsWith(CREDENTIALS_SUFFIX)) {
    return undefined;
  }
  return name.slice(0, -CREDENTIALS_SUFFIX.length);
}

/** The cluster DNS name of the headless Service. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

/** The connection string shown in status: no password, ever. */
export function connectionString(name: string, namespace: string, databaseName: string): string {
  return `postgresql://${serviceHost(name, namespace)}:${POSTGRES_PORT}/${databaseName}`;
}

/** The read-write Service `<name>-rw`: it selects the pod labelled primary. */
export function readWriteServiceName(name: string): string {
  return `${name}-rw`;
}

/** The read-only Service `<name>-ro`: it selects the pods labelled standby. */
export function readOnlyServiceName(name: string): string {
  return `${name}-ro`;
}

/** The instance agent's ServiceAccount, Role and RoleBinding: `<name>-instance`. */
export function instanceAccountName(name: string): string {
  return `${name}-instance`;
}

/** The pod of one instance: `<name>-<ordinal>` (a StatefulSet's naming). */
export function podName(name: string, ordinal: number): string {
  return `${name}-${ordinal}`;
}

/**
 * The ordinal of an instance's pod, or undefined for a name that is not `<name>-<ordinal>`.
 *
 * @example
 * ```ts
 * import { podOrdinal } from "./naming.ts";
 * console.assert(podOrdinal("db", "db-2") === 2);
 * console.assert(podOrdinal("db", "db-rw") === undefined);
 * ```
 */
export function podOrdinal(name: string, pod: string): number | undefined {
  if (!pod.startsWith(`${name}-`)) return undefined;
  const text = pod.slice(name.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(text) ? Number(text) : undefined;
}
