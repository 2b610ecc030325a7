/**
 * A simulated data plane on virtual time, with the operator's and the agents' real failover logic:
 * one {@link SimPostgresInstance} per pod, one agent per instance running {@link agentRound} every
 * `agentIntervalMs`, the operator's rounds, the primary Lease, a writer that commits through `-rw`
 * and records acknowledgements, and a fault schedule. Every checker runs after every step.
 *
 * The world holds what the API server would: the PostgresDB `pg` in namespace `sim` (its spec
 * passes `validatePostgresDB`; its status carries the target primary, the term and the failover),
 * each pod's role label and its agent's last delivered report, and the primary Lease as an atomic
 * record `{holder, version, transitions}`.
 *
 * - **The operator** runs every `operatorIntervalMs` while it is up: it builds the instances from
 *   the pods and their reports, calls `chooseTarget` then `planFailover` with the virtual clock,
 *   writes the plan into the status, and sets each pod's role label as `wantedRole` computes it.
 *   All its state is in the status, so a crash (`operatorDown`) loses nothing but time.
 * - **An agent** that reaches the API server reads the PostgresDB, the reports and the Lease,
 *   sends the Lease write `leaseWrite` decides (applied atomically, counted from its sending),
 *   builds its intent with `agentIntent`, runs its round and delivers its report with the term it
 *   read. Cut off from the API server (`apiPartition`), it keeps its last view: no Lease read or
 *   write, no report delivered; its standing is judged on its own clock, so the fence stops a
 *   primary whose renewals stopped. It performs only the stops its decision asks for: the last
 *   intent is stale, and acting on it wipes data (see `ReplicationRunOptions.cutOff`). A pod
 *   kill restarts the agent without memory and re-creates the pod without its report.
 * - **The writer** commits to the pod labelled `primary` (the `-rw` Service), when it accepts
 *   writes. A commit is acknowledged once flushed on that primary and, when its configuration
 *   names synchronous standbys, on `number` of them (ground truth, not reports).
 *
 * @module
 */

import {
  afterLeaseWrite,
  type LeaseMemory,
  type LeaseRecord,
  leaseStanding,
  type LeaseTimings,
  leaseWrite,
  observeLease,
  runsAsPrimary,
} from "../core/agent/lease.ts";
import type { InstancePort, InstanceReport } from "../core/agent/types.ts";
import { agentIntent } from "../core/postgres/intent.ts";
import { planFailover, SWITCHOVER_ANNOTATION } from "../core/postgres/failover.ts";
import { type Instance, wantedRole } from "../core/postgres/instances.ts";
import { ROLE_LABEL } from "../core/postgres/labels.ts";
import type { PodReport } from "../core/postgres/replication.ts";
import { chooseTarget } from "../core/postgres/target.ts";
import type { PostgresDB, ValidSpec } from "../core/postgres/types.ts";
import { validatePostgresDB } from "../core/postgres/validate.ts";
import { agentRound, type DecideFn } from "../runtime/agent_round.ts";
import { VIRTUAL_EPOCH_MS, VirtualClock } from "./clock.ts";
import {
  type CloneEvent,
  type SimInstanceOptions,
  type SimNetwork,
  SimPostgresInstance,
} from "./postgres_instance.ts";
import { SeededRandom } from "./random.ts";
import {
  type AckedCommit,
  durableOn,
  type FailoverChoice,
  notConverged,
  type ReplicationChecker,
  replicationCheckers,
  type ReplicationView,
} from "./replication_checks.ts";

/** A fault at a virtual instant. */
export interface ReplicationFault {
  /** When it starts. */
  atMs: number;
  /**
   * `crash`: the process dies, the agent restarts it; `podKill`: the process dies and the agent
   * is gone for `durationMs` (the data stays; the pod comes back without its report);
   * `slowDisk`: flush and replay `factor` times slower; `linkDown`: the instance reaches no other
   * instance; `apiPartition`: the instance's agent cannot reach the API server (PostgreSQL keeps
   * running); `operatorDown`: the operator runs no round (`instance` unused); `switchover`: the
   * PostgresDB gets the switchover annotation naming the instance.
   */
  kind:
    | "crash"
    | "podKill"
    | "slowDisk"
    | "linkDown"
    | "apiPartition"
    | "operatorDown"
    | "switchover";
  /** The instance's index, or the primary at that instant (the Lease holder, else the target). */
  instance: number | "primary";
  /** How long it lasts (not used by `crash` and `switchover`). */
  durationMs: number;
  /** The slow-down of `slowDisk`. @default 10 */
  factor?: number;
}

