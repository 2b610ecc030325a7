/**
 * Time and randomness as interfaces. The pure core receives values (`nowMs`, a {@link Random});
 * the runtime receives a {@link Clock}. The system and the simulated implementations differ only
 * in what is plugged in.
 *
 * @module
 */

/** A timer that can be cancelled. */
export interface Timer {
  /** Stops the timer; its callback will not run. Cancelling a fired timer does nothing. */
  cancel(): void;
  /**
   * Lets the program (or the simulation) finish while this timer waits, as Node's `unref()`:
   * for watchdogs and periodic work that must not keep an idle process alive.
   */
  unref(): void;
}

/** A source of time and of timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch (virtual in the simulation). */
  nowMs(): number;
  /** Calls `fn` once after `delayMs` milliseconds. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** A source of random values. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** Waits `delayMs` on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(delayMs, resolve));
}

/** Formats epoch milliseconds as the RFC 3339 timestamp Kubernetes uses (second precision). */
export function toTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Parses an RFC 3339 timestamp into epoch milliseconds; NaN when it is not one. */
export function fromTimestamp(timestamp: string): number {
  return Date.parse(timestamp);
}
