/**
 * The agent's side of the primary Lease on a real API server: every round it reads the Lease
 * `<db>-primary` (`coordination.k8s.io/v1`), remembers what it saw ({@link LeaseMemory}), and sends
 * the write {@link leaseWrite} decides: a `create` (owned by the PostgresDB), or an `update`
 * conditional on the version read for an acquisition, a renewal or a release. The rules are
 * `core/agent/lease.ts`'s; this file only does the I/O.
 *
 * Guarantees: a renewal counts from the moment it was *sent* ({@link afterLeaseWrite}); a Lease
 * that cannot be read (the API server unreachable, a refused request) leaves the memory as it is,
 * so {@link LeaseKeeper.standing} stops saying `held` once the renew deadline passes, whatever
 * the API server does; two agents never both succeed in taking the Lease (the update is
 * conditional on the version each read).
 *
 * @module
 */

import {
  afterLeaseWrite,
  DEFAULT_LEASE_TIMINGS,
  type LeaseMemory,
  type LeaseRecord,
  leaseStanding,
  type LeaseTimings,
  type LeaseWrite,
  leaseWrite,
  observeLease,
} from "../core/agent/lease.ts";
import type { LeaseStanding } from "../core/agent/types.ts";
import { type ClusterClient, isApiError } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { LEASE, microTime } from "../runtime/leader_election.ts";
export type * from "../core/agent/lease.ts";
export type * from "../core/object.ts";
export type * from "../core/agent/types.ts";

/** The name of a PostgresDB's primary Lease. */
export function primaryLeaseName(database: string): string {
  return `${database}-primary`;
}

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  /** This agent's pod name: the holder identity it writes. */
  self: string;
  /** The PostgresDB's name. */
  database: string;
  /** The namespace of the PostgresDB, its pods and the Lease. */
  namespace: string;
  /** The Lease's timings. @default DEFAULT_LEASE_TIMINGS */
  timings?: LeaseTimings;
  /** The system clock. @default Date.now */
  nowMs?: () => number;
  /** Where the keeper logs its writes and failures. @default console.log */
  log?: (line: string) => void;
}

/** The agent's Lease: read and written through a cluster client. */
export class LeaseKeeper {
  readonly #client: ClusterClient;
  readonly #o: Required<LeaseKeeperOptions>;
  #memory: LeaseMemory = {};
  #object: KubeObject | undefined;
  #record: LeaseRecord | undefined;
  #lastError: string | undefined;