/** The durability of a schedule: `spec.synchronous.durability`, or `async` without it. */
export type DurabilityMode = "required" | "preferred" | "async";

/** The failover part of the PostgresDB's spec in a schedule. */
export interface FailoverSpec {
  /** `spec.synchronous`; absent: asynchronous. */
  synchronous?: { number: number; durability: "required" | "preferred" };
  /** `spec.failoverDelay`, in seconds. */
  failoverDelay: number;
  /** `spec.maxFailoverLagBytes`. */
  maxFailoverLagBytes: number;
}

/** One run: how many instances, the spec's failover settings and which faults, from a seed. */
export interface ReplicationSchedule {
  /** The seed of the writer's randomness (and of the schedule, when generated). */
  seed: number;
  /** Instances: one primary and the rest standbys. */
  instances: number;
  /** The faults, in any order. */
  faults: ReplicationFault[];
  /** The spec's failover settings. @default asynchronous, no delay, the default lag bound */
  spec?: FailoverSpec;
}

/** Options of {@link runReplication}. */
export interface ReplicationRunOptions {
  /** The agent's decision (a mutant in tests). @default decide */
  decide?: DecideFn;
  /** The operator's failover plan (a mutant in tests). @default planFailover */
  planFailover?: typeof planFailover;
  /** The operator's role label rule (a mutant in tests). @default wantedRole */
  wantedRole?: typeof wantedRole;
  /** Makes an instance (a mutant model in tests). */
  createInstance?: (
    name: string,
    network: SimNetwork,
    options: SimInstanceOptions,
  ) => SimPostgresInstance;
  /** The checkers. @default replicationCheckers() */
  checkers?: ReplicationChecker[];
  /** Timings and rates of the instances. */
  instanceOptions?: SimInstanceOptions;
  /** Faults and writes happen before this instant. @default 8000 */
  faultWindowMs?: number;
  /**
   * The run ends unconverged this long after the last fault: a switchover whose requested
   * standby never receives the old primary's final WAL waits `SWITCHOVER_WAIT_MS` (60 s) before
   * it chooses as a failover does. @default 80000
   */
  settleMaxMs?: number;
  /** The world's step: instances flush, stream and replay this often. @default 20 */
  tickMs?: number;
  /** How often each agent runs. @default 100 */
  agentIntervalMs?: number;
  /** How often the operator runs while it is up. @default 100 */
  operatorIntervalMs?: number;
  /** The primary Lease's timings. @default SIM_LEASE_TIMINGS */
  lease?: LeaseTimings;
  /**
   * The renew deadline the agents judge their own standing by (a mutant in tests).
   * @default lease.renewDeadlineMs
   */
  agentRenewDeadlineMs?: number;
  /** The writer's mean interval between commits. @default 40 */
  writeIntervalMs?: number;
  /**
   * What an agent cut off from the API server does with its last view: `fence` performs only
   * the stops its decision asks for (the fence, and a demotion); `lastIntent` performs all of
   * them on the stale intent. @default "fence"
   */
  cutOff?: "fence" | "lastIntent";
}

/** The Lease timings of the simulation: scaled to 100 ms agent rounds. */
export const SIM_LEASE_TIMINGS: LeaseTimings = { durationMs: 3000, renewDeadlineMs: 2000 };

/** A checker's finding. */
export interface ReplicationViolation {
  /** The checker's name. */
  checker: string;
  /** What it found. */
  message: string;
  /** When. */
  atMs: number;
}

