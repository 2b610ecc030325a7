/**
 * A simulated PostgreSQL instance on virtual time, behind the agent's {@link InstancePort}.
 *
 * The model:
 * - **WAL** is an LSN counter per timeline. Each instance keeps its WAL's ground truth (which
 *   timeline wrote each byte, {@link WalTruth}) beside what it reports (timeline and history).
 *   Only a running primary commits: a commit appends to its written WAL, and the disk flushes
 *   written WAL at `diskBytesPerMs`. A commit is acknowledged once flushed
 *   (`synchronous_commit = on` without synchronous standbys: a local flush).
 * - **Streaming.** A running standby's WAL receiver connects to the pod its `primary_conninfo`
 *   names and copies the upstream's flushed WAL at `streamBytesPerMs` (received WAL is flushed
 *   as it arrives); replay follows at `applyBytesPerMs`. The receiver refuses an upstream of
 *   another system, one behind it on its timeline, or one whose history left the standby's
 *   timeline before the standby's end (a diverged timeline); on reaching the end of its timeline
 *   in the upstream's history it switches to the upstream's timeline.
 * - **Crash** (process crash, pod kill, `stop -m immediate`): written but unflushed WAL is lost;
 *   flushed WAL, the replay position and the configuration survive. An `initdb` or clone in
 *   flight leaves an empty directory (the agent starts it again). A fast stop of a primary
 *   flushes first, and ends once its streaming standbys received that WAL (or after ten times
 *   its duration), as PostgreSQL's WAL senders send the shutdown checkpoint before they exit.
 * - **Clone** (`pg_basebackup -R`) copies the upstream's data, WAL and timeline as they are when
 *   it finishes, and writes `standby.signal` with the given `primary_conninfo`; it fails when the
 *   upstream stops or the link drops meanwhile.
 * - **Promote** replays all received WAL, then ends the timeline at the flushed end and starts a
 *   new, never used, timeline there with an end-of-recovery record (so a former standby that was
 *   promoted holds WAL no other timeline has, as in PostgreSQL).
 * - **Restored data** ({@link SimPostgresInstance.restored}): what a backup restore committed
 *   (its marker and row counts). It lives in the data directory: it survives crashes and the
 *   pod's deletion, a clone copies it, a re-clone or `initdb` replaces it, and it is lost with
 *   the claim. Only `sim/backup_ports.ts` writes it.
 * - **Faults:** {@link SimPostgresInstance.crash}, {@link SimPostgresInstance.setSlowDisk}; a
 *   link down and a pod kill belong to the world ({@link SimNetwork}).
 *
 * @module
 */

import type {
  DataDirectory,
  InstanceAction,
  InstanceConfig,
  InstanceObservation,
  InstancePort,
  InstanceRole,
  PerformResult,
  ProcessState,
  WalReceiver,
} from "../core/agent/types.ts";
import type { TimelineHistory } from "../core/agent/timeline.ts";
import type { UpgradeJournal } from "../core/upgrade/types.ts";
import { appendWal, copyWal, isWalPrefix, truthEnd, type WalTruth } from "./wal_truth.ts";

/** Timings and rates of a simulated instance (virtual milliseconds, bytes per millisecond). */
export interface SimInstanceOptions {
  /** The major version of the binaries. @default 16 */
  major?: number;
  /** From `start` to accepting connections. @default 300 */
  startMs?: number;
  /** A fast stop's duration. @default 100 */
  stopMs?: number;
  /** A promotion's duration. @default 200 */
  promoteMs?: number;
  /** An `initdb`'s duration. @default 500 */
  initdbMs?: number;
  /** A clone's fixed cost, before copying bytes. @default 300 */
  cloneBaseMs?: number;
  /** A clone's copy rate. @default 200 */
  cloneBytesPerMs?: number;
  /** The primary's WAL flush rate. @default 60 */
  diskBytesPerMs?: number;
  /** The streaming rate of a standby's WAL receiver. @default 40 */
  streamBytesPerMs?: number;
  /** A standby's replay rate. @default 40 */
  applyBytesPerMs?: number;
}

