/**
 * `sim --faults none|light|heavy` and `sim --faults-file FILE`: the manifests applied under faults,
 * every checker watching, then a summary of the faults injected and the checks passed, or the
 * violations and the command that replays the run.
 *
 * @module
 */

import type { ApiErrorReason } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { postgresReconciler } from "../core/postgres/reconcile.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { FAULT_PRESETS, type FaultOptions, type FaultPresetName } from "../sim/faults.ts";
import { checkPostgresConverged, postgresCheckers } from "../sim/postgres_checks.ts";
import {
  CHILD_TYPES,
  type RunReport,
  runSchedule,
  type Schedule,
  type Step,
} from "../sim/schedule.ts";
import { InputError } from "./manifests.ts";

/** What a faults file may say (all optional). */
export interface FaultsFile {
  /** The API faults, instead of the preset's. */
  faults?: FaultOptions;
  /** How often the operator dies after a write, instead of the preset's. */
  crashRate?: number;
  /** How long faults stay on after the last step. @default 60000 */
  faultsAfterLastStepMs?: number;
  /** Options of the simulated cluster (delays, nodes, readiness). */
  cluster?: Schedule["cluster"];
  /** More steps after the manifests are applied (times from the start). */
  steps?: Step[];
}

const FILE_KEYS = new Set(["faults", "crashRate", "faultsAfterLastStepMs", "cluster", "steps"]);
const FAULT_KEYS = new Set([
  "writeErrorRate",
  "writeErrorReasons",
  "ambiguousWriteRate",
  "readErrorRate",
  "watchDisconnectRate",
  "watchExpireRate",
  "staleListRate",
  "watchLagMaxMs",
]);

/** The reasons a failing write may answer with in a faults file. */
const WRITE_ERROR_REASONS: readonly ApiErrorReason[] = [
  "Conflict",
  "TooManyRequests",
  "InternalError",
  "Timeout",
  "ServiceUnavailable",
  "Forbidden",
  "BadRequest",
  "Invalid",
  "NotFound",
  "AlreadyExists",
];

/** The cluster options a faults file may set, with the kind of value each takes. */
const CLUSTER_KEYS: Record<string, "ms" | "count" | "nodes" | "nodeSelection" | "boolean"> = {
  watchDelayMs: "ms",
  watchHistoryEvents: "count",
  bookmarkIntervalMs: "ms",
  gcDelayMs: "ms",
  nodes: "nodes",
  nodeSelection: "nodeSelection",
  scheduleDelayMs: "ms",
  readyDelayMs: "ms",
  readyJitterMs: "ms",
  bindDelayMs: "ms",
  keepPodsUnready: "boolean",
  controllerDelayMs: "ms",
  latencyMs: "ms",
};

