/**
 * Names and addresses derived from a PostgresDB.
 *
 * @module
 */

import { POSTGRES_PORT } from "./types.ts";

/** The credentials Secret's name. */
export function secretName(name: string): string {
  return `${name}-credentials`;
}

/** The cluster DNS name of the headless Service. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

/** The connection string shown in status: no password, ever. */
export function connectionString(name: string, namespace: string, databaseName: string): string {
  return `postgresql://${serviceHost(name, namespace)}:${POSTGRES_PORT}/${databaseName}`;
}
