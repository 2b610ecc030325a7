/**
 * A verifier for the backup runner: a throwaway PostgreSQL in a temporary directory (initdb,
 * then a server on a unix socket in that directory, no TCP), with one database to restore into;
 * its cleanup stops the server and removes the directory.
 *
 * @module
 */

import { lastLine, runTool, type ToolRunner } from "../_exec.ts";
import type { ThrowawayDatabase, Verifier } from "../../runtime/backup_runner.ts";
import { PgRestorer } from "./pg_restorer.ts";

export type { ThrowawayDatabase, ToolRunner, Verifier };

/** What {@link throwawayVerifier} needs. */
export interface ThrowawayOptions extends ToolRunner {
  /** Where the temporary directory goes. @default "/tmp" */
  parent?: string;
  /** The owner of the directory when the tools run as another user (tests run as root). */
  fileOwner?: { uid: number; gid: number };
  /** Receives one line per step. @default nothing is logged */
  log?: (line: string) => void;
}

/** A verifier that starts a fresh throwaway PostgreSQL for each call. */
export function throwawayVerifier(options: ThrowawayOptions): Verifier {
  return () => startThrowaway(options);
}

/** A started throwaway database, with the libpq variables that reach it. */
export interface ThrowawayPostgres extends ThrowawayDatabase {
  /** `PGHOST` (the socket directory), `PGPORT`, `PGUSER` and `PGDATABASE`. */
  env: Record<string, string>;
}

/** Starts a throwaway PostgreSQL with a database `verify`; throws saying which step failed. */
export async function startThrowaway(options: ThrowawayOptions): Promise<ThrowawayPostgres> {
  const dir = Deno.makeTempDirSync({ dir: options.parent ?? "/tmp", prefix: "pgop-verify-" });
  Deno.chmodSync(dir, 0o700);
  if (options.fileOwner) Deno.chownSync(dir, options.fileOwner.uid, options.fileOwner.gid);
  const pgdata = `${dir}/pgdata`;
  const env = { PGHOST: dir, PGPORT: "5432", PGUSER: "postgres", PGDATABASE: "verify" };
  const stop = async () => {
    await runTool(options, "pg_ctl", ["stop", "-D", pgdata, "-m", "immediate", "-w"], {
      timeoutMs: 60_000,
    }).catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  };
  const step = async (tool: string, args: string[], what: string) => {
    const result = await runTool(options, tool, args, { env, timeoutMs: 120_000 });
    if (result.code !== 0) throw new Error(`Cannot ${what}: ${lastLine(result.stderr)}`);
  };
  try {
    await step("initdb", [
      "-D",
      pgdata,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ], "initialize the throwaway database");
    const serverOptions = `-c listen_addresses='' -k ${dir} -p 5432 -c fsync=off ` +
      `-c full_page_writes=off -c synchronous_commit=off`;
    await step("pg_ctl", [
      "start",
      "-D",
      pgdata,
      "-w",
      "-t",
      "60",
      "-l",
      `${dir}/server.log`,
      "-o",
      serverOptions,
    ], "start the throwaway server");
    await step("createdb", ["verify"], "create the throwaway database");
  } catch (error) {
    await stop();
    throw error;
  }
  options.log?.(`Started a throwaway PostgreSQL in "${dir}"`);
  return { restorer: new PgRestorer({ ...options, env }), cleanup: stop, env };
}
