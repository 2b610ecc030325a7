/**
 * The work loop of the simulation's built-in controllers: keys marked dirty are handled together,
 * once, a fixed delay after the first mark, as a real controller coalesces bursts of events.
 *
 * @module
 */

import type { Clock, Timer } from "../core/clock.ts";

/** Coalesces marked keys and hands them to `handle` after `delayMs` of the clock. */
export class DelayedBatch {
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #handle: (key: string) => void;
  readonly #dirty = new Set<string>();
  #timer: Timer | undefined;

  constructor(clock: Clock, delayMs: number, handle: (key: string) => void) {
    this.#clock = clock;
    this.#delayMs = delayMs;
    this.#handle = handle;
  }

  /** Marks a key; the batch runs `delayMs` after the first mark since the last run. */
  mark(key: string): void {
    this.#dirty.add(key);
    this.#timer ??= this.#clock.setTimer(this.#delayMs, () => this.#flush());
  }

  /** Drops the pending run. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #flush(): void {
    this.#timer = undefined;
    const keys = [...this.#dirty];
    this.#dirty.clear();
    for (const key of keys) this.#handle(key);
  }
}
