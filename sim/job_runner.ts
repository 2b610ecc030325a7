/**
 * Runs the backup runner in the simulated pods: for each running pod whose first container's
 * command is {@link RUNNER_COMMAND}, it resolves the container's environment (plain values,
 * `secretKeyRef` from the simulated Secrets, `fieldRef` to the pod's namespace and name), builds
 * the runner's ports (the in-memory store of `PGOP_STORE_ENDPOINT` with the Secret's access key,
 * the dumper and restorer of `sim/backup_ports.ts` behind `PGHOST`), runs the backup or restore
 * program ({@link RunnerPrograms}) on virtual time (`now` is the virtual clock), and ends the pod
 * with its result: exit code 0 for `Succeeded`, 1 otherwise, the result's JSON as the termination
 * message (see {@link PodLifecycle.finishPod}).
 *
 * A pod deleted (or made terminating, or lost with its node) while it runs cuts the run: its
 * store and database calls in flight and later never answer or take effect (an upload started
 * stays incomplete in the store, a restore never commits), and it ends nothing. A missing Secret
 * keeps the pod Pending with `CreateContainerConfigError` (the lifecycle's kubelet does that).
 *
 * A program that throws (a runner bug) ends the pod with exit code 1 and no message, as a Deno
 * process dying of an uncaught error would; the error is kept in {@link JobRunner.runs}.
 *
 * @module
 */

import {
  type BackupRunOptions,
  type RestoreRunOptions,
  runBackup,
  runRestore,
} from "../runtime/backup_runner.ts";
import type { Clock } from "../core/clock.ts";
import type { KubeObject } from "../core/object.ts";
import type {
  DatabaseDumper,
  DatabaseRestorer,
  ObjectStore,
  RunnerResult,
} from "../core/backup/types.ts";
import { RUNNER_COMMAND, RUNNER_ENV } from "../core/backup/runner_env.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import {
  type BackupPortsOptions,
  simDumper,
  simRestorer,
  simThrowawayRestorer,
} from "./backup_ports.ts";
import type { SimDataPlane } from "./data_plane.ts";
import { type SimObjectStores, StoreSession } from "./object_store.ts";
import type { PodLifecycle } from "./pod_lifecycle.ts";

/** What a runner program gets: its environment and its ports. */
export interface RunnerContext {
  /** The container's resolved environment. */
  env: Readonly<Record<string, string>>;
  /** The bucket of `PGOP_STORE_BUCKET` at `PGOP_STORE_ENDPOINT`. */
  store: ObjectStore;
  /** The database behind `PGHOST`. */
  dumper: DatabaseDumper;
  /** The database behind `PGHOST`. */
  restorer: DatabaseRestorer;
  /** A fresh throwaway database in memory, to verify a backup in. */
  throwaway(): Promise<{ restorer: DatabaseRestorer; cleanup(): Promise<void> }>;
  /** Virtual time, epoch milliseconds. */
  now(): number;
}

/** The backup runner's two programs (`runtime/backup_runner.ts`'s, or a test's). */
export interface RunnerPrograms {
  /** Takes a backup. */
  backup(context: RunnerContext): Promise<RunnerResult>;
  /** Restores one. */
  restore(context: RunnerContext): Promise<RunnerResult>;
}

/** The runner's two functions, as `runtime/backup_runner.ts` exports them. */
export interface RunnerFunctions {
  /** Takes a backup. */
  runBackup(options: BackupRunOptions): Promise<RunnerResult>;
  /** Restores one. */
  runRestore(options: RestoreRunOptions): Promise<RunnerResult>;
}

/**
 * The runner's functions as {@link RunnerPrograms}: the environment read as the runner's entry
 * point (`agent/backup/main.ts`) reads it, the simulated ports plugged in.
 */