  /** A keeper writing through `client`. */
  constructor(client: ClusterClient, options: LeaseKeeperOptions) {
    this.#client = client;
    this.#o = {
      timings: DEFAULT_LEASE_TIMINGS,
      nowMs: () => Date.now(),
      log: (line) => console.log(line),
      ...options,
    };
  }

  /** What the agent remembers of the Lease. */
  get memory(): LeaseMemory {
    return this.#memory;
  }

  /** The Lease as last read or written; undefined when it did not exist. */
  get record(): LeaseRecord | undefined {
    return this.#record;
  }

  /** The last failure to read or write the Lease, until a round succeeds. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** The agent's standing now, from its memory alone (no request): what the fence checks. */
  standing(): LeaseStanding {
    return leaseStanding(
      this.#o.self,
      this.#memory,
      this.#record,
      this.#o.nowMs(),
      this.#o.timings.renewDeadlineMs,
    );
  }

  /**
   * One round: read the Lease, send the write {@link leaseWrite} decides for the target primary
   * named by `db`'s status, and return the standing afterwards. It never throws: a failure is
   * logged once and leaves the memory as it was.
   */
  async round(db: KubeObject, runsAsPrimary: boolean): Promise<LeaseStanding> {
    const error = await this.#round(db, runsAsPrimary).then(
      () => undefined,
      (caught) => caught instanceof Error ? caught.message : String(caught),
    );
    if (error !== undefined && error !== this.#lastError) this.#o.log(`lease: ${error}`);
    this.#lastError = error;
    return this.standing();
  }

  /**
   * Releases the Lease if this agent holds it (a clean shutdown, once PostgreSQL stopped), so a
   * successor need not wait for it to expire. Returns whether it did.
   */
  async release(): Promise<boolean> {
    const write: LeaseWrite = { kind: "release", reason: "the agent stops" };
    try {
      await this.#read();
      if (this.#object === undefined || this.#record?.holder !== this.#o.self) return false;
      await this.#send(write, undefined);
      return true;
    } catch (caught) {
      this.#o.log(`lease: cannot release: ${caught instanceof Error ? caught.message : caught}`);
      return false;
    }
  }

  async #round(db: KubeObject, runsAsPrimary: boolean): Promise<void> {
    await this.#read();
    const status = (db as { status?: { targetPrimary?: unknown } }).status;
    const target = typeof status?.targetPrimary === "string" && status.targetPrimary !== ""
      ? status.targetPrimary
      : undefined;
    const write = leaseWrite(
      this.#o.self,
      target,
      this.#memory,
      this.#record,
      this.#o.nowMs(),
      runsAsPrimary,
    );
    if (write !== undefined) await this.#send(write, db);
  }

  async #read(): Promise<void> {
    const { database, namespace } = this.#o;
    let object: KubeObject | undefined;
    try {
      object = await this.#client.get(LEASE, primaryLeaseName(database), namespace);
    } catch (error) {
      if (!isApiError(error, "NotFound")) throw error;
    }
    this.#seen(object);
  }

  #seen(object: KubeObject | undefined): void {
    this.#object = object;
    this.#record = object === undefined ? undefined : leaseRecord(object);
    this.#memory = observeLease(this.#memory, this.#record, this.#o.nowMs());
  }

  async #send(write: LeaseWrite, db: KubeObject | undefined): Promise<void> {
    const sentAtMs = this.#o.nowMs();
    const now = microTime(sentAtMs);
    const seconds = Math.round(this.#o.timings.durationMs / 1000);
    let written: KubeObject;
    if (write.kind === "create") {
      if (db === undefined) throw new Error("Cannot create the primary Lease without its owner");
      written = await this.#client.create({
        apiVersion: LEASE.apiVersion,
        kind: LEASE.kind,
        metadata: {
          name: primaryLeaseName(this.#o.database),
          namespace: this.#o.namespace,
          ownerReferences: [{
            apiVersion: db.apiVersion,
            kind: db.kind,
            name: db.metadata.name,
            uid: db.metadata.uid ?? "",
          }],
        },
        spec: {
          holderIdentity: write.holder,
          leaseDurationSeconds: seconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 1,
        },
      });
    } else {
      const current = this.#object!;
      const spec = { ...(current as { spec?: Record<string, unknown> }).spec };
      if (write.kind === "release") {
        delete spec.holderIdentity;
        delete spec.acquireTime;
        spec.renewTime = now;
      } else {
        if (write.kind === "acquire") {
          spec.leaseTransitions = (this.#record?.transitions ?? 0) + 1;
          spec.acquireTime = now;
        }
        spec.holderIdentity = write.holder;
        spec.leaseDurationSeconds = seconds;
        spec.renewTime = now;
      }
      // The version read is kept in metadata.resourceVersion: the update is conditional on it.
      written = await this.#client.update({ ...current, spec } as KubeObject);
    }
    if (write.kind !== "renew") this.#o.log(`lease: ${write.kind}: ${write.reason}`);
    this.#memory = afterLeaseWrite(this.#memory, write, sentAtMs);
    this.#seen(written);
  }
}

/** The rules' view of a Lease object. */
export function leaseRecord(object: KubeObject): LeaseRecord {
  const spec = (object as {
    spec?: { holderIdentity?: unknown; leaseDurationSeconds?: unknown; leaseTransitions?: unknown };
  }).spec;
  const seconds = typeof spec?.leaseDurationSeconds === "number"
    ? spec.leaseDurationSeconds
    : DEFAULT_LEASE_TIMINGS.durationMs / 1000;
  const record: LeaseRecord = {
    version: object.metadata.resourceVersion ?? "",
    durationMs: seconds * 1000,
    transitions: typeof spec?.leaseTransitions === "number" ? spec.leaseTransitions : 0,
  };
  if (typeof spec?.holderIdentity === "string" && spec.holderIdentity !== "") {
    record.holder = spec.holderIdentity;
  }
  return record;
}
