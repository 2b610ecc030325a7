/**
 * The database side of a backup run in the simulation: a {@link DatabaseDumper} and a
 * {@link DatabaseRestorer} over the simulated PostgreSQL instances of {@link SimDataPlane}, on
 * virtual time, reached as libpq would reach them from a Job's pod.
 *
 * - **Connecting**: `PGHOST` names a Service (`<service>.<namespace>.svc.cluster.local`, or a
 *   shorter form in the pod's namespace), normally the PostgresDB's `-rw` Service; the connection
 *   goes to the first Ready, non-terminating pod its selector matches (as its endpoints would),
 *   and to the instance under it. No such Service, no such pod, or an instance that does not run:
 *   {@link DatabaseError} `Unreachable`. `PGUSER`, `PGPASSWORD` and `PGDATABASE` are not checked.
 * - **The archive** is deterministic bytes: a JSON header line (system id, timeline, flushed LSN,
 *   server version, tables) and padding that grows with the data, so a large database's dump
 *   needs a multipart upload. Its one table, `public.sim_rows`, has one row per `walBytesPerRow`
 *   bytes of flushed WAL (plus the rows a restore put there). It streams at `dumpBytesPerMs`; the
 *   instance stopping or crashing meanwhile fails the dump, as a dropped connection does.
 * - **A restore** reads the whole archive, then commits at once, all or nothing: the target must
 *   still be the same running primary (a crash, a demotion or a cut run commits nothing), and must
 *   hold no earlier restore (`relation already exists`, as pg_restore says into a non-empty
 *   database). It records {@link SimPostgresInstance.restored} (marker and row counts).
 *
 * @module
 */

import { type Clock, sleep } from "../core/clock.ts";
import {
  type DatabaseDumper,
  DatabaseError,
  type DatabaseRestorer,
  type Dump,
  type TableCount,
} from "../core/backup/types.ts";
import type { KubeObject } from "../core/object.ts";
import type { SimApiServer } from "./api_server.ts";
import type { SimDataPlane } from "./data_plane.ts";
import type { StoreSession } from "./object_store.ts";
import { isPodReady } from "./pod_lifecycle.ts";
import type { SimPostgresInstance } from "./postgres_instance.ts";

/** The archive format of the simulated dumps. */
export const SIM_DUMP_FORMAT = "pgop-sim-dump/v1";
/** The simulated table. */
export const SIM_TABLE = "public.sim_rows";

/** Options of the simulated dumper and restorer. */
export interface BackupPortsOptions {
  /** Flushed WAL bytes per row of {@link SIM_TABLE}. @default 64 */
  walBytesPerRow?: number;
  /** Archive bytes per row. @default 128 */
  bytesPerRow?: number;
  /** Archive bytes of an empty database. @default 65_536 */
  baseBytes?: number;
  /** Dump and restore rate, bytes per virtual millisecond. @default 50_000 */
  bytesPerMs?: number;
  /** Virtual time to connect. @default 2 */
  connectMs?: number;
}

/** What the ports need of the simulated world. */
export interface SimDatabaseWorld {
  /** The API server (Services and pods). */
  server: SimApiServer;
  /** Virtual time. */
  clock: Clock;
  /** The instances, if the world has a data plane. */
  dataPlane: SimDataPlane | undefined;
}

/** libpq's environment of the run, and the pod's namespace. */
export interface SimDatabaseTarget {
  /** `PGHOST`. */
  host: string;
  /** The pod's namespace (for a host without one). */
  namespace: string;
}

const SERVICE = { apiVersion: "v1", kind: "Service" };
const POD = { apiVersion: "v1", kind: "Pod" };

/** The archive's header line, parsed. */
interface ArchiveHeader {
  format: string;
  systemId: string;
  timeline: number;
  flushLsn: number;
  serverVersion: string;
  tables: TableCount[];
}

/**
 * A dumper of the database that `target.host` reaches; `session` cut stops nothing (the dump's
 * reader is gone) but is accepted for symmetry with the restorer.
 */
