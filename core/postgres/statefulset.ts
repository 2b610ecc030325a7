/**
 * The StatefulSet that runs PostgreSQL: one pod and one PVC per instance.
 *
 * @module
 */

import { controllerReference, type KubeObject } from "../object.ts";
import { childAnnotations, commonLabels, selectorLabels } from "./labels.ts";
import { secretName } from "./naming.ts";
import { POSTGRES_PORT, type PostgresDB, type ValidSpec } from "./types.ts";
import { DATA_MAJOR, versionMajor } from "./version.ts";

/** Where the data volume is mounted. */
export const DATA_MOUNT = "/var/lib/postgresql/data";

/**
 * PGDATA is a subdirectory of the volume: a fresh volume's root may hold `lost+found`, which
 * initdb refuses, and the subdirectory is created by the postgres user with the right mode.
 */
export const PGDATA = `${DATA_MOUNT}/pgdata`;

/** The uid and gid of the postgres user in the official Debian-based image. */
export const POSTGRES_UID = 999;

/** The name of the volume claim template: PVCs are `data-<name>-<ordinal>`. */
export const DATA_CLAIM = "data";

/** `pg_isready` against the local server over TCP, which fails while initdb runs on a socket. */
const PG_ISREADY = ["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)];

/**
 * Liveness passes while the postmaster answers at all: pg_isready exits 1 ("rejecting
 * connections") during crash recovery and 2 only when nothing answers. Killing a primary that is
 * replaying WAL would restart the recovery from the beginning, forever.
 */
const LIVENESS = [
  "sh",
  "-c",
  `${PG_ISREADY.join(" ")} -q; test $? -ne 2`,
];

function secretEnv(name: string, secret: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Builds the StatefulSet `<name>`. */
export function buildStatefulSet(db: PostgresDB, spec: ValidSpec): KubeObject {
  const name = db.metadata.name;
  const secret = secretName(name);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name,
      namespace: db.metadata.namespace ?? "default",
      labels: commonLabels(name, spec),
      annotations: childAnnotations(db.metadata.generation),
      ownerReferences: [controllerReference(db)],
    },
    spec: {
      replicas: spec.replicas,
      serviceName: name,
      podManagementPolicy: "OrderedReady",
      selector: { matchLabels: selectorLabels(name) },
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: spec.deletionPolicy,
        whenScaled: "Retain",
      },
      template: buildPodTemplate(name, spec, secret),
      volumeClaimTemplates: [buildClaimTemplate(spec)],
    },
  };
}

function buildPodTemplate(name: string, spec: ValidSpec, secret: string) {
  return {
    metadata: { labels: commonLabels(name, spec) },
    spec: {
      terminationGracePeriodSeconds: 60,
      securityContext: {
        runAsUser: POSTGRES_UID,
        runAsGroup: POSTGRES_UID,
        fsGroup: POSTGRES_UID,
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [{
        name: "postgres",
        image: `postgres:${spec.version}`,
        imagePullPolicy: "IfNotPresent",
        ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
        env: [
          secretEnv("POSTGRES_USER", secret, "username"),
          secretEnv("POSTGRES_PASSWORD", secret, "password"),
          secretEnv("POSTGRES_DB", secret, "database"),
          { name: "PGDATA", value: PGDATA },
        ],
        resources: { requests: { cpu: "100m", memory: "256Mi" } },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        },
        // initdb and crash recovery may take long: the startup probe allows an hour before
        // liveness takes over.
        startupProbe: {
          exec: { command: PG_ISREADY },
          periodSeconds: 5,
          timeoutSeconds: 5,
          failureThreshold: 720,
        },
        readinessProbe: {
          exec: { command: PG_ISREADY },
          periodSeconds: 5,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
        livenessProbe: {
          exec: { command: LIVENESS },
          periodSeconds: 10,
          timeoutSeconds: 5,
          failureThreshold: 6,
        },
        volumeMounts: [
          { name: DATA_CLAIM, mountPath: DATA_MOUNT },
          { name: "dshm", mountPath: "/dev/shm" },
        ],
      }],
      // The container runtime's default 64 MiB /dev/shm is too small for parallel queries.
      volumes: [{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "256Mi" } }],
    },
  };
}

/**
 * The data claim template. Its annotation records the major the volumes are initialised with;
 * the StatefulSet controller copies it onto each PVC, where it stays with the data.
 */
function buildClaimTemplate(spec: ValidSpec) {
  return {
    metadata: {
      name: DATA_CLAIM,
      annotations: { [DATA_MAJOR]: String(versionMajor(spec.version) ?? "") },
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: spec.storage } },
    },
  };
}

/** The storage request of an observed StatefulSet's data claim template, if it has one. */
export function observedStorage(statefulSet: KubeObject): string | undefined {
  const spec = statefulSet.spec as
    | { volumeClaimTemplates?: { metadata?: { name?: string }; spec?: unknown }[] }
    | undefined;
  const claim = spec?.volumeClaimTemplates?.find((t) => t.metadata?.name === DATA_CLAIM);
  const requests = (claim?.spec as { resources?: { requests?: { storage?: unknown } } } | undefined)
    ?.resources?.requests;
  return typeof requests?.storage === "string" ? requests.storage : undefined;
}
