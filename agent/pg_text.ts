/**
 * Parsing what PostgreSQL's tools print and writing the files the agent owns in a data
 * directory, as pure functions of strings: LSNs (`X/Y`), `pg_controldata`, timeline `.history`
 * files, the agent's `psql -Atc` observation row, and the configuration it writes
 * (`postgresql.conf` settings, `pg_hba.conf`, `primary_conninfo`).
 *
 * @module
 */

import type { TimelineHistory } from "../core/agent/timeline.ts";
import type { SynchronousStandbys } from "../core/agent/types.ts";
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
  // A restarted WAL receiver reports where it restarted streaming (a segment's start), which may be
  // behind WAL this standby already replayed: its WAL ends at the greater of the two.
  "case when pg_is_in_recovery() then greatest(pg_last_wal_receive_lsn(),",
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
    receivedLsn: received === "" ? replayLsn : Math.max(parseLsn(received), replayLsn),
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
  return withSetting(autoConf, "primary_conninfo", conninfo);
}

/**
 * `postgresql.auto.conf` with the setting `name` replaced (or removed when `value` is undefined);
 * every other line is kept.
 *
 * @example
 * ```ts
 * import { withSetting } from "./pg_text.ts";
 * console.assert(withSetting("a = '1'\nb = '2'\n", "a", "3") === "b = '2'\na = '3'\n");
 * ```
 */
export function withSetting(autoConf: string, name: string, value: string | undefined): string {
  const pattern = new RegExp(`^\\s*${name}\\s*=`);
  const kept = autoConf.split("\n").filter((line) => !pattern.test(line) && line.trim() !== "");
  if (value !== undefined) kept.push(`${name} = ${confQuote(value)}`);
  return kept.join("\n") + "\n";
}

/**
 * The value of the setting `name` in a configuration file (the last assignment wins, as in
 * PostgreSQL), unquoted; undefined when it is not set.
 */
export function readSetting(conf: string, name: string): string | undefined {
  const pattern = new RegExp(`^\\s*${name}\\s*=\\s*(.*?)\\s*$`);
  let value: string | undefined;
  for (const line of conf.split("\n")) {
    const m = pattern.exec(line);
    if (m === null) continue;
    const raw = m[1]!;
    const quoted = /^'((?:[^'\\]|''|\\.)*)'/.exec(raw);
    value = quoted === null
      ? raw.replace(/\s*#.*$/, "")
      : quoted[1]!.replaceAll("''", "'").replace(/\\(.)/g, "$1");
  }
  return value;
}

/**
 * The `synchronous_standby_names` value of a quorum: `ANY n ("a", "b")`, each name quoted as an
 * identifier; empty (asynchronous) without one.
 *
 * @example
 * ```ts
 * import { synchronousStandbyNames } from "./pg_text.ts";
 * const value = synchronousStandbyNames({ number: 1, standbys: ["db-1", "db-2"] });
 * console.assert(value === 'ANY 1 ("db-1", "db-2")');
 * ```
 */
export function synchronousStandbyNames(sync: SynchronousStandbys | undefined): string {
  if (sync === undefined || sync.number < 1 || sync.standbys.length === 0) return "";
  return `ANY ${sync.number} (${sync.standbys.map(sqlIdentifier).join(", ")})`;
}

/**
 * The quorum a `synchronous_standby_names` value names: undefined when it is empty; a value this
 * agent did not write (another form) comes back as `number: 0` with the value as its only name,
 * so it never equals a quorum the agent wants and is written again.
 */
export function parseSynchronousStandbyNames(
  value: string | undefined,
): SynchronousStandbys | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const m = /^ANY\s+(\d+)\s*\((.*)\)$/.exec(value.trim());
  const names = m === null ? undefined : parseNameList(m[2]!);
  if (m === null || names === undefined) return { number: 0, standbys: [value] };
  return { number: Number(m[1]), standbys: names };
}

function parseNameList(text: string): string[] | undefined {
  const names: string[] = [];
  const item = /\s*(?:"((?:[^"]|"")*)"|([A-Za-z0-9_\-]+))\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    item.lastIndex = at;
    const m = item.exec(text);
    if (m === null) return undefined;
    names.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!);
    at = item.lastIndex;
    if (m[3] === "") break;
  }
  return names;
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
