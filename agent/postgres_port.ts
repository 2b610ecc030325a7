/**
 * The real {@link InstancePort}: PostgreSQL's binaries of one major on a data directory, with the
 * server run as this process's child.
 *
 * Actions start work and return at once, as the simulated instance's do
 * (`sim/postgres_instance.ts`): `initdb` (with the replication settings, `pg_hba.conf`, the
 * superuser's password and, in single-user mode before any network listener, the replication
 * role and the application database), `cloneFrom`/`reclone` (`pg_basebackup` into a directory
 * beside the data directory, then `standby.signal` and `primary_conninfo`), `writeConfig` (a
 * standby's `primary_conninfo`, a primary's `synchronous_standby_names`; a running server
 * reloads), `start` (`postgres -D` as a child), `stop` (`pg_ctl stop -m`) and
 * `promote` (`pg_ctl promote`). {@link PostgresPort.observe} is synchronous: it returns the
 * latest snapshot, which a background loop refreshes (`pg_controldata` when stopped, one
 * `psql -Atc` query when running, the `.history` files for the timeline history), overlaid with
 * the work in flight.
 *
 * Guarantees: no data is deleted before its replacement exists: a re-clone writes the new copy
 * beside the old data, moves the old data aside only once the copy is complete, then deletes it;
 * a failed clone leaves the old data in place and removes only its own partial copy. The
 * replication password is written to a passfile (mode 0600), never into `primary_conninfo`.
 *
 * Caveats: a stopped instance's WAL end is `pg_controldata`'s latest checkpoint (or minimum
 * recovery end), exact after a fast stop and an underestimate after a crash; the
 * `primary_conninfo` the agent decided (a pod's DNS name) is kept in `pgop-config.json` in the
 * data directory, the file itself names the resolved address.
 *
 * @module
 */

import type {
  Conninfo,
  DataDirectory,
  InstanceAction,
  InstanceConfig,
  InstanceObservation,
  InstancePort,
  PerformResult,
  ProcessState,
  SecretKeyRef,
  WalReceiver,
} from "../core/agent/types.ts";
import type { TimelineHistory } from "../core/agent/timeline.ts";
import { settleUpgradeLeftovers } from "./upgrade/leftovers.ts";
import { lastLine, runTool, toolCommand, type ToolResult, type ToolRunner } from "./_exec.ts";
import {
  type Endpoint,
  hbaConf,
  historyFileName,
  OBSERVATION_QUERY,
  parseControlData,
  parseHistory,
  parseObservationRow,
  parseSynchronousStandbyNames,
  pgpassLine,
  primaryConninfo,
  readSetting,
  replicationSettings,
  sqlIdentifier,
  sqlLiteral,
  synchronousStandbyNames,
  withPrimaryConninfo,
  withSetting,
} from "./pg_text.ts";
export type * from "../core/agent/types.ts";
export type * from "../core/agent/timeline.ts";
export type { Endpoint } from "./pg_text.ts";

/** Options of {@link PostgresPort}. */
export interface PostgresPortOptions {
  /** The data directory (PGDATA); its parent must be writable (clones are written beside it). */
  pgdata: string;
  /** The directory of PostgreSQL's binaries, e.g. `/usr/lib/postgresql/16/bin`. */
  bin: string;
  /** The major version of the binaries. */
  major: number;
  /** The superuser created by `initdb`. */
  superuser: string;
  /** Its password. */
  superuserPassword: string;
  /** The application database created at bootstrap (none when it is `postgres`). */
  database: string;
  /** The replication user. @default "replicator" */
  replicationUser?: string;
  /** Its password. */
  replicationPassword: string;
  /** Where the replication password comes from, as `primary_conninfo` records it. */
  replicationPasswordSecret: SecretKeyRef;
  /** The port PostgreSQL listens on. @default 5432 */
  port?: number;
  /** `listen_addresses`. @default "*" */
  listenAddresses?: string;
  /** The first of `unix_socket_directories`: where the agent's own `psql` connects. @default "/tmp" */
  socketDirectory?: string;
  /** More socket directories, for other clients (`kubectl exec ... psql`). @default [] */
  moreSocketDirectories?: readonly string[];
  /** The networks `pg_hba.conf` admits (SCRAM only). @default ["0.0.0.0/0", "::/0"] */
  networks?: readonly string[];
  /** A command that runs the tools as PostgreSQL's user (it must exec). @default [] */
  commandPrefix?: readonly string[];
  /** The owner of the files the agent writes into the data directory, when it is not this process. */
  fileOwner?: { uid: number; gid: number };
  /** Maps a conninfo host (a pod's DNS name) to where it is reached. @default the host itself */
  resolve?: (host: string, port: number) => Endpoint;
  /** The server's output: the agent's own (`inherit`) or kept in {@link PostgresPort.serverLog}. */
  serverOutput?: "inherit" | "piped";
  /** The background refresh period. @default 1000 */
  refreshMs?: number;
  /** Where the port logs what it does. @default console.log */
  log?: (line: string) => void;
}

