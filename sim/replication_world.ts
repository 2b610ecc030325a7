/**
 * A simulated data plane on virtual time: one {@link SimPostgresInstance} per pod, one agent per
 * instance running {@link agentRound} every `agentIntervalMs`, a writer that commits to the target
 * primary and records acknowledgements, a stand-in for the operator that picks the target
 * primary, and a fault schedule. Every checker runs after every step.
 *
 * The operator stand-in is deliberately small (the real decision is the operator's next piece of
 * work): the first instance is the first target primary; when the target has not accepted writes
 * for `failoverDelayMs` and some standby runs, it clears the target (a failover is pending), waits
 * until no instance runs, starts or stops as a primary, then names the running standby with the
 * most WAL. It reads the instances directly, where the operator will read the agents' reports.
 *
 * @module
 */

import type { AgentIntent, InstanceReport } from "../core/agent/types.ts";
import { agentRound, type DecideFn } from "../runtime/agent_round.ts";
import { VirtualClock } from "./clock.ts";
import {
  type CloneEvent,
  type SimInstanceOptions,
  type SimNetwork,
  SimPostgresInstance,
} from "./postgres_instance.ts";
import { SeededRandom } from "./random.ts";
import {
  type AckedCommit,
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
   * is gone for `durationMs` (the data stays); `slowDisk`: flush and replay `factor` times slower;
   * `linkDown`: the instance reaches no other instance.
   */
  kind: "crash" | "podKill" | "slowDisk" | "linkDown";
  /** The instance's index, or the target primary at that instant. */
  instance: number | "primary";
  /** How long it lasts (not used by `crash`). */
  durationMs: number;
  /** The slow-down of `slowDisk`. @default 10 */
  factor?: number;
}

/** One run: how many instances and which faults, from a seed. */
export interface ReplicationSchedule {
  /** The seed of the writer's randomness (and of the schedule, when generated). */
  seed: number;
  /** Instances: one primary and the rest standbys. */
  instances: number;
  /** The faults, in any order. */
  faults: ReplicationFault[];
}

/** Options of {@link runReplication}. */
export interface ReplicationRunOptions {
  /** The agent's decision (a mutant in tests). @default decide */
  decide?: DecideFn;
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
  /** The run ends unconverged this long after the last fault. @default 40000 */
  settleMaxMs?: number;
  /** The world's step: instances flush, stream and replay this often. @default 20 */
  tickMs?: number;
  /** How often each agent runs. @default 100 */
  agentIntervalMs?: number;
  /** How long the target primary may not accept writes before a failover. @default 1500 */
  failoverDelayMs?: number;
  /** The writer's mean interval between commits. @default 40 */
  writeIntervalMs?: number;
}

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
  /** Failovers. */
  failovers: number;
  /** When every standby streamed from the target with zero lag, if it did. */
  convergedAtMs?: number;
}

/** The namespace and headless Service of the simulated pods. */
const NAMESPACE = "sim";
const HEADLESS = "pg";

/** The name of instance `i`. */
export function instanceName(i: number): string {
  return `pg-${i}`;
}

class World implements SimNetwork, ReplicationView {
  readonly clock = new VirtualClock(0);
  readonly instances: SimPostgresInstance[] = [];
  readonly clones: CloneEvent[] = [];
  readonly acks: AckedCommit[] = [];
  targetPrimary: string | undefined = instanceName(0);
  targetChangedAtMs = 0;
  epoch = 0;
  notServingSinceMs: number | undefined;
  readonly reports = new Map<string, { status: InstanceReport; atMs: number }>();
  readonly isolatedUntil = new Map<string, number>();
  readonly agentDownUntil = new Map<string, number>();
  pending: { instance: string; origin: number; lsn: number; incarnation: number }[] = [];
  #timelines = 0;
  #systems = 0;
  #origins = 0;

  get nowMs(): number {
    return this.clock.nowMs();
  }

  clockMs(): number {
    return this.clock.nowMs();
  }

