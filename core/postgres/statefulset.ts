/**
 * The StatefulSet that runs PostgreSQL: one pod and one PVC per instance. Each pod runs the
 * instance agent (copied in by an init container from the operator's image), which runs
 * PostgreSQL as its child and reports on the pod; the probes ask the agent.
 *
 * @module
 */

import { controllerReference, type KubeObject } from "../object.ts";
import { childAnnotations, commonLabels, selectorLabels } from "./labels.ts";
import { instanceAccountName, secretName } from "./naming.ts";
import { AGENT_PORT, REPLICATION_PASSWORD_KEY } from "./replication.ts";
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

/**
 * The operator's image, which the init container copies the agent from. The operator does not
 * learn its own image at run time yet: this is the image `deploy/` installs and
 * `scripts/images` builds. Change it here (one place) when the image is renamed.
 */
export const OPERATOR_IMAGE = "postgres-operator:0.1.0";

/** Where the init container puts the Deno binary and the agent's sources (an emptyDir). */
export const AGENT_MOUNT = "/pgop";

/**
 * The init container's command: copy the Deno binary and the agent's sources (core/, runtime/,
 * adapters/ and agent/ of `/app` in the operator's image: no npm package, so no node_modules or
 * DENO_DIR is needed) into {@link AGENT_MOUNT}.
 */
export const AGENT_INSTALL_COMMAND: readonly string[] = [
  "sh",
  "-c",
  `mkdir -p ${AGENT_MOUNT}/app && cp /usr/local/bin/deno ${AGENT_MOUNT}/deno && ` +
  `cp -R /app/core /app/runtime /app/adapters /app/agent ${AGENT_MOUNT}/app/`,
];

/**
 * The postgres container's command: the instance agent, which runs PostgreSQL as its child. The
 * one place to change how the agent is started (the real agent's entry point is `agent/main.ts`;
 * its configuration comes from the environment, see {@link agentEnv}).
 */
export const AGENT_COMMAND: readonly string[] = [
  `${AGENT_MOUNT}/deno`,
  "run",
  "--no-config",
  "--no-npm",
  "--cached-only",
  "--allow-all",
  `${AGENT_MOUNT}/app/agent/main.ts`,
];

/** A container env variable from a key of a Secret. */
export function secretEnv(name: string, secret: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function fieldEnv(name: string, fieldPath: string) {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** The agent's environment, as `notes/replication.md` lists it. */
export function agentEnv(name: string, spec: ValidSpec, secret: string): unknown[] {
  return [
    fieldEnv("POD_NAME", "metadata.name"),
    fieldEnv("POD_NAMESPACE", "metadata.namespace"),
    { name: "PGOP_DATABASE", value: name },
    secretEnv("POSTGRES_USER", secret, "username"),
    secretEnv("POSTGRES_PASSWORD", secret, "password"),
    secretEnv("POSTGRES_DB", secret, "database"),
    secretEnv("PGOP_REPLICATION_PASSWORD", secret, REPLICATION_PASSWORD_KEY),
    { name: "PGDATA", value: PGDATA },
    { name: "PGOP_MAJOR", value: String(versionMajor(spec.version) ?? "") },
    { name: "PGOP_AGENT_PORT", value: String(AGENT_PORT) },
    { name: "DENO_DIR", value: `${AGENT_MOUNT}/app/.deno` },
  ];
}

function httpProbe(path: string, periodSeconds: number, failureThreshold: number) {
  return {
    httpGet: { path, port: AGENT_PORT },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  };
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
      // The major its pods run: after a major upgrade, a StatefulSet that says the new one was
      // written after the upgrade was committed (a view of the PostgresDB from before is stale).
      annotations: {
        ...childAnnotations(db.metadata.generation),
        [DATA_MAJOR]: String(versionMajor(spec.version) ?? ""),
      },
      ownerReferences: [controllerReference(db)],
    },
    spec: {
      replicas: spec.replicas,
      serviceName: name,
      podManagementPolicy: "OrderedReady",
      selector: { matchLabels: selectorLabels(name) },
      // The operator replaces the pods in the order a database needs (see rollout.ts).
      updateStrategy: { type: "OnDelete" },
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
      serviceAccountName: instanceAccountName(name),
      terminationGracePeriodSeconds: 60,
      securityContext: POD_SECURITY,
      initContainers: [{
        name: "agent-install",
        image: OPERATOR_IMAGE,
        imagePullPolicy: "IfNotPresent",
        command: [...AGENT_INSTALL_COMMAND],
        securityContext: CONTAINER_SECURITY,
        volumeMounts: [{ name: "pgop", mountPath: AGENT_MOUNT }],
      }],
      containers: [postgresContainer(name, spec, secret)],
      volumes: [
        // The container runtime's default 64 MiB /dev/shm is too small for parallel queries.
        { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "256Mi" } },
        { name: "pgop", emptyDir: {} },
      ],
    },
  };
}

/** The security context of every pod the operator makes: uid 999 (postgres), no root. */
export const POD_SECURITY = {
  runAsUser: POSTGRES_UID,
  runAsGroup: POSTGRES_UID,
  fsGroup: POSTGRES_UID,
  runAsNonRoot: true,
  seccompProfile: { type: "RuntimeDefault" },
} as const;

/** The security context of every container the operator makes: no escalation, no capability. */
export const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
} as const;

/** The postgres container: the agent (PostgreSQL is its child), probed on the agent's port. */
function postgresContainer(name: string, spec: ValidSpec, secret: string) {
  return {
    name: "postgres",
    image: `postgres:${spec.version}`,
    imagePullPolicy: "IfNotPresent",
    command: [...AGENT_COMMAND],
    ports: [
      { name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" },
      { name: "agent", containerPort: AGENT_PORT, protocol: "TCP" },
    ],
    env: agentEnv(name, spec, secret),
    resources: { requests: { cpu: "100m", memory: "256Mi" } },
    securityContext: CONTAINER_SECURITY,
    // initdb, a clone and crash recovery may take long: the startup probe allows an hour.
    startupProbe: httpProbe("/healthz", 5, 720),
    readinessProbe: httpProbe("/readyz", 5, 3),
    livenessProbe: httpProbe("/healthz", 10, 6),
    volumeMounts: [
      { name: DATA_CLAIM, mountPath: DATA_MOUNT },
      { name: "dshm", mountPath: "/dev/shm" },
      { name: "pgop", mountPath: AGENT_MOUNT },
    ],
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
