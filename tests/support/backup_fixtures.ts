/**
 * Fixtures of the backup suites in the simulation (the scenario tests and the fault campaign): a
 * source PostgresDB `src`, PostgresBackups of it to an in-memory store, and the store's Secret.
 *
 * @module
 */

import type { KubeObject } from "../../core/object.ts";
import { POSTGRESBACKUP } from "../../core/backup/types.ts";
import { POSTGRESDB } from "../../core/postgres/types.ts";

/** The simulated store's endpoint. */
export const STORE_URL = "http://s3.sim:9000";

/** A PostgresDB in `default`, restored from the PostgresBackup `restoreFrom` when given. */
export function postgresDB(name: string, replicas: number, restoreFrom?: string): KubeObject {
  return {
    ...POSTGRESDB,
    metadata: { name, namespace: "default" },
    spec: {
      version: "16",
      storage: "1Gi",
      replicas,
      databaseName: "app",
      ...(restoreFrom ? { restoreFrom: { backup: restoreFrom } } : {}),
    },
  };
}

/** A PostgresBackup of `src` to the bucket `backups` of {@link STORE_URL}, with spec overrides. */
export function postgresBackup(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    ...POSTGRESBACKUP,
    metadata: { name, namespace: "default" },
    spec: {
      postgresRef: "src",
      destination: "s3://backups/pg/",
      endpoint: STORE_URL,
      credentialsSecret: "store",
      ...extra,
    },
  };
}

/** The store's credentials Secret `store` (access key `AKID`, secret `SECRET`). */
export const STORE_SECRET: KubeObject = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "store", namespace: "default" },
  stringData: { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "SECRET" },
};
