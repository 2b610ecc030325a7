/**
 * Runs the upgrade runner (`runtime/upgrade_runner.ts`) in the simulated pods whose first
 * container runs {@link UPGRADE_COMMAND}, on virtual time, with simulated ports:
 *
 * - **check**: the inspector reads the instance behind `PGHOST` (as a connection reaches it) and
 *   its data's extensions, and the target image's extensions from {@link UpgradeHostOptions};
 * - **upgrade**: the volume is the simulated instance on the claim the pod mounts. Each step takes
 *   virtual time and changes the volume as `pg_upgrade` would: `initdb` makes the new cluster
 *   beside the data, `--link` hides the old `pg_control` (the directory then looks empty to an
 *   agent, as on a real volume), the swap puts the new major's system in the data's place, the
 *   rollback undoes the link.
 *
 * A pod deleted (or made terminating) while it runs cuts the run: the step in flight and every
 * later one never answer and never take effect, so the volume is left as a killed pod leaves it.
 * The run's result ends the pod (exit 0 or 1, the JSON as the termination message).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { KubeObject } from "../core/object.ts";
import { UPGRADE_COMMAND, UPGRADE_ENV } from "../core/upgrade/job.ts";
import type {
  StepResult,
  UpgradeInspector,
  UpgradeJournal,
  UpgradeResult,
  UpgradeVolume,
  VolumeFacts,
} from "../core/upgrade/types.ts";
import { runCheck, runUpgrade } from "../runtime/upgrade_runner.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { resolveDatabase } from "./backup_ports.ts";
import type { SimDataPlane } from "./data_plane.ts";
import { StoreSession } from "./object_store.ts";
import type { PodLifecycle } from "./pod_lifecycle.ts";
import type { SimPostgresInstance } from "./postgres_instance.ts";

/** Durations and the images' contents. */
export interface UpgradeHostOptions {
  /** Each step's virtual duration (initdb, check, link, finish take this; others a tenth). */
  stepMs?: number;
  /** The extensions the image of a major has; absent: every extension. */
  imageExtensions?: (major: number) => ReadonlySet<string> | undefined;
  /** Free bytes on a volume. @default 1 TiB */
  freeBytes?: number;
}

/** One run, as the host saw it. */
export interface UpgradeRun {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  pod: string;
  /** `check` or `upgrade`. */
  mode: string;
  /** The PostgresDB. */
  postgresDB: string;
  /** The claim an upgrade run works on. */
  claim?: string;
  /** When it started (virtual). */
  startedAtMs: number;
  /** When it ended or was cut. */
  endedAtMs?: number;
  /** Its result. */
  result?: UpgradeResult;
  /** Its uncaught error. */
  error?: string;
  /** True when its pod went away while it ran. */
  cut?: boolean;
}

interface EnvVar {
  name: string;
  value?: string;
}

/** Hosts the upgrade runner in the pods that run it. */
export class UpgradeHost {
  /** Every run started, in order. */
  readonly runs: UpgradeRun[] = [];
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #pods: PodLifecycle;
  readonly #dataPlane: SimDataPlane | undefined;
  readonly #o: Required<Omit<UpgradeHostOptions, "imageExtensions">> & UpgradeHostOptions;
  readonly #active = new Map<string, { session: StoreSession; run: UpgradeRun }>();
  readonly #seen = new Set<string>();
  readonly #unsubscribe: () => void;

  /** Starts hosting runs on `server`'s pods. */
  constructor(
    world: {
      server: SimApiServer;
      clock: Clock;
      pods: PodLifecycle;
      dataPlane: SimDataPlane | undefined;
    },
    options: UpgradeHostOptions = {},
  ) {
    this.#server = world.server;
    this.#clock = world.clock;
    this.#pods = world.pods;
    this.#dataPlane = world.dataPlane;
    this.#o = { stepMs: 400, freeBytes: 2 ** 40, ...options };
    this.#unsubscribe = world.server.subscribe((change) => this.#onChange(change));
  }

