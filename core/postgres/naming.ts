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
