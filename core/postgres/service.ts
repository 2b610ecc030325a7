/**
 * The headless Service that gives each instance a stable DNS name.
 *
 * @module
 */

import { controllerReference, type KubeObject } from "../object.ts";
import { commonLabels, selectorLabels } from "./labels.ts";
import { POSTGRES_PORT, type PostgresDB, type ValidSpec } from "./types.ts";

/** Builds the headless Service `<name>`: ClusterIP None, port 5432 named `postgres`. */
export function buildHeadlessService(db: PostgresDB, spec: ValidSpec): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: db.metadata.name,
      namespace: db.metadata.namespace ?? "default",
      labels: commonLabels(db.metadata.name, spec),
      ownerReferences: [controllerReference(db)],
    },
    spec: {
      clusterIP: "None",
      // Instances need DNS names before they are ready, for replication to bootstrap.
      publishNotReadyAddresses: true,
      selector: selectorLabels(db.metadata.name),
      ports: [{
        name: "postgres",
        port: POSTGRES_PORT,
        targetPort: POSTGRES_PORT,
        protocol: "TCP",
      }],
    },
  };
}