/** What a run did and found. */
export interface ReplicationReport {
  /** Violations (the run stops at the first step that has any). */
  violations: ReplicationViolation[];
  /** Steps (timer instants) run. */
  steps: number;
  /** Virtual time at the end. */
  virtualMs: number;
  /** Commits acknowledged. */
  acks: number;
  /** Clones and re-clones. */
  clones: number;
  /** New primaries chosen after a pending failover or switchover. */
  failovers: number;
  /** Of which switchovers. */
  switchovers: number;
  /** The schedule's durability. */
  durability: DurabilityMode;
  /** Acknowledged commits missing from a new primary when it first accepted writes. */
  lostCommits: number;
  /** Their bytes. */
  lostBytes: number;
  /** When every standby streamed from the target with zero lag, if it did. */
  convergedAtMs?: number;
}

/** The namespace and name of the simulated PostgresDB (its headless Service has its name). */
const NAMESPACE = "sim";
const DB = "pg";

/** The name of instance `i`. */
export function instanceName(i: number): string {
  return `${DB}-${i}`;
}

/** The PostgresDB of a schedule, as stored: bootstrap status (target `pg-0`, term 1). */
export function scheduleDatabase(schedule: ReplicationSchedule): PostgresDB {
  const spec = schedule.spec ?? { failoverDelay: 0, maxFailoverLagBytes: 16 * 2 ** 20 };
  const db: PostgresDB = {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name: DB, namespace: NAMESPACE, uid: "pg-uid", annotations: {} },
    spec: {
      version: "16",
      storage: "1Gi",
      databaseName: "app",
      replicas: Math.max(1, schedule.instances),
      failoverDelay: spec.failoverDelay,
      maxFailoverLagBytes: spec.maxFailoverLagBytes,
    },
    status: { targetPrimary: instanceName(0), primaryTerm: 1 },
  };
  if (spec.synchronous !== undefined) db.spec!.synchronous = { ...spec.synchronous };
  return db;
}

/** An agent's process state: its Lease memory and its last view of the API server. */
interface Agent {
  memory: LeaseMemory;
  view?: { db: PostgresDB; reports: Map<string, PodReport>; record: LeaseRecord | undefined };
}

interface PendingCommit {
  instance: string;
  origin: number;
  lsn: number;
  bytes: number;
  incarnation: number;
}

class World implements SimNetwork, ReplicationView {
  readonly clock = new VirtualClock(0);
  readonly instances: SimPostgresInstance[] = [];
  readonly clones: CloneEvent[] = [];
  readonly acks: AckedCommit[] = [];
  readonly choices: FailoverChoice[] = [];
  readonly reports = new Map<string, PodReport>();
  readonly roleLabels = new Map<string, string>();
  readonly agents = new Map<string, Agent>();
  readonly isolatedUntil = new Map<string, number>();
  readonly agentDownUntil = new Map<string, number>();
  readonly apiDownUntil = new Map<string, number>();
  db: PostgresDB;
  readonly spec: ValidSpec;
  readonly durability: DurabilityMode;
  readonly leaseTimings: LeaseTimings;
  lease: { holder: string | undefined; version: number; transitions: number } | undefined;
  targetChangedAtMs = 0;
  operatorUpSinceMs: number | undefined = 0;
  operatorDownUntil = -1;
  pending: PendingCommit[] = [];
  switchovers = 0;
  lostCommits = 0;
  lostBytes = 0;
  readonly #lost = new Set<AckedCommit>();
  readonly #writing = new Map<string, boolean>();
  #timelines = 0;
  #systems = 0;
  #origins = 0;

  constructor(db: PostgresDB, leaseTimings: LeaseTimings) {
    this.db = db;
    const validation = validatePostgresDB(db);
    if (!validation.ok) {
      throw new Error(
        `The schedule's PostgresDB is invalid: ${
          validation.problems.map((p) => `${p.field} ${p.message}`).join("; ")
        }`,
      );
    }
    this.spec = validation.spec;
    this.durability = this.spec.synchronous?.durability ?? "async";
    this.leaseTimings = leaseTimings;
  }

  get nowMs(): number {
    return this.clock.nowMs();
  }

  get targetPrimary(): string | undefined {
    return this.db.status?.targetPrimary || undefined;
  }

  get epoch(): number {
    return this.db.status?.primaryTerm ?? 1;
  }