export function simDumper(
  world: SimDatabaseWorld,
  target: SimDatabaseTarget,
  options: BackupPortsOptions = {},
): DatabaseDumper {
  const o = withDefaults(options);
  return {
    async dump(): Promise<Dump> {
      await sleep(world.clock, o.connectMs);
      const instance = resolveDatabase(world, target);
      const header = snapshot(instance, o.walBytesPerRow);
      const archive = archiveBytes(header, o);
      const incarnation = instance.incarnation;
      let finish: (error?: Error) => void = () => {};
      const done = new Promise<void>((resolve, reject) => {
        finish = (error) => error ? reject(error) : resolve();
      });
      done.catch(() => {});
      let at = 0;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (at >= archive.length) {
            controller.close();
            finish();
            return;
          }
          const end = Math.min(archive.length, at + 1_048_576);
          await sleep(world.clock, Math.ceil((end - at) / o.bytesPerMs));
          if (instance.process !== "running" || instance.incarnation !== incarnation) {
            const error = new DatabaseError(
              "Failed",
              `pg_dump: error: Dumping the contents of table "sim_rows" failed: server closed the connection unexpectedly`,
            );
            controller.error(error);
            finish(error);
            return;
          }
          controller.enqueue(archive.slice(at, end));
          at = end;
        },
        // The reader gave up (the upload failed): pg_dump is stopped, and the dump ends failed.
        cancel() {
          finish(new DatabaseError("Failed", "pg_dump: stopped: the dump's reader went away"));
        },
      }, { highWaterMark: 0 });
      return {
        stream,
        tables: Promise.resolve(header.tables.map((t) => ({ ...t }))),
        done,
        serverVersion: header.serverVersion,
        dumpVersion: `pg_dump (PostgreSQL) ${header.serverVersion}`,
      };
    },
  };
}

/** A restorer into the database `target.host` reaches; a cut `session` never commits. */
export function simRestorer(
  world: SimDatabaseWorld,
  target: SimDatabaseTarget,
  session: StoreSession,
  options: BackupPortsOptions = {},
): DatabaseRestorer {
  const o = withDefaults(options);
  return {
    async restoredMarker(): Promise<string | undefined> {
      await sleep(world.clock, o.connectMs);
      return resolveDatabase(world, target).restored?.marker;
    },
    async restore(archive: ReadableStream<Uint8Array>, marker: string): Promise<TableCount[]> {
      await sleep(world.clock, o.connectMs);
      const instance = resolveDatabase(world, target);
      const incarnation = instance.incarnation;
      const bytes = await readAll(archive);
      await sleep(world.clock, Math.ceil(bytes.length / o.bytesPerMs));
      if (session.isCut) return new Promise<never>(() => {});
      const header = parseHeader(bytes);
      if (instance.process !== "running" || instance.incarnation !== incarnation) {
        throw new DatabaseError(
          "Unreachable",
          "pg_restore: error: server closed the connection unexpectedly",
        );
      }
      if (!instance.acceptsWrites) {
        throw new DatabaseError(
          "Failed",
          "pg_restore: error: cannot execute CREATE TABLE in a read-only transaction",
        );
      }
      if (instance.restored !== undefined) {
        throw new DatabaseError(
          "Failed",
          `pg_restore: error: relation ${JSON.stringify(SIM_TABLE)} already exists`,
        );
      }
      const tables = header.tables.map((t) => ({ ...t }));
      instance.restored = { marker, tables };
      return tables.map((t) => ({ ...t }));
    },
  };
}

/**
 * A restorer into a fresh, empty throwaway database in memory (a verification's): it restores
 * any valid archive once and answers its row counts.
 */
export function simThrowawayRestorer(
  clock: Clock,
  options: BackupPortsOptions = {},
): DatabaseRestorer {
  const o = withDefaults(options);
  let marker: string | undefined;
  return {
    restoredMarker: () => Promise.resolve(marker),
    async restore(archive: ReadableStream<Uint8Array>, next: string): Promise<TableCount[]> {
      const bytes = await readAll(archive);
      await sleep(clock, Math.ceil(bytes.length / o.bytesPerMs));
      const header = parseHeader(bytes);
      if (marker !== undefined) {
        throw new DatabaseError(
          "Failed",
          `pg_restore: error: relation ${JSON.stringify(SIM_TABLE)} already exists`,
        );
      }
      marker = next;
      return header.tables.map((t) => ({ ...t }));
    },
  };
}

