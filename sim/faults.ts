/**
 * Fault injection at the cluster port: a {@link FaultyClient} wraps any `ClusterClient` and, on
 * one seeded random stream, fails requests, loses answers of committed writes, breaks and expires
 * watches, delays watch events (a lagging cache) and answers lists from an older view (time
 * travel). Every fault is an option with a documented default of 0 (off), switchable on its own.
 *
 * Faults of other actors (operator crashes, pods crashing, nodes lost, user edits, a slow garbage
 * collector) are driven by the harness in `harness.ts`.
 *
 * @module
 */

import type { Clock, Timer } from "../core/clock.ts";
import {
  ApiError,
  type ApiErrorReason,
  type ApplyOptions,
  type ClusterClient,
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  type WatchEvent,
  type WatchHandle,
  type WatchOptions,
} from "../core/cluster.ts";
import { type KubeObject, typeKey, type TypeRef } from "../core/object.ts";
import type { SeededRandom } from "./random.ts";

/** The faults a {@link FaultyClient} injects; every rate is a probability per opportunity. */
export interface FaultOptions {
  /** A write fails before it reaches the server. @default 0 */
  writeErrorRate?: number;
  /** The errors a failing write answers, drawn uniformly. @default ["Conflict", "TooManyRequests", "InternalError", "Timeout"] */
  writeErrorReasons?: ApiErrorReason[];
  /** A write commits but its answer is lost: the client sees a Timeout. @default 0 */
  ambiguousWriteRate?: number;
  /** A list or watch request fails (InternalError or ServiceUnavailable). @default 0 */
  readErrorRate?: number;
  /** After a delivered watch event, the connection drops (onDone with an error). @default 0 */
  watchDisconnectRate?: number;
  /** After a delivered watch event, the watch ends with 410 Gone and the client must relist. @default 0 */
  watchExpireRate?: number;
  /** A list answers with the previous answer for that kind: the view travels back. @default 0 */
  staleListRate?: number;
  /** Each watch event is held up to this long (order kept): the cache lags. @default 0 */
  watchLagMaxMs?: number;
}

/** The names of the fault presets, mildest first. */
export type FaultPresetName = "none" | "light" | "heavy";

/**
 * A named level of faults: what the client injects and how often the operator crashes. Everything
 * `sim --faults NAME` injects is in its preset.
 */
export interface FaultPreset {
  /** The API faults a {@link FaultyClient} injects. */
  faults: FaultOptions;
  /** How often the operator dies after a write (see `crashRate` in `harness.ts`). */
  crashRate: number;
}

/** Named fault levels for the command line (`sim --faults none|light|heavy`). */
export const FAULT_PRESETS: Readonly<Record<FaultPresetName, FaultPreset>> = {
  none: { faults: {}, crashRate: 0 },
  light: {
    faults: {
      writeErrorRate: 0.05,
      ambiguousWriteRate: 0.02,
      readErrorRate: 0.02,
      watchDisconnectRate: 0.02,
      watchExpireRate: 0.01,
      staleListRate: 0.1,
      watchLagMaxMs: 200,
    },
    crashRate: 0.02,
  },
  heavy: {
    faults: {
      writeErrorRate: 0.2,
      ambiguousWriteRate: 0.1,
      readErrorRate: 0.1,
      watchDisconnectRate: 0.08,
      watchExpireRate: 0.04,
      staleListRate: 0.3,
      watchLagMaxMs: 2000,
    },
    crashRate: 0.1,
  },
};

/** Counts of the faults injected, by name. */
export type FaultCounts = Record<string, number>;

const DEFAULT_REASONS: ApiErrorReason[] = [
  "Conflict",
  "TooManyRequests",
  "InternalError",
  "Timeout",
];

/** A `ClusterClient` that injects faults into another one's requests. */
export class FaultyClient implements ClusterClient {
  readonly #inner: ClusterClient;
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  /** The faults in force; set to `{}` to stop injecting. */
  faults: FaultOptions;
  /** What was injected so far. */
  readonly injected: FaultCounts;
  readonly #lastList: Map<string, ListResult>;
  #dead = false;

  /**
   * Wraps `inner`: faults are drawn from `random` and delays run on `clock`; `faults` is off when
   * absent, and `counts` (shared across restarts) collects what was injected.
   */
  constructor(
    inner: ClusterClient,
    options: {
      clock: Clock;
      random: SeededRandom;
      faults?: FaultOptions;
      counts?: FaultCounts;
      /**
       * The previous list answers, shared across a controller's restarts so that a restarted
       * controller can be shown an older view than it had before its crash (Sieve's time travel).
       */
      listHistory?: Map<string, ListResult>;
    },
  ) {
    this.#inner = inner;
    this.#clock = options.clock;
    this.#random = options.random;
    this.faults = options.faults ?? {};
    this.injected = options.counts ?? {};
    this.#lastList = options.listHistory ?? new Map();
  }

  /**
   * Cuts this client off, as a crashed process: every request from now on never gets an answer
   * and no watch event is delivered.
   */
  kill(): void {
    this.#dead = true;
  }