  get leaseHolder(): string | undefined {
    return this.lease?.holder;
  }

  get maxFailoverLagBytes(): number {
    return this.spec.maxFailoverLagBytes;
  }

  get failoverDelayMs(): number {
    return this.spec.failoverDelay * 1000;
  }

  get leaseDurationMs(): number {
    return this.leaseTimings.durationMs;
  }

  clockMs(): number {
    return this.clock.nowMs();
  }

  byName(name: string): SimPostgresInstance | undefined {
    return this.instances.find((i) => i.name === name);
  }

  resolve(host: string): SimPostgresInstance | undefined {
    const suffix = `.${DB}.${NAMESPACE}.svc`;
    return host.endsWith(suffix) ? this.byName(host.slice(0, -suffix.length)) : undefined;
  }

  linkUp(a: string, b: string): boolean {
    const now = this.nowMs;
    return (this.isolatedUntil.get(a) ?? -1) <= now && (this.isolatedUntil.get(b) ?? -1) <= now;
  }

  newTimeline(): number {
    return ++this.#timelines;
  }

  newSystemId(): string {
    return `sys-${++this.#systems}`;
  }

  newOrigin(): number {
    return ++this.#origins;
  }

  onClone(event: CloneEvent): void {
    this.clones.push(event);
  }

  walSendersDone(name: string, lsn: number): boolean {
    return this.instances.every((i) =>
      i.walReceiver?.streaming !== true || i.walReceiver.upstream !== name || i.flushLsn >= lsn
    );
  }