  byName(name: string): SimPostgresInstance | undefined {
    return this.instances.find((i) => i.name === name);
  }

  resolve(host: string): SimPostgresInstance | undefined {
    const suffix = `.${HEADLESS}.${NAMESPACE}.svc`;
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

  intent(self: string): AgentIntent {
    const intent: AgentIntent = {
      self,
      bootstrap: this.epoch === 0 && self === this.targetPrimary &&
        this.instances.every((i) => i.systemId === undefined),
      lease: { held: self === this.targetPrimary, free: false, transitions: 0 },
      major: 16,
      headlessService: HEADLESS,
      namespace: NAMESPACE,
      replication: {
        user: "replicator",
        passwordSecret: { name: `${HEADLESS}-replication`, key: "password" },
      },
    };
    const target = this.targetPrimary;
    if (target === undefined) return intent;
    intent.targetPrimary = target;
    const seen = this.reports.get(target);
    const status = seen?.status;
    if (
      seen !== undefined && seen.atMs >= this.targetChangedAtMs && status?.role === "primary" &&
      status.systemId !== undefined && status.timeline !== undefined
    ) {
      intent.primary = {
        name: target,
        systemId: status.systemId,
        timeline: status.timeline,
        history: status.history ?? [],
        flushLsn: status.receivedLsn,
      };
    }
    return intent;
  }

  /** The operator stand-in: two-phase failover (see the module comment). */
  operatorRound(failoverDelayMs: number): void {
    const now = this.nowMs;
    if (this.targetPrimary !== undefined) {
      const target = this.byName(this.targetPrimary)!;
      if (target.acceptsWrites) {
        this.notServingSinceMs = undefined;
        return;
      }
      this.notServingSinceMs ??= now;
      const standby = this.instances.some((i) => i !== target && i.role === "standby");
      if (now - this.notServingSinceMs >= failoverDelayMs && standby) {
        this.targetPrimary = undefined;
        this.targetChangedAtMs = now;
        this.notServingSinceMs = undefined;
      }
      return;
    }
    const primaryLike = this.instances.some((i) =>
      i.dataRole === "primary" &&
      (i.process === "running" || i.process === "starting" || i.process === "stopping")
    );
    if (primaryLike) return;
    const candidates = this.instances.filter((i) => i.role === "standby")
      .sort((a, b) => b.flushLsn - a.flushLsn || a.name.localeCompare(b.name));
    if (candidates.length === 0) return;
    this.targetPrimary = candidates[0]!.name;
    this.targetChangedAtMs = now;
    this.epoch++;
  }

  /** Advances every instance one tick and acknowledges the commits now flushed. */
  tick(tickMs: number): void {
    for (const instance of this.instances) instance.advance(tickMs);
    if (this.pending.length === 0) return;
    const still: typeof this.pending = [];
    for (const commit of this.pending) {
      const instance = this.byName(commit.instance)!;
      if (instance.incarnation !== commit.incarnation || !instance.acceptsWrites) continue;
      if (instance.ackableLsn() >= commit.lsn) {
        this.acks.push({
          atMs: this.nowMs,
          instance: commit.instance,
          origin: commit.origin,
          lsn: commit.lsn,
          epoch: this.epoch,
        });
      } else still.push(commit);
    }
    this.pending = still;
  }

  inject(fault: ReplicationFault): void {
    const name = fault.instance === "primary"
      ? this.targetPrimary ?? instanceName(0)
      : instanceName(fault.instance % this.instances.length);
    const instance = this.byName(name)!;
    const until = this.nowMs + fault.durationMs;
    switch (fault.kind) {
      case "crash":
        instance.crash();
        return;
      case "podKill":
        instance.crash();
        this.agentDownUntil.set(name, Math.max(this.agentDownUntil.get(name) ?? 0, until));
        return;
      case "slowDisk":
        instance.setSlowDisk(fault.factor ?? 10);
        this.clock.setTimer(fault.durationMs, () => instance.setSlowDisk(1));
        return;
      case "linkDown":
        this.isolatedUntil.set(name, Math.max(this.isolatedUntil.get(name) ?? 0, until));
        return;
    }
  }
}

/** Re-arms `fn` every `periodMs`, first after `firstMs`. */
function every(clock: VirtualClock, firstMs: number, periodMs: () => number, fn: () => void) {
  const run = () => {
    fn();
    clock.setTimer(periodMs(), run);
  };
  clock.setTimer(firstMs, run);
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
  const writeIntervalMs = options.writeIntervalMs ?? 40;
  const failoverDelayMs = options.failoverDelayMs ?? 1500;
  const checkers = options.checkers ?? replicationCheckers();
  const random = new SeededRandom(schedule.seed);
  const world = new World();
  const create = options.createInstance ??
    ((name: string, net: SimNetwork, o: SimInstanceOptions) =>
      new SimPostgresInstance(name, net, o));
  for (let i = 0; i < Math.max(1, schedule.instances); i++) {
    world.instances.push(create(instanceName(i), world, options.instanceOptions ?? {}));
  }
  const clock = world.clock;
  every(clock, tickMs, () => tickMs, () => world.tick(tickMs));
  world.instances.forEach((instance, i) => {
    every(clock, 1 + (i * 37) % agentIntervalMs, () => agentIntervalMs, () => {
      if ((world.agentDownUntil.get(instance.name) ?? -1) > world.nowMs) return;
      const report = (status: InstanceReport) =>
        world.reports.set(instance.name, { status, atMs: world.nowMs });
      agentRound(instance, world.intent(instance.name), report, options.decide);
    });
  });
  every(clock, 50, () => 100, () => world.operatorRound(failoverDelayMs));
  every(clock, 7, () => 1 + random.int(2 * writeIntervalMs), () => {
    if (world.nowMs >= faultWindowMs || world.targetPrimary === undefined) return;
    const primary = world.byName(world.targetPrimary)!;
    const commit = primary.commit(100 + random.int(500));
    if (commit !== undefined) world.pending.push({ instance: primary.name, ...commit });
  });
  let quietFromMs = faultWindowMs;
  for (const fault of schedule.faults) {
    clock.setTimer(fault.atMs, () => world.inject(fault));
    quietFromMs = Math.max(
      quietFromMs,
      fault.atMs + (fault.kind === "crash" ? 0 : fault.durationMs),
    );
  }
  return drive(world, checkers, quietFromMs, quietFromMs + (options.settleMaxMs ?? 40000));
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
    failovers: world.epoch,
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
}

/**
 * A schedule from a seed: 2 to `instancesMax` instances and up to `faultsMax` faults, a third of
 * them aimed at whichever instance is the primary when they strike.
 *
 * @example
 * ```ts
 * import { generateSchedule } from "./replication_world.ts";
 * const a = generateSchedule(7);
 * console.assert(JSON.stringify(a) === JSON.stringify(generateSchedule(7)));
 * ```
 */
export function generateSchedule(seed: number, options: ScheduleOptions = {}): ReplicationSchedule {
  const random = new SeededRandom(seed);
  const instances = 2 + random.int(Math.max(1, (options.instancesMax ?? 4) - 1));
  const window = options.faultWindowMs ?? 8000;
  const kinds: ReplicationFault["kind"][] = ["crash", "podKill", "slowDisk", "linkDown"];
  const faults: ReplicationFault[] = [];
  const count = random.int((options.faultsMax ?? 6) + 1);
  for (let i = 0; i < count; i++) {
    const kind = kinds[random.int(kinds.length)]!;
    const fault: ReplicationFault = {
      atMs: 1000 + random.int(window - 1000),
      kind,
      instance: random.chance(1 / 3) ? "primary" : random.int(instances),
      durationMs: 200 + random.int(kind === "podKill" ? 4800 : 3800),
    };
    if (kind === "slowDisk") fault.factor = 2 + random.int(19);
    faults.push(fault);
  }
  return { seed, instances, faults };
}
