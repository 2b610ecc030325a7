/**
 * The simulated data plane of PostgresDB pods: for each running pod that runs the instance agent
 * (its container's command is {@link AGENT_COMMAND}), a {@link SimPostgresInstance} keyed by the
 * pod's data claim (its data survives the pod's deletion and rescheduling and is lost only with
 * the claim), and an agent that runs {@link agentRound} on virtual time with the intent of
 * `notes/replication.md` ({@link agentIntent}: the PostgresDB's status and the target pod's
 * report) and writes its report on its pod, through a client named `pgop-agent`, only when the
 * report changes (lag alone at most every {@link LAG_REPORT_MS}).
 *
 * The pod's readiness follows the agent's last report (the lifecycle's readiness gate, as a
 * kubelet's `/readyz` probe); a container crash or a pod's deletion crashes the instance.
 *
 * The loop runs every `agentIntervalMs` while anything moves, and stops once every instance is
 * idle and no report changed for a few rounds; any change of a PostgresDB, one of its pods or a
 * claim starts it again. So a converged cluster rests, and a resting agent writes nothing.
 *
 * Caveat: the agent writes with an update of the version read (a conflict or a gone pod is
 * retried next round, never creating a pod), where the real agent applies the annotation.
 *
 * @module
 */

import { decide } from "../core/agent/decide.ts";
import {
  afterLeaseWrite,
  DEFAULT_LEASE_TIMINGS,
  fenceStop,
  type LeaseMemory,
  type LeaseRecord,
  leaseStanding,
  type LeaseTimings,
  leaseWrite,
  observeLease,
  runsAsPrimary,
} from "../core/agent/lease.ts";
export type { LeaseTimings } from "../core/agent/lease.ts";
import type { InstanceReport } from "../core/agent/types.ts";
import type { Timer } from "../core/clock.ts";
import type { KubeObject } from "../core/object.ts";
import { agentIntent } from "../core/postgres/intent.ts";
import { imageMajor } from "../core/postgres/version.ts";
import { instanceOfVolume } from "../core/postgres/labels.ts";
import {
  type PodReport,
  readReport,
  REPORT_ANNOTATION,
  reportText,
} from "../core/postgres/replication.ts";
import { AGENT_COMMAND } from "../core/postgres/statefulset.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import { agentRound, type DecideFn } from "../runtime/agent_round.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import type { SimClient } from "./client.ts";
import type { VirtualClock } from "./clock.ts";
import type { PodLifecycle } from "./pod_lifecycle.ts";
import {
  type CloneEvent,
  type SimInstanceOptions,
  type SimNetwork,
  SimPostgresInstance,
} from "./postgres_instance.ts";

const POD = { apiVersion: "v1", kind: "Pod" };

/** A report whose only change is lag (LSNs) is written at most this often. */
export const LAG_REPORT_MS = 10_000;

/** Options of {@link SimDataPlane}. */
export interface DataPlaneOptions {
  /** How often each agent runs (and the instances advance). @default 50 */
  agentIntervalMs?: number;
  /** Timings and rates of the instances. */
  instance?: SimInstanceOptions;
  /** The agents' decision (a mutant in tests). @default decide */
  decide?: DecideFn;
  /** The primary Lease's timings. @default DEFAULT_LEASE_TIMINGS */
  lease?: LeaseTimings;
}

/** A PostgresDB's primary Lease as the simulated agents share it (an atomic record). */
interface SimLease {
  /** The PostgresDB's uid: a re-created PostgresDB starts without a Lease. */
  dbUid: string;
  holder?: string | undefined;
  version: number;
  transitions: number;
  /** When the version last changed. */
  changedAtMs: number;
}

/** One agent pod as the data plane tracks it. */
interface AgentPod {
  uid: string;
  name: string;
  namespace: string;
  db: string;
  claim: string;
  /** The major of the pod's `postgres` image (its binaries); absent: the options' default. */
  major?: number;
  restarts: number;
  report?: PodReport;
  writing: boolean;
  lastWriteMs: number;
  lease: LeaseMemory;
  /** The Lease record last read. */
  leaseRecord?: LeaseRecord | undefined;
  /** Until when the agent cannot reach the API server (it keeps running on what it last read). */
  cutOffUntilMs?: number;
  /** What the agent last read from the API server. */
  lastRead?: { db: PostgresDB; reports: Map<string, PodReport> };
}