  #leaseRecord(): LeaseRecord | undefined {
    const lease = this.lease;
    if (lease === undefined) return undefined;
    return {
      holder: lease.holder,
      version: String(lease.version),
      durationMs: this.leaseTimings.durationMs,
      transitions: lease.transitions,
    };
  }

  /** What an agent cut off from the API server does with its last view. */
  cutOff: "fence" | "lastIntent" = "fence";

  /** One agent round (see the module comment). */
  agentTurn(instance: SimPostgresInstance, decideFn: DecideFn | undefined, deadlineMs: number) {
    const name = instance.name;
    const now = this.nowMs;
    if ((this.agentDownUntil.get(name) ?? -1) > now) return;
    let agent = this.agents.get(name);
    if (agent === undefined) {
      agent = { memory: {} };
      this.agents.set(name, agent);
    }
    const reachable = (this.apiDownUntil.get(name) ?? -1) <= now;
    if (reachable) {
      agent.memory = observeLease(agent.memory, this.#leaseRecord(), now);
      const write = leaseWrite(
        name,
        this.targetPrimary,
        agent.memory,
        this.#leaseRecord(),
        now,
        runsAsPrimary(instance.observe()),
      );
      if (write !== undefined) {
        // The conditional update: applied at once, nothing runs between the read and the write.
        const lease = this.lease ?? { holder: undefined, version: 0, transitions: 0 };
        lease.version++;
        if (write.kind === "release") lease.holder = undefined;
        else {
          if (write.kind !== "renew") lease.transitions++;
          lease.holder = write.holder;
        }
        this.lease = lease;
        agent.memory = observeLease(
          afterLeaseWrite(agent.memory, write, now),
          this.#leaseRecord(),
          now,
        );
      }
      agent.view = { db: this.db, reports: new Map(this.reports), record: this.#leaseRecord() };
    }
    const view = agent.view;
    if (view === undefined) return;
    const standing = leaseStanding(name, agent.memory, view.record, now, deadlineMs);
    const intent = agentIntent(view.db, name, view.reports, standing);
    const port = reachable || this.cutOff === "lastIntent" ? instance : fenceOnly(instance);
    agentRound(port, intent, (status: InstanceReport) => {
      if (!reachable) return;
      const report: PodReport = { ...status, reportedAtMs: VIRTUAL_EPOCH_MS + now };
      const term = view.db.status?.primaryTerm;
      if (term !== undefined) report.term = term;
      this.reports.set(name, report);
    }, decideFn);
  }

  agentInformedSinceMs(name: string): number | undefined {
    const now = this.nowMs;
    const back = Math.max(this.agentDownUntil.get(name) ?? 0, this.apiDownUntil.get(name) ?? 0);
    return back > now ? undefined : back;
  }

  /** The instances as the operator sees them: fake pods with their labels, and the reports. */
  operatorInstances(): Instance[] {
    return this.instances.map((i) => {
      const label = this.roleLabels.get(i.name);
      return {
        pod: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: label === undefined
            ? { name: i.name }
            : { name: i.name, labels: { [ROLE_LABEL]: label } },
        },
        report: this.reports.get(i.name),
      };
    });
  }

  /** One operator round: plan, write the status, relabel the pods. */
  operatorRound(plan: typeof planFailover, role: typeof wantedRole): void {
    const now = this.nowMs;
    if (this.operatorDownUntil > now) return;
    this.operatorUpSinceMs ??= now;
    const instances = this.operatorInstances();
    const db = this.db;
    const choice = chooseTarget(db, instances);
    const planned = plan(db, this.spec, instances, choice, VIRTUAL_EPOCH_MS + now);
    const before = db.status ?? {};
    const status = {
      ...before,
      targetPrimary: planned.targetPrimary,
      primaryTerm: planned.primaryTerm,
    };
    if (planned.failover !== undefined) status.failover = planned.failover;
    else delete status.failover;
    if (planned.unavailableSince !== undefined) {
      status.primaryUnavailableSince = planned.unavailableSince;
    } else delete status.primaryUnavailableSince;
    if (planned.switchoverHandled !== undefined) {
      status.switchoverHandled = planned.switchoverHandled;
    }
    if (status.targetPrimary !== before.targetPrimary) {
      this.targetChangedAtMs = now;
      if (before.targetPrimary === "" && status.targetPrimary !== "") {
        this.#recordChoice(status.targetPrimary, status.primaryTerm, status.failover?.from ?? "");
      }
    }
    this.db = { ...db, status };
    for (const instance of instances) {
      const want = role(instance, status.targetPrimary, status.primaryTerm);
      if (want === undefined) this.roleLabels.delete(instance.pod.metadata.name);
      else this.roleLabels.set(instance.pod.metadata.name, want);
    }
  }

  /** A new target after a pending failover: what the operator knew of the WAL then. */
  #recordChoice(to: string, term: number, from: string): void {
    const chosen = this.reports.get(to);
    const timeline = chosen?.timeline;
    const known = [...this.reports.values()].filter((r) =>
      (r.name === from || r.term === term) && r.timeline === timeline &&
      r.systemId === chosen?.systemId
    );
    const lastKnownLsn = Math.max(0, ...known.map((r) => r.receivedLsn));
    if (this.db.status?.failover?.reason === "Switchover") this.switchovers++;
    this.choices.push({
      atMs: this.nowMs,
      from,
      to,
      term,
      chosenLsn: chosen?.receivedLsn ?? 0,
      lastKnownLsn,
    });
  }

  /** The pod `-rw` sends the writer to: one labelled primary (a random one of several). */
  readWrite(random: SeededRandom): SimPostgresInstance | undefined {
    const selected = this.instances.filter((i) => this.roleLabels.get(i.name) === "primary");
    if (selected.length === 0) return undefined;
    return selected[selected.length === 1 ? 0 : random.int(selected.length)];
  }

  /** Advances every instance one tick and acknowledges the commits now durable enough. */
  tick(tickMs: number): void {
    for (const instance of this.instances) instance.advance(tickMs);
    this.#countLosses();
    if (this.pending.length === 0) return;
    const still: PendingCommit[] = [];
    for (const commit of this.pending) {
      const instance = this.byName(commit.instance)!;
      if (instance.incarnation !== commit.incarnation || !instance.acceptsWrites) continue;
      if (instance.ackableLsn() >= commit.lsn && this.#quorum(instance, commit)) {
        this.acks.push({
          atMs: this.nowMs,
          instance: commit.instance,
          origin: commit.origin,
          lsn: commit.lsn,
          bytes: commit.bytes,
          epoch: this.epoch,
          leaseHolder: this.lease?.holder,
        });
      } else still.push(commit);
    }
    this.pending = still;
  }

  /** The synchronous standbys of the primary's configuration hold the commit (ground truth). */
  #quorum(primary: SimPostgresInstance, commit: PendingCommit): boolean {
    const config = primary.config;
    const sync = config?.role === "primary" ? config.synchronous : undefined;
    if (sync === undefined) return true;
    let flushed = 0;
    for (const name of sync.standbys) {
      const standby = this.byName(name);
      if (standby !== undefined && durableOn(commit, standby)) flushed++;
    }
    return flushed >= sync.number;
  }

  /** Counts the acknowledged commits missing from each instance that starts accepting writes. */
  #countLosses(): void {
    for (const instance of this.instances) {
      const writes = instance.acceptsWrites;
      const was = this.#writing.get(instance.name) ?? false;
      this.#writing.set(instance.name, writes);
      if (!writes || was) continue;
      for (const ack of this.acks) {
        if (this.#lost.has(ack) || durableOn(ack, instance)) continue;
        this.#lost.add(ack);
        this.lostCommits++;
        this.lostBytes += ack.bytes;
      }
    }
  }

  /** The instance a fault aims at. */
  aim(fault: ReplicationFault): string {
    if (fault.instance === "primary") {
      return this.lease?.holder ?? this.targetPrimary ?? instanceName(0);
    }
    return instanceName(fault.instance % this.instances.length);
  }

  inject(fault: ReplicationFault): void {
    const now = this.nowMs;
    const until = now + fault.durationMs;
    const extend = (map: Map<string, number>, name: string) =>
      map.set(name, Math.max(map.get(name) ?? 0, until));
    if (fault.kind === "operatorDown") {
      this.operatorDownUntil = Math.max(this.operatorDownUntil, until);
      this.operatorUpSinceMs = undefined;
      return;
    }
    const name = this.aim(fault);
    const instance = this.byName(name)!;
    switch (fault.kind) {
      case "crash":
        instance.crash();
        return;
      case "podKill":
        instance.crash();
        extend(this.agentDownUntil, name);
        // The agent restarts without memory; the pod is re-created without its report.
        this.agents.delete(name);
        this.reports.delete(name);
        return;
      case "slowDisk":
        instance.setSlowDisk(fault.factor ?? 10);
        this.clock.setTimer(fault.durationMs, () => instance.setSlowDisk(1));
        return;
      case "linkDown":
        extend(this.isolatedUntil, name);
        return;
      case "apiPartition":
        extend(this.apiDownUntil, name);
        return;
      case "switchover":
        this.db = {
          ...this.db,
          metadata: {
            ...this.db.metadata,
            annotations: { ...this.db.metadata.annotations, [SWITCHOVER_ANNOTATION]: name },
          },
        };
        return;
    }
  }
}

