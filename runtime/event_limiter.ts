/**
 * A per-object rate limit on Events, so that a reconcile stuck in a hot loop cannot flood the API
 * server (and etcd) with them. It is client-go's EventCorrelator spam filter: one token bucket per
 * involved object, a burst of 25 and one more token every 5 minutes; an Event without a token is
 * dropped, and counted.
 *
 * It sits in the executor's path as a {@link ClusterClient} wrapper: the executor's `createEvent`
 * calls go through {@link withEventRateLimit}, everything else passes unchanged.
 *
 * @example
 * ```ts
 * import { EventRateLimiter } from "./event_limiter.ts";
 * import { VirtualClock } from "../sim/clock.ts";
 * const limiter = new EventRateLimiter({ clock: new VirtualClock(), burst: 2 });
 * const event = { apiVersion: "v1", kind: "Event", metadata: { name: "" }, involvedObject: { uid: "u1" } };
 * console.assert(limiter.allow(event) && limiter.allow(event) && !limiter.allow(event));
 * ```
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { type ClusterClient, withOverrides } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";

/** Options of {@link EventRateLimiter}. */
export interface EventRateLimiterOptions {
  /** The time source of the token buckets. */
  clock: Clock;
  /** Events an object may emit at once. @default 25 */
  burst?: number;
  /** One token comes back to an object's bucket every this many milliseconds. @default 300000 */
  refillEveryMs?: number;
  /** Buckets kept; the least recently used object is forgotten beyond this. @default 4096 */
  maxObjects?: number;
  /** Told of each dropped Event. */
  onDrop?: (event: KubeObject) => void;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

/** Token buckets keyed by the Event's involved object. */
export class EventRateLimiter {
  /** Events dropped since creation. */
  dropped = 0;
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #refillEveryMs: number;
  readonly #maxObjects: number;
  readonly #onDrop: ((event: KubeObject) => void) | undefined;
  readonly #buckets = new Map<string, Bucket>();

  /**
   * Empty buckets: every object starts with a full burst.
   *
   * @throws {RangeError} for a burst below 1 or a refill period that is not positive
   */
  constructor(options: EventRateLimiterOptions) {
    this.#clock = options.clock;
    this.#burst = options.burst ?? 25;
    this.#refillEveryMs = options.refillEveryMs ?? 300_000;
    this.#maxObjects = options.maxObjects ?? 4096;
    this.#onDrop = options.onDrop;
    if (this.#burst < 1) throw new RangeError(`Cannot limit events to a burst of ${this.#burst}`);
    if (this.#refillEveryMs <= 0) {
      throw new RangeError(`Cannot refill event tokens every ${this.#refillEveryMs}ms`);
    }
  }

  /** Takes a token for the Event's object; false (and counted) when its bucket is empty. */
  allow(event: KubeObject): boolean {
    const key = objectOf(event);
    const nowMs = this.#clock.nowMs();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, lastMs: nowMs };
    // Map order is insertion order: re-inserting keeps the most recently used object last.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxObjects) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    const refilled = (nowMs - bucket.lastMs) / this.#refillEveryMs;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + refilled);
    bucket.lastMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    this.dropped++;
    this.#onDrop?.(event);
    return false;
  }

  /** Objects with a bucket. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** The involved object of an Event: its uid, or its kind, namespace and name. */
function objectOf(event: KubeObject): string {
  const involved = (event as { involvedObject?: Record<string, unknown> }).involvedObject ?? {};
  if (typeof involved.uid === "string" && involved.uid !== "") return involved.uid;
  return JSON.stringify([involved.kind, involved.namespace, involved.name]);
}

/**
 * Wraps `client` so that `createEvent` first asks `limiter`; a dropped Event resolves without a
 * request (Events are best-effort, and a refused one must not fail the reconcile).
 */
export function withEventRateLimit(
  client: ClusterClient,
  limiter: EventRateLimiter,
): ClusterClient {
  return withOverrides(client, {
    async createEvent(event) {
      if (limiter.allow(event)) await client.createEvent(event);
    },
  });
}