export function runnerPrograms(functions: RunnerFunctions): RunnerPrograms {
  const common = (context: RunnerContext, mode: "backup" | "restore") => {
    const missing = [RUNNER_ENV.prefix, RUNNER_ENV.id].filter((name) => !context.env[name]);
    if (missing.length === 0) return undefined;
    return Promise.resolve<RunnerResult>({
      outcome: "Failed",
      mode,
      reason: "InvalidConfiguration",
      message: `Missing ${missing.map((name) => `"${name}"`).join(", ")}`,
    });
  };
  return {
    backup(context) {
      const env = context.env;
      const keepLast = Number(env[RUNNER_ENV.keepLast] ?? "7");
      return common(context, "backup") ?? functions.runBackup({
        store: context.store,
        dumper: context.dumper,
        prefix: env[RUNNER_ENV.prefix]!,
        id: env[RUNNER_ENV.id]!,
        namespace: env[RUNNER_ENV.namespace] ?? "",
        postgresDB: env[RUNNER_ENV.postgresDB] ?? "",
        database: env.PGDATABASE ?? "",
        backup: env[RUNNER_ENV.backup] ?? "",
        keepLast: Number.isInteger(keepLast) ? keepLast : 7,
        ...(env[RUNNER_ENV.verify] === "1" ? { verifier: context.throwaway } : {}),
        now: context.now,
      });
    },
    restore(context) {
      const env = context.env;
      const sha256 = env[RUNNER_ENV.sha256];
      return common(context, "restore") ?? functions.runRestore({
        store: context.store,
        restorer: context.restorer,
        prefix: env[RUNNER_ENV.prefix]!,
        id: env[RUNNER_ENV.id]!,
        ...(sha256 ? { sha256 } : {}),
        now: context.now,
      });
    },
  };
}

/** Options of {@link JobRunner}. */
export interface JobRunnerOptions {
  /** The programs run. @default the real runner's (`runtime/backup_runner.ts`) */
  programs?: RunnerPrograms;
  /** Sizes and rates of the simulated dumps and restores. */
  ports?: BackupPortsOptions;
}

/** One run, as the runner host saw it. */
export interface RunnerRun {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  pod: string;
  /** The pod's uid. */
  podUid: string;
  /** `backup` or `restore` (or what the environment said). */
  mode: string;
  /** The PostgresDB its environment names (`PGOP_POSTGRESDB`), if any. */
  postgresDB?: string;
  /** When it started (virtual). */
  startedAtMs: number;
  /** When it ended or was cut. */
  endedAtMs?: number;
  /** The program's result. */
  result?: RunnerResult;
  /** The program's uncaught error. */
  error?: string;
  /** True when the pod went away while it ran. */
  cut?: boolean;
}

const SECRET = { apiVersion: "v1", kind: "Secret" };

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name?: string; key?: string };
    fieldRef?: { fieldPath?: string };
  };
}

/** Hosts the backup runner in the pods that run it. */
export class JobRunner {
  /** Every run started, in order. */
  readonly runs: RunnerRun[] = [];
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #pods: PodLifecycle;
  readonly #stores: SimObjectStores;
  readonly #dataPlane: SimDataPlane | undefined;
  readonly #programs: RunnerPrograms;
  readonly #ports: BackupPortsOptions;
  readonly #active = new Map<string, { session: StoreSession; run: RunnerRun }>();
  readonly #seen = new Set<string>();
  readonly #unsubscribe: () => void;

  /** Starts hosting runs on `server`'s pods. */
  constructor(
    world: {
      server: SimApiServer;
      clock: Clock;
      pods: PodLifecycle;
      stores: SimObjectStores;
      dataPlane: SimDataPlane | undefined;
    },
    options: JobRunnerOptions = {},
  ) {
    this.#server = world.server;
    this.#clock = world.clock;
    this.#pods = world.pods;
    this.#stores = world.stores;
    this.#dataPlane = world.dataPlane;
    this.#programs = options.programs ?? RUNNER_PROGRAMS;
    this.#ports = options.ports ?? {};
    this.#unsubscribe = world.server.subscribe((change) => this.#onChange(change));
  }

  /** Stops starting runs (runs in flight go on). */
  stop(): void {
    this.#unsubscribe();
  }

  #onChange(change: StoreChange): void {
    if (change.resource.kind !== "Pod" || change.resource.apiVersion !== "v1") return;
    const pod = change.object;
    const uid = pod.metadata.uid ?? "";
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (change.type === "DELETED" || pod.metadata.deletionTimestamp || phase !== "Running") {
      const active = this.#active.get(uid);
      if (active && phase !== "Succeeded" && phase !== "Failed") {
        active.session.cut();
        active.run.cut = true;
        active.run.endedAtMs = this.#clock.nowMs();
      }
      this.#active.delete(uid);
      if (change.type === "DELETED") this.#seen.delete(uid);
      return;
    }
    if (this.#seen.has(uid) || !runsRunner(pod)) return;
    this.#seen.add(uid);
    this.#start(pod);
  }