/** The instance's port for a round cut off from the API server: it only stops PostgreSQL. */
function fenceOnly(instance: SimPostgresInstance): InstancePort {
  return {
    observe: () => instance.observe(),
    perform: (action) =>
      action.kind === "stop"
        ? instance.perform(action)
        : { ok: false, error: `Cut off from the API server: no ${action.kind}` },
  };
}

/** Re-arms `fn` every `periodMs`, first after `firstMs`. */
function every(clock: VirtualClock, firstMs: number, periodMs: () => number, fn: () => void) {
  const run = () => {
    fn();
    clock.setTimer(periodMs(), run);
  };
  clock.setTimer(firstMs, run);
}

/** The durability of a schedule. */
export function durabilityOf(schedule: ReplicationSchedule): DurabilityMode {
  return schedule.spec?.synchronous?.durability ?? "async";
}

/**
 * Runs one schedule with every checker after every step; stops at the first violation, or once
 * replication has converged after the faults.
 *
 * @example
 * ```ts
 * import { runReplication } from "./replication_world.ts";
 * const report = runReplication({ seed: 1, instances: 3, faults: [] });
 * console.assert(report.violations.length === 0 && report.convergedAtMs !== undefined);
 * ```
 */
export function runReplication(
  schedule: ReplicationSchedule,
  options: ReplicationRunOptions = {},
): ReplicationReport {
  const faultWindowMs = options.faultWindowMs ?? 8000;
  const tickMs = options.tickMs ?? 20;
  const agentIntervalMs = options.agentIntervalMs ?? 100;
  const operatorIntervalMs = options.operatorIntervalMs ?? 100;
  const writeIntervalMs = options.writeIntervalMs ?? 40;
  const leaseTimings = options.lease ?? SIM_LEASE_TIMINGS;
  const deadlineMs = options.agentRenewDeadlineMs ?? leaseTimings.renewDeadlineMs;
  const random = new SeededRandom(schedule.seed);
  const world = new World(scheduleDatabase(schedule), leaseTimings);
  world.cutOff = options.cutOff ?? "fence";
  const checkers = options.checkers ?? replicationCheckers();
  const create = options.createInstance ??
    ((name: string, net: SimNetwork, o: SimInstanceOptions) =>
      new SimPostgresInstance(name, net, o));
  for (let i = 0; i < Math.max(1, schedule.instances); i++) {
    world.instances.push(create(instanceName(i), world, options.instanceOptions ?? {}));
  }
  const clock = world.clock;
  every(clock, tickMs, () => tickMs, () => world.tick(tickMs));
  world.instances.forEach((instance, i) => {
    every(
      clock,
      1 + (i * 37) % agentIntervalMs,
      () => agentIntervalMs,
      () => world.agentTurn(instance, options.decide, deadlineMs),
    );
  });
  const plan = options.planFailover ?? planFailover;
  const role = options.wantedRole ?? wantedRole;
  every(clock, 50, () => operatorIntervalMs, () => world.operatorRound(plan, role));
  every(clock, 7, () => 1 + random.int(2 * writeIntervalMs), () => {
    if (world.nowMs >= faultWindowMs) return;
    const primary = world.readWrite(random);
    const bytes = 100 + random.int(500);
    const commit = primary?.commit(bytes);
    if (commit !== undefined) world.pending.push({ instance: primary!.name, bytes, ...commit });
  });
  let quietFromMs = faultWindowMs;
  for (const fault of schedule.faults) {
    clock.setTimer(fault.atMs, () => world.inject(fault));
    const lasts = fault.kind === "crash" || fault.kind === "switchover" ? 0 : fault.durationMs;
    quietFromMs = Math.max(quietFromMs, fault.atMs + lasts);
  }
  return drive(world, checkers, quietFromMs, quietFromMs + (options.settleMaxMs ?? 80000));
}

