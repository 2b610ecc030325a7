/**
 * The instance agent's process loop on the system clock: every `intervalMs` it reads the intent,
 * runs one round (observe, decide, perform, report: `agentRound` of `runtime/agent_round.ts`, the
 * same round the simulation runs), and writes the report when it changed. A round whose intent cannot be read is skipped (PostgreSQL keeps
 * running as it is); a failed report write is retried at the next round.
 *
 * @module
 */

import { agentRound } from "../runtime/agent_round.ts";
import type { InstancePort, InstanceReport } from "../core/agent/types.ts";
import { describeAgentAction } from "../core/agent/types.ts";
import type { IntentSource } from "./intent_source.ts";
export type * from "../core/agent/types.ts";
export type * from "../core/agent/timeline.ts";
export type * from "./intent_source.ts";

/** Where reports go: the Pod annotation ({@link ./report_writer.ts}), or a test's fake. */
export interface ReportSink {
  /** Records `report` made in `term`; returns whether it was written. */
  write(report: InstanceReport, term: number): Promise<boolean>;
}

/** Options of {@link InstanceAgent}. */
export interface InstanceAgentOptions {
  /** The instance. */
  port: InstancePort;
  /** The cluster's intent. */
  intents: IntentSource;
  /** The reports' destination. */
  reports: ReportSink;
  /** The period of rounds. @default 2000 */
  intervalMs?: number;
  /** Where the agent logs its actions and errors. @default console.log */
  log?: (line: string) => void;
  /** The system clock. @default Date.now */
  nowMs?: () => number;
}

/** The agent: a loop of rounds until {@link InstanceAgent.stop}. */
export class InstanceAgent {
  readonly #o: Required<InstanceAgentOptions>;
  #running = false;
  #wake: (() => void) | undefined;
  #done: Promise<void> = Promise.resolve();
  #lastReport: InstanceReport | undefined;
  #lastRoundAtMs: number | undefined;
  #lastError: string | undefined;
  #rounds = 0;

  /** An agent; {@link InstanceAgent.start} runs it. */
  constructor(options: InstanceAgentOptions) {
    this.#o = {
      intervalMs: 2000,
      log: (line) => console.log(line),
      nowMs: () => Date.now(),
      ...options,
    };
  }

  /** The last report decided (written or not). */
  get lastReport(): InstanceReport | undefined {
    return this.#lastReport;
  }

  /** When the last round ended, on the system clock. */
  get lastRoundAtMs(): number | undefined {
    return this.#lastRoundAtMs;
  }

  /** The last round's error (intent unreadable, action refused, report not written). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Rounds run. */
  get rounds(): number {
    return this.#rounds;
  }

  /** True while the loop runs. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts the loop. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#done = this.#loop();
  }

  /** Stops the loop after the round in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#done;
  }

  /** Runs one round now (the loop calls it; tests may too). */
  async round(): Promise<void> {
    let error: string | undefined;
    try {
      const { intent, term } = await this.#o.intents.current();
      let report: InstanceReport | undefined;
      const round = agentRound(this.#o.port, intent, (status) => report = status);
      for (const action of round.actions) {
        if (action.kind !== "report") this.#o.log(`agent will ${describeAgentAction(action)}`);
      }
      if (round.error !== undefined) error = round.error;
      if (report !== undefined) {
        this.#lastReport = report;
        await this.#o.reports.write(report, term);
      }
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    if (error !== undefined && error !== this.#lastError) this.#o.log(`agent: ${error}`);
    this.#lastError = error;
    this.#lastRoundAtMs = this.#o.nowMs();
    this.#rounds++;
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      await this.round();
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.intervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
