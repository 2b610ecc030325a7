/**
 * Parsing what PostgreSQL's tools print and writing the files the agent owns in a data
 * directory, as pure functions of strings: LSNs (`X/Y`), `pg_controldata`, timeline `.history`
 * files, the agent's `psql -Atc` observation row, and the configuration it writes
 * (`postgresql.conf` settings, `pg_hba.conf`, `primary_conninfo`).
 *
 * @module
 */

import type { TimelineHistory } from "../core/agent/timeline.ts";
export type * from "../core/agent/timeline.ts";

/**
 * An LSN as a number of bytes: `X/Y` is `X * 2^32 + Y` (exact below 2^53, 8 PiB of WAL).
 *
 * @example
 * ```ts
 * import { parseLsn } from "./pg_text.ts";
 * console.assert(parseLsn("0/3000148") === 0x3000148);
 * console.assert(parseLsn("1/0") === 2 ** 32);
 * ```
 * @throws {RangeError} when `text` is not an LSN
 */
export function parseLsn(text: string): number {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (match === null) throw new RangeError(`Cannot parse LSN "${text}": expected X/Y in hex`);
  return parseInt(match[1]!, 16) * 2 ** 32 + parseInt(match[2]!, 16);
}

/** What the agent reads of `pg_controldata`. */
export interface ControlData {
  /** `Database system identifier`. */
  systemId: string;
  /** `pg_control version number` is not kept; the catalog's major is `PG_VERSION`'s. */
  state: string;
  /** The larger of the latest checkpoint's timeline and the minimum recovery end's. */
  timeline: number;
  /** The larger of the latest checkpoint's location and the minimum recovery end. */
  flushLsn: number;
}

/**
 * Parses `pg_controldata` output (run with `LC_ALL=C`).
 *
 * @throws {RangeError} when a field the agent needs is missing
 */
export function parseControlData(text: string): ControlData {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const need = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new RangeError(`Cannot read pg_controldata: no "${name}"`);
    return value;
  };
  const optionalLsn = (name: string): number => {
    const value = fields.get(name);
    return value === undefined ? 0 : parseLsn(value);
  };
  const timeline = Math.max(
    Number(need("Latest checkpoint's TimeLineID")),
    Number(fields.get("Min recovery ending loc's timeline") ?? "0"),
  );
  return {
    systemId: need("Database system identifier"),
    state: need("Database cluster state"),
    timeline,
    flushLsn: Math.max(
      optionalLsn("Latest checkpoint location"),
      optionalLsn("Minimum recovery ending location"),
    ),
  };
}

/**
 * Parses a timeline `.history` file: one `parent<TAB>switchpoint<TAB>reason` line per ancestor.
 *
 * @example
 * ```ts
 * import { parseHistory } from "./pg_text.ts";
 * const history = parseHistory("1\t0/3000148\tno recovery target specified\n");
 * console.assert(history[0]?.timeline === 1 && history[0]?.endLsn === 0x3000148);
 * ```
 */
export function parseHistory(text: string): TimelineHistory {
  const entries: { timeline: number; endLsn: number }[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [timeline, lsn] = trimmed.split(/\s+/);
    if (timeline === undefined || lsn === undefined) continue;
    entries.push({ timeline: Number(timeline), endLsn: parseLsn(lsn) });
  }
  return entries;
}

/** The `.history` file name of a timeline: 8 hex digits. */
export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
}

/** The one query the agent runs against a running server; {@link parseObservationRow} reads it. */
export const OBSERVATION_QUERY: string = [
  "select pg_is_in_recovery(),",
  "(select system_identifier from pg_control_system()),",
  "case when pg_is_in_recovery() then coalesce(pg_last_wal_receive_lsn(),",
  "pg_last_wal_replay_lsn()) else pg_current_wal_flush_lsn() end,",
  "case when pg_is_in_recovery() then pg_last_wal_replay_lsn()",
  "else pg_current_wal_flush_lsn() end,",
  "(select status from pg_stat_wal_receiver),",
  "(select sender_host from pg_stat_wal_receiver),",
  "(select received_tli from pg_stat_wal_receiver),",
  "case when pg_is_in_recovery() then greatest((select timeline_id from pg_control_checkpoint()),",
  "(select min_recovery_end_timeline from pg_control_recovery()))",
  "else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end",
].join(" ");