/** The simulated instances and agents of every PostgresDB in a simulated cluster. */
export class SimDataPlane implements SimNetwork {
  /** Every clone and re-clone started, for checkers. */
  readonly clones: CloneEvent[] = [];
  /** Report writes the agents sent. */
  reportWrites = 0;
  readonly #server: SimApiServer;
  readonly #clock: VirtualClock;
  readonly #pods: PodLifecycle;
  readonly #client: SimClient;
  readonly #intervalMs: number;
  readonly #instanceOptions: SimInstanceOptions;
  readonly #decide: DecideFn;
  readonly #leaseTimings: LeaseTimings;
  /** Primary Leases by namespace and PostgresDB name. */
  readonly #leases = new Map<string, SimLease>();
  /** Instances by claim uid. */
  readonly #instances = new Map<string, SimPostgresInstance>();
  /** Running agent pods by pod uid. */
  readonly #agents = new Map<string, AgentPod>();
  /** The agents by namespace and pod name, as each round runs them; dropped when one comes or goes. */
  #agentOrder: AgentPod[] | undefined;
  /** The pods' reports by namespace and PostgresDB, gathered once per round. */
  readonly #roundReports = new Map<string, Map<string, Map<string, PodReport>>>();
  #timer: Timer | undefined;
  #quietRounds = 0;
  #lastAdvanceMs: number;
  #lastObservations = "";
  #counters = { timeline: 0, system: 0, origin: 0 };

  /** Starts the data plane on `server`; `client` writes the reports. */
  constructor(
    server: SimApiServer,
    clock: VirtualClock,
    pods: PodLifecycle,
    client: SimClient,
    options: DataPlaneOptions = {},
  ) {
    this.#server = server;
    this.#clock = clock;
    this.#pods = pods;
    this.#client = client;
    this.#intervalMs = options.agentIntervalMs ?? 50;
    this.#instanceOptions = options.instance ?? {};
    this.#decide = options.decide ?? decide;
    this.#leaseTimings = options.lease ?? DEFAULT_LEASE_TIMINGS;
    this.#lastAdvanceMs = clock.nowMs();
    pods.readinessGate = (pod) => this.#readiness(pod);
    pods.dataMajorSource = (namespace, claim) => this.instance(namespace, claim)?.dataMajor;
    server.subscribe((change) => this.#onChange(change));
  }

  /** The instance on a data claim (`namespace`, claim name), if one was started on it. */
  instance(namespace: string, claim: string): SimPostgresInstance | undefined {
    const uid = this.#server.peek(
      { apiVersion: "v1", kind: "PersistentVolumeClaim" },
      claim,
      namespace,
    )
      ?.metadata.uid;
    return uid === undefined ? undefined : this.#instances.get(uid);
  }

  /** Every instance, by the uid of its data claim (for checkers). */
  instances(): [claimUid: string, instance: SimPostgresInstance][] {
    return [...this.#instances.entries()];
  }

  /** The instance under a running agent pod, by the pod's namespace and name. */
  instanceOfPod(namespace: string, name: string): SimPostgresInstance | undefined {
    for (const agent of this.#agents.values()) {
      if (agent.namespace === namespace && agent.name === name) {
        return this.instance(namespace, agent.claim);
      }
    }
    return undefined;
  }

  /** The agent's last report for a running pod (what its `/readyz` and `/status` answer). */
  lastReport(podUid: string): PodReport | undefined {
    return this.#agents.get(podUid)?.report;
  }

  /**
   * Cuts a running pod's agent off from the API server for `durationMs` (a network partition):
   * it reads nothing and writes neither its Lease nor its report; as the real agent, it takes no
   * action but its fence (a stop decided on what it last read, without the Lease); its
   * PostgreSQL keeps running, so only the fence stops a primary.
   */
  cutOff(namespace: string, pod: string, durationMs: number): void {
    for (const agent of this.#agents.values()) {
      if (agent.namespace !== namespace || agent.name !== pod) continue;
      agent.cutOffUntilMs = this.#clock.nowMs() + durationMs;
      this.#wake();
    }
  }

  /** The holder of a PostgresDB's primary Lease, if any (for checkers and tests). */
  leaseHolder(namespace: string, db: string): string | undefined {
    return this.#leases.get(`${namespace}/${db}`)?.holder;
  }

  /** {@inheritDoc SimNetwork.clockMs} */
  clockMs(): number {
    return this.#clock.nowMs();
  }

  /** {@inheritDoc SimNetwork.resolve} */
  resolve(host: string): SimPostgresInstance | undefined {
    const [pod, , namespace] = host.split(".");
    return pod !== undefined && namespace !== undefined
      ? this.instanceOfPod(namespace, pod)
      : undefined;
  }

  /** {@inheritDoc SimNetwork.linkUp} */
  linkUp(_a: string, _b: string): boolean {
    return true;
  }

  /** {@inheritDoc SimNetwork.newTimeline} */
  newTimeline(): number {
    return ++this.#counters.timeline;
  }

  /** {@inheritDoc SimNetwork.newSystemId} */
  newSystemId(): string {
    return `sys-${++this.#counters.system}`;
  }

  /** {@inheritDoc SimNetwork.newOrigin} */
  newOrigin(): number {
    return ++this.#counters.origin;
  }

  /** {@inheritDoc SimNetwork.onClone} */
  onClone(event: CloneEvent): void {
    this.clones.push(event);
  }

  #readiness(pod: KubeObject): boolean | undefined {
    if (!runsAgent(pod)) return undefined;
    return this.#agents.get(pod.metadata.uid ?? "")?.report?.ready === true;
  }