/** What an instance needs from the world around it. */
export interface SimNetwork {
  /** The current virtual time. */
  clockMs(): number;
  /** The instance a `primary_conninfo` host names, if it names a pod. */
  resolve(host: string): SimPostgresInstance | undefined;
  /** Whether `a` can reach `b`. */
  linkUp(a: string, b: string): boolean;
  /** A timeline never used before. */
  newTimeline(): number;
  /** A new database system identifier. */
  newSystemId(): string;
  /** A WAL origin never used before (see {@link WalTruth}). */
  newOrigin(): number;
  /** Called when a clone or re-clone starts. */
  onClone?(event: CloneEvent): void;
  /**
   * Whether every standby streaming from `name` has received its WAL up to `lsn`: a fast stop of
   * a primary waits for it (its WAL senders send the shutdown checkpoint first). Absent: true.
   */
  walSendersDone?(name: string, lsn: number): boolean;
}

/** A clone as the world saw it start, for checkers. */
export interface CloneEvent {
  /** When it started. */
  atMs: number;
  /** The cloned instance. */
  instance: string;
  /** The instance copied from. */
  upstream: string;
  /** The upstream's running role when the clone started. */
  upstreamRole: InstanceRole | "none";
  /** True for a re-clone (existing data wiped). */
  reclone: boolean;
  /** For a re-clone: the wiped data was a prefix of the upstream's (it could have streamed). */
  intact: boolean;
}

interface Initialized {
  kind: "initialized";
  systemId: string;
  major: number;
  timeline: number;
  history: TimelineHistory;
  config: InstanceConfig;
}

type Data =
  | { kind: "empty" }
  | { kind: "initializing"; by: "initdb" | "clone"; upstream?: string; conninfoHost?: string }
  | Initialized;

type Pending =
  | { op: "start" }
  | { op: "stop"; mode: "fast" | "immediate" }
  | { op: "promote" }
  | { op: "initdb" }
  | { op: "clone"; upstream: string; config: InstanceConfig };

/** What a major upgrade left on a volume beside its data directory. */
export interface SimUpgradeFiles {
  /** `global/pg_control.old` without `pg_control`: `pg_upgrade --link` started linking. */
  controlOld: boolean;
  /** The upgrade's journal. */
  journal?: UpgradeJournal;
  /** The new cluster (`pgdata.next`): its major and system. */
  next?: { major: number; systemId: string };
  /** The old data directory moved aside by the swap (`pgdata.old`). */
  old?: { major: number; systemId: string };
}

/** A restore committed into an instance's data: its marker and the row counts it left. */
export interface RestoredData {
  /** The marker the restore recorded in the same transaction. */
  marker: string;
  /** Every table's row count after it. */
  tables: { table: string; rows: number }[];
}

/** A simulated PostgreSQL instance; it implements the agent's {@link InstancePort}. */
export class SimPostgresInstance implements InstancePort {
  /** The instance's (pod's) name. */
  readonly name: string;
  /** The restore committed into this data directory, if any (see the module doc). */
  restored: RestoredData | undefined;
  /** The extensions installed in the data directory's databases (a clone copies them). */
  extensions: string[] = [];
  /**
   * What a major upgrade left beside the data directory (see `sim/upgrade_host.ts`): while
   * `controlOld` is set the data directory has no `pg_control`, so it looks empty to the agent.
   */
  upgradeFiles: SimUpgradeFiles = { controlOld: false };
  readonly #net: SimNetwork;
  readonly #o: Required<SimInstanceOptions>;
  #data: Data = { kind: "empty" };
  /** Flushed WAL: survives crashes. */
  #truth: WalTruth = [];
  #written = 0;
  #replay = 0;
  #process: ProcessState = "stopped";
  #role: InstanceRole | undefined;
  #receiver: WalReceiver | undefined;
  #pending: { what: Pending; doneAtMs: number } | undefined;
  #slowFactor = 1;
  #incarnation = 0;
  #origin = 0;
  /** The data directory was shut down cleanly (its last stop was fast, or nothing ran on it). */
  #clean = true;

