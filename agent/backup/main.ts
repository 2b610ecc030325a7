/**
 * The backup runner's entry point in a Job's pod: reads its environment ({@link RUNNER_ENV} and
 * libpq's variables), takes or restores a backup, writes the result JSON to the result path
 * (the pod's termination message), logs one line per step to stderr, and exits 0 on success,
 * 1 on failure. Expected failures print one line, never a stack trace.
 *
 * @module
 */

import { LIBPQ_ENV, RUNNER_ENV } from "../../core/backup/runner_env.ts";
import type { RunnerResult } from "../../core/backup/types.ts";
import { runBackup, runRestore } from "../../runtime/backup_runner.ts";
import { PgDumper, type PgToolOptions } from "./pg_dumper.ts";
import { PgRestorer } from "./pg_restorer.ts";
import { throwawayVerifier } from "./throwaway.ts";
import { storeFromEnv } from "./s3_store.ts";

/** Where PostgreSQL's tools are in the pod (the image's PATH is used when unset). */
const BIN_ENV = "PGOP_PG_BIN";

/** Runs the mode the environment names; returns the result (never throws). */
export async function runFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
): Promise<RunnerResult> {
  const mode = env[RUNNER_ENV.mode] === "restore" ? "restore" : "backup";
  const invalid = (message: string): RunnerResult => ({
    outcome: "Failed",
    mode,
    reason: "InvalidConfiguration",
    message,
  });
  if (env[RUNNER_ENV.mode] !== "backup" && env[RUNNER_ENV.mode] !== "restore") {
    return invalid(`Run mode "${env[RUNNER_ENV.mode] ?? ""}" is not "backup" or "restore"`);
  }
  const missing = [RUNNER_ENV.prefix, RUNNER_ENV.id].filter((name) => !env[name]);
  if (missing.length > 0) {
    return invalid(`Missing ${missing.map((name) => `"${name}"`).join(", ")}`);
  }
  let store;
  try {
    store = storeFromEnv(env);
  } catch (error) {
    return invalid(error instanceof Error ? error.message : String(error));
  }
  const libpq: Record<string, string> = {};
  for (const name of LIBPQ_ENV) {
    const value = env[name];
    if (value !== undefined) libpq[name] = value;
  }
  const tools: PgToolOptions = { bin: env[BIN_ENV] ?? binDir(), commandPrefix: [], env: libpq };
  const common = {
    store,
    prefix: env[RUNNER_ENV.prefix]!,
    id: env[RUNNER_ENV.id]!,
    now: Date.now,
    log,
  };
  if (mode === "restore") {
    const sha256 = env[RUNNER_ENV.sha256];
    return await runRestore({
      ...common,
      restorer: new PgRestorer(tools),
      ...(sha256 ? { sha256 } : {}),
    });
  }
  const keepLast = Number(env[RUNNER_ENV.keepLast] ?? "7");
  if (!Number.isInteger(keepLast)) {
    return invalid(`Keep-last "${env[RUNNER_ENV.keepLast]}" is not an integer`);
  }
  return await runBackup({
    ...common,
    dumper: new PgDumper(tools),
    namespace: env[RUNNER_ENV.namespace] ?? "",
    postgresDB: env[RUNNER_ENV.postgresDB] ?? "",
    database: libpq.PGDATABASE ?? "",
    backup: env[RUNNER_ENV.backup] ?? "",
    keepLast,
    ...(env[RUNNER_ENV.verify] === "1"
      ? { verifier: throwawayVerifier({ bin: tools.bin, commandPrefix: [], log }) }
      : {}),
  });
}

/** The directory of `pg_dump` on PATH, or `/usr/bin`. */
function binDir(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/pg_dump`).isFile) return dir;
    } catch { /* not here */ }
  }
  return "/usr/bin";
}

if (import.meta.main) {
  const env = Deno.env.toObject();
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const result = await runFromEnv(env, log);
  const path = env[RUNNER_ENV.resultPath] || "/dev/termination-log";
  try {
    Deno.writeTextFileSync(path, JSON.stringify(result));
  } catch (error) {
    log(`Cannot write the result to "${path}": ${error instanceof Error ? error.message : error}`);
  }
  log(
    result.outcome === "Succeeded"
      ? `Succeeded: ${JSON.stringify(result)}`
      : `Failed (${result.reason}): ${result.message}`,
  );
  Deno.exit(result.outcome === "Succeeded" ? 0 : 1);
}