/** A running server's answer to {@link OBSERVATION_QUERY}. */
export interface ObservationRow {
  /** `pg_is_in_recovery()`. */
  inRecovery: boolean;
  /** The system identifier. */
  systemId: string;
  /** WAL received (a primary: flushed). */
  receivedLsn: number;
  /** WAL replayed (a primary: flushed). */
  replayLsn: number;
  /** `pg_stat_wal_receiver.status`, when a receiver runs. */
  receiverStatus?: string;
  /** `pg_stat_wal_receiver.sender_host`, when known. */
  senderHost?: string;
  /** The timeline: the receiver's, else the recovery's, else the primary's insert timeline. */
  timeline: number;
}

/**
 * Parses the `psql -At` row of {@link OBSERVATION_QUERY} (fields separated by `|`).
 *
 * @throws {RangeError} when the row has not the query's shape
 */
export function parseObservationRow(line: string): ObservationRow {
  const fields = line.trim().split("|");
  if (fields.length !== 8) {
    throw new RangeError(`Cannot parse the observation row "${line.trim()}": expected 8 fields`);
  }
  const [recovery, systemId, received, replay, status, sender, receivedTli, timeline] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const replayLsn = replay === "" ? 0 : parseLsn(replay);
  const row: ObservationRow = {
    inRecovery: recovery === "t",
    systemId,
    receivedLsn: received === "" ? replayLsn : parseLsn(received),
    replayLsn,
    timeline: Math.max(Number(timeline || "0"), Number(receivedTli || "0")),
  };
  if (status !== "") row.receiverStatus = status;
  if (sender !== "") row.senderHost = sender;
  return row;
}

/** Quotes a value for `postgresql.conf` (single quotes, doubled inside). */
export function confQuote(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/** Quotes a value for a libpq conninfo string. */
export function conninfoQuote(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** Quotes a SQL string literal. */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quotes a SQL identifier. */
export function sqlIdentifier(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** The settings appended to `postgresql.conf` at `initdb`; clones inherit them. */
export function replicationSettings(): string {
  return [
    "",
    "# Written by the pgop instance agent at initdb.",
    "wal_level = replica",
    "max_wal_senders = 10",
    "max_replication_slots = 10",
    "hot_standby = on",
    "wal_keep_size = '512MB'",
    "password_encryption = 'scram-sha-256'",
    "",
  ].join("\n");
}

/**
 * The `pg_hba.conf` the agent writes: network logins with SCRAM only, replication connections only
 * for `replicationUser` from `networks`; the Unix socket trusted, as in the official image (it is
 * reachable only from inside the container, which is how `kubectl exec ... psql` gets in).
 */
export function hbaConf(replicationUser: string, networks: readonly string[]): string {
  const lines = [
    "# Written by the pgop instance agent. TYPE DATABASE USER ADDRESS METHOD",
    "local all all trust",
  ];
  for (const network of networks) {
    lines.push(`host replication ${replicationUser} ${network} scram-sha-256`);
  }
  for (const network of networks) lines.push(`host all all ${network} scram-sha-256`);
  return lines.join("\n") + "\n";
}

/** The address a standby connects to, after the port's resolver. */
export interface Endpoint {
  /** A host name or IP address. */
  host: string;
  /** The TCP port. */
  port: number;
}

/**
 * `postgresql.auto.conf` with its `primary_conninfo` replaced (or removed when `conninfo` is
 * undefined); every other line is kept.
 */
export function withPrimaryConninfo(autoConf: string, conninfo: string | undefined): string {
  const kept = autoConf.split("\n").filter((line) =>
    !/^\s*primary_conninfo\s*=/.test(line) && line.trim() !== ""
  );
  if (conninfo !== undefined) kept.push(`primary_conninfo = ${confQuote(conninfo)}`);
  return kept.join("\n") + "\n";
}

/** A `primary_conninfo` value; the password is read from `passfile`, never written here. */
export function primaryConninfo(
  endpoint: Endpoint,
  user: string,
  applicationName: string,
  passfile: string,
): string {
  return [
    `host=${conninfoQuote(endpoint.host)}`,
    `port=${endpoint.port}`,
    `user=${conninfoQuote(user)}`,
    `application_name=${conninfoQuote(applicationName)}`,
    `passfile=${conninfoQuote(passfile)}`,
    "sslmode=prefer",
  ].join(" ");
}

/** A `.pgpass` line admitting `user` with `password` to any host, port and database. */
export function pgpassLine(user: string, password: string): string {
  const escape = (value: string) => value.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
  return `*:*:*:${escape(user)}:${escape(password)}\n`;
}