  #count(name: string): void {
    this.injected[name] = (this.injected[name] ?? 0) + 1;
  }

  #chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.#random.next() < rate;
  }

  /** A promise that never settles: the answer to a dead process. */
  #never<T>(): Promise<T> {
    return new Promise<T>(() => {});
  }

  async #read<T>(run: () => Promise<T>): Promise<T> {
    if (this.#dead) return this.#never();
    if (this.#chance(this.faults.readErrorRate)) {
      this.#count("readError");
      throw new ApiError("InternalError", "injected: the server could not answer the read");
    }
    const result = await run();
    if (this.#dead) return this.#never();
    return result;
  }

  async #write<T>(run: () => Promise<T>): Promise<T> {
    if (this.#dead) return this.#never();
    if (this.#chance(this.faults.writeErrorRate)) {
      const reasons = this.faults.writeErrorReasons ?? DEFAULT_REASONS;
      const reason = reasons[this.#random.int(reasons.length)] ?? "InternalError";
      this.#count(`writeError:${reason}`);
      throw new ApiError(reason, `injected: ${reason}`);
    }
    const ambiguous = this.#chance(this.faults.ambiguousWriteRate);
    const result = await run();
    if (this.#dead) return this.#never();
    if (ambiguous) {
      this.#count("ambiguousWrite");
      throw new ApiError("Timeout", "injected: the write committed but the answer was lost");
    }
    return result;
  }

  get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject> {
    return this.#read(() => this.#inner.get(type, name, namespace));
  }

  async list(type: TypeRef, options?: ListOptions): Promise<ListResult> {
    const fresh = await this.#read(() => this.#inner.list(type, options));
    // A consistent list is a quorum read: it never answers from an older view.
    if (options?.consistent === true) return fresh;
    const key = typeKey(type) + (options?.namespace ?? "") +
      JSON.stringify(options?.labelSelector ?? {});
    const previous = this.#lastList.get(key);
    this.#lastList.set(key, fresh);
    if (previous && this.#chance(this.faults.staleListRate)) {
      this.#count("staleList");
      return structuredClone(previous);
    }
    return fresh;
  }

  watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle> {
    return this.#read(async () => {
      let stopped = false;
      let lastDueMs = 0;
      const timers = new Set<Timer>();
      const end = (error?: Error) => {
        if (stopped) return;
        stopped = true;
        handle.stop();
        for (const t of timers) t.cancel();
        options.onDone(error);
      };
      const deliver = (event: WatchEvent) => {
        if (stopped || this.#dead) return;
        options.onEvent(event);
        if (this.#chance(this.faults.watchExpireRate)) {
          this.#count("watchExpired");
          end(new ApiError("Expired", "injected: too old resource version"));
        } else if (this.#chance(this.faults.watchDisconnectRate)) {
          this.#count("watchDisconnect");
          end(new ApiError("ServiceUnavailable", "injected: watch connection dropped"));
        }
      };
      const handle = await this.#inner.watch(type, {
        ...options,
        onEvent: (event) => {
          const lag = this.faults.watchLagMaxMs ?? 0;
          if (lag <= 0 && timers.size === 0) return deliver(event);
          // Keep the order: an event is never delivered before the one ahead of it.
          const dueMs = Math.max(lastDueMs, this.#clock.nowMs() + this.#random.int(lag + 1));
          lastDueMs = dueMs;
          if (lag > 0) this.#count("watchLag");
          const timer = this.#clock.setTimer(dueMs - this.#clock.nowMs(), () => {
            timers.delete(timer);
            deliver(event);
          });
          timers.add(timer);
        },
        onDone: (error) => {
          if (timers.size === 0) return end(error);
          // Deliver what is held first, then end.
          const timer = this.#clock.setTimer(Math.max(0, lastDueMs - this.#clock.nowMs()), () => {
            timers.delete(timer);
            end(error);
          });
          timers.add(timer);
        },
      });
      return {
        stop() {
          if (stopped) return;
          stopped = true;
          for (const t of timers) t.cancel();
          handle.stop();
        },
      };
    });
  }

  create(object: KubeObject): Promise<KubeObject> {
    return this.#write(() => this.#inner.create(object));
  }

  update(object: KubeObject): Promise<KubeObject> {
    return this.#write(() => this.#inner.update(object));
  }

  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    return this.#write(() => this.#inner.apply(object, options));
  }

  patchStatus(
    ref: TypeRef & { name: string; namespace?: string | undefined },
    status: Record<string, unknown>,
    options?: { resourceVersion?: string },
  ): Promise<KubeObject> {
    return this.#write(() => this.#inner.patchStatus(ref, status, options));
  }

  delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options?: DeleteOptions,
  ): Promise<void> {
    return this.#write(() => this.#inner.delete(type, name, namespace, options));
  }

  createEvent(event: KubeObject): Promise<void> {
    return this.#write(() => this.#inner.createEvent(event));
  }
}
