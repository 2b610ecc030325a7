/**
 * The real {@link UpgradeVolume}: the stopped primary's volume in the upgrade Job's pod, acted on
 * with PostgreSQL's own tools: the old major's (copied in from the old image) for the old data
 * directory, the image's own for the new cluster and `pg_upgrade`.
 *
 * Layout, beside the data directory `<volume>/pgdata`: `pgdata.next` (the new cluster, until the
 * swap), `pgdata.old` (the old one, after it), `pgop-upgrade.json` (the journal) and
 * `pgop-upgrade-work/` (`pg_upgrade`'s working directory: its sockets, logs and scripts). All on
 * the one volume, as `pg_upgrade --link` needs.
 *
 * @module
 */

import { lastLine, runTool, type ToolRunner } from "../_exec.ts";
import { hbaConf, parseControlData, replicationSettings } from "../pg_text.ts";
import {
  exists,
  JOURNAL_FILE,
  parentOf,
  rollbackFiles,
  swapFiles,
  syncDir,
  WORK_DIR,
} from "./leftovers.ts";
import type {
  StepResult,
  UpgradeJournal,
  UpgradeVolume,
  VolumeFacts,
} from "../../core/upgrade/types.ts";

/** How the volume is reached and the tools are run. */
export interface PgUpgradeVolumeOptions {
  /** The data directory (`PGDATA`). */
  pgdata: string;
  /** The old major's `bin/`. */
  oldBin: string;
  /** The new major's `bin/`. */
  newBin: string;
  /** The new major. */
  newMajor: number;
  /** The superuser that ran `initdb` (the install user `pg_upgrade` connects as). */
  superuser: string;
  /** Its password (the new cluster's `initdb` sets it; `pg_upgrade` keeps the old one's roles). */
  superuserPassword: string;
  /** The replication user, for the new cluster's `pg_hba.conf` when the old one has none. */
  replicationUser: string;
  /** The networks of the new cluster's `pg_hba.conf` when the old one has none. */
  networks: readonly string[];
  /** A prefix that runs a tool as PostgreSQL's user (empty in the pod, which runs as it). */
  commandPrefix: readonly string[];
  /** The owner of files and directories the runner creates, when it runs as root (tests). */
  fileOwner?: { uid: number; gid: number };
  /** The ports the old and new servers listen on (Unix socket only) during `pg_upgrade`. */
  ports?: { old: number; new: number };
  /** Bytes free on the volume; the default asks `df`. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Skip fsync in `initdb` and `pg_upgrade` (tests only: a crash may then corrupt the data). */
  noSync?: boolean;
  /** One line per tool run. */
  log?: (line: string) => void;
}

/** A fresh cluster's size with its first WAL segments, and some room. */
const FRESH_CLUSTER_BYTES = 96 * 1024 * 1024;

