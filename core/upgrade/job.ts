/**
 * The Jobs of a major upgrade and the contract with the runner in their pods: the command, the
 * environment, and how the result is read back.
 *
 * Both Jobs run in the target major's image, with the runner copied in from the operator's image
 * as for backups. The check Job reaches the serving primary through `<db>-rw`. The upgrade Job
 * mounts the primary's volume (the instances are stopped) and, through a second init container
 * in the old major's image, gets the old binaries: that container copies the PostgreSQL tree its
 * `postgres` lives in (`/usr/lib/postgresql/<major>` in the project's and the Debian images) to
 * {@link OLD_BINARIES}.
 *
 * @module
 */

import type { KubeObject } from "../object.ts";
import { isRecord } from "../compare.ts";
import { COMPONENT_LABEL, databaseEnv, runJob } from "../backup/job.ts";
import { secretName } from "../postgres/naming.ts";
import {
  AGENT_MOUNT,
  CONTAINER_SECURITY,
  DATA_CLAIM,
  DATA_MOUNT,
  PGDATA,
  secretEnv,
} from "../postgres/statefulset.ts";
import type { PostgresDB } from "../postgres/types.ts";
import type { UpgradeFailure, UpgradeMode, UpgradeResult } from "./types.ts";

/** The label that names the PostgresDB an upgrade Job (and its pod) works for. */
export const UPGRADE_LABEL = "database.thegeekyway.com/upgrade-of";

/** The upgrade runner's entry point in the pod. */
export const UPGRADE_MAIN = `${AGENT_MOUNT}/app/agent/upgrade/main.ts`;

/** The upgrade container's command: recognised by the simulation as "runs the upgrade runner". */
export const UPGRADE_COMMAND: readonly string[] = [
  `${AGENT_MOUNT}/deno`,
  "run",
  "--no-config",
  "--no-npm",
  "--cached-only",
  "--allow-all",
  UPGRADE_MAIN,
];

/** Where the old major's PostgreSQL tree is copied in the upgrade Job's pod. */
export const OLD_BINARIES = `${AGENT_MOUNT}/old`;

/** The environment variables the upgrade runner reads. */
export const UPGRADE_ENV = {
  /** `check` or `upgrade`. */
  mode: "PGOP_UPGRADE_MODE",
  /** The data's major. */
  from: "PGOP_UPGRADE_FROM",
  /** The target major (the image's). */
  to: "PGOP_UPGRADE_TO",
  /** The PostgresDB's name. */
  postgresDB: "PGOP_POSTGRESDB",
  /** The data directory (upgrade). */
  pgdata: "PGDATA",
  /** The old major's `bin/` (upgrade). */
  oldBin: "PGOP_OLD_BIN",
  /** The superuser's name (upgrade). */
  superuser: "POSTGRES_USER",
  /** The superuser's password (upgrade). */
  superuserPassword: "POSTGRES_PASSWORD",
  /** Where the result goes. @default "/dev/termination-log" */
  resultPath: "PGOP_RESULT_PATH",
} as const;

/** The check Job of PostgresDB `db`. */
export function upgradeCheckJobName(db: string): string {
  return `${db}-upgrade-check`;
}

/** The upgrade Job of PostgresDB `db`. */
export function upgradeJobName(db: string): string {
  return `${db}-upgrade`;
}

const env = (name: string, value: string) => ({ name, value });

/**
 * The Job that checks, while the database serves, that `toVersion`'s image has what it uses and
 * that the volume of `primary` has room: it mounts that volume read-only, beside the primary (on
 * its node: a ReadWriteOnce volume is shared by the pods of one node).
 */
export function upgradeCheckJob(
  db: PostgresDB,
  from: number,
  to: number,
  toVersion: string,
  primary: string,
): KubeObject {
  const namespace = db.metadata.namespace ?? "default";
  const name = db.metadata.name;
  const job = runJob({
    owner: db,
    name: upgradeCheckJobName(name),
    namespace,
    labels: { [COMPONENT_LABEL]: "upgrade-check", [UPGRADE_LABEL]: name },
    annotations: {},
    version: toVersion,
    backoffLimit: 1,
    command: UPGRADE_COMMAND,
    volumes: [{
      name: DATA_CLAIM,
      persistentVolumeClaim: { claimName: `${DATA_CLAIM}-${primary}`, readOnly: true },
    }],
    volumeMounts: [{ name: DATA_CLAIM, mountPath: DATA_MOUNT, readOnly: true }],
    env: [
      env(UPGRADE_ENV.mode, "check"),
      env(UPGRADE_ENV.from, String(from)),
      env(UPGRADE_ENV.to, String(to)),
      env(UPGRADE_ENV.postgresDB, name),
      env(UPGRADE_ENV.pgdata, PGDATA),
      ...databaseEnv(name, namespace),
    ],
  });
  const podSpec = (job.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  podSpec.affinity = {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [{
        labelSelector: { matchLabels: { [POD_NAME_LABEL]: primary } },
        topologyKey: "kubernetes.io/hostname",
      }],
    },
  };
  return job;
}