  #start(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? "";
    const namespace = pod.metadata.namespace ?? "default";
    const env = this.#environment(pod);
    const mode = env[RUNNER_ENV.mode] ?? "";
    const run: RunnerRun = {
      namespace,
      pod: pod.metadata.name,
      podUid: uid,
      mode,
      startedAtMs: this.#clock.nowMs(),
    };
    const postgresDB = env[RUNNER_ENV.postgresDB];
    if (postgresDB) run.postgresDB = postgresDB;
    this.runs.push(run);
    const session = new StoreSession();
    this.#active.set(uid, { session, run });
    const world = { server: this.#server, clock: this.#clock, dataPlane: this.#dataPlane };
    const target = { host: env.PGHOST ?? "", namespace };
    const context: RunnerContext = {
      env,
      store: this.#stores.client(
        env[RUNNER_ENV.endpoint] ?? "",
        env[RUNNER_ENV.bucket] ?? "",
        {
          accessKeyId: env[RUNNER_ENV.accessKeyId] ?? "",
          secretAccessKey: env[RUNNER_ENV.secretAccessKey] ?? "",
        },
        session,
      ),
      dumper: simDumper(world, target, this.#ports),
      restorer: simRestorer(world, target, session, this.#ports),
      throwaway: () =>
        Promise.resolve({
          restorer: simThrowawayRestorer(this.#clock, this.#ports),
          cleanup: () => Promise.resolve(),
        }),
      now: () => this.#clock.nowMs(),
    };
    const program = mode === "restore"
      ? this.#programs.restore(context)
      : mode === "backup"
      ? this.#programs.backup(context)
      : Promise.resolve<RunnerResult>({
        outcome: "Failed",
        mode: "backup",
        reason: "InvalidConfiguration",
        message: `Unknown ${RUNNER_ENV.mode} ${
          JSON.stringify(mode)
        }: expected "backup" or "restore"`,
      });
    program.then(
      (result) => this.#end(uid, session, run, { result }),
      (error) => this.#end(uid, session, run, { error: String(error?.stack ?? error) }),
    );
  }

  #end(
    uid: string,
    session: StoreSession,
    run: RunnerRun,
    outcome: { result?: RunnerResult; error?: string },
  ): void {
    if (session.isCut) return;
    this.#active.delete(uid);
    run.endedAtMs = this.#clock.nowMs();
    if (outcome.result !== undefined) {
      run.result = outcome.result;
      this.#pods.finishPod(uid, {
        exitCode: outcome.result.outcome === "Succeeded" ? 0 : 1,
        message: JSON.stringify(outcome.result),
      });
      return;
    }
    if (outcome.error !== undefined) run.error = outcome.error;
    this.#pods.finishPod(uid, { exitCode: 1 });
  }

  /** The first container's environment, as the kubelet resolved it at start. */
  #environment(pod: KubeObject): Record<string, string> {
    const namespace = pod.metadata.namespace ?? "default";
    const spec = pod.spec as { containers?: { env?: EnvVar[] }[] } | undefined;
    const env: Record<string, string> = {};
    for (const variable of spec?.containers?.[0]?.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      const field = variable.valueFrom?.fieldRef?.fieldPath;
      if (ref?.name && ref.key) {
        const secret = this.#server.peek(SECRET, ref.name, namespace);
        const value = (secret?.data as Record<string, string> | undefined)?.[ref.key];
        if (value !== undefined) env[variable.name] = atob(value);
      } else if (field === "metadata.namespace") env[variable.name] = namespace;
      else if (field === "metadata.name") env[variable.name] = pod.metadata.name;
      else env[variable.name] = variable.value ?? "";
    }
    return env;
  }
}

/** True when the pod's first container runs the backup runner. */
export function runsRunner(pod: KubeObject): boolean {
  const spec = pod.spec as { containers?: { command?: string[] }[] } | undefined;
  const command = spec?.containers?.[0]?.command;
  return command !== undefined && command.join("\u0000") === RUNNER_COMMAND.join("\u0000");
}

/** The real runner's programs: `runtime/backup_runner.ts`, on the simulation's ports. */
const RUNNER_PROGRAMS: RunnerPrograms = runnerPrograms({ runBackup, runRestore });