/** Reads and checks a faults file. */
export async function readFaultsFile(path: string): Promise<FaultsFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : String((error as Error).message);
    throw new InputError(`Cannot read faults file ${JSON.stringify(path)}: ${reason}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InputError(`Cannot use faults file ${JSON.stringify(path)}: expected a JSON object`);
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.has(key)) {
      throw new InputError(
        `Cannot use faults file ${JSON.stringify(path)}: unknown key ${JSON.stringify(key)}`,
      );
    }
  }
  const file = parsed as FaultsFile;
  const where = `faults file ${JSON.stringify(path)}`;
  if (file.faults !== undefined && (typeof file.faults !== "object" || file.faults === null)) {
    throw new InputError(`Cannot use ${where}: faults must be an object`);
  }
  if (file.crashRate !== undefined && !isRate(file.crashRate)) {
    throw new InputError(`Cannot use ${where}: crashRate must be a number from 0 to 1`);
  }
  if (file.faultsAfterLastStepMs !== undefined && !isDuration(file.faultsAfterLastStepMs)) {
    throw new InputError(`Cannot use ${where}: faultsAfterLastStepMs must be a number >= 0`);
  }
  if (file.cluster !== undefined) checkCluster(file.cluster, where);
  if (file.steps !== undefined) {
    if (!Array.isArray(file.steps)) {
      throw new InputError(`Cannot use ${where}: steps must be a list`);
    }
    file.steps.forEach((step, i) => checkStep(step, `${where}, step ${i + 1}`));
  }
  for (const [key, value] of Object.entries(file.faults ?? {})) {
    if (!FAULT_KEYS.has(key)) {
      throw new InputError(
        `Cannot use faults file ${JSON.stringify(path)}: unknown fault ${JSON.stringify(key)}`,
      );
    }
    if (key === "writeErrorReasons") {
      checkReasons(value, where);
    } else if (key === "watchLagMaxMs") {
      if (!isDuration(value)) {
        throw new InputError(`Cannot use ${where}: ${key} must be a number >= 0`);
      }
    } else if (!isRate(value)) {
      throw new InputError(`Cannot use ${where}: ${key} must be a number from 0 to 1`);
    }
  }
  return file;
}

function isRate(value: unknown): boolean {
  return typeof value === "number" && value >= 0 && value <= 1;
}

function isDuration(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function checkReasons(value: unknown, where: string): void {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InputError(`Cannot use ${where}: writeErrorReasons must be a non-empty list`);
  }
  for (const reason of value) {
    if (!WRITE_ERROR_REASONS.includes(reason as ApiErrorReason)) {
      throw new InputError(
        `Cannot use ${where}: unknown write error reason ${JSON.stringify(reason)} ` +
          `(one of ${WRITE_ERROR_REASONS.join(", ")})`,
      );
    }
  }
}

function checkCluster(cluster: unknown, where: string): void {
  if (typeof cluster !== "object" || cluster === null || Array.isArray(cluster)) {
    throw new InputError(`Cannot use ${where}: cluster must be an object`);
  }
  for (const [key, value] of Object.entries(cluster)) {
    const kind = CLUSTER_KEYS[key];
    const bad = (what: string) =>
      new InputError(`Cannot use ${where}: cluster.${key} must be ${what}`);
    switch (kind) {
      case undefined:
        throw new InputError(`Cannot use ${where}: unknown cluster key ${JSON.stringify(key)}`);
      case "ms":
        if (!isDuration(value)) throw bad("a number >= 0");
        break;
      case "count":
        if (!Number.isSafeInteger(value) || (value as number) < 1) throw bad("a whole number >= 1");
        break;
      case "nodes":
        if (
          !Array.isArray(value) || value.length === 0 ||
          value.some((n) => typeof n !== "string" || n === "")
        ) throw bad("a non-empty list of node names");
        break;
      case "nodeSelection":
        if (value !== "roundRobin" && value !== "random") throw bad('"roundRobin" or "random"');
        break;
      case "boolean":
        if (typeof value !== "boolean") throw bad("true or false");
        break;
    }
  }
}

/** The fields each kind of step needs, besides `atMs`. */
const STEP_FIELDS: Record<Step["do"], [string, "string" | "object" | "number"][]> = {
  apply: [["object", "object"]],
  delete: [["apiVersion", "string"], ["kind", "string"], ["name", "string"]],
  deletePod: [["name", "string"]],
  crashPod: [["name", "string"]],
  loseNode: [["node", "string"]],
  crashOperator: [],
  cutOffAgent: [["name", "string"], ["durationMs", "number"]],
  userDelete: [["kind", "string"], ["name", "string"]],
  userEdit: [["kind", "string"], ["name", "string"]],
};

function checkStep(step: unknown, where: string): void {
  if (typeof step !== "object" || step === null) {
    throw new InputError(`Cannot use ${where}: not an object`);
  }
  const s = step as Record<string, unknown>;
  const fields = STEP_FIELDS[s.do as Step["do"]];
  if (!fields) {
    throw new InputError(
      `Cannot use ${where}: "do" must be one of ${Object.keys(STEP_FIELDS).join(", ")}`,
    );
  }
  if (typeof s.atMs !== "number" || s.atMs < 0) {
    throw new InputError(`Cannot use ${where}: atMs must be a number >= 0`);
  }
  for (const [field, type] of fields) {
    if (typeof s[field] !== type || s[field] === null) {
      throw new InputError(`Cannot use ${where}: ${s.do} needs ${field} (${type})`);
    }
  }
  if (
    (s.do === "userDelete" || s.do === "userEdit") && !Object.hasOwn(CHILD_TYPES, s.kind as string)
  ) {
    throw new InputError(
      `Cannot use ${where}: ${s.do} kind must be one of ${Object.keys(CHILD_TYPES).join(", ")}`,
    );
  }
  if (s.do === "apply") {
    const object = s.object as Record<string, unknown>;
    const metadata = object.metadata as Record<string, unknown> | undefined;
    if (typeof object.kind !== "string" || typeof metadata?.name !== "string") {
      throw new InputError(
        `Cannot use ${where}: apply needs an object with kind and metadata.name`,
      );
    }
  }
}

/** Options of {@link runWithFaults}. */
export interface ChaosOptions {
  /** The seed of every random choice and fault. */
  seed: number;
  /** The faults of this preset, unless the file says otherwise. */
  preset: FaultPresetName;
  /** A faults file, read and checked. */
  file?: FaultsFile;
  /** Virtual time allowed to converge after the faults stop. */
  convergeWithinMs: number;
}

/** Applies the manifests at the start of a schedule with faults, and runs every check. */
export async function runWithFaults(
  manifests: readonly KubeObject[],
  options: ChaosOptions,
): Promise<RunReport> {
  const file = options.file ?? {};
  const schedule: Schedule = {
    seed: options.seed,
    steps: [
      ...manifests.map((object): Step => ({ atMs: 0, do: "apply", object })),
      ...(file.steps ?? []),
    ],
    faults: file.faults ?? FAULT_PRESETS[options.preset].faults,
    crashRate: file.crashRate ?? FAULT_PRESETS[options.preset].crashRate,
    // Faults stay on a minute after the last step, so that a faults file without steps injects.
    faultsAfterLastStepMs: file.faultsAfterLastStepMs ??
      (options.preset === "none" && !options.file ? 0 : 60_000),
  };
  if (file.cluster) schedule.cluster = file.cluster;
  return await runSchedule(schedule, {
    reconciler: postgresReconciler,
    install: CRDS.map((c) => c.crd),
    checkers: postgresCheckers,
    converged: checkPostgresConverged,
  }, { convergeWithinMs: options.convergeWithinMs });
}

/** The summary lines of a run under faults. */
export function describeChaos(report: RunReport, replay: string): string[] {
  const lines: string[] = [];
  const faults = Object.entries(report.injected).sort(([a], [b]) => a.localeCompare(b));
  lines.push(
    `Faults injected: ${
      faults.length === 0 ? "none" : faults.map(([k, n]) => `${k} ${n}`).join(", ")
    }`,
  );
  const checkers = postgresCheckers().map((c) => c.name);
  if (report.violations.length === 0) {
    lines.push(
      `Checks passed: ${
        checkers.join("; ")
      } (after every step); liveness; steady state (0 writes on resync)`,
    );
  } else {
    lines.push(`Checks FAILED (${report.violations.length} violations):`);
    for (const v of report.violations.slice(0, 20)) {
      lines.push(`  [${v.checker}] at ${(v.atMs / 1000).toFixed(3)}s: ${v.message}`);
    }
    lines.push(`Replay: ${replay}`);
  }
  lines.push(`Trace: ${report.traceHash}`);
  return lines;
}