function withDefaults(options: BackupPortsOptions): Required<BackupPortsOptions> {
  return {
    walBytesPerRow: options.walBytesPerRow ?? 64,
    bytesPerRow: options.bytesPerRow ?? 128,
    baseBytes: options.baseBytes ?? 65_536,
    bytesPerMs: options.bytesPerMs ?? 50_000,
    connectMs: options.connectMs ?? 2,
  };
}

/** The instance behind `target.host`, as a connection reaches it; `Unreachable` otherwise. */
export function resolveDatabase(
  world: SimDatabaseWorld,
  target: SimDatabaseTarget,
): SimPostgresInstance {
  const [service = "", namespace = target.namespace] = target.host.split(".");
  const unreachable = (why: string) =>
    new DatabaseError(
      "Unreachable",
      `connection to server at ${JSON.stringify(target.host)} failed: ${why}`,
    );
  const svc = world.server.peek(SERVICE, service, namespace);
  if (!svc) throw unreachable("could not translate host name to address");
  const selector = (svc.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
  const endpoints = world.server.peekList(POD, namespace)
    .filter((pod) => matches(pod, selector) && !pod.metadata.deletionTimestamp && isPodReady(pod))
    .sort((a, b) => a.metadata.name < b.metadata.name ? -1 : 1);
  const pod = endpoints[0];
  if (pod === undefined || Object.keys(selector).length === 0) {
    throw unreachable("Connection refused (no endpoints)");
  }
  const instance = world.dataPlane?.instanceOfPod(namespace, pod.metadata.name);
  if (!instance || instance.process !== "running") throw unreachable("Connection refused");
  return instance;
}

function matches(pod: KubeObject, selector: Record<string, string>): boolean {
  const labels = pod.metadata.labels ?? {};
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function snapshot(instance: SimPostgresInstance, walBytesPerRow: number): ArchiveHeader {
  const rows = Math.floor(instance.flushLsn / walBytesPerRow);
  const tables = (instance.restored?.tables ?? []).map((t) => ({ ...t }));
  const own = tables.find((t) => t.table === SIM_TABLE);
  if (own) own.rows += rows;
  else tables.push({ table: SIM_TABLE, rows });
  tables.sort((a, b) => a.table < b.table ? -1 : a.table > b.table ? 1 : 0);
  const major = instance.observe().data;
  return {
    format: SIM_DUMP_FORMAT,
    systemId: instance.systemId ?? "",
    timeline: instance.timeline ?? 0,
    flushLsn: instance.flushLsn,
    serverVersion: `${major.kind === "initialized" ? major.major : 16}.0`,
    tables,
  };
}

/** The header line, then deterministic padding that grows with the rows. */
function archiveBytes(header: ArchiveHeader, o: Required<BackupPortsOptions>): Uint8Array {
  const head = new TextEncoder().encode(`${JSON.stringify(header)}\n`);
  const rows = header.tables.reduce((n, t) => n + t.rows, 0);
  const archive = new Uint8Array(head.length + o.baseBytes + rows * o.bytesPerRow);
  archive.set(head);
  let seed = header.flushLsn % 251;
  for (let i = head.length; i < archive.length; i++) {
    seed = (seed * 33 + 17) % 251;
    archive[i] = seed;
  }
  return archive;
}

function parseHeader(bytes: Uint8Array): ArchiveHeader {
  const newline = bytes.indexOf(10);
  const invalid = new DatabaseError(
    "Failed",
    "pg_restore: error: input file does not appear to be a valid archive",
  );
  if (newline < 0) throw invalid;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline)));
    if (header?.format !== SIM_DUMP_FORMAT || !Array.isArray(header.tables)) throw invalid;
    return header as ArchiveHeader;
  } catch {
    throw invalid;
  }
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    length += chunk.length;
  }
  const whole = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}