/** Bytes under `path` (files only, each counted once by inode). */
function treeBytes(path: string, seen = new Set<string>()): number {
  let total = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(path)];
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory) total += treeBytes(child, seen);
    else if (entry.isFile) {
      const info = Deno.lstatSync(child);
      const key = `${info.dev}:${info.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += info.size;
    }
  }
  return total;
}

/**
 * Bytes `pg_upgrade --link` needs on the volume of `pgdata` besides the linked data files: the
 * new cluster's catalogs (about the old ones' size, estimated as 5% of the databases' files) and
 * WAL, and a fresh cluster's size.
 */
export function upgradeNeededBytes(pgdata: string): number {
  return FRESH_CLUSTER_BYTES + treeBytes(`${pgdata}/global`) + treeBytes(`${pgdata}/pg_wal`) +
    Math.ceil(treeBytes(`${pgdata}/base`) * 0.05);
}

/** The upgrade's volume, on a real filesystem. */
export class PgUpgradeVolume implements UpgradeVolume {
  readonly #o: PgUpgradeVolumeOptions;
  readonly #next: string;
  readonly #old: string;
  readonly #journal: string;
  readonly #work: string;
  readonly #oldTools: ToolRunner;
  readonly #newTools: ToolRunner;

  /** A volume whose data directory is `options.pgdata`. */
  constructor(options: PgUpgradeVolumeOptions) {
    this.#o = options;
    const parent = parentOf(options.pgdata);
    this.#next = `${options.pgdata}.next`;
    this.#old = `${options.pgdata}.old`;
    this.#journal = `${parent}/${JOURNAL_FILE}`;
    this.#work = `${parent}/${WORK_DIR}`;
    this.#oldTools = { bin: options.oldBin, commandPrefix: options.commandPrefix };
    this.#newTools = { bin: options.newBin, commandPrefix: options.commandPrefix };
  }

  /** {@inheritDoc UpgradeVolume.inspect} */
  async inspect(): Promise<VolumeFacts> {
    const o = this.#o;
    const facts: VolumeFacts = {
      checksums: false,
      next: exists(this.#next),
      old: exists(this.#old),
      controlOld: exists(`${o.pgdata}/global/pg_control.old`),
      freeBytes: await (o.freeBytes ?? dfAvailable)(parentOf(o.pgdata)),
      neededBytes: 0,
    };
    if (exists(this.#journal)) {
      facts.journal = JSON.parse(Deno.readTextFileSync(this.#journal)) as UpgradeJournal;
    }
    if (exists(`${o.pgdata}/PG_VERSION`)) {
      facts.dataMajor = Number(Deno.readTextFileSync(`${o.pgdata}/PG_VERSION`).trim());
      const tools = facts.dataMajor === o.newMajor ? this.#newTools : this.#oldTools;
      if (exists(`${o.pgdata}/global/pg_control`)) {
        const control = await runTool(tools, "pg_controldata", ["-D", o.pgdata]);
        if (control.code === 0) {
          facts.clusterState = parseControlData(control.stdout).state;
          facts.checksums = /Data page checksum version:\s*[1-9]/.test(control.stdout);
        }
      }
      facts.neededBytes = upgradeNeededBytes(o.pgdata);
    }
    return facts;
  }

  /** {@inheritDoc UpgradeVolume.writeJournal} */
  writeJournal(journal: UpgradeJournal | undefined): Promise<void> {
    if (journal === undefined) {
      if (exists(this.#journal)) Deno.removeSync(this.#journal);
    } else {
      const partial = `${this.#journal}.partial`;
      Deno.writeTextFileSync(partial, JSON.stringify(journal) + "\n");
      const file = Deno.openSync(partial, { read: true });
      file.syncSync();
      file.close();
      Deno.renameSync(partial, this.#journal);
    }
    syncDir(parentOf(this.#journal));
    return Promise.resolve();
  }

  /** {@inheritDoc UpgradeVolume.recover} */
  async recover(): Promise<StepResult> {
    const o = this.#o;
    this.#privateDirs();
    const result = await runTool(
      this.#oldTools,
      "postgres",
      ["--single", "-D", o.pgdata, "-c", "listen_addresses=", "template1"],
      { stdin: "", timeoutMs: 3_600_000 },
    );
    return result.code === 0 ? { ok: true } : { ok: false, message: lastLine(result.stderr) };
  }

  /** {@inheritDoc UpgradeVolume.initNext} */
  async initNext(checksums: boolean): Promise<StepResult> {
    const o = this.#o;
    this.#makeWork();
    const pwfile = `${this.#work}/initdb-pw`;
    this.#write(pwfile, o.superuserPassword + "\n");
    try {
      const args = [
        "-D",
        this.#next,
        "-U",
        o.superuser,
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
      ];
      if (o.noSync) args.push("--no-sync");
      if (checksums) args.push("--data-checksums");
      else if (o.newMajor >= 18) args.push("--no-data-checksums");
      const result = await runTool(this.#newTools, "initdb", args, { timeoutMs: 300_000 });
      if (result.code !== 0) return { ok: false, message: lastLine(result.stderr) };
    } finally {
      Deno.removeSync(pwfile);
    }
    // pg_upgrade connects through the Unix socket: the old cluster's rules (socket trusted).
    const hba = exists(`${o.pgdata}/pg_hba.conf`)
      ? Deno.readTextFileSync(`${o.pgdata}/pg_hba.conf`)
      : hbaConf(o.replicationUser, o.networks);
    this.#write(`${this.#next}/pg_hba.conf`, hba);
    return { ok: true };
  }

  /** {@inheritDoc UpgradeVolume.check} */
  check(): Promise<StepResult> {
    return this.#pgUpgrade(["--check"]);
  }

  /** {@inheritDoc UpgradeVolume.link} */
  link(): Promise<StepResult> {
    return this.#pgUpgrade([]);
  }

  /** {@inheritDoc UpgradeVolume.configureNext} */
  configureNext(): Promise<void> {
    const o = this.#o;
    const conf = `${this.#next}/postgresql.conf`;
    Deno.writeTextFileSync(conf, replicationSettings(), { append: true });
    // The agent's own settings (synchronous standbys) and its record of the role.
    for (const file of ["postgresql.auto.conf", "pgop-config.json"]) {
      if (exists(`${o.pgdata}/${file}`)) {
        this.#write(`${this.#next}/${file}`, Deno.readTextFileSync(`${o.pgdata}/${file}`));
      }
    }
    return Promise.resolve();
  }

  /** {@inheritDoc UpgradeVolume.rollback} */
  rollback(): Promise<void> {
    rollbackFiles(this.#o.pgdata);
    return Promise.resolve();
  }

  /** {@inheritDoc UpgradeVolume.swap} */
  swap(): Promise<void> {
    swapFiles(this.#o.pgdata);
    return Promise.resolve();
  }

  /** {@inheritDoc UpgradeVolume.finish} */
  async finish(): Promise<StepResult> {
    const o = this.#o;
    this.#makeWork();
    this.#privateDirs();
    const port = String(o.ports?.new ?? 50433);
    const env = { PGPASSWORD: o.superuserPassword };
    const start = await runTool(this.#newTools, "pg_ctl", [
      "-D",
      o.pgdata,
      "-w",
      "-t",
      "600",
      "-l",
      `${this.#work}/first-start.log`,
      "-o",
      `-c listen_addresses='' -k ${this.#work} -p ${port}`,
      "start",
    ], { timeoutMs: 660_000 });
    if (start.code !== 0) {
      return { ok: false, message: `cannot start: ${lastLine(start.stderr || start.stdout)}` };
    }
    const problems: string[] = [];
    try {
      const connect = ["-h", this.#work, "-p", port, "-U", o.superuser];
      const script = `${this.#work}/update_extensions.sql`;
      if (exists(script)) {
        const update = await runTool(
          this.#newTools,
          "psql",
          ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...connect, "-d", "postgres", "-f", script],
          { env, timeoutMs: 600_000 },
        );
        if (update.code !== 0) problems.push(`extension updates: ${lastLine(update.stderr)}`);
      }
      const analyze = await runTool(
        this.#newTools,
        "vacuumdb",
        [...connect, "--all", "--analyze-only"],
        { env, timeoutMs: 3_600_000 },
      );
      if (analyze.code !== 0) problems.push(`statistics: ${lastLine(analyze.stderr)}`);
    } finally {
      const stop = await runTool(this.#newTools, "pg_ctl", [
        "-D",
        o.pgdata,
        "-m",
        "fast",
        "-w",
        "stop",
      ], {
        timeoutMs: 600_000,
      });
      if (stop.code !== 0) problems.push(`stop: ${lastLine(stop.stderr || stop.stdout)}`);
    }
    return problems.length === 0 ? { ok: true } : { ok: false, message: problems.join("; ") };
  }

  /** {@inheritDoc UpgradeVolume.dropOld} */
  dropOld(): Promise<void> {
    if (exists(this.#old)) Deno.removeSync(this.#old, { recursive: true });
    if (exists(this.#work)) Deno.removeSync(this.#work, { recursive: true });
    syncDir(parentOf(this.#o.pgdata));
    return Promise.resolve();
  }

  async #pgUpgrade(extra: string[]): Promise<StepResult> {
    const o = this.#o;
    this.#makeWork();
    this.#privateDirs();
    const result = await runTool(this.#newTools, "pg_upgrade", [
      "-b",
      o.oldBin,
      "-B",
      o.newBin,
      "-d",
      o.pgdata,
      "-D",
      this.#next,
      "-U",
      o.superuser,
      "--link",
      "-s",
      this.#work,
      "-p",
      String(o.ports?.old ?? 50432),
      "-P",
      String(o.ports?.new ?? 50433),
      ...(o.noSync ? ["--no-sync"] : []),
      ...extra,
    ], {
      cwd: this.#work,
      env: { PGPASSWORD: o.superuserPassword },
      timeoutMs: 6 * 3_600_000,
    });
    o.log?.(`pg_upgrade ${extra.join(" ")}: exit ${result.code}`);
    if (result.code === 0) return { ok: true };
    return { ok: false, message: failureLines(result.stdout, result.stderr) };
  }

  /**
   * PostgreSQL refuses a data directory that others can read, and the kubelet gives a mounted
   * volume's files the pod's fsGroup (group rwx, setgid): back to 0700, as the image's entrypoint
   * does before every start.
   */
  #privateDirs(): void {
    for (const dir of [this.#o.pgdata, this.#next]) {
      if (exists(dir)) Deno.chmodSync(dir, 0o700);
    }
  }

  #makeWork(): void {
    if (exists(this.#work)) return;
    Deno.mkdirSync(this.#work, { mode: 0o700 });
    if (this.#o.fileOwner) {
      Deno.chownSync(this.#work, this.#o.fileOwner.uid, this.#o.fileOwner.gid);
    }
  }

  #write(path: string, text: string): void {
    Deno.writeTextFileSync(path, text, { mode: 0o600 });
    if (this.#o.fileOwner) Deno.chownSync(path, this.#o.fileOwner.uid, this.#o.fileOwner.gid);
  }
}

/**
 * What `pg_upgrade` said when it failed: the lines after its last "ok" check (the failed check
 * and the file listing the problems), and the problem files' first lines when they are named.
 */
function failureLines(stdout: string, stderr: string): string {
  const lines = `${stdout}\n${stderr}`.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  let from = lines.length - 1;
  while (from > 0 && !/\bok$/.test(lines[from - 1]!) && lines.length - from < 12) from--;
  const tail = lines.slice(from);
  const details: string[] = [];
  for (const line of tail) {
    const file = /^(\/\S+\.txt)$/.exec(line)?.[1];
    if (file !== undefined && exists(file)) {
      details.push(Deno.readTextFileSync(file).split("\n").slice(0, 6).join(" ").trim());
    }
  }
  // A server that did not start: its log's last lines say why (they go with the new cluster).
  const log = /Consult the last few lines of "([^"]+)"/.exec(`${stdout}\n${stderr}`)?.[1];
  if (log !== undefined && exists(log)) {
    const lines = Deno.readTextFileSync(log).split("\n").filter((l) => l.trim() !== "");
    details.push(`server log: ${lines.slice(-4).join(" ")}`);
  }
  return [...details, ...tail].join(" ").replace(/\s+/g, " ").trim() || "no output";
}

/** Free bytes of the filesystem of `dir`, from `df`. */
export async function dfAvailable(dir: string): Promise<number> {
  const output = await new Deno.Command("df", {
    args: ["-B1", "--output=avail", dir],
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const value = Number(lines.at(-1)?.trim());
  if (!output.success || !Number.isFinite(value)) {
    throw new Error(`Cannot read the free space of "${dir}" with df`);
  }
  return value;
}