function drive(
  world: World,
  checkers: readonly ReplicationChecker[],
  quietFromMs: number,
  endMs: number,
): ReplicationReport {
  const violations: ReplicationViolation[] = [];
  let steps = 0;
  let convergedAtMs: number | undefined;
  let nextConvergenceCheckMs = quietFromMs;
  while (world.nowMs < endMs && violations.length === 0) {
    world.clock.runNext();
    steps++;
    for (const checker of checkers) {
      const message = checker.check?.(world);
      if (message !== undefined) {
        violations.push({ checker: checker.name, message, atMs: world.nowMs });
      }
    }
    if (world.nowMs >= nextConvergenceCheckMs) {
      nextConvergenceCheckMs = world.nowMs + 200;
      if (notConverged(world) === undefined) {
        convergedAtMs = world.nowMs;
        break;
      }
    }
  }
  if (violations.length === 0) {
    for (const checker of checkers) {
      const message = checker.atEnd?.(world);
      if (message !== undefined) {
        violations.push({ checker: checker.name, message, atMs: world.nowMs });
      }
    }
  }
  const report: ReplicationReport = {
    violations,
    steps,
    virtualMs: world.nowMs,
    acks: world.acks.length,
    clones: world.clones.length,
    failovers: world.choices.length,
    switchovers: world.switchovers,
    durability: world.durability,
    lostCommits: world.lostCommits,
    lostBytes: world.lostBytes,
  };
  if (convergedAtMs !== undefined) report.convergedAtMs = convergedAtMs;
  return report;
}