  /** An instance with an empty volume and a stopped process. */
  constructor(name: string, network: SimNetwork, options: SimInstanceOptions = {}) {
    this.name = name;
    this.#net = network;
    this.#o = {
      major: 16,
      startMs: 300,
      stopMs: 100,
      promoteMs: 200,
      initdbMs: 500,
      cloneBaseMs: 300,
      cloneBytesPerMs: 200,
      diskBytesPerMs: 60,
      streamBytesPerMs: 40,
      applyBytesPerMs: 40,
      ...options,
    };
  }

  /** The process state. */
  get process(): ProcessState {
    return this.#process;
  }

  /** The major of the binaries the instance runs (its pod's image). */
  get binaryMajor(): number {
    return this.#o.major;
  }

  /** The major of the data, once there is data. */
  get dataMajor(): number | undefined {
    return this.#data.kind === "initialized" ? this.#data.major : undefined;
  }

  /** True when the data directory was shut down cleanly (no crash recovery needed). */
  get cleanShutdown(): boolean {
    return this.#clean && this.#process === "stopped";
  }

  /** A pod with another image starts on this volume: its binaries' major. */
  useBinaries(major: number): void {
    this.#o.major = major;
  }

  /** Crash recovery on the stopped data directory (`postgres --single`): it is clean after. */
  recover(): void {
    if (this.#process === "stopped" || this.#process === "crashed") {
      this.#process = "stopped";
      this.#clean = true;
    }
  }

  /**
   * What the agent does before it looks at its data (`agent/upgrade/leftovers.ts`): an
   * interrupted upgrade's journal at `prepare` or `link` is rolled back, one at `swap` or `finish`
   * completed. Returns what was done, or undefined when nothing was left.
   */
  settleUpgradeLeftovers(): string | undefined {
    const files = this.upgradeFiles;
    const journal = files.journal;
    if (journal === undefined || (this.#process !== "stopped" && this.#process !== "crashed")) {
      return undefined;
    }
    if (journal.step === "prepare" || journal.step === "link") {
      this.upgradeFiles = { controlOld: false };
      return `rolled back an upgrade to ${journal.to} interrupted at "${journal.step}"`;
    }
    if (files.next !== undefined) this.replaceData(files.next.major, files.next.systemId);
    this.upgradeFiles = { controlOld: false };
    return `completed an upgrade to ${journal.to} interrupted at "${journal.step}"`;
  }

  /**
   * `pg_upgrade`'s result takes the data directory's place: another system of another major,
   * with the same WAL, timeline and configuration (the sim keeps the WAL's truth so that the
   * checkers compare commits across the upgrade).
   */
  replaceData(major: number, systemId: string): void {
    if (this.#data.kind !== "initialized") return;
    this.#data = { ...this.#data, major, systemId };
    this.#clean = true;
  }

  /** The running server's role, or undefined when it does not run. */
  get role(): InstanceRole | undefined {
    return this.#process === "running" ? this.#role : undefined;
  }

  /** True when this instance accepts writes now: a running primary. */
  get acceptsWrites(): boolean {
    return this.#process === "running" && this.#role === "primary";
  }

  /** The role of the data directory (`standby.signal` absent or present), if there is data. */
  get dataRole(): InstanceRole | undefined {
    return this.#data.kind === "initialized" ? this.#data.config.role : undefined;
  }

  /** The configuration written into the data directory, if there is data. */
  get config(): InstanceConfig | undefined {
    return this.#data.kind === "initialized" ? this.#data.config : undefined;
  }

  /** The data's system identifier, if there is data. */
  get systemId(): string | undefined {
    return this.#data.kind === "initialized" ? this.#data.systemId : undefined;
  }

  /** The timeline the data reports. */
  get timeline(): number | undefined {
    return this.#data.kind === "initialized" ? this.#data.timeline : undefined;
  }

  /** The timeline history the data reports. */
  get history(): TimelineHistory {
    return this.#data.kind === "initialized" ? this.#data.history : [];
  }

  /** The flushed WAL's ground truth. */
  get truth(): WalTruth {
    return this.#truth;
  }

  /** The flushed WAL's end. */
  get flushLsn(): number {
    return truthEnd(this.#truth);
  }

  /** The written WAL's end (a primary's; equal to the flushed end otherwise). */
  get writtenLsn(): number {
    return Math.max(this.#written, this.flushLsn);
  }

  /** The replayed WAL's end. */
  get replayLsn(): number {
    return this.#role === "primary" && this.#process === "running"
      ? this.flushLsn
      : Math.min(this.#replay, this.flushLsn);
  }

  /** The WAL receiver, while it runs. */
  get walReceiver(): WalReceiver | undefined {
    return this.#process === "running" ? this.#receiver : undefined;
  }

  /** Counts the process starts: a commit's acknowledgement belongs to one incarnation. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** The LSN up to which commits are acknowledged to clients: the flushed end. */
  ackableLsn(): number {
    return this.flushLsn;
  }

  /** The process was killed (or the pod was): unflushed WAL and work in flight are lost. */
  crash(): void {
    if (this.#data.kind === "initializing") this.#data = { kind: "empty" };
    if (this.#process !== "stopped") {
      this.#process = "crashed";
      this.#clean = false;
    }
    this.#written = this.flushLsn;
    this.#receiver = undefined;
    this.#role = undefined;
    this.#pending = undefined;
  }

  /** Slows WAL flush and replay by `factor` (1 is normal speed). */
  setSlowDisk(factor: number): void {
    this.#slowFactor = Math.max(1, factor);
  }

  /**
   * A commit on a running primary: `bytes` of WAL written (not yet flushed). Returns where it
   * ends, or undefined when this instance does not accept writes.
   */
  commit(bytes: number): { origin: number; lsn: number; incarnation: number } | undefined {
    if (!this.acceptsWrites || this.#data.kind !== "initialized") return undefined;
    this.#written = this.writtenLsn + bytes;
    return { origin: this.#origin, lsn: this.#written, incarnation: this.#incarnation };
  }

  /** {@inheritDoc InstancePort.observe} */
  observe(): InstanceObservation {
    const obs: InstanceObservation = {
      data: this.#observedData(),
      process: this.#process,
      receivedLsn: this.flushLsn,
      replayLsn: this.replayLsn,
    };
    if (this.#process === "running" && this.#role !== undefined) obs.reportedRole = this.#role;
    if (this.#pending?.what.op === "promote") obs.promoting = true;
    const receiver = this.walReceiver;
    if (receiver !== undefined) obs.walReceiver = { ...receiver };
    return obs;
  }

  #observedData(): DataDirectory {
    const data = this.#data;
    if (data.kind === "empty" || this.upgradeFiles.controlOld) return { kind: "empty" };
    if (data.kind === "initializing") {
      return data.upstream === undefined
        ? { kind: "initializing", by: data.by }
        : { kind: "initializing", by: data.by, upstream: data.upstream };
    }
    return {
      kind: "initialized",
      systemId: data.systemId,
      major: data.major,
      timeline: data.timeline,
      history: data.history,
      flushLsn: this.flushLsn,
      config: data.config,
    };
  }

  /** {@inheritDoc InstancePort.perform} */
  perform(action: InstanceAction): PerformResult {
    if (this.#pending !== undefined && action.kind !== "writeConfig") {
      return fail(`Cannot ${action.kind} "${this.name}": ${this.#pending.what.op} in progress`);
    }
    switch (action.kind) {
      case "initdb":
        if (this.#data.kind !== "empty") return fail(`Cannot initdb "${this.name}": data exists`);
        this.extensions = [];
        this.#data = { kind: "initializing", by: "initdb" };
        return this.#schedule({ op: "initdb" }, this.#o.initdbMs);
      case "cloneFrom":
        // A directory without pg_control looks empty: a clone moves it aside, as the real agent.
        if (this.#data.kind !== "empty" && !this.upgradeFiles.controlOld) {
          return fail(`Cannot clone "${this.name}": data exists`);
        }
        return this.#startClone(action.upstream, action.conninfo.host, false, {
          role: "standby",
          primaryConninfo: action.conninfo,
        });
      case "reclone":
        if (this.#process !== "stopped" && this.#process !== "crashed") {
          return fail(`Cannot re-clone "${this.name}": PostgreSQL is ${this.#process}`);
        }
        return this.#startClone(action.upstream, action.conninfo.host, true, {
          role: "standby",
          primaryConninfo: action.conninfo,
        });
      case "writeConfig":
        return this.#writeConfig(action.config);
      case "start":
        if (this.#data.kind !== "initialized" || this.upgradeFiles.controlOld) {
          return fail(`Cannot start "${this.name}": no data`);
        }
        if (this.#process !== "stopped" && this.#process !== "crashed") {
          return fail(`Cannot start "${this.name}": PostgreSQL is ${this.#process}`);
        }
        this.#process = "starting";
        return this.#schedule({ op: "start" }, this.#o.startMs);
      case "stop":
        if (this.#process !== "running") {
          return fail(`Cannot stop "${this.name}": PostgreSQL is ${this.#process}`);
        }
        if (action.mode === "immediate") {
          this.crash();
          this.#process = "stopped";
          return { ok: true };
        }
        this.#process = "stopping";
        // The shutdown checkpoint: everything written is flushed, then the WAL senders send it.
        if (this.#data.kind === "initialized" && this.#role === "primary") {
          this.#truth = appendWal(this.#truth, this.#origin, this.#written);
        }
        return this.#schedule({ op: "stop", mode: action.mode }, this.#o.stopMs);
      case "promote":
        if (this.#process !== "running" || this.#role !== "standby") {
          return fail(`Cannot promote "${this.name}": not a running standby`);
        }
        return this.#schedule({ op: "promote" }, this.#o.promoteMs);
    }
  }

  #schedule(what: Pending, delayMs: number): PerformResult {
    this.#pending = { what, doneAtMs: this.#net.clockMs() + delayMs };
    return { ok: true };
  }

  #writeConfig(config: InstanceConfig): PerformResult {
    if (this.#data.kind !== "initialized") return fail(`Cannot configure "${this.name}": no data`);
    this.#data = { ...this.#data, config };
    // PostgreSQL reloads primary_conninfo: a running standby's receiver reconnects.
    if (this.#process === "running" && this.#role === "standby" && config.role === "standby") {
      this.#receiver = { upstream: hostInstance(config.primaryConninfo.host), streaming: false };
    }
    return { ok: true };
  }

  #startClone(
    upstream: string,
    host: string,
    reclone: boolean,
    config: InstanceConfig,
  ): PerformResult {
    const source = this.#net.resolve(host);
    if (source === undefined || source.name !== upstream) {
      return fail(`Cannot clone "${this.name}": host "${host}" is not the pod "${upstream}"`);
    }
    const reachable = source.process === "running" && this.#net.linkUp(this.name, source.name);
    if (!reachable) return fail(`Cannot clone "${this.name}": "${upstream}" is not reachable`);
    const intact = reclone && this.systemId === source.systemId &&
      isWalPrefix(this.#truth, source.truth);
    this.#net.onClone?.({
      atMs: this.#net.clockMs(),
      instance: this.name,
      upstream,
      upstreamRole: source.role ?? "none",
      reclone,
      intact,
    });
    this.#data = { kind: "initializing", by: "clone", upstream };
    this.restored = undefined;
    this.upgradeFiles = { controlOld: false };
    this.#truth = [];
    this.#written = 0;
    this.#replay = 0;
    const copyMs = this.#o.cloneBaseMs + source.flushLsn / this.#o.cloneBytesPerMs;
    return this.#schedule({ op: "clone", upstream, config }, copyMs);
  }

  /** Moves the instance `dtMs` forward: finishes due operations, flushes, streams, replays. */
  advance(dtMs: number): void {
    const pending = this.#pending;
    if (pending !== undefined && pending.doneAtMs <= this.#net.clockMs() && this.#sent(pending)) {
      this.#pending = undefined;
      this.#finish(pending.what);
    }
    if (this.#process !== "running" || this.#data.kind !== "initialized") return;
    const data = this.#data;
    if (this.#role === "primary") {
      const flushed = Math.min(this.#written, this.flushLsn + this.#rate("disk", dtMs));
      this.#truth = appendWal(this.#truth, this.#origin, flushed);
      return;
    }
    if (this.#pending === undefined) this.#stream(data, dtMs);
    this.#replay = Math.min(this.flushLsn, this.#replay + this.#rate("apply", dtMs));
  }

  /**
   * False while a primary's fast stop waits for its streaming standbys to receive its final WAL
   * (at most ten times the stop's duration, as a standby may stall).
   */
  #sent(pending: { what: Pending; doneAtMs: number }): boolean {
    if (pending.what.op !== "stop" || this.#role !== "primary") return true;
    const late = this.#net.clockMs() >= pending.doneAtMs + 10 * this.#o.stopMs;
    return late || (this.#net.walSendersDone?.(this.name, this.flushLsn) ?? true);
  }

  #rate(kind: "disk" | "apply" | "stream", dtMs: number): number {
    const perMs = kind === "disk"
      ? this.#o.diskBytesPerMs / this.#slowFactor
      : kind === "apply"
      ? this.#o.applyBytesPerMs / this.#slowFactor
      : this.#o.streamBytesPerMs;
    return Math.max(1, Math.floor(perMs * dtMs));
  }

  #finish(what: Pending): void {
    switch (what.op) {
      case "initdb":
        this.restored = undefined;
        this.#data = {
          kind: "initialized",
          systemId: this.#net.newSystemId(),
          major: this.#o.major,
          timeline: this.#net.newTimeline(),
          history: [],
          config: { role: "primary" },
        };
        return;
      case "clone":
        return this.#finishClone(what.upstream, what.config);
      case "start":
        return this.#finishStart();
      case "stop":
        // A fast stop writes a shutdown checkpoint: everything written is flushed.
        if (this.#data.kind === "initialized" && this.#role === "primary") {
          this.#truth = appendWal(this.#truth, this.#origin, this.#written);
        }
        this.#process = "stopped";
        this.#clean = true;
        this.#role = undefined;
        this.#receiver = undefined;
        return;
      case "promote":
        return this.#finishPromote();
    }
  }

  #finishClone(upstream: string, config: InstanceConfig): void {
    const source = this.#net.resolve(config.role === "standby" ? config.primaryConninfo.host : "");
    const ok = source !== undefined && source.name === upstream &&
      source.process === "running" && this.#net.linkUp(this.name, upstream) &&
      source.#data.kind === "initialized";
    if (!ok || source.#data.kind !== "initialized") {
      this.#data = { kind: "empty" };
      return;
    }
    const from = source.#data;
    this.restored = source.restored;
    this.extensions = [...source.extensions];
    this.#truth = source.truth;
    this.#replay = this.flushLsn;
    this.#written = this.flushLsn;
    this.#data = {
      kind: "initialized",
      systemId: from.systemId,
      major: from.major,
      timeline: from.timeline,
      history: from.history,
      config,
    };
  }

  #finishStart(): void {
    if (this.#data.kind !== "initialized") return;
    if (this.#data.major !== this.#o.major) {
      // PostgreSQL refuses a data directory of another major and exits.
      this.#process = "crashed";
      return;
    }
    this.#process = "running";
    this.#clean = false;
    this.#incarnation++;
    this.#written = this.flushLsn;
    const config = this.#data.config;
    this.#role = config.role;
    if (config.role === "primary") this.#origin = this.#net.newOrigin();
    this.#receiver = config.role === "standby"
      ? { upstream: hostInstance(config.primaryConninfo.host), streaming: false }
      : undefined;
  }

  #finishPromote(): void {
    if (this.#process !== "running" || this.#data.kind !== "initialized") return;
    const data = this.#data;
    const end = this.flushLsn;
    this.#replay = end;
    this.#written = end;
    this.#data = {
      ...data,
      timeline: this.#net.newTimeline(),
      history: [...data.history, { timeline: data.timeline, endLsn: end }],
      config: { role: "primary" },
    };
    this.#role = "primary";
    this.#origin = this.#net.newOrigin();
    this.#receiver = undefined;
    // The end-of-recovery checkpoint is the new timeline's first WAL: from here on no other
    // instance's WAL on the old timeline can be a prefix of this one's past the fork.
    this.#truth = appendWal(this.#truth, this.#origin, end + END_OF_RECOVERY_BYTES);
    this.#written = this.flushLsn;
  }

  /**
   * Whether the WAL receiver refuses an upstream whose history ended this standby's timeline at
   * `forkEndLsn`, when the standby's WAL ends at `lsn`. Test mutants override it.
   */
  protected refusesFork(lsn: number, forkEndLsn: number): boolean {
    return lsn > forkEndLsn;
  }

  #stream(data: Initialized, dtMs: number): void {
    if (data.config.role !== "standby") return;
    const upstreamName = hostInstance(data.config.primaryConninfo.host);
    const refuse = (error: string) => {
      this.#receiver = { upstream: upstreamName, streaming: false, error };
    };
    const up = this.#net.resolve(data.config.primaryConninfo.host);
    if (up === undefined) return refuse("the host is not a pod");
    if (!this.#net.linkUp(this.name, up.name)) return refuse("the upstream is unreachable");
    // A primary in a fast stop still sends its final WAL.
    const sending = up.process === "running" ||
      (up.process === "stopping" && up.#role === "primary");
    if (!sending || up.#data.kind !== "initialized") {
      return refuse("the upstream does not run");
    }
    const upData = up.#data;
    if (upData.systemId !== data.systemId) return refuse("the upstream is another system");
    const flush = this.flushLsn;
    let end = up.flushLsn;
    let switchTo: TimelineHistory | undefined;
    if (data.timeline === upData.timeline) {
      if (flush > end) return refuse("the upstream is behind this standby");
    } else {
      const entry = upData.history.find((e) => e.timeline === data.timeline);
      if (entry === undefined) return refuse("the upstream's history lacks this timeline");
      if (this.refusesFork(flush, entry.endLsn)) {
        return refuse(`this timeline forked at ${entry.endLsn}, before ${flush}`);
      }
      if (flush >= entry.endLsn) switchTo = upData.history;
      else end = entry.endLsn;
    }
    if (switchTo !== undefined) {
      this.#data = { ...data, timeline: upData.timeline, history: switchTo };
    }
    const to = Math.min(end, flush + this.#rate("stream", dtMs));
    this.#truth = copyWal(this.#truth, up.truth, to);
    this.#receiver = { upstream: up.name, streaming: true };
  }
}

/** The size of the end-of-recovery record a promotion writes. */
const END_OF_RECOVERY_BYTES = 40;

function fail(error: string): PerformResult {
  return { ok: false, error };
}

/** The instance a pod DNS name names: its first label. */
export function hostInstance(host: string): string {
  return host.split(".")[0] ?? host;
}
