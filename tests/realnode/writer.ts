/**
 * A writer and a watcher for the real-node suites that take the primary away (failover, rolling
 * updates): the writer appends numbered rows through `svc/<db>-rw` (a port-forward on 127.0.0.1,
 * re-opened after each failure) and records every acknowledgement; the watcher polls
 * `pg_is_in_recovery()` on every pod and records any moment with two writable instances.
 *
 * @module
 */

import { waitFor } from "../integration/support.ts";
import { type Kube, localUri, PortForward } from "./support.ts";

/** A write the writer sent and how it ended. */
export interface Ack {
  id: number;
  sentAtMs: number;
  ackedAtMs: number;
}

/** `promise`, or a rejection after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** psql against `uri` with a hard deadline (the process is killed: never a local-only commit). */
export async function psqlWithin(uri: string, sql: string, timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const out = await within(
      new Deno.Command("psql", {
        args: ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
        env: { PGCONNECT_TIMEOUT: "3" },
        stdout: "piped",
        stderr: "piped",
        signal: controller.signal,
      }).output(),
      timeoutMs + 5_000,
    );
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout).trim(),
      stderr: decoder.decode(out.stderr).trim(),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Appends numbered rows through svc/<db>-rw, one transaction each, and records the acknowledged. */
export class Writer {
  readonly acks: Ack[] = [];
  /** When each failed attempt was sent. */
  readonly failedAtMs: number[] = [];
  /** When each failed attempt ended (the same order as {@link failedAtMs}). */
  readonly failedEndedAtMs: number[] = [];
  /** The last failure, for a report. */
  lastError = "";
  #next = 1;
  #running = false;
  #done: Promise<void> = Promise.resolve();
  readonly #kube: Kube;
  readonly #uri: string;
  readonly #name: string;

  /** A writer to PostgresDB `name` through its `-rw` Service. */
  constructor(kube: Kube, uri: string, name: string) {
    this.#kube = kube;
    this.#uri = uri;
    this.#name = name;
  }

  start(): void {
    this.#running = true;
    this.#done = this.#loop();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  /** How many attempts failed. */
  get failures(): number {
    return this.failedAtMs.length;
  }

  /** The first acknowledgement of a write sent at or after `ms`. */
  firstAckAfter(ms: number): Ack | undefined {
    return this.acks.find((a) => a.sentAtMs >= ms);
  }

  /**
   * The end of the first outage after `ms`: the first acknowledgement of a write sent after the
   * first failed attempt that ended at or after `ms` (writes still accepted before the kill took
   * effect, or by a primary cut off but not yet fenced, do not end it). The failed attempt may
   * have been sent before `ms`: a write in flight when the primary went hangs until its
   * connection dies, and it is then the only failure of that outage.
   */
  outageEndAfter(ms: number): Ack | undefined {
    const index = this.failedEndedAtMs.findIndex((at) => at >= ms);
    return index < 0 ? undefined : this.firstAckAfter(this.failedAtMs[index]! + 1);
  }

  async #loop(): Promise<void> {
    let forward: PortForward | undefined;
    while (this.#running) {
      try {
        // Bounded twice: a kubectl that hangs must not stop the writer.
        forward ??= await within(
          PortForward.open(this.#kube, `svc/${this.#name}-rw`, { timeoutMs: 10_000 }),
          15_000,
        );
      } catch (e) {
        this.lastError = `port-forward: ${e instanceof Error ? e.message : String(e)}`;
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      const id = this.#next++;
      const sentAtMs = Date.now();
      const out = await psqlWithin(
        localUri(this.#uri, forward.localPort),
        `INSERT INTO rows (id) VALUES (${id}) RETURNING id`,
        10_000,
      ).catch((e) => ({
        code: 1,
        stdout: "",
        stderr: `psql: ${e instanceof Error ? e.message : String(e)}`,
      }));
      if (out.code === 0 && out.stdout === String(id)) {
        this.acks.push({ id, sentAtMs, ackedAtMs: Date.now() });
        continue;
      }
      this.failedAtMs.push(sentAtMs);
      this.failedEndedAtMs.push(Date.now());
      this.lastError = `psql exit ${out.code}: ${out.stderr.split("\n")[0] ?? ""}`;
      await within(forward.close(), 5_000).catch(() => {});
      forward = undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
    await forward?.close();
  }
}

/** Polls pg_is_in_recovery() on every pod; records any moment with two writable instances. */
export class PrimaryWatch {
  samples = 0;
  readonly violations: string[] = [];
  #running = false;
  #done: Promise<void> = Promise.resolve();
  readonly #kube: Kube;
  readonly #pods: readonly string[];

  /** A watcher of `pods`. */
  constructor(kube: Kube, pods: readonly string[]) {
    this.#kube = kube;
    this.#pods = pods;
  }

  start(): void {
    this.#running = true;
    this.#done = (async () => {
      while (this.#running) {
        const answers = await Promise.all(
          this.#pods.map((pod) =>
            this.#kube.psqlInPod(pod, "postgres", "SELECT pg_is_in_recovery()")
              .then((out) => out.trim()).catch(() => "-")
          ),
        );
        this.samples++;
        const writable = this.#pods.filter((_, i) => answers[i] === "f");
        if (writable.length > 1) {
          this.violations.push(`${new Date().toISOString()}: ${writable.join(", ")} writable`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** Ids acknowledged before `beforeMs` that the current primary does not have. */
export async function missingRows(
  kube: Kube,
  uri: string,
  writer: Writer,
  name: string,
): Promise<number[]> {
  const beforeMs = Date.now();
  const acked = writer.acks.filter((a) => a.ackedAtMs < beforeMs).map((a) => a.id);
  const db = await kube.json("postgresdb", name);
  const forward = await PortForward.open(kube, db.status.currentPrimary);
  try {
    const out = await waitFor("the rows on the primary", async () => {
      const r = await psqlWithin(localUri(uri, forward.localPort), "SELECT id FROM rows", 20_000);
      return r.code === 0 && r.stdout;
    }, 60_000);
    const present = new Set(out.split("\n").filter(Boolean).map(Number));
    return acked.filter((id) => !present.has(id));
  } finally {
    await forward.close();
  }
}
