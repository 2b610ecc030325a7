/**
 * The test harness: a simulated cluster, a controller under test that can crash and restart, a
 * fault layer at its cluster port, other actors (a user, pods, nodes), checkers that watch every
 * commit and every write, and a trace whose hash proves a run replays.
 *
 * One seed drives everything: the cluster's own choices, the faults, and the operator's random
 * source. The same seed and the same schedule give the same trace.
 *
 * @module
 */

import type { Action } from "../core/actions.ts";
import type { ClusterClient, ListResult } from "../core/cluster.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import type { Reconciler } from "../core/reconciler.ts";
import { Controller } from "../runtime/controller.ts";
import type { StoreChange } from "./api_server.ts";
import { SimCluster, type SimClusterOptions } from "./cluster.ts";
import { type FaultCounts, type FaultOptions, FaultyClient } from "./faults.ts";
import type { SeededRandom } from "./random.ts";
import { RecordingClient, type WriteRecord } from "./recording_client.ts";
import type { SimClient } from "./client.ts";

/** A broken rule, found by a checker. */
export interface Violation {
  /** The name of the checker that found it. */
  checker: string;
  /** What was broken, with the objects involved. */
  message: string;
  /** Virtual time since the start of the run. */
  atMs: number;
}

/** What a checker may look at. */
export interface CheckContext {
  /** The world being checked. */
  harness: Harness;
  /** Virtual time since the start of the run. */
  atMs: number;
}

/**
 * A checker: called on every committed change, every write the controller under test made (or
 * tried), and every reconcile plan. Each call returns a violation message, or nothing.
 */
export interface Checker {
  /** A short name for reports and mutant tests. */
  readonly name: string;
  /** Called after every committed change in the store. */
  onCommit?(change: StoreChange, context: CheckContext): string | undefined;
  /** Called after every write the controller under test made or tried. */
  onWrite?(write: WriteRecord, context: CheckContext): string | undefined;
  /** Called with every plan the controller under test decided. */
  onReconcile?(key: string, actions: readonly Action[], context: CheckContext): string | undefined;
}

/** Options of {@link Harness}. */
export interface HarnessOptions {
  /** The seed of everything. */
  seed: number;
  /** The controller under test. */
  reconciler: Reconciler;
  /** Objects installed before the controller starts (CRDs). */
  install?: KubeObject[];
  /** Options of the simulated cluster. */
  cluster?: Omit<SimClusterOptions, "seed">;
  /** Faults at the controller's cluster port. @default none */
  faults?: FaultOptions;
  /** The probability that the controller crashes right after each of its writes. @default 0 */
  crashRate?: number;
  /** Crash the controller right after its n-th successful write (counted from 1, across restarts). */
  crashAfterWrites?: number[];
  /** Virtual time a crashed controller stays down. @default 1000 */
  restartDelayMs?: number;
  /** Checkers to run. */
  checkers?: Checker[];
  /** Wraps the controller's client (below the recorder, above the faults): for client mutants. */
  wrapClient?: (client: ClusterClient) => ClusterClient;
  /** End every run of virtual time at the first violation. @default true */
  stopOnViolation?: boolean;
  /** A run with more reconciles than this is a hot loop, and a violation. @default 20000 */
  maxReconciles?: number;
  /** Concurrent reconciles of the controller. @default 4 */
  maxConcurrentReconciles?: number;
}

/** A simulated world with a crashable controller under test. */
export class Harness {
  /** The simulated cluster. */
  readonly cluster: SimCluster;
  /** The options the harness was built with. */
  readonly options: HarnessOptions;
  /** The user's client (kubectl). */
  readonly user: SimClient;
  /** Faults injected so far, by name (crashes included). */
  readonly injected: FaultCounts = {};
  /** Every violation found so far. */
  readonly violations: Violation[] = [];
  /** Every write the controller under test made or tried, across restarts. */
  readonly writes: WriteRecord[] = [];
  /** Every uid any object ever had. */
  readonly seenUids: Set<string> = new Set();
  /** Reconciles run, across restarts. */
  reconciles = 0;
  readonly #faultRandom: SeededRandom;
  readonly #operatorRandom: SeededRandom;
  readonly #startMs: number;
  #faults: FaultOptions;
  #crashRate: number;
  #controller: Controller | undefined;
  #client: FaultyClient | undefined;
  #incarnation = 0;
  #successfulWrites = 0;
  /** The controller's clients at the server's side, one per incarnation. */
  readonly #serverClients: SimClient[] = [];
  readonly #listHistory = new Map<string, ListResult>();
  #traceA = 0x811c9dc5;
  #traceB = 0x01000193;
  #traceLength = 0;