  #onChange(change: StoreChange): void {
    const object = change.object;
    const old = change.type === "MODIFIED" ? change.oldObject : undefined;
    if (change.resource.kind === "Pod" && change.resource.apiVersion === "v1") {
      if (!runsAgent(object)) return;
      this.#onPod(object, change.type === "DELETED");
      // The operator's role labels and the kubelet's conditions change no agent's decision.
      if (old !== undefined && !agentPodChanged(object, old)) return;
    } else if (change.resource.kind === "PersistentVolumeClaim" && change.type === "DELETED") {
      // The data goes with its claim.
      this.#instances.delete(object.metadata.uid ?? "");
    } else if (change.resource.kind !== POSTGRESDB.kind) return;
    else if (change.type === "DELETED") {
      this.#leases.delete(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`);
    } else if (old !== undefined && !intentChanged(object as PostgresDB, old as PostgresDB)) return;
    this.#wake();
  }

  #onPod(pod: KubeObject, deleted: boolean): void {
    const uid = pod.metadata.uid ?? "";
    const agent = this.#agents.get(uid);
    const running = (pod.status as { phase?: string } | undefined)?.phase === "Running";
    if (deleted || pod.metadata.deletionTimestamp || !running) {
      if (agent) {
        this.#agents.delete(uid);
        this.#agentOrder = undefined;
        this.#instanceOf(agent)?.crash();
      }
      return;
    }
    const restarts = restartsOf(pod);
    if (agent) {
      if (restarts > agent.restarts) this.#instanceOf(agent)?.crash();
      agent.restarts = restarts;
      return;
    }
    const claim = dataClaim(pod);
    const db = instanceOfVolume(pod.metadata.labels);
    if (claim === undefined || db === undefined) return;
    const major = podMajor(pod);
    this.#agentOrder = undefined;
    const started: AgentPod = {
      uid,
      name: pod.metadata.name,
      namespace: pod.metadata.namespace ?? "default",
      db,
      claim,
      restarts,
      writing: false,
      lastWriteMs: -Infinity,
      lease: {},
    };
    if (major !== undefined) started.major = major;
    this.#agents.set(uid, started);
    const claimUid = this.#server.peek(
      { apiVersion: "v1", kind: "PersistentVolumeClaim" },
      claim,
      pod.metadata.namespace,
    )?.metadata.uid;
    if (claimUid !== undefined && !this.#instances.has(claimUid)) {
      this.#instances.set(
        claimUid,
        new SimPostgresInstance(pod.metadata.name, this, this.#instanceOptions),
      );
    }
    // The pod's image decides the binaries that run on the volume.
    if (claimUid !== undefined) {
      this.#instances.get(claimUid)!.useBinaries(major ?? this.#instanceOptions.major ?? 16);
    }
  }

  #instanceOf(agent: AgentPod): SimPostgresInstance | undefined {
    return this.instance(agent.namespace, agent.claim);
  }

  #wake(): void {
    this.#quietRounds = 0;
    if (this.#timer !== undefined) return;
    this.#lastAdvanceMs = Math.max(this.#lastAdvanceMs, this.#clock.nowMs() - this.#intervalMs);
    this.#timer = this.#clock.setTimer(this.#intervalMs, () => this.#round());
  }

  /** One round: advance every instance, run every agent, write changed reports. */
  #round(): void {
    this.#timer = undefined;
    this.#roundReports.clear();
    const now = this.#clock.nowMs();
    const dt = Math.max(0, now - this.#lastAdvanceMs);
    this.#lastAdvanceMs = now;
    for (const instance of this.#instances.values()) instance.advance(dt);
    const agents = this.#agentOrder ??= [...this.#agents.values()].sort((a, b) =>
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)
    );
    // A held Lease whose holder's agent is gone expires while time passes: keep the rounds going
    // until the others see it free.
    let moving = this.#renewLive(agents);
    for (const agent of agents) moving = this.#runAgent(agent) || moving;
    // What the agents decide on, in a few fields (not the whole observation: this runs often).
    let observations = "";
    for (const instance of this.#instances.values()) observations += signature(instance);
    moving = moving || observations !== this.#lastObservations;
    this.#lastObservations = observations;
    this.#quietRounds = moving ? 0 : this.#quietRounds + 1;
    if (this.#quietRounds < 3) {
      this.#timer = this.#clock.setTimer(this.#intervalMs, () => this.#round());
    }
  }

  /** Runs one agent's round; true when something is in motion (work, or a report to write). */
  #runAgent(agent: AgentPod): boolean {
    const instance = this.#instanceOf(agent);
    const now = this.#clock.nowMs();
    const cutOff = (agent.cutOffUntilMs ?? -1) > now;
    const db = cutOff
      ? agent.lastRead?.db
      : this.#server.peek(POSTGRESDB, agent.db, agent.namespace) as PostgresDB | undefined;
    const pod = this.#server.byUid(agent.uid);
    if (!instance || !db || !pod) return cutOff;
    // As the real agent: an interrupted upgrade's leftovers first (agent/upgrade/leftovers.ts).
    instance.settleUpgradeLeftovers();
    const reports = cutOff ? agent.lastRead!.reports : this.#reportsOf(agent);
    if (!cutOff) agent.lastRead = { db, reports };
    const standing = cutOff
      ? leaseStanding(
        agent.name,
        agent.lease,
        agent.leaseRecord,
        now,
        this.#leaseTimings.renewDeadlineMs,
      )
      : this.#leaseRound(agent, db, instance);
    let made: InstanceReport | undefined;
    const round = agentRound(
      instance,
      agent.major === undefined
        ? agentIntent(db, agent.name, reports, standing)
        : { ...agentIntent(db, agent.name, reports, standing), major: agent.major },
      (status) => made = status,
      // Cut off, the real agent skips its rounds (it cannot read the intent); only its fence
      // acts: a primary without the Lease stops at once.
      cutOff ? (o) => [fenceStop(o, standing.held) ?? []].flat() : this.#decide,
    );
    if (made === undefined) return true;
    const wasReady = agent.report?.ready === true;
    const report: PodReport = { ...(made as InstanceReport), reportedAtMs: this.#clock.nowMs() };
    if (db.status?.primaryTerm !== undefined) report.term = db.status.primaryTerm;
    agent.report = report;
    if (report.ready !== wasReady) this.#pods.reconsiderReadiness(agent.uid);
    const busy = round.actions.some((a) => a.kind !== "report") || isBusy(instance);
    // Cut off, the agent keeps deciding (its fence must run) but nothing it writes arrives.
    if (cutOff) return true;
    const writing = this.#maybeWrite(agent, pod);
    return busy || writing;
  }

  /**
   * Renews, as of now, the Lease of every holder whose agent runs and which is its target: its
   * agent renews every round in the real world, also while this loop rests (no round runs). True
   * while some Lease is held by an instance whose agent does not run (it must be seen to expire).
   */
  #renewLive(agents: readonly AgentPod[]): boolean {
    let orphaned = false;
    const now = this.#clock.nowMs();
    for (const [key, lease] of this.#leases) {
      if (lease.holder === undefined) continue;
      const [namespace, db] = key.split("/") as [string, string];
      const agent = agents.find((a) => a.namespace === namespace && a.name === lease.holder);
      const target = (this.#server.peek(POSTGRESDB, db, namespace) as PostgresDB | undefined)
        ?.status?.targetPrimary;
      if (agent === undefined || (agent.cutOffUntilMs ?? -1) > now) {
        // Until every other agent of the PostgresDB saw it expire (each counts from its own first
        // sight of the version: an agent that restarted meanwhile counts again).
        orphaned ||= agents.some((a) =>
          a.namespace === namespace && a.db === db && a !== agent &&
          (a.cutOffUntilMs ?? -1) <= now && !this.#sawFree(a, lease, now)
        );
        continue;
      }
      if (target !== lease.holder || agent.lease.renewedAtMs === undefined) continue;
      lease.version++;
      lease.changedAtMs = now;
      agent.lease = { seen: { version: String(lease.version), atMs: now }, renewedAtMs: now };
    }
    return orphaned;
  }

  /** True when `agent` last saw `lease` free (its memory of the version is older than the Lease). */
  #sawFree(agent: AgentPod, lease: SimLease, now: number): boolean {
    const seen = agent.lease.seen;
    return seen === undefined || seen.version !== String(lease.version) ||
      now - seen.atMs >= this.#leaseTimings.durationMs + 2 * this.#intervalMs;
  }

  /**
   * One agent's Lease step: read the record, send the write {@link leaseWrite} decides (applied at
   * once: the simulated API server is atomic and nothing runs between the read and the write), and
   * return the agent's standing for its decision.
   */
  #leaseRound(agent: AgentPod, db: PostgresDB, instance: SimPostgresInstance) {
    const key = `${agent.namespace}/${agent.db}`;
    const now = this.#clock.nowMs();
    let lease = this.#leases.get(key);
    if (lease !== undefined && lease.dbUid !== (db.metadata.uid ?? "")) {
      this.#leases.delete(key);
      lease = undefined;
    }
    const record = (l: SimLease | undefined): LeaseRecord | undefined =>
      l === undefined ? undefined : {
        holder: l.holder,
        version: String(l.version),
        durationMs: this.#leaseTimings.durationMs,
        transitions: l.transitions,
      };
    agent.lease = observeLease(agent.lease, record(lease), now);
    const target = db.status?.targetPrimary || undefined;
    const write = leaseWrite(
      agent.name,
      target,
      agent.lease,
      record(lease),
      now,
      runsAsPrimary(instance.observe()),
    );
    if (write !== undefined) {
      if (lease === undefined) {
        lease = { dbUid: db.metadata.uid ?? "", version: 0, transitions: 0, changedAtMs: now };
        this.#leases.set(key, lease);
      }
      lease.version++;
      lease.changedAtMs = now;
      if (write.kind === "release") lease.holder = undefined;
      else {
        if (write.kind !== "renew") lease.transitions++;
        lease.holder = write.holder;
      }
      agent.lease = observeLease(afterLeaseWrite(agent.lease, write, now), record(lease), now);
    }
    agent.leaseRecord = record(lease);
    return leaseStanding(
      agent.name,
      agent.lease,
      record(lease),
      now,
      this.#leaseTimings.renewDeadlineMs,
    );
  }

  /**
   * Every pod report of the agent's PostgresDB, by pod name (from the pods' annotations). The
   * pods of a namespace are grouped once per round, not once per agent: with many PostgresDBs
   * in one namespace, a scan per agent made each round quadratic.
   */
  #reportsOf(agent: AgentPod): Map<string, PodReport> {
    let byDb = this.#roundReports.get(agent.namespace);
    if (byDb === undefined) {
      byDb = new Map();
      for (const pod of this.#server.peekList(POD, agent.namespace)) {
        const db = instanceOfVolume(pod.metadata.labels);
        if (db === undefined) continue;
        const { report } = storedReport(pod);
        if (!report) continue;
        let reports = byDb.get(db);
        if (reports === undefined) byDb.set(db, reports = new Map());
        reports.set(pod.metadata.name, report);
      }
      this.#roundReports.set(agent.namespace, byDb);
    }
    return byDb.get(agent.db) ?? new Map();
  }

  /** Sends the report when it differs from the pod's; true while a write is due or in flight. */
  #maybeWrite(agent: AgentPod, pod: KubeObject): boolean {
    if (agent.writing) return true;
    const report = agent.report!;
    const stored = storedReport(pod);
    const text = reportText(report);
    if (stored.text === text) return false;
    const now = this.#clock.nowMs();
    if (
      stored.report !== undefined &&
      reportText(withoutLag(stored.report)) === reportText(withoutLag(report)) &&
      now - agent.lastWriteMs < LAG_REPORT_MS
    ) {
      return false;
    }
    agent.writing = true;
    agent.lastWriteMs = now;
    this.reportWrites++;
    // A shallow copy: the server copies what it stores, and the stored pod is never changed.
    const { status: _status, ...body } = pod;
    const { managedFields: _fields, ...metadata } = pod.metadata;
    const next: KubeObject = {
      ...body,
      metadata: {
        ...metadata,
        annotations: { ...metadata.annotations, [REPORT_ANNOTATION]: JSON.stringify(report) },
      },
    };
    this.#client.update(next).catch(() => {}).finally(() => {
      agent.writing = false;
      this.#wake();
    });
    return true;
  }
}

