/**
 * The real {@link DatabaseDumper}: `pg_dump -Fc` on a snapshot exported by a `psql` session,
 * which counts every user table's rows in that same snapshot, so the manifest's counts describe
 * exactly the dump. Connection settings come from libpq's variables (`PGHOST`, ...).
 *
 * @module
 */

import { lastLine, toolCommand, type ToolRunner } from "../_exec.ts";
import {
  type DatabaseDumper,
  DatabaseError,
  type Dump,
  type TableCount,
} from "../../core/backup/types.ts";

export type { DatabaseDumper, Dump, TableCount, ToolRunner };

/** How to reach the database and run the tools. */
export interface PgToolOptions extends ToolRunner {
  /** libpq variables and anything else the tools need (merged into the inherited environment). */
  env: Record<string, string>;
}

/**
 * The row count of every user table (not `pg_catalog`, `information_schema` or TOAST), as one
 * line of JSON: `[{"table": "public.t", "rows": 3}, ...]`, ordered by name.
 */
export const COUNT_ROWS_SQL =
  `SELECT coalesce(json_agg(json_build_object('table', t, 'rows', n) ORDER BY t), '[]')
FROM (SELECT format('%I.%I', ns.nspname, c.relname) AS t,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', ns.nspname, c.relname), false, true, '')))[1]::text::bigint AS n
  FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
    AND ns.nspname NOT LIKE 'pg_toast%' AND ns.nspname NOT LIKE 'pg_temp%') counts;`;

/** Parses {@link COUNT_ROWS_SQL}'s output line. */
export function parseCounts(line: string): TableCount[] {
  const value = JSON.parse(line) as TableCount[];
  if (!Array.isArray(value)) throw new Error(`Cannot parse row counts "${line.slice(0, 100)}"`);
  return value.map((t) => ({ table: String(t.table), rows: Number(t.rows) }));
}

/** Spawns a tool with piped streams, in the C locale, with the options' environment. */
export function spawnTool(
  options: PgToolOptions,
  tool: string,
  args: readonly string[],
  stdin: "piped" | "null",
): Deno.ChildProcess {
  const [command, ...rest] = toolCommand(options, tool, args);
  return new Deno.Command(command!, {
    args: rest,
    env: { LC_ALL: "C", ...options.env },
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Collects a stream as text (the tools' stderr), draining it so the tool never blocks. */
export function collectText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text().catch(() => "");
}

/** Reads a text stream line by line. */
class LineReader {
  private buffer = "";
  private readonly reader: ReadableStreamDefaultReader<string>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, or undefined at the end. */
  async next(): Promise<string | undefined> {
    while (true) {
      const newline = this.buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        return line;
      }
      const { done, value } = await this.reader.read();
      if (done) return undefined;
      this.buffer += value;
    }
  }
}

/** Dumps the database libpq's variables name. */
export class PgDumper implements DatabaseDumper {
  /** Makes one; nothing runs before {@link PgDumper.dump}. */
  constructor(private readonly options: PgToolOptions) {}

  /** Opens the snapshot session, starts pg_dump on it and counts rows in it. */
  async dump(): Promise<Dump> {
    const session = spawnTool(this.options, "psql", [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
    ], "piped");
    const sessionErr = collectText(session.stderr);
    const writer = session.stdin.getWriter();
    const lines = new LineReader(session.stdout);
    const end = async () => {
      await writer.write(new TextEncoder().encode("COMMIT;\n")).catch(() => {});
      await writer.close().catch(() => {});
      await session.status;
    };
    const ask = async (sql: string, what: string): Promise<string> => {
      await writer.write(new TextEncoder().encode(`${sql}\n`)).catch(() => {});
      const line = await lines.next();
      if (line !== undefined) return line;
      const status = await session.status;
      const detail = lastLine(await sessionErr);
      // psql exits with 2 when the connection failed or broke.
      throw new DatabaseError(
        status.code === 2 ? "Unreachable" : "Failed",
        `Cannot ${what}: ${detail}`,
      );
    };
    let snapshot: string;
    let serverVersion: string;
    try {
      await writer.write(
        new TextEncoder().encode("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"),
      ).catch(() => {});
      snapshot = await ask("SELECT pg_export_snapshot();", "export a snapshot for the dump");
      serverVersion = await ask("SHOW server_version;", "read the server's version");
    } catch (error) {
      await end().catch(() => {});
      throw error;
    }
    const version = spawnTool(this.options, "pg_dump", ["--version"], "null");
    const [versionOut] = await Promise.all([
      collectText(version.stdout),
      collectText(version.stderr),
    ]);
    await version.status;
    const dumpVersion = versionOut.trim();
    const pgDump = spawnTool(this.options, "pg_dump", ["-Fc", `--snapshot=${snapshot}`], "null");
    const dumpErr = collectText(pgDump.stderr);
    const tables = ask(COUNT_ROWS_SQL, "count the rows in the dump's snapshot").then(parseCounts);
    tables.catch(() => {});
    const done = (async () => {
      const status = await pgDump.status;
      const stderr = await dumpErr;
      await tables.catch(() => {});
      await end().catch(() => {});
      if (!status.success) {
        const code = /connection to server|could not connect/.test(stderr)
          ? "Unreachable"
          : "Failed";
        throw new DatabaseError(code, `pg_dump failed: ${lastLine(stderr)}`);
      }
    })();
    done.catch(() => {});
    const reader = pgDump.stdout.getReader();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        try {
          pgDump.kill("SIGTERM");
        } catch { /* already exited */ }
        await reader.cancel().catch(() => {});
      },
    });
    return { stream, tables, done, serverVersion, dumpVersion };
  }
}
