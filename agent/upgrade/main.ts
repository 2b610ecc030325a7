/**
 * The upgrade runner's entry point in a Job's pod: reads its environment ({@link UPGRADE_ENV}
 * and libpq's variables), checks the target image against the serving primary (and, with
 * `PGDATA` set, the space on its volume, mounted read-only) or upgrades the
 * stopped primary's volume, writes the result JSON to the result path (the pod's termination
 * message), logs one line per step to stderr, and exits 0 on success, 1 on failure. Expected
 * failures print one line, never a stack trace.
 *
 * @module
 */

import { lastLine, runTool, type ToolRunner } from "../_exec.ts";
import { LIBPQ_ENV } from "../../core/backup/runner_env.ts";
import { UPGRADE_ENV } from "../../core/upgrade/job.ts";
import type { UpgradeInspector, UpgradeResult } from "../../core/upgrade/types.ts";
import { REPLICATION_USER } from "../../core/postgres/replication.ts";
import { runCheck, runUpgrade } from "../../runtime/upgrade_runner.ts";
import { dfAvailable, PgUpgradeVolume, upgradeNeededBytes } from "./volume.ts";

/** Where the target image's PostgreSQL tools are (the image's PATH is searched when unset). */
const BIN_ENV = "PGOP_PG_BIN";

/** Runs the mode the environment names; returns the result (never throws). */
export async function runFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
): Promise<UpgradeResult> {
  const mode = env[UPGRADE_ENV.mode] === "upgrade" ? "upgrade" : "check";
  const invalid = (message: string): UpgradeResult => ({
    outcome: "Failed",
    mode,
    reason: "InvalidConfiguration",
    message,
  });
  if (env[UPGRADE_ENV.mode] !== "check" && env[UPGRADE_ENV.mode] !== "upgrade") {
    return invalid(`Run mode "${env[UPGRADE_ENV.mode] ?? ""}" is not "check" or "upgrade"`);
  }
  const from = Number(env[UPGRADE_ENV.from]);
  const to = Number(env[UPGRADE_ENV.to]);
  if (!Number.isInteger(from) || !Number.isInteger(to)) {
    return invalid(
      `Majors "${env[UPGRADE_ENV.from] ?? ""}" and "${env[UPGRADE_ENV.to] ?? ""}" are not numbers`,
    );
  }
  const bin = env[BIN_ENV] ?? binDir(env.PATH ?? "");
  const tools: ToolRunner = { bin, commandPrefix: [] };
  try {
    if (mode === "check") {
      const libpq: Record<string, string> = {};
      for (const name of LIBPQ_ENV) {
        const value = env[name];
        if (value !== undefined) libpq[name] = value;
      }
      return await runCheck({
        inspector: pgInspector(tools, libpq, env[UPGRADE_ENV.pgdata]),
        from,
        to,
        now: Date.now,
        log,
      });
    }
    const missing = [UPGRADE_ENV.pgdata, UPGRADE_ENV.oldBin, UPGRADE_ENV.superuser].filter((n) =>
      !env[n]
    );
    if (missing.length > 0) return invalid(`Missing ${missing.map((n) => `"${n}"`).join(", ")}`);
    const volume = new PgUpgradeVolume({
      pgdata: env[UPGRADE_ENV.pgdata]!,
      oldBin: env[UPGRADE_ENV.oldBin]!,
      newBin: bin,
      newMajor: to,
      superuser: env[UPGRADE_ENV.superuser]!,
      superuserPassword: env[UPGRADE_ENV.superuserPassword] ?? "",
      replicationUser: REPLICATION_USER,
      networks: ["0.0.0.0/0", "::/0"],
      commandPrefix: [],
      log,
    });
    return await runUpgrade({ volume, from, to, now: Date.now, log });
  } catch (error) {
    // A tool that could not be run at all, a filesystem error: fail with the message.
    return {
      outcome: "Failed",
      mode,
      reason: mode === "check" ? "DatabaseUnreachable" : "UpgradeFailed",
      message: `The ${mode} stopped: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** The check's view of the serving primary (libpq's variables) and the image (`pg_config`). */
export function pgInspector(
  tools: ToolRunner,
  libpq: Record<string, string>,
  pgdata?: string,
): UpgradeInspector {
  const psql = async (database: string | undefined, query: string): Promise<string[]> => {
    const env: Record<string, string> = { PGCONNECT_TIMEOUT: "10", ...libpq };
    if (database !== undefined) env.PGDATABASE = database;
    const result = await runTool(
      tools,
      "psql",
      ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", query],
      { env, timeoutMs: 60_000 },
    );
    if (result.code !== 0) throw new Error(lastLine(result.stderr));
    return result.stdout.split("\n").filter((line) => line !== "");
  };
  let dirs: { share: string; lib: string } | undefined;
  const config = async () => {
    if (dirs !== undefined) return dirs;
    const share = await runTool(tools, "pg_config", ["--sharedir"]);
    const lib = await runTool(tools, "pg_config", ["--pkglibdir"]);
    if (share.code !== 0 || lib.code !== 0) throw new Error("pg_config failed in the target image");
    dirs = { share: share.stdout.trim(), lib: lib.stdout.trim() };
    return dirs;
  };
  const isFile = (path: string) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  };
  return {
    async extensions() {
      const found: { database: string; name: string }[] = [];
      for (const database of await psql(undefined, DATABASES)) {
        for (const name of await psql(database, "select extname from pg_extension")) {
          found.push({ database, name });
        }
      }
      return found;
    },
    async preloadedLibraries() {
      const [value] = await psql(undefined, "show shared_preload_libraries");
      return (value ?? "").split(",").map((l) => l.trim().replace(/^"|"$/g, ""))
        .filter((l) => l !== "");
    },
    async preparedTransactions() {
      const [count] = await psql(undefined, "select count(*) from pg_prepared_xacts");
      return Number(count ?? "0");
    },
    async hasExtension(name) {
      return isFile(`${(await config()).share}/extension/${name}.control`);
    },
    async space() {
      if (pgdata === undefined || !isFile(`${pgdata}/PG_VERSION`)) return undefined;
      const parent = pgdata.replace(/\/+$/, "").replace(/\/[^/]*$/, "") || "/";
      return { freeBytes: await dfAvailable(parent), neededBytes: upgradeNeededBytes(pgdata) };
    },
    async hasLibrary(name) {
      const base = name.replace(/^\$libdir\//, "");
      return isFile(`${(await config()).lib}/${base}.so`) ||
        isFile(`${(await config()).lib}/${base}`);
    },
  };
}

const DATABASES = "select datname from pg_database where datallowconn order by datname";

/** The directory of `pg_upgrade` on `path`, or `/usr/bin`. */
function binDir(path: string): string {
  for (const dir of path.split(":")) {
    try {
      if (Deno.statSync(`${dir}/pg_upgrade`).isFile) return dir;
    } catch { /* not here */ }
  }
  return "/usr/bin";
}

if (import.meta.main) {
  const env = Deno.env.toObject();
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const result = await runFromEnv(env, log);
  const path = env[UPGRADE_ENV.resultPath] ?? "/dev/termination-log";
  try {
    Deno.writeTextFileSync(path, JSON.stringify(result));
  } catch (error) {
    log(`cannot write the result to "${path}": ${error}`);
  }
  if (result.outcome === "Failed") log(`${result.reason}: ${result.message}`);
  else log(result.message);
  Deno.exit(result.outcome === "Succeeded" ? 0 : 1);
}