/** The label the StatefulSet controller puts on each of its pods: the pod's name. */
const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";

/**
 * The Job that upgrades the data on `primary`'s volume from `fromVersion`'s major to
 * `toVersion`'s. It retries: each run resumes or rolls back what an interrupted one left.
 */
export function upgradeJob(
  db: PostgresDB,
  upgrade: { from: number; to: number; fromVersion: string; toVersion: string; primary: string },
): KubeObject {
  const namespace = db.metadata.namespace ?? "default";
  const name = db.metadata.name;
  const credentials = secretName(name);
  return runJob({
    owner: db,
    name: upgradeJobName(name),
    namespace,
    labels: { [COMPONENT_LABEL]: "upgrade", [UPGRADE_LABEL]: name },
    annotations: {},
    version: upgrade.toVersion,
    backoffLimit: 3,
    command: UPGRADE_COMMAND,
    initContainers: [{
      name: "old-binaries",
      image: `postgres:${upgrade.fromVersion}`,
      imagePullPolicy: "IfNotPresent",
      command: [
        "sh",
        "-c",
        `rm -rf ${OLD_BINARIES} && ` +
        `cp -a "$(dirname "$(dirname "$(command -v postgres)")")" ${OLD_BINARIES}`,
      ],
      securityContext: CONTAINER_SECURITY,
      volumeMounts: [{ name: "pgop", mountPath: AGENT_MOUNT }],
    }],
    volumes: [{
      name: DATA_CLAIM,
      persistentVolumeClaim: { claimName: `${DATA_CLAIM}-${upgrade.primary}` },
    }],
    volumeMounts: [{ name: DATA_CLAIM, mountPath: DATA_MOUNT }],
    env: [
      env(UPGRADE_ENV.mode, "upgrade"),
      env(UPGRADE_ENV.from, String(upgrade.from)),
      env(UPGRADE_ENV.to, String(upgrade.to)),
      env(UPGRADE_ENV.postgresDB, name),
      env(UPGRADE_ENV.pgdata, PGDATA),
      env(UPGRADE_ENV.oldBin, `${OLD_BINARIES}/bin`),
      secretEnv(UPGRADE_ENV.superuser, credentials, "username"),
      secretEnv(UPGRADE_ENV.superuserPassword, credentials, "password"),
    ],
  });
}

const MODES: readonly UpgradeMode[] = ["check", "upgrade"];
const FAILURES = new Set<UpgradeFailure>([
  "InvalidConfiguration",
  "DatabaseUnreachable",
  "ExtensionsUnavailable",
  "PreparedTransactions",
  "NoData",
  "WrongDataMajor",
  "RecoveryFailed",
  "InsufficientSpace",
  "InitdbFailed",
  "IncompatibleClusters",
  "UpgradeFailed",
]);

/**
 * Parses a termination message into an {@link UpgradeResult}, or undefined when it is not one.
 *
 * @example
 * ```ts
 * import { parseUpgradeResult } from "./job.ts";
 * const text = '{"outcome":"Failed","mode":"check","reason":"ExtensionsUnavailable","message":"m"}';
 * console.assert(parseUpgradeResult(text)?.outcome === "Failed");
 * console.assert(parseUpgradeResult("panic") === undefined);
 * ```
 */
export function parseUpgradeResult(text: string): UpgradeResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || !MODES.includes(value.mode as UpgradeMode)) return undefined;
  if (typeof value.message !== "string") return undefined;
  if (value.outcome === "Failed") {
    return FAILURES.has(value.reason as UpgradeFailure) ? value as UpgradeResult : undefined;
  }
  if (value.outcome !== "Succeeded") return undefined;
  return typeof value.from === "number" && typeof value.to === "number" &&
      typeof value.durationMs === "number"
    ? value as UpgradeResult
    : undefined;
}