  /** Builds the world; the controller under test starts with `start`. */
  constructor(options: HarnessOptions) {
    this.options = options;
    this.cluster = new SimCluster({ ...options.cluster, seed: options.seed });
    this.#faultRandom = this.cluster.random.fork();
    this.#operatorRandom = this.cluster.random.fork();
    this.#startMs = this.cluster.clock.nowMs();
    this.#faults = options.faults ?? {};
    this.#crashRate = options.crashRate ?? 0;
    this.user = this.cluster.client({ name: "kubectl" });
    this.cluster.server.subscribe((change) => this.#onCommit(change));
  }

  /** Virtual time since the start. */
  get atMs(): number {
    return this.cluster.clock.nowMs() - this.#startMs;
  }

  /** The running controller, if it is up. */
  get controller(): Controller | undefined {
    return this.#controller;
  }

  /**
   * The controller's write requests that reached the API server, across restarts, counted as the
   * server counts them: committed, rejected (409, 422, ...) or committed with the answer lost.
   * Injected failures that never left the client are not counted.
   */
  get serverWrites(): number {
    return this.#serverClients.reduce((sum, client) => sum + client.stats.writes, 0);
  }

  /** The controller's writes that succeeded: the count {@link HarnessOptions.crashAfterWrites} uses. */
  get successfulWrites(): number {
    return this.#successfulWrites;
  }

  /** How many times the controller was started (1 + restarts). */
  get incarnations(): number {
    return this.#incarnation;
  }

  /** A hash of every committed change and every plan, in order: equal runs, equal hashes. */
  get traceHash(): string {
    const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
    return `${hex(this.#traceA)}${hex(this.#traceB)}:${this.#traceLength}`;
  }

  /** Installs the CRDs and starts the controller. */
  async start(): Promise<void> {
    for (const object of this.options.install ?? []) {
      await this.request(this.user.apply(object, { fieldManager: "kubectl" }));
    }
    this.#startController();
    await this.cluster.run({
      maxVirtualMs: 60_000,
      until: () => this.#controller?.synced === true,
    });
  }

  /** Stops injecting faults and crashes from now on. */
  stopFaults(): void {
    this.#faults = {};
    this.#crashRate = 0;
    if (this.#client) this.#client.faults = {};
  }

  /** Crashes the controller now; it comes back after `restartDelayMs`. */
  crash(reason = "crash injected"): void {
    if (!this.#controller || !this.#client) return;
    this.#count("operatorCrash");
    this.#mix(`crash ${reason}`);
    const controller = this.#controller;
    this.#client.kill();
    this.#controller = undefined;
    this.#client = undefined;
    void controller.stop();
    this.cluster.clock.setTimer(this.options.restartDelayMs ?? 1000, () => this.#startController());
  }

  /** Runs virtual time while `promise` is pending, then returns its outcome. */
  request<T>(promise: Promise<T>, maxVirtualMs = 600_000): Promise<T> {
    return this.cluster.request(promise, { maxVirtualMs, stop: () => this.stopped });
  }

  /** Runs for `ms` of virtual time (or until nothing is pending). */
  async runFor(ms: number): Promise<void> {
    await this.cluster.run({ maxVirtualMs: ms, until: () => this.stopped });
  }

  /**
   * Runs until the cluster rests (nothing pending, the controller up and idle) or `maxVirtualMs`
   * passes; true when it rested.
   */
  async settle(maxVirtualMs: number): Promise<boolean> {
    const result = await this.cluster.run({ maxVirtualMs, until: () => this.stopped });
    return !this.stopped && result.quiescent && this.#controller !== undefined &&
      this.#controller.idle;
  }

  /**
   * Reconciles every object again and runs until rest: returns the writes that made. A converged
   * controller makes none.
   */
  async resync(maxVirtualMs = 600_000): Promise<WriteRecord[]> {
    const controller = this.#controller;
    if (!controller) throw new Error("The controller is down");
    const before = this.writes.length;
    const primary = controller.informers[0]!;
    for (const object of primary.list()) {
      const ns = object.metadata.namespace;
      controller.queue.add(ns ? `${ns}/${object.metadata.name}` : object.metadata.name);
    }
    await this.settle(maxVirtualMs);
    return this.writes.slice(before);
  }

  /**
   * True once a violation was found (with `stopOnViolation`) or the reconcile budget ran out: every
   * run of virtual time ends at once, so a broken controller fails fast instead of looping.
   */
  get stopped(): boolean {
    return (this.options.stopOnViolation !== false && this.violations.length > 0) ||
      this.reconciles > (this.options.maxReconciles ?? 20_000);
  }

  /** Records a violation found outside the checkers (liveness, differential). */
  violate(checker: string, message: string): void {
    this.violations.push({ checker, message, atMs: this.atMs });
  }

  /** The current objects of a kind. */
  objects(type?: TypeRef): KubeObject[] {
    const all = this.cluster.objects();
    return type ? all.filter((o) => o.apiVersion === type.apiVersion && o.kind === type.kind) : all;
  }

  #count(name: string): void {
    this.injected[name] = (this.injected[name] ?? 0) + 1;
  }

  #startController(): void {
    this.#incarnation++;
    // The runtime never modifies what it reads: it may share the stored (frozen) objects.
    const inner = this.cluster.client({ name: this.options.reconciler.name, shareObjects: true });
    this.#serverClients.push(inner);
    const faulty = new FaultyClient(inner, {
      clock: this.cluster.clock,
      random: this.#faultRandom,
      faults: this.#faults,
      counts: this.injected,
      listHistory: this.#listHistory,
    });
    const wrapped = this.options.wrapClient?.(faulty) ?? faulty;
    const recording = new RecordingClient(wrapped, (write) => this.#onWrite(write));
    this.#client = faulty;
    const controller = new Controller(recording, this.options.reconciler, {
      clock: this.cluster.clock,
      random: this.#operatorRandom,
      watchInactivityMs: 0,
      maxConcurrentReconciles: this.options.maxConcurrentReconciles ?? 4,
      afterWrite: () => {
        this.#successfulWrites++;
        if (this.options.crashAfterWrites?.includes(this.#successfulWrites)) {
          this.crash(`after write ${this.#successfulWrites}`);
          throw new Error("injected crash");
        }
        if (this.#crashRate > 0 && this.#faultRandom.next() < this.#crashRate) {
          this.crash("after a write");
          throw new Error("injected crash");
        }
      },
      onReconcile: (key, actions) => this.#onReconcile(key, actions),
    });
    this.#controller = controller;
    void controller.start();
  }

  #context(): CheckContext {
    return { harness: this, atMs: this.atMs };
  }

  #report(checker: Checker, message: string | undefined): void {
    if (message !== undefined) this.violate(checker.name, message);
  }

  #onCommit(change: StoreChange): void {
    const o = change.object;
    if (o.metadata.uid) this.seenUids.add(o.metadata.uid);
    this.#mix(
      `${change.type} ${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name} ${
        o.metadata.resourceVersion ?? ""
      }`,
    );
    for (const checker of this.options.checkers ?? []) {
      this.#report(checker, checker.onCommit?.(change, this.#context()));
    }
  }

  #onWrite(write: WriteRecord): void {
    this.writes.push(write);
    this.#mix(`write ${write.verb} ${write.target} ${write.error ?? "ok"}`);
    for (const checker of this.options.checkers ?? []) {
      this.#report(checker, checker.onWrite?.(write, this.#context()));
    }
  }

  #onReconcile(key: string, actions: readonly Action[]): void {
    this.reconciles++;
    if (this.reconciles === (this.options.maxReconciles ?? 20_000) + 1) {
      this.violate("bounded work", `more than ${this.reconciles - 1} reconciles: a hot loop?`);
    }
    this.#mix(`reconcile ${key} ${actions.map((a) => a.kind).join(",")}`);
    for (const checker of this.options.checkers ?? []) {
      this.#report(checker, checker.onReconcile?.(key, actions, this.#context()));
    }
  }

  /** Two FNV-1a hashes over the trace lines, with the virtual time. */
  #mix(line: string): void {
    const text = `${this.atMs} ${line}\n`;
    let a = this.#traceA;
    let b = this.#traceB;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    this.#traceA = a;
    this.#traceB = b;
    this.#traceLength++;
  }
}
