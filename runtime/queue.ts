/**
 * A work queue of object keys with the guarantees controllers rely on (client-go's workqueue):
 * a key waiting in the queue is held once however often it is added; a key being processed is
 * never handed out again until `done()`, and if it was added meanwhile it comes back after;
 * failures back off per key, exponentially.
 *
 * @module
 */

import type { Clock, Timer } from "../core/clock.ts";

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Delay after a key's first failure. @default 5 */
  backoffBaseMs?: number;
  /** Longest delay after repeated failures. @default 1000000 (about 16 minutes, as client-go) */
  backoffMaxMs?: number;
}

/** Counters a metrics endpoint can read. */
export interface QueueStats {
  /** Keys added (a key already waiting counts once). */
  adds: number;
  /** Keys added again with backoff after a failure. */
  retries: number;
  /** Sum of the time keys waited between add and get, in milliseconds. */
  waitedMs: number;
  /** Keys handed to a worker. */
  gets: number;
}

/** A de-duplicating, per-key backoff work queue on a {@link Clock}. */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #queue: string[] = [];
  #head = 0;
  readonly #dirty = new Map<string, number>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { dueMs: number; timer: Timer }>();
  #onReady: () => void = () => {};
  #shutDown = false;
  /** Counters since creation. */
  readonly stats: QueueStats = { adds: 0, retries: 0, waitedMs: 0, gets: 0 };

  /** A queue on this clock; `options` set the backoff. */
  constructor(clock: Clock, options: WorkQueueOptions = {}) {
    this.#clock = clock;
    this.#baseMs = options.backoffBaseMs ?? 5;
    this.#maxMs = options.backoffMaxMs ?? 1_000_000;
  }

  /** Registers the callback told when a key becomes available. */
  onReady(fn: () => void): void {
    this.#onReady = fn;
  }

  /** Adds a key now. */
  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.stats.adds++;
    this.#dirty.set(key, this.#clock.nowMs());
    if (this.#processing.has(key)) return;
    this.#queue.push(key);
    this.#onReady();
  }

  /** Adds a key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueMs = this.#clock.nowMs() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.dueMs <= dueMs) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimer(delayMs, () => {
      this.#delayed.delete(key);
      this.add(key);
    });
    this.#delayed.set(key, { dueMs, timer });
  }

  /** Adds a key after its backoff delay, which doubles with each failure until `forget()`. */
  addRateLimited(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    this.stats.retries++;
    const delayMs = Math.min(this.#baseMs * 2 ** (failures - 1), this.#maxMs);
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Clears a key's failure count after a success. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many times a key failed in a row. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Takes the next key to process, or undefined when none waits. */
  get(): string | undefined {
    while (this.#head < this.#queue.length) {
      const key = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      const addedMs = this.#dirty.get(key);
      if (addedMs === undefined || this.#processing.has(key)) continue;
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.stats.gets++;
      this.stats.waitedMs += this.#clock.nowMs() - addedMs;
      return key;
    }
    return undefined;
  }

  /** Marks a key as processed; if it was added meanwhile it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutDown) {
      this.#queue.push(key);
      this.#onReady();
    }
  }

  /** Keys waiting now (not delayed, not processing). */
  get depth(): number {
    let n = 0;
    for (const key of this.#dirty.keys()) if (!this.#processing.has(key)) n++;
    return n;
  }

  /** Keys being processed. */
  get active(): number {
    return this.#processing.size;
  }

  /** Keys waiting for a delay or backoff. */
  get delayed(): number {
    return this.#delayed.size;
  }

  /** Stops accepting keys and cancels delayed ones. */
  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#delayed.values()) timer.cancel();
    this.#delayed.clear();
    this.#dirty.clear();
    this.#queue.length = 0;
    this.#head = 0;
  }
}