/** Options of {@link generateSchedule}. */
export interface ScheduleOptions {
  /** Instances at most (at least 2). @default 4 */
  instancesMax?: number;
  /** Faults at most. @default 6 */
  faultsMax?: number;
  /** Faults start before this instant. @default 8000 */
  faultWindowMs?: number;
  /**
   * Failover schedules: a random durability, failover delay and lag bound; API partitions,
   * operator crashes and switchovers among the faults; two failures in a row aimed at the
   * primary in a third of them; in a quarter, a correlated failure (a standby's links down while
   * another standby and the primary are cut off from the API server). @default false
   */
  failover?: boolean;
}

/**
 * A schedule from a seed: 2 to `instancesMax` instances and up to `faultsMax` faults, a third of
 * them aimed at whichever instance is the primary when they strike.
 *
 * @example
 * ```ts
 * import { generateSchedule } from "./replication_world.ts";
 * const a = generateSchedule(7, { failover: true });
 * console.assert(JSON.stringify(a) === JSON.stringify(generateSchedule(7, { failover: true })));
 * ```
 */
export function generateSchedule(seed: number, options: ScheduleOptions = {}): ReplicationSchedule {
  const random = new SeededRandom(seed);
  const instances = 2 + random.int(Math.max(1, (options.instancesMax ?? 4) - 1));
  const window = options.faultWindowMs ?? 8000;
  const failover = options.failover === true;
  const kinds: ReplicationFault["kind"][] = failover
    ? ["crash", "podKill", "slowDisk", "linkDown", "apiPartition", "operatorDown", "switchover"]
    : ["crash", "podKill", "slowDisk", "linkDown"];
  const longest: Partial<Record<ReplicationFault["kind"], number>> = {
    podKill: 4800,
    apiPartition: 7800,
    operatorDown: 5800,
  };
  const faults: ReplicationFault[] = [];
  const count = random.int((options.faultsMax ?? 6) + 1);
  for (let i = 0; i < count; i++) {
    const kind = kinds[random.int(kinds.length)]!;
    const fault: ReplicationFault = {
      atMs: 1000 + random.int(window - 1000),
      kind,
      instance: random.chance(1 / 3) ? "primary" : random.int(instances),
      durationMs: 200 + random.int(longest[kind] ?? 3800),
    };
    if (kind === "slowDisk") fault.factor = 2 + random.int(19);
    if (kind === "operatorDown") fault.instance = 0;
    if (kind === "switchover") fault.instance = random.int(instances);
    faults.push(fault);
  }
  const schedule: ReplicationSchedule = { seed, instances, faults };
  if (!failover) return schedule;
  if (random.chance(1 / 3)) {
    // Two failures in a row, both aimed at the primary of the moment.
    const primaryKinds: ReplicationFault["kind"][] = ["crash", "podKill", "apiPartition"];
    const atMs = 1000 + random.int(window - 1000);
    for (const offset of [0, 1500 + random.int(4000)]) {
      const kind = primaryKinds[random.int(primaryKinds.length)]!;
      faults.push({
        atMs: atMs + offset,
        kind,
        instance: "primary",
        durationMs: 200 + random.int(longest[kind] ?? 3800),
      });
    }
  }
  if (random.chance(1 / 4)) {
    // A correlated failure: a standby falls behind (its links are down) while another standby
    // and then the primary are cut off from the API server for longer than a failover takes.
    const atMs = 1000 + random.int(window - 1000);
    const behind = random.int(instances);
    faults.push(
      { atMs, kind: "linkDown", instance: behind, durationMs: 3000 + random.int(3000) },
      {
        atMs: atMs + random.int(1000),
        kind: "apiPartition",
        instance: (behind + 1) % instances,
        durationMs: 8000 + random.int(4000),
      },
      {
        atMs: atMs + random.int(1000),
        kind: "apiPartition",
        instance: "primary",
        durationMs: 8000 + random.int(4000),
      },
    );
  }
  const spec: FailoverSpec = {
    failoverDelay: random.int(2),
    maxFailoverLagBytes: 2000 + random.int(18001),
  };
  const mode = random.int(3);
  if (mode > 0) {
    spec.synchronous = {
      number: 1 + random.int(instances - 1),
      durability: mode === 1 ? "required" : "preferred",
    };
  }
  schedule.spec = spec;
  return schedule;
}
