/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection package
 * does it, so that of several replicas of the operator exactly one reconciles.
 *
 * A candidate reads the Lease every `retryPeriodMs`. It takes it by creating it, or by updating
 * it with the read `resourceVersion` as a precondition once the holder's lease has expired. The
 * leader renews it every `retryPeriodMs`.
 *
 * Guarantees (with clocks that run at the same rate; their offsets do not matter):
 * - Expiry is judged by each candidate's own clock, from the moment it first saw the current
 *   record, never from the timestamps written in the Lease.
 * - A leader that has not renewed within `renewDeadlineMs` of sending its last successful renewal,
 *   or that sees another holder, stops leading at once: `onStoppedLeading` is called, and
 *   {@link LeaderElector.isLeader} is false from then on (a fenced client refuses its writes).
 * - Another candidate takes over no sooner than `leaseDurationMs` after it saw the last
 *   renewal, which is later than the leader's deadline because `renewDeadlineMs <
 *   leaseDurationMs`: two leaders never overlap.
 * - A leader that stops cleanly (`stop({ release: true })`) empties the Lease, so a successor
 *   takes over within one retry period instead of a lease duration.
 *
 * Caveats: a process paused (GC, SIGSTOP) for longer than `leaseDurationMs - renewDeadlineMs`
 * while in the middle of a write can still write after a successor started; client-go has the
 * same limit. The operator exits on a lost lease, so the pause ends the process right after.
 *
 * @example
 * ```ts
 * import { LeaderElector } from "./leader_election.ts";
 * import { SimCluster } from "../sim/cluster.ts";
 * const cluster = new SimCluster({ seed: 1 });
 * const elector = new LeaderElector(cluster.client(), {
 *   clock: cluster.clock, namespace: "default", name: "demo-leader", identity: "a",
 * });
 * elector.start({ onStartedLeading() {}, onStoppedLeading() {} });
 * await cluster.run({ maxVirtualMs: 1000, until: () => elector.isLeader });
 * console.assert(elector.isLeader);
 * elector.abandon();
 * ```
 *
 * @module
 */

import type { Clock, Random, Timer } from "../core/clock.ts";
import { type ClusterClient, isApiError } from "../core/cluster.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import { errorMessage, type Logger, silentLogger } from "./log.ts";

// The fence lived here; re-exported so that imports of this module keep working.
export { leaderFencedClient, NotLeaderError } from "./leader_fence.ts";

/** The Lease type. */
export const LEASE: TypeRef = { apiVersion: "coordination.k8s.io/v1", kind: "Lease" };

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** The time source (the system clock, or the simulation's virtual clock). */
  clock: Clock;
  /** The Lease's namespace. */
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate's identity, unique among candidates (the pod name, say). */
  identity: string;
  /** How long a non-leader waits after the last renewal it saw before taking over. @default 15000 */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up. @default 10000 */
  renewDeadlineMs?: number;
  /** The interval between tries to acquire or renew. @default 2000 */
  retryPeriodMs?: number;
  /** Jitter of the acquire retries (up to 1.2 retry periods, as client-go); none when absent. */
  random?: Random;
  /** Where acquisitions, renewal failures and losses are logged. @default silentLogger */
  logger?: Logger;
}

/** What the elector tells its user. */
export interface LeaderCallbacks {
  /** This candidate became the leader: start reconciling. */
  onStartedLeading(): void;
  /** This candidate is no longer the leader: stop reconciling now. Called at most once. */
  onStoppedLeading(reason: string): void;
  /** A (new) holder of the Lease was observed, possibly this candidate. */
  onNewLeader?(identity: string): void;
}

/** Options of {@link LeaderElector.stop}. */
export interface StopOptions {
  /** Empty the Lease when leading, so a successor need not wait for it to expire. @default true */
  release?: boolean;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Attempt =
  | { kind: "acquired" }
  | { kind: "held"; holder: string }
  | { kind: "failed"; error: string };

/** One candidate in a leader election. */
export class LeaderElector {
  readonly #client: ClusterClient;
  readonly #clock: Clock;
  readonly #options: LeaderElectionOptions;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #logger: Logger;
  #callbacks: LeaderCallbacks | undefined;
  #leading = false;
  #running = false;
  #inFlight: Promise<void> | undefined;
  #tick: Timer | undefined;
  #deadline: Timer | undefined;
  /** The last record read, and when this candidate first saw it (its own clock). */
  #observed: { key: string; atMs: number; durationMs: number } | undefined;
  #leader: string | undefined;
  /** When the leader sent its last successful renewal. */
  #renewedMs = 0;

  /**
   * A candidate that reads and writes the Lease through `client`; it campaigns once started.
   *
   * @throws {RangeError} for timings that cannot work (a renew deadline not shorter than the lease)
   */
  constructor(client: ClusterClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#clock = options.clock;
    this.#options = options;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#logger = options.logger ?? silentLogger;
    checkTimings(this.#leaseDurationMs, this.#renewDeadlineMs, this.#retryPeriodMs);
  }

  /** True while this candidate holds the Lease and has renewed it within the deadline. */
  get isLeader(): boolean {
    // By the clock, not only by the deadline timer: after a pause, callbacks that were waiting
    // may run before that timer does, and they must already find the fence closed.
    return this.#leading && this.#clock.nowMs() < this.#renewedMs + this.#renewDeadlineMs;
  }

  /** The holder last observed, if any. */
  get leader(): string | undefined {
    return this.#leader;
  }

  /** This candidate's identity. */
  get identity(): string {
    return this.#options.identity;
  }

  /** Starts campaigning; the callbacks tell what happens. */
  start(callbacks: LeaderCallbacks): void {
    if (this.#running) throw new TypeError("Cannot start a leader elector twice");
    this.#running = true;
    this.#callbacks = callbacks;
    this.#schedule(0);
  }

  /**
   * Stops campaigning; when leading, gives up leadership (without calling `onStoppedLeading`)
   * and, unless `release` is false, empties the Lease. Call it after reconciling has stopped.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    this.#running = false;
    this.#tick?.cancel();
    this.#deadline?.cancel();
    await this.#inFlight;
    const wasLeading = this.#leading;
    this.#leading = false;
    if (wasLeading && options.release !== false) await this.#release();
  }

  /** Stops every timer at once, without a request: what a killed process leaves behind. */
  abandon(): void {
    this.#running = false;
    this.#leading = false;
    this.#tick?.cancel();
    this.#deadline?.cancel();
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#tick?.cancel();
    this.#tick = this.#clock.setTimer(delayMs, () => {
      this.#tick = undefined;
      if (!this.#running || this.#inFlight) return;
      const attempt = this.#attempt().finally(() => this.#inFlight = undefined);
      this.#inFlight = attempt;
    });
  }

  async #attempt(): Promise<void> {
    const sentMs = this.#clock.nowMs();
    const result = await this.#tryAcquireOrRenew(sentMs);
    if (!this.#running) return;
    if (result.kind === "acquired") {
      this.#renewedMs = sentMs;
      this.#armDeadline();
      if (!this.#leading) {
        this.#leading = true;
        this.#logger.log("info", "Acquired the leader lease", this.#fields());
        this.#callbacks?.onStartedLeading();
      }
      return this.#schedule(this.#retryPeriodMs);
    }
    if (this.#leading) {
      if (result.kind === "held") return this.#lose(`the lease is held by "${result.holder}"`);
      this.#logger.log("warn", "Cannot renew the leader lease, retrying", {
        ...this.#fields(),
        error: result.error,
      });
      return this.#schedule(this.#retryPeriodMs);
    }
    if (result.kind === "failed") {
      this.#logger.log("warn", "Cannot acquire the leader lease, retrying", {
        ...this.#fields(),
        error: result.error,
      });
    }
    this.#schedule(this.#jittered());
  }

  #armDeadline(): void {
    this.#deadline?.cancel();
    const remainingMs = this.#renewedMs + this.#renewDeadlineMs - this.#clock.nowMs();
    this.#deadline = this.#clock.setTimer(remainingMs, () => {
      this.#deadline = undefined;
      if (this.#leading) this.#lose(`not renewed within ${this.#renewDeadlineMs}ms`);
    });
  }

  #lose(reason: string): void {
    this.#leading = false;
    this.#running = false;
    this.#tick?.cancel();
    this.#deadline?.cancel();
    this.#logger.log("error", "Lost the leader lease", { ...this.#fields(), reason });
    this.#callbacks?.onStoppedLeading(reason);
  }

  async #tryAcquireOrRenew(nowMs: number): Promise<Attempt> {
    const { namespace, name } = this.#options;
    let lease: KubeObject;
    try {
      lease = await this.#client.get(LEASE, name, namespace);
    } catch (error) {
      if (!isApiError(error, "NotFound")) return { kind: "failed", error: errorMessage(error) };
      return await this.#write("create", this.#newLease(nowMs));
    }
    const spec = (lease as { spec?: LeaseSpec }).spec ?? {};
    const holder = spec.holderIdentity ?? "";
    this.#observe(spec, nowMs);
    if (holder !== "" && holder !== this.identity) {
      const observed = this.#observed!;
      if (observed.atMs + observed.durationMs > nowMs) return { kind: "held", holder };
    }
    const mine = holder === this.identity;
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(nowMs),
      renewTime: microTime(nowMs),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    return await this.#write("update", { ...lease, spec: next });
  }

  async #write(verb: "create" | "update", lease: KubeObject): Promise<Attempt> {
    try {
      const stored = verb === "create"
        ? await this.#client.create(lease)
        : await this.#client.update(lease);
      this.#observe((stored as { spec?: LeaseSpec }).spec ?? {}, this.#clock.nowMs());
      return { kind: "acquired" };
    } catch (error) {
      // A Conflict or AlreadyExists means someone else wrote first: the next read tells who.
      return { kind: "failed", error: errorMessage(error) };
    }
  }

  #observe(spec: LeaseSpec, nowMs: number): void {
    const key = JSON.stringify([
      spec.holderIdentity ?? "",
      spec.renewTime ?? "",
      spec.acquireTime ?? "",
      spec.leaseTransitions ?? 0,
    ]);
    if (this.#observed?.key === key) return;
    this.#observed = {
      key,
      atMs: nowMs,
      durationMs: (spec.leaseDurationSeconds ?? Math.ceil(this.#leaseDurationMs / 1000)) * 1000,
    };
    const holder = spec.holderIdentity ?? "";
    if (holder !== "" && holder !== this.#leader) {
      this.#leader = holder;
      this.#callbacks?.onNewLeader?.(holder);
    }
  }

  #newLease(nowMs: number): KubeObject {
    return {
      apiVersion: LEASE.apiVersion,
      kind: LEASE.kind,
      metadata: { name: this.#options.name, namespace: this.#options.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
        acquireTime: microTime(nowMs),
        renewTime: microTime(nowMs),
        leaseTransitions: 0,
      },
    };
  }

  /** Empties the Lease if this candidate still holds it (client-go's ReleaseOnCancel). */
  async #release(): Promise<void> {
    const { namespace, name } = this.#options;
    try {
      const lease = await this.#client.get(LEASE, name, namespace);
      const spec = (lease as { spec?: LeaseSpec }).spec ?? {};
      if (spec.holderIdentity !== this.identity) return;
      const nowMs = this.#clock.nowMs();
      await this.#client.update({
        ...lease,
        spec: {
          ...spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: microTime(nowMs),
          renewTime: microTime(nowMs),
        },
      });
      this.#logger.log("info", "Released the leader lease", this.#fields());
    } catch (error) {
      this.#logger.log("warn", "Cannot release the leader lease", {
        ...this.#fields(),
        error: errorMessage(error),
      });
    }
  }

  #jittered(): number {
    const random = this.#options.random;
    return random ? this.#retryPeriodMs * (1 + 1.2 * random.next()) : this.#retryPeriodMs;
  }

  #fields(): Record<string, unknown> {
    return {
      lease: `${this.#options.namespace}/${this.#options.name}`,
      identity: this.identity,
    };
  }
}

/** Formats epoch milliseconds as a Kubernetes MicroTime (RFC 3339, six fractional digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function checkTimings(leaseMs: number, renewMs: number, retryMs: number): void {
  if (!(retryMs > 0)) throw new RangeError(`Cannot retry every ${retryMs}ms: must be positive`);
  if (!(renewMs > retryMs)) {
    throw new RangeError(
      `Cannot use renew deadline ${renewMs}ms: must be longer than the retry period ${retryMs}ms`,
    );
  }
  if (!(leaseMs > renewMs)) {
    throw new RangeError(
      `Cannot use lease duration ${leaseMs}ms: must be longer than the renew deadline ${renewMs}ms`,
    );
  }
}