/** The logical configuration kept beside `postgresql.auto.conf`. */
const CONFIG_FILE = "pgop-config.json";
/** The replication passfile inside the data directory. */
const PASSFILE = "pgop-replication.pgpass";

interface Snapshot {
  data: DataDirectory;
  reportedRole?: "primary" | "standby";
  receivedLsn: number;
  replayLsn: number;
  walReceiver?: WalReceiver;
}

type Operation = { kind: "initdb" } | { kind: "clone"; upstream: string };

/** A real PostgreSQL instance behind the agent's {@link InstancePort}. */
export class PostgresPort implements InstancePort {
  readonly #o: Required<Omit<PostgresPortOptions, "fileOwner">> & {
    fileOwner?: { uid: number; gid: number };
  };
  readonly #runner: ToolRunner;
  #snapshot: Snapshot = { data: { kind: "empty" }, receivedLsn: 0, replayLsn: 0 };
  #process: ProcessState = "stopped";
  #child: Deno.ChildProcess | undefined;
  #childExited: Promise<void> = Promise.resolve();
  #stopRequested = false;
  #operation: Operation | undefined;
  #promoting = false;
  #refreshing: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #serverLog: string[] = [];
  #lastError: string | undefined;

  /** A port over `options.pgdata`; call {@link PostgresPort.refresh} or {@link PostgresPort.run}. */
  constructor(options: PostgresPortOptions) {
    this.#o = {
      replicationUser: "replicator",
      port: 5432,
      listenAddresses: "*",
      socketDirectory: "/tmp",
      moreSocketDirectories: [],
      networks: ["0.0.0.0/0", "::/0"],
      commandPrefix: [],
      resolve: (host, port) => ({ host, port }),
      serverOutput: "inherit",
      refreshMs: 1000,
      log: (line) => console.log(line),
      ...options,
    };
    this.#runner = { bin: this.#o.bin, commandPrefix: this.#o.commandPrefix };
  }

  /** The data directory. */
  get pgdata(): string {
    return this.#o.pgdata;
  }

  /** The last lines of the server's output (with `serverOutput: "piped"`). */
  serverLog(): string {
    return this.#serverLog.join("\n");
  }

  /** The last background failure (a tool that failed), if any. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Starts refreshing the observation every `refreshMs` in the background. */
  run(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs);
  }

  /**
   * Stops the background refresh and PostgreSQL (`fast`), waiting at most `timeoutMs` for it to
   * exit; then stops it `immediate`.
   */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#child === undefined) return;
    this.#stopRequested = true;
    await this.#pgCtl(["stop", "-m", "fast", "-W"]);
    const exited = await Promise.race([
      this.#childExited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs)),
    ]);
    if (!exited) {
      await this.#pgCtl(["stop", "-m", "immediate", "-W"]);
      await this.#childExited;
    }
    await this.#refreshing;
  }

  /** {@inheritDoc InstancePort.observe} */
  observe(): InstanceObservation {
    const s = this.#snapshot;
    const op = this.#operation;
    const data: DataDirectory = op === undefined
      ? s.data
      : op.kind === "initdb"
      ? { kind: "initializing", by: "initdb" }
      : { kind: "initializing", by: "clone", upstream: op.upstream };
    const obs: InstanceObservation = {
      data,
      process: this.#process,
      receivedLsn: s.receivedLsn,
      replayLsn: s.replayLsn,
    };
    if (this.#process === "running" && s.reportedRole !== undefined) {
      obs.reportedRole = s.reportedRole;
    }
    if (this.#promoting) obs.promoting = true;
    if (this.#process === "running" && s.walReceiver !== undefined) {
      obs.walReceiver = { ...s.walReceiver };
    }
    return obs;
  }

  /** {@inheritDoc InstancePort.perform} */
  perform(action: InstanceAction): PerformResult {
    const busy = this.#operation ?? (this.#promoting ? { kind: "promote" } : undefined);
    if (busy !== undefined && action.kind !== "writeConfig") {
      return fail(`Cannot ${action.kind}: ${busy.kind} in progress`);
    }
    const stopped = this.#process === "stopped" || this.#process === "crashed";
    const data = this.#snapshot.data;
    switch (action.kind) {
      case "initdb":
        if (data.kind !== "empty") return fail("Cannot initdb: data exists");
        return this.#background({ kind: "initdb" }, () => this.#initdb());
      case "cloneFrom":
      case "reclone":
        if (action.kind === "cloneFrom" && data.kind !== "empty") {
          return fail("Cannot clone: data exists");
        }
        if (!stopped) return fail(`Cannot clone: PostgreSQL is ${this.#process}`);
        return this.#background(
          { kind: "clone", upstream: action.upstream },
          () => this.#clone(action.conninfo),
        );
      case "writeConfig":
        if (data.kind !== "initialized") return fail("Cannot configure: no data");
        return this.#writeConfigNow(action.config);
      case "start":
        if (data.kind !== "initialized") return fail("Cannot start: no data");
        if (!stopped) return fail(`Cannot start: PostgreSQL is ${this.#process}`);
        return this.#start();
      case "stop":
        if (this.#process !== "running" && this.#process !== "starting") {
          return fail(`Cannot stop: PostgreSQL is ${this.#process}`);
        }
        this.#stopRequested = true;
        this.#process = "stopping";
        void this.#pgCtl(["stop", "-m", action.mode, "-W"]).then((result) => {
          if (result.code !== 0) this.#lastError = `pg_ctl stop: ${lastLine(result.stderr)}`;
        });
        return { ok: true };
      case "promote":
        if (this.#process !== "running" || this.#snapshot.reportedRole !== "standby") {
          return fail("Cannot promote: not a running standby");
        }
        this.#promoting = true;
        void this.#pgCtl(["promote", "-w", "-t", "120"]).then(async (result) => {
          if (result.code !== 0) this.#lastError = `pg_ctl promote: ${lastLine(result.stderr)}`;
          await this.refresh(true);
          this.#promoting = false;
        });
        return { ok: true };
    }
  }

  #background(operation: Operation, work: () => Promise<void>): PerformResult {
    this.#operation = operation;
    void work().catch((error) => {
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#o.log(`${operation.kind} failed: ${this.#lastError}`);
    }).finally(async () => {
      this.#operation = undefined;
      await this.refresh(true);
    });
    return { ok: true };
  }

  /**
   * Reads the instance again (at most one refresh runs at a time; `force` waits for the running
   * one and starts another, so what it returns reflects everything done before the call).
   */
  async refresh(force = false): Promise<void> {
    if (this.#refreshing !== undefined) {
      if (!force) return await this.#refreshing;
      await this.#refreshing;
    }
    this.#refreshing = this.#read().catch((error) => {
      this.#lastError = error instanceof Error ? error.message : String(error);
    }).finally(() => this.#refreshing = undefined);
    await this.#refreshing;
  }

  async #read(): Promise<void> {
    if (this.#operation !== undefined) return;
    const pgdata = this.#o.pgdata;
    if (this.#process === "stopped" || this.#process === "crashed") {
      // An interrupted major upgrade's leftovers are settled before the data is looked at: a
      // half-linked directory must never look empty (and be cloned over).
      const settled = settleUpgradeLeftovers(pgdata);
      if (settled !== undefined) this.#o.log(`${settled} on "${pgdata}"`);
    }
    if (!exists(`${pgdata}/global/pg_control`)) {
      this.#snapshot = { data: { kind: "empty" }, receivedLsn: 0, replayLsn: 0 };
      return;
    }
    const major = Number(Deno.readTextFileSync(`${pgdata}/PG_VERSION`).trim());
    const config = this.#readConfig();
    if (this.#process === "running" || this.#process === "starting") {
      const result = await this.#psql(OBSERVATION_QUERY);
      if (result.code === 0) {
        if (this.#process === "starting") this.#process = "running";
        const row = parseObservationRow(result.stdout);
        // A standby whose WAL receiver stopped (its primary went away) falls back to its last
        // restartpoint's timeline, which may be older than the one it replayed: a running
        // standby's timeline never goes back, so keep the highest seen on the same data.
        const previous = this.#snapshot.data;
        const timeline = row.inRecovery && previous.kind === "initialized" &&
            previous.systemId === row.systemId
          ? Math.max(previous.timeline, row.timeline)
          : row.timeline;
        const snapshot: Snapshot = {
          data: {
            kind: "initialized",
            systemId: row.systemId,
            major,
            timeline,
            history: this.#history(timeline),
            flushLsn: row.receivedLsn,
            config,
          },
          reportedRole: row.inRecovery ? "standby" : "primary",
          receivedLsn: row.receivedLsn,
          replayLsn: row.replayLsn,
        };
        if (row.inRecovery && config.role === "standby") {
          const streaming = row.receiverStatus === "streaming";
          const receiver: WalReceiver = {
            upstream: hostInstance(config.primaryConninfo.host),
            streaming,
          };
          if (!streaming) receiver.error = row.receiverStatus ?? "no WAL receiver";
          snapshot.walReceiver = receiver;
        }
        this.#snapshot = snapshot;
        return;
      }
      if (this.#process === "running") return; // a transient failure: keep the last snapshot
    }
    const control = await runTool(this.#runner, "pg_controldata", ["-D", pgdata]);
    if (control.code !== 0) throw new Error(`pg_controldata: ${lastLine(control.stderr)}`);
    const parsed = parseControlData(control.stdout);
    this.#snapshot = {
      data: {
        kind: "initialized",
        systemId: parsed.systemId,
        major,
        timeline: parsed.timeline,
        history: this.#history(parsed.timeline),
        flushLsn: parsed.flushLsn,
        config,
      },
      receivedLsn: parsed.flushLsn,
      replayLsn: parsed.flushLsn,
    };
  }

  #history(timeline: number): TimelineHistory {
    if (timeline <= 1) return [];
    try {
      return parseHistory(
        Deno.readTextFileSync(`${this.#o.pgdata}/pg_wal/${historyFileName(timeline)}`),
      );
    } catch {
      return [];
    }
  }

  /**
   * The role from `standby.signal`; a standby's decided `primary_conninfo` from
   * `pgop-config.json`; a primary's synchronous standbys from `postgresql.auto.conf`, the file
   * the server reads (a promoted clone has its former primary's).
   */
  #readConfig(): InstanceConfig {
    const pgdata = this.#o.pgdata;
    if (!exists(`${pgdata}/standby.signal`)) {
      const sync = parseSynchronousStandbyNames(
        readSetting(readOr(`${pgdata}/postgresql.auto.conf`, ""), "synchronous_standby_names"),
      );
      return sync === undefined ? { role: "primary" } : { role: "primary", synchronous: sync };
    }
    try {
      const saved = JSON.parse(Deno.readTextFileSync(`${pgdata}/${CONFIG_FILE}`));
      if (saved?.role === "standby" && typeof saved.primaryConninfo?.host === "string") {
        return saved as InstanceConfig;
      }
    } catch { /* absent or unreadable: reported as unknown, so the agent writes it again */ }
    return {
      role: "standby",
      primaryConninfo: {
        host: "",
        port: 0,
        user: "",
        passwordSecret: { name: "", key: "" },
        applicationName: "",
      },
    };
  }

  async #initdb(): Promise<void> {
    const o = this.#o;
    const pwfile = `${parentOf(o.pgdata)}/.pgop-initdb-pw`;
    this.#writeFile(pwfile, o.superuserPassword + "\n");
    try {
      const result = await runTool(this.#runner, "initdb", [
        "-D",
        o.pgdata,
        "-U",
        o.superuser,
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
      ], { timeoutMs: 300_000 });
      if (result.code !== 0) throw new Error(`initdb: ${lastLine(result.stderr)}`);
    } finally {
      Deno.removeSync(pwfile);
    }
    Deno.writeTextFileSync(`${o.pgdata}/postgresql.conf`, replicationSettings(), { append: true });
    this.#writeFile(`${o.pgdata}/pg_hba.conf`, hbaConf(o.replicationUser, o.networks));
    const statements = [
      `CREATE ROLE ${sqlIdentifier(o.replicationUser)} WITH REPLICATION LOGIN PASSWORD ${
        sqlLiteral(o.replicationPassword)
      }`,
    ];
    if (o.database !== "postgres") {
      statements.push(
        `CREATE DATABASE ${sqlIdentifier(o.database)} OWNER ${sqlIdentifier(o.superuser)}`,
      );
    }
    const single = await runTool(
      this.#runner,
      "postgres",
      ["--single", "-j", "-D", o.pgdata, "-c", "password_encryption=scram-sha-256", "postgres"],
      { stdin: statements.map((s) => `${s};\n\n`).join(""), timeoutMs: 120_000 },
    );
    if (single.code !== 0 || /ERROR:/.test(single.stdout + single.stderr)) {
      // The directory is not usable as a cluster's first primary: leave nothing half-applied.
      Deno.removeSync(o.pgdata, { recursive: true });
      throw new Error(`bootstrap SQL: ${lastLine(single.stderr || single.stdout)}`);
    }
    this.#writeLogicalConfig(o.pgdata, { role: "primary" });
    this.#o.log(`initdb done in "${o.pgdata}"`);
  }

  async #clone(conninfo: Conninfo): Promise<void> {
    const o = this.#o;
    const target = `${o.pgdata}.clone`;
    if (exists(target)) Deno.removeSync(target, { recursive: true }); // only ever our partial copy
    const endpoint = o.resolve(conninfo.host, conninfo.port);
    const started = Date.now();
    const result = await runTool(this.#runner, "pg_basebackup", [
      "-D",
      target,
      "-h",
      endpoint.host,
      "-p",
      String(endpoint.port),
      "-U",
      conninfo.user,
      "-X",
      "stream",
      "-c",
      "fast",
      "--no-password",
    ], { env: { PGPASSWORD: o.replicationPassword, PGAPPNAME: conninfo.applicationName } });
    if (result.code !== 0) {
      if (exists(target)) Deno.removeSync(target, { recursive: true });
      throw new Error(`pg_basebackup from "${conninfo.host}": ${lastLine(result.stderr)}`);
    }
    this.#configureStandby(target, conninfo);
    if (exists(o.pgdata)) {
      const aside = `${o.pgdata}.old-${Date.now()}`;
      Deno.renameSync(o.pgdata, aside);
      Deno.renameSync(target, o.pgdata);
      this.#o.log(`moved the old data aside to "${aside}"; removing it now that the clone exists`);
      Deno.removeSync(aside, { recursive: true });
    } else {
      Deno.renameSync(target, o.pgdata);
    }
    this.#o.log(`cloned from "${conninfo.host}" in ${Date.now() - started} ms`);
  }

  #writeConfigNow(config: InstanceConfig): PerformResult {
    try {
      if (config.role === "standby") {
        this.#configureStandby(this.#o.pgdata, config.primaryConninfo);
      } else {
        const auto = `${this.#o.pgdata}/postgresql.auto.conf`;
        const names = synchronousStandbyNames(config.synchronous);
        this.#writeFile(
          auto,
          withSetting(
            withPrimaryConninfo(readOr(auto, ""), undefined),
            "synchronous_standby_names",
            names,
          ),
        );
        if (exists(`${this.#o.pgdata}/standby.signal`)) {
          Deno.removeSync(`${this.#o.pgdata}/standby.signal`);
        }
        this.#writeLogicalConfig(this.#o.pgdata, config);
      }
    } catch (error) {
      return fail(`Cannot configure: ${error instanceof Error ? error.message : error}`);
    }
    this.#snapshot = {
      ...this.#snapshot,
      data: this.#snapshot.data.kind === "initialized"
        ? { ...this.#snapshot.data, config }
        : this.#snapshot.data,
    };
    // A standby reloads its primary_conninfo, a primary its synchronous standbys.
    if (this.#process === "running") {
      void this.#pgCtl(["reload"]).then((result) => {
        if (result.code !== 0) this.#lastError = `pg_ctl reload: ${lastLine(result.stderr)}`;
      });
    }
    if (config.role === "primary") {
      this.#o.log(`synchronous_standby_names = '${synchronousStandbyNames(config.synchronous)}'`);
    }
    return { ok: true };
  }

  /** `standby.signal`, `primary_conninfo` (resolved address) and the passfile, in `dir`. */
  #configureStandby(dir: string, conninfo: Conninfo): void {
    const o = this.#o;
    // The clone is renamed to PGDATA: the passfile's path is the final one.
    const passfile = `${o.pgdata}/${PASSFILE}`;
    this.#writeFile(`${dir}/${PASSFILE}`, pgpassLine(conninfo.user, o.replicationPassword));
    const value = primaryConninfo(
      o.resolve(conninfo.host, conninfo.port),
      conninfo.user,
      conninfo.applicationName,
      passfile,
    );
    const auto = `${dir}/postgresql.auto.conf`;
    this.#writeFile(auto, withPrimaryConninfo(readOr(auto, ""), value));
    this.#writeFile(`${dir}/standby.signal`, "");
    this.#writeLogicalConfig(dir, { role: "standby", primaryConninfo: conninfo });
  }

  #writeLogicalConfig(dir: string, config: InstanceConfig): void {
    this.#writeFile(`${dir}/${CONFIG_FILE}`, JSON.stringify(config) + "\n");
  }

  #start(): PerformResult {
    const o = this.#o;
    // A volume mounted with an fsGroup comes back group-writable (and setgid) after every pod
    // start; PostgreSQL refuses such a directory. As the image's entrypoint does, put it back.
    try {
      Deno.chmodSync(o.pgdata, 0o700);
      // libpq ignores a password file others can read: the standby would not authenticate.
      const passfile = `${o.pgdata}/${PASSFILE}`;
      try {
        Deno.chmodSync(passfile, 0o600);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    } catch (error) {
      return { ok: false, error: `cannot set the data directory's mode: ${String(error)}` };
    }
    const args = [
      "-D",
      o.pgdata,
      "-c",
      `port=${o.port}`,
      "-c",
      `listen_addresses=${o.listenAddresses}`,
      "-c",
      `unix_socket_directories=${[o.socketDirectory, ...o.moreSocketDirectories].join(",")}`,
    ];
    const [command, ...rest] = toolCommand(this.#runner, "postgres", args);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command!, {
        args: rest,
        env: { LC_ALL: "C" },
        stdin: "null",
        stdout: o.serverOutput,
        stderr: o.serverOutput,
      }).spawn();
    } catch (error) {
      return fail(`Cannot start: ${error instanceof Error ? error.message : error}`);
    }
    this.#child = child;
    this.#stopRequested = false;
    this.#process = "starting";
    if (o.serverOutput === "piped") {
      void this.#keepLog(child.stdout);
      void this.#keepLog(child.stderr);
    }
    this.#childExited = child.status.then((status) => {
      this.#child = undefined;
      this.#process = this.#stopRequested ? "stopped" : "crashed";
      this.#snapshot = { ...this.#snapshot };
      delete this.#snapshot.reportedRole;
      delete this.#snapshot.walReceiver;
      this.#o.log(`PostgreSQL exited (${status.code}); it is ${this.#process}`);
      void this.refresh(true);
    });
    return { ok: true };
  }

  async #keepLog(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      this.#serverLog.push(...lines);
      if (this.#serverLog.length > 200) this.#serverLog.splice(0, this.#serverLog.length - 200);
    }
  }

  #pgCtl(args: string[]): Promise<ToolResult> {
    return runTool(this.#runner, "pg_ctl", [...args, "-D", this.#o.pgdata], { timeoutMs: 180_000 });
  }

  #psql(sql: string): Promise<ToolResult> {
    const o = this.#o;
    return runTool(this.#runner, "psql", [
      "-X",
      "-A",
      "-t",
      "-q",
      "-h",
      o.socketDirectory,
      "-p",
      String(o.port),
      "-U",
      o.superuser,
      "-d",
      "postgres",
      "-c",
      sql,
    ], { env: { PGPASSWORD: o.superuserPassword, PGCONNECT_TIMEOUT: "5" }, timeoutMs: 15_000 });
  }

  /** Writes a file of the data directory atomically, mode 0600, owned by PostgreSQL's user. */
  #writeFile(path: string, content: string): void {
    const tmp = `${path}.tmp`;
    Deno.writeTextFileSync(tmp, content, { mode: 0o600 });
    Deno.chmodSync(tmp, 0o600);
    if (this.#o.fileOwner !== undefined) {
      Deno.chownSync(tmp, this.#o.fileOwner.uid, this.#o.fileOwner.gid);
    }
    Deno.renameSync(tmp, path);
  }
}

/** The instance a pod DNS name names: its first label. */
function hostInstance(host: string): string {
  return host.split(".")[0] ?? host;
}

function fail(error: string): PerformResult {
  return { ok: false, error };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

function parentOf(path: string): string {
  const at = path.replace(/\/+$/, "").lastIndexOf("/");
  return at <= 0 ? "/" : path.slice(0, at);
}