/** A stored pod's report and its text, parsed once per stored version (never changed in place). */
const parsedReports = new WeakMap<
  KubeObject,
  { report: PodReport | undefined; text: string | undefined }
>();

function storedReport(
  pod: KubeObject,
): { report: PodReport | undefined; text: string | undefined } {
  let parsed = parsedReports.get(pod);
  if (parsed === undefined) {
    const report = readReport(pod);
    parsed = { report, text: report === undefined ? undefined : reportText(report) };
    parsedReports.set(pod, parsed);
  }
  return parsed;
}

/**
 * True when a pod's change may change an agent's decision: its phase, restarts or deletion (the
 * agent starts, crashes or stops), or its report (another agent's intent reads the target's).
 */
function agentPodChanged(pod: KubeObject, old: KubeObject): boolean {
  const phase = (o: KubeObject) => (o.status as { phase?: string } | undefined)?.phase;
  return phase(pod) !== phase(old) || restartsOf(pod) !== restartsOf(old) ||
    pod.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
    pod.metadata.annotations?.[REPORT_ANNOTATION] !== old.metadata.annotations?.[REPORT_ANNOTATION];
}

/** True when a PostgresDB's change may change its agents' intent (see `agentIntent`). */
function intentChanged(db: PostgresDB, old: PostgresDB): boolean {
  return db.status?.targetPrimary !== old.status?.targetPrimary ||
    db.status?.primaryTerm !== old.status?.primaryTerm || db.spec?.version !== old.spec?.version ||
    db.metadata.uid !== old.metadata.uid || db.metadata.deletionTimestamp !== undefined;
}