  /** Stops starting runs. */
  stop(): void {
    this.#unsubscribe();
  }

  /** Runs in flight, by pod. */
  get active(): UpgradeRun[] {
    return [...this.#active.values()].map((a) => a.run);
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
    if (this.#seen.has(uid) || !runsUpgrade(pod)) return;
    this.#seen.add(uid);
    this.#start(pod);
  }

  #start(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? "";
    const namespace = pod.metadata.namespace ?? "default";
    const env = podEnv(pod);
    const mode = env[UPGRADE_ENV.mode] ?? "";
    const run: UpgradeRun = {
      namespace,
      pod: pod.metadata.name,
      mode,
      postgresDB: env[UPGRADE_ENV.postgresDB] ?? "",
      startedAtMs: this.#clock.nowMs(),
    };
    const claim = dataClaim(pod);
    if (claim !== undefined) run.claim = claim;
    this.runs.push(run);
    const session = new StoreSession();
    this.#active.set(uid, { session, run });
    const from = Number(env[UPGRADE_ENV.from]);
    const to = Number(env[UPGRADE_ENV.to]);
    const now = () => this.#clock.nowMs();
    let program: Promise<UpgradeResult>;
    if (mode === "check") {
      program = runCheck({
        inspector: this.#inspector(env, namespace, to, session),
        from,
        to,
        now,
      });
    } else if (mode === "upgrade") {
      const instance = claim === undefined
        ? undefined
        : this.#dataPlane?.instance(namespace, claim);
      program = instance === undefined
        ? Promise.resolve({
          outcome: "Failed",
          mode: "upgrade",
          reason: "NoData",
          message: `No data on the claim ${JSON.stringify(claim ?? "")}`,
        })
        : runUpgrade({ volume: this.#volume(instance, to, session), from, to, now });
    } else {
      program = Promise.resolve({
        outcome: "Failed",
        mode: "check",
        reason: "InvalidConfiguration",
        message: `Run mode ${JSON.stringify(mode)} is not "check" or "upgrade"`,
      });
    }
    program.then(
      (result) => this.#end(uid, session, run, { result }),
      (error) => this.#end(uid, session, run, { error: String(error?.stack ?? error) }),
    );
  }

  #end(
    uid: string,
    session: StoreSession,
    run: UpgradeRun,
    outcome: { result?: UpgradeResult; error?: string },
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

  /** A step that takes `ms` of virtual time, then applies `effect` unless the run was cut. */
  #step<T>(session: StoreSession, ms: number, effect: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#clock.setTimer(ms, () => {
        if (session.isCut) return; // never answers, never takes effect
        try {
          resolve(effect());
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  #inspector(
    env: Record<string, string>,
    namespace: string,
    to: number,
    session: StoreSession,
  ): UpgradeInspector {
    const world = { server: this.#server, clock: this.#clock, dataPlane: this.#dataPlane };
    const primary = () => resolveDatabase(world, { host: env.PGHOST ?? "", namespace });
    const has = this.#o.imageExtensions?.(to);
    const quick = this.#o.stepMs / 10;
    return {
      extensions: () =>
        this.#step(
          session,
          quick,
          () => primary().extensions.map((name) => ({ database: "app", name })),
        ),
      preloadedLibraries: () => this.#step(session, quick, () => []),
      preparedTransactions: () => this.#step(session, quick, () => 0),
      hasExtension: (name) => Promise.resolve(has === undefined || has.has(name)),
      hasLibrary: () => Promise.resolve(true),
      space: () =>
        Promise.resolve({ freeBytes: this.#o.freeBytes, neededBytes: 100 * 1024 * 1024 }),
    };
  }

  #volume(instance: SimPostgresInstance, to: number, session: StoreSession): UpgradeVolume {
    const o = this.#o;
    const files = () => instance.upgradeFiles;
    const quick = o.stepMs / 10;
    const step = <T>(ms: number, effect: () => T) => this.#step(session, ms, effect);
    const has = o.imageExtensions?.(to);
    return {
      inspect: () =>
        step(quick, (): VolumeFacts => {
          const f = files();
          const facts: VolumeFacts = {
            checksums: false,
            next: f.next !== undefined,
            old: f.old !== undefined,
            controlOld: f.controlOld,
            freeBytes: o.freeBytes,
            neededBytes: 100 * 1024 * 1024,
          };
          if (f.journal !== undefined) facts.journal = { ...f.journal };
          const major = instance.dataMajor;
          if (major !== undefined) {
            facts.dataMajor = major;
            facts.clusterState = instance.process !== "stopped" && instance.process !== "crashed"
              ? "in production"
              : !instance.cleanShutdown
              ? "in production"
              : instance.dataRole === "standby"
              ? "shut down in recovery"
              : "shut down";
          }
          return facts;
        }),
      writeJournal: (journal: UpgradeJournal | undefined) =>
        step(quick, () => {
          const f = files();
          if (journal === undefined) delete f.journal;
          else f.journal = { ...journal };
        }),
      recover: () =>
        step(o.stepMs, (): StepResult => {
          if (instance.dataRole === "standby") {
            return { ok: false, message: "the data directory is a standby's" };
          }
          instance.recover();
          return { ok: true };
        }),
      initNext: () =>
        step(o.stepMs, (): StepResult => {
          files().next = { major: to, systemId: this.#dataPlane?.newSystemId() ?? "sys-upgraded" };
          return { ok: true };
        }),
      check: () =>
        step(o.stepMs, (): StepResult => {
          const missing = instance.extensions.filter((e) => has !== undefined && !has.has(e));
          return missing.length === 0 ? { ok: true } : {
            ok: false,
            message: `Your installation references loadable libraries that are missing from ` +
              `the new installation: ${missing.map((m) => `$libdir/${m}`).join(", ")}`,
          };
        }),
      link: () =>
        step(o.stepMs, (): StepResult => {
          files().controlOld = true;
          return { ok: true };
        }),
      configureNext: () => step(quick, () => {}),
      rollback: () =>
        step(quick, () => {
          const f = files();
          f.controlOld = false;
          delete f.next;
        }),
      swap: () =>
        step(quick, () => {
          const f = files();
          const next = f.next;
          const major = instance.dataMajor;
          if (next === undefined || major === undefined) return;
          f.old = { major, systemId: instance.systemId ?? "" };
          f.controlOld = false;
          delete f.next;
          instance.replaceData(next.major, next.systemId);
        }),
      finish: () => step(o.stepMs, (): StepResult => ({ ok: true })),
      dropOld: () =>
        step(quick, () => {
          delete files().old;
        }),
    };
  }
}

/** True when the pod's first container runs the upgrade runner. */
export function runsUpgrade(pod: KubeObject): boolean {
  const spec = pod.spec as { containers?: { command?: string[] }[] } | undefined;
  const command = spec?.containers?.[0]?.command;
  return command !== undefined && command.join("\u0000") === UPGRADE_COMMAND.join("\u0000");
}

/** The claim an upgrade pod mounts, if any. */
function dataClaim(pod: KubeObject): string | undefined {
  const spec = pod.spec as {
    volumes?: { persistentVolumeClaim?: { claimName?: string } }[];
  } | undefined;
  return spec?.volumes?.find((v) => v.persistentVolumeClaim?.claimName)?.persistentVolumeClaim
    ?.claimName;
}

/** The plain values of the first container's environment (the runner reads no Secret here). */
function podEnv(pod: KubeObject): Record<string, string> {
  const spec = pod.spec as { containers?: { env?: EnvVar[] }[] } | undefined;
  const env: Record<string, string> = {};
  for (const variable of spec?.containers?.[0]?.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
  }
  return env;
}
