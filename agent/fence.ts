/**
 * The fence, fast: a watchdog beside the agent's round that stops PostgreSQL at once (an immediate
 * stop, as a crash) when it runs as a primary and the agent no longer holds the primary Lease.
 *
 * The round fences too (`decide` stops a primary without the Lease), but a round can take long
 * (its reads wait for an API server that does not answer) and runs every 2 s; the watchdog needs no
 * request: it compares the time of the last renewal sent with the clock, every `intervalMs`
 * (500 ms by default). With the default timings the holder's renew deadline (10 s) ends 5 s before
 * any other agent can see its Lease expire (15 s), and the watchdog stops PostgreSQL within
 * `intervalMs` of the deadline plus the time of an immediate stop.
 *
 * @module
 */

import { fenceStop } from "../core/agent/lease.ts";
import type { InstancePort, LeaseStanding } from "../core/agent/types.ts";
export { runsAsPrimary } from "../core/agent/lease.ts";
export type * from "../core/agent/types.ts";

/** Options of {@link Fence}. */
export interface FenceOptions {
  /** The instance. */
  port: InstancePort;
  /** The agent's standing on the Lease now, without a request ({@link LeaseKeeper.standing}). */
  standing: () => LeaseStanding;
  /** How often it checks. @default 500 */
  intervalMs?: number;
  /** Where it logs a stop. @default console.log */
  log?: (line: string) => void;
}

/** The watchdog; {@link Fence.check} is one look, {@link Fence.start} looks every `intervalMs`. */
export class Fence {
  readonly #o: Required<FenceOptions>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stops = 0;

  /** A watchdog over `options.port`. */
  constructor(options: FenceOptions) {
    this.#o = { intervalMs: 500, log: (line) => console.log(line), ...options };
  }

  /** How many times it stopped PostgreSQL. */
  get stops(): number {
    return this.#stops;
  }

  /**
   * Stops PostgreSQL at once if it runs as a primary without the Lease; returns whether it did.
   */
  check(): boolean {
    const stop = fenceStop(this.#o.port.observe(), this.#o.standing().held);
    if (stop === undefined) return false;
    const result = this.#o.port.perform(stop);
    if (!result.ok) return false;
    this.#stops++;
    this.#o.log("fence: stopped PostgreSQL (immediate): the primary Lease is not held");
    return true;
  }

  /** Checks every `intervalMs` until {@link Fence.stop}. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.#o.intervalMs);
  }

  /** Stops checking. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
