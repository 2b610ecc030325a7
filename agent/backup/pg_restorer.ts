/**
 * The real {@link DatabaseRestorer}: `pg_restore --no-owner --no-acl -f -` turns the archive
 * into SQL, which goes to one `psql` session inside an explicit `BEGIN`. Only when the archive
 * ended without error and pg_restore succeeded does the session get the marker
 * (`COMMENT ON DATABASE ... IS 'pgop-restore:<marker>'`) and `COMMIT`; on any failure psql is
 * killed before, so the server rolls the whole restore back and nothing is committed.
 *
 * @module
 */

import { lastLine, runTool } from "../_exec.ts";
import { DatabaseError, type DatabaseRestorer, type TableCount } from "../../core/backup/types.ts";
import {
  collectText,
  COUNT_ROWS_SQL,
  parseCounts,
  type PgToolOptions,
  spawnTool,
} from "./pg_dumper.ts";

export type { DatabaseRestorer, PgToolOptions, TableCount };

/** The database comment's prefix that records a restore. */
export const MARKER_PREFIX = "pgop-restore:";

const MARKER_SQL = "SELECT shobj_description(oid, 'pg_database') FROM pg_database " +
  "WHERE datname = current_database();";

/** Restores into the database libpq's variables name. */
export class PgRestorer implements DatabaseRestorer {
  /** Makes one; nothing runs before a call. */
  constructor(private readonly options: PgToolOptions) {}

  /** The marker of the restore recorded in the database's comment, if any. */
  async restoredMarker(): Promise<string | undefined> {
    const comment = await this.query(MARKER_SQL, "read the restore marker");
    return comment.startsWith(MARKER_PREFIX) ? comment.slice(MARKER_PREFIX.length) : undefined;
  }

  /** Restores `archive` in one transaction with `marker`, then ANALYZE; returns row counts. */
  async restore(archive: ReadableStream<Uint8Array>, marker: string): Promise<TableCount[]> {
    const psql = spawnTool(this.options, "psql", [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-v",
      `marker=${MARKER_PREFIX}${marker}`,
    ], "piped");
    const psqlErr = collectText(psql.stderr);
    const psqlOut = collectText(psql.stdout);
    const pgRestore = spawnTool(this.options, "pg_restore", [
      "--no-owner",
      "--no-acl",
      "--exit-on-error",
      "-f",
      "-",
    ], "piped");
    const restoreErr = collectText(pgRestore.stderr);
    const sql = psql.stdin.getWriter();
    const kill = () => {
      for (const child of [psql, pgRestore]) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
      }
    };
    try {
      await sql.write(new TextEncoder().encode("BEGIN;\n"));
      const feeding = archive.pipeTo(pgRestore.stdin);
      const pumping = (async () => {
        for await (const chunk of pgRestore.stdout) await sql.write(chunk);
      })();
      const [fed, pumped] = await Promise.allSettled([feeding, pumping]);
      if (pumped.status === "rejected") {
        // psql stopped taking SQL: an SQL error (ON_ERROR_STOP) or a lost connection.
        const psqlStatus = await psql.status;
        throw this.failure(
          psqlStatus.code,
          `Restoring failed, nothing was committed: ${lastLine(await psqlErr)}`,
        );
      }
      if (fed.status === "rejected") {
        throw new DatabaseError("Failed", `Reading the archive failed: ${describe(fed.reason)}`);
      }
      const status = await pgRestore.status;
      if (!status.success) {
        throw new DatabaseError("Failed", `pg_restore failed: ${lastLine(await restoreErr)}`);
      }
      await sql.write(
        new TextEncoder().encode(
          `COMMENT ON DATABASE :"DBNAME" IS :'marker';\nCOMMIT;\nANALYZE;\n`,
        ),
      );
      await sql.close();
    } catch (error) {
      kill();
      await Promise.allSettled([psql.status, pgRestore.status, psqlOut]);
      if (error instanceof DatabaseError) throw error;
      throw new DatabaseError(
        "Failed",
        `Restoring failed, nothing was committed: ${describe(error)}; psql said: ${
          lastLine(await psqlErr)
        }`,
      );
    }
    const status = await psql.status;
    await psqlOut;
    if (!status.success) {
      throw this.failure(status.code, `Restoring failed: ${lastLine(await psqlErr)}`);
    }
    return parseCounts(await this.query(COUNT_ROWS_SQL, "count the restored rows"));
  }

  /** A DatabaseError for psql's exit `code` (2: the connection failed). */
  private failure(code: number, message: string): DatabaseError {
    return new DatabaseError(code === 2 ? "Unreachable" : "Failed", message);
  }

  /** Runs one query; returns its unaligned output. */
  private async query(sql: string, what: string): Promise<string> {
    const result = await runTool(this.options, "psql", [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
    ], { env: { ...this.options.env }, timeoutMs: 600_000 });
    if (result.code !== 0) {
      throw this.failure(result.code, `Cannot ${what}: ${lastLine(result.stderr)}`);
    }
    return result.stdout.trim();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
