/**
 * The real world's clock and randomness: the system time, timers that do not keep an idle process
 * alive when unref'd, and a cryptographic random source (passwords are drawn from it).
 *
 * @module
 */

import type { Clock, Random, Timer } from "../core/clock.ts";

/** The system clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const id = setTimeout(fn, Math.max(0, delayMs));
    return {
      cancel: () => clearTimeout(id),
      unref: () => Deno.unrefTimer(id),
    };
  },
};

/** Random values from the operating system's cryptographic generator. */
export const cryptoRandom: Random = {
  next(): number {
    const words = crypto.getRandomValues(new Uint32Array(2));
    // 53 random bits, as Math.random() has.
    return (words[0]! * 2 ** 21 + (words[1]! >>> 11)) / 2 ** 53;
  },
  int(maxExclusive: number): number {
    if (maxExclusive <= 0) throw new RangeError(`Cannot draw an integer below ${maxExclusive}`);
    // Rejection sampling: no modulo bias.
    const limit = Math.floor(0x100000000 / maxExclusive) * maxExclusive;
    const word = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(word);
      if (word[0]! < limit) return word[0]! % maxExclusive;
    }
  },
};
