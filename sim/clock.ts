/**
 * Virtual time for the simulated cluster: a discrete-event scheduler. Timers fire in order of
 * (due time, creation order), so one seed gives one interleaving. Time only moves when the driver
 * asks for the next event; nothing here reads the system clock.
 *
 * @module
 */

import type { Clock, Timer } from "../core/clock.ts";
import { setImmediate } from "node:timers";

interface Entry {
  dueMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
  daemon: boolean;
}

/** The epoch that virtual time starts from: 2026-01-01T00:00:00Z. */
export const VIRTUAL_EPOCH_MS: number = Date.UTC(2026, 0, 1);

/** A {@link Clock} on virtual time, with a queue of pending timers. */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Entry[] = [];
  #pending = 0;

  /** A clock stopped at `startMs` (epoch milliseconds) until the simulation advances it. */
  constructor(startMs: number = VIRTUAL_EPOCH_MS) {
    this.#now = startMs;
  }

  nowMs(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry: Entry = {
      dueMs: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      cancelled: false,
      daemon: false,
    };
    this.#push(entry);
    this.#pending++;
    return {
      cancel: () => {
        if (!entry.cancelled) {
          entry.cancelled = true;
          if (!entry.daemon) this.#pending--;
        }
      },
      unref: () => {
        if (!entry.cancelled && !entry.daemon) {
          entry.daemon = true;
          this.#pending--;
        }
      },
    };
  }

  /** How many timers are waiting, not counting unref'd ones: 0 means the simulation is idle. */
  get pending(): number {
    return this.#pending;
  }

  /** The due time of the next timer, or undefined when none waits. */
  nextDueMs(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.dueMs;
  }

  /**
   * Moves time to the next due timer and runs every timer due at that instant, in order.
   * Returns false when no timer waits.
   */
  runNext(): boolean {
    const due = this.nextDueMs();
    if (due === undefined) return false;
    this.#now = Math.max(this.#now, due);
    while (this.#heap.length > 0 && this.#heap[0]!.dueMs <= this.#now) {
      const entry = this.#pop()!;
      if (entry.cancelled) continue;
      entry.cancelled = true;
      if (!entry.daemon) this.#pending--;
      entry.fn();
    }
    return true;
  }

  /** Moves time forward to `ms` without running anything (only if no timer is due before it). */
  advanceTo(ms: number): void {
    const due = this.nextDueMs();
    if (due !== undefined && due < ms) throw new RangeError("Cannot skip over a pending timer");
    this.#now = Math.max(this.#now, ms);
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}

/**
 * Lets every pending promise continuation run. The simulated cluster answers through virtual
 * timers and microtasks only, so once this resolves no work is in flight between two timers.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