/** The report without what changes with every byte of WAL. */
function withoutLag(report: PodReport): PodReport {
  return { ...report, receivedLsn: 0, replayLsn: 0, lagBytes: 0 };
}

/** The parts of an instance's observation that change its agent's decision or report. */
function signature(instance: SimPostgresInstance): string {
  const obs = instance.observe();
  const data = obs.data;
  const receiver = obs.walReceiver;
  return `${obs.process}:${obs.reportedRole}:${obs.promoting}:${data.kind}:` +
    `${
      data.kind === "initialized" ? `${data.systemId}/${data.timeline}/${data.config.role}` : ""
    }:` +
    `${obs.receivedLsn}:${obs.replayLsn}:${receiver?.upstream}:${receiver?.streaming};`;
}

/** True while the instance works on something that ends by itself (the loop must go on). */
function isBusy(instance: SimPostgresInstance): boolean {
  const obs = instance.observe();
  if (obs.data.kind === "initializing" || obs.promoting === true) return true;
  if (obs.process === "starting" || obs.process === "stopping") return true;
  // A running standby replays what it received; a stopped former primary never replayed.
  return obs.process === "running" && obs.reportedRole === "standby" &&
    obs.receivedLsn !== obs.replayLsn;
}

/** True when the pod's first container runs the instance agent. */
function runsAgent(pod: KubeObject): boolean {
  const spec = pod.spec as { containers?: { command?: string[] }[] } | undefined;
  const command = spec?.containers?.[0]?.command;
  return command !== undefined && command.join(" ") === AGENT_COMMAND.join(" ");
}

/** The major of a pod's `postgres` container image, if it names one. */
function podMajor(pod: KubeObject): number | undefined {
  const spec = pod.spec as { containers?: { name?: string; image?: string }[] } | undefined;
  const image = spec?.containers?.find((c) => c.name === "postgres")?.image;
  return image === undefined ? undefined : imageMajor(image);
}

/** The claim of the pod's `data` volume. */
function dataClaim(pod: KubeObject): string | undefined {
  const spec = pod.spec as {
    volumes?: { name?: string; persistentVolumeClaim?: { claimName?: string } }[];
  };
  return spec?.volumes?.find((v) => v.persistentVolumeClaim?.claimName)?.persistentVolumeClaim
    ?.claimName;
}

function restartsOf(pod: KubeObject): number {
  const statuses = (pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)
    ?.containerStatuses ?? [];
  return statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
}
