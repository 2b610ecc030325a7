/**
 * The cluster port over the simulated API server: every call waits a virtual latency, then runs
 * the synchronous store operation and answers with copies (or, for a client that promises not to
 * modify them, with the stored objects themselves, deep-frozen). Counts reads and writes per verb so
 * tests and benchmarks can bound the API traffic of a controller.
 *
 * @module
 */

import type {
  ApplyOptions,
  ClusterClient,
  DeleteOptions,
  ListOptions,
  ListResult,
  PortOperation,
  WatchHandle,
  WatchOptions,
} from "../core/cluster.ts";
import { type Clock, sleep, toTimestamp } from "../core/clock.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import type { SimApiServer } from "./api_server.ts";

/** The verbs of the cluster port. */
export type SimVerb = PortOperation;

/** One request, as hooks see it. */
export interface SimRequest {
  /** The port operation. */
  verb: SimVerb;
  /** The API version of the kind addressed. */
  apiVersion: string;
  /** The kind addressed. */
  kind: string;
  /** The object's name; absent for list and watch. */
  name?: string;
  /** The namespace; absent for cluster-scoped kinds and all-namespace calls. */
  namespace?: string;
  /** The client that sends it. */
  client: string;
}

/** Seams for a later fault layer: a hook may throw an `ApiError` to fail the request. */
export interface SimClientHooks {
  /** Runs after the latency, before the store operation; throwing fails the request unapplied. */
  beforeRequest?(request: SimRequest): void;
  /** Runs after the store operation; throwing loses the answer of a request that took effect. */
  afterRequest?(request: SimRequest): void;
}

/** Options of {@link SimClient}. */
export interface SimClientOptions {
  /**
   * Names the client: the field manager of its creates and updates, and the `source.component`
   * and `reportingComponent` of its Events. @default "sim-client"
   */
  name?: string;
  /** Virtual time each call waits before it reaches the store. @default 1 */
  latencyMs?: number;
  /**
   * Answer with the server's stored objects themselves, deep-frozen, instead of copies (watch
   * events too): the same data without the copying, for a caller that never modifies what it
   * reads (a modification throws a TypeError). @default false
   */
  shareObjects?: boolean;
}

/** Request counters of one {@link SimClient}. */
export interface SimClientStats {
  /** get, list and watch calls. */
  reads: number;
  /** create, update, apply, patchStatus, delete and createEvent calls (failed ones too). */
  writes: number;
  /** Reads, by verb. */
  readsByVerb: Partial<Record<SimVerb, number>>;
  /** Writes, by verb. */
  writesByVerb: Partial<Record<SimVerb, number>>;
}

const READ_VERBS = new Set<SimVerb>(["get", "list", "watch"]);

/**
 * A {@link ClusterClient} on a {@link SimApiServer}.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./cluster.ts";
 * const cluster = new SimCluster({ seed: 7 });
 * const client = cluster.client({ name: "demo" });
 * const created = client.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "default" } });
 * await cluster.run({ maxVirtualMs: 1000 });
 * console.assert((await created).metadata.uid !== undefined && client.stats.writes === 1);
 * ```
 */
export class SimClient implements ClusterClient {
  /**
   * The client's name; also the field manager of its creates and updates (as a real server takes
   * it from the User-Agent when a request names none).
   */
  readonly name: string;
  /** Request counters. */
  readonly stats: SimClientStats = { reads: 0, writes: 0, readsByVerb: {}, writesByVerb: {} };
  /** Fault-injection seams; empty by default. */
  hooks: SimClientHooks = {};
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #latencyMs: number;
  readonly #share: boolean;

  /** A client of `server` whose calls wait on `clock`. */
  constructor(server: SimApiServer, clock: Clock, options: SimClientOptions = {}) {
    this.#server = server;
    this.#clock = clock;
    this.name = options.name ?? "sim-client";
    this.#latencyMs = options.latencyMs ?? 1;
    this.#share = options.shareObjects === true;
  }

  get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject> {
    return this.call(
      request("get", type, this.name, name, namespace),
      () => this.#server.get(type, name, namespace),
    );
  }

  list(type: TypeRef, options?: ListOptions): Promise<ListResult> {
    return this.call(
      request("list", type, this.name, undefined, options?.namespace),
      () => this.#server.list(type, options),
    );
  }

  watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle> {
    return this.call(
      request("watch", type, this.name, undefined, options.namespace),
      () => this.#server.watch(type, options),
    );
  }

  create(object: KubeObject): Promise<KubeObject> {
    return this.call(
      requestFor("create", object, this.name),
      () => this.#server.create(object, this.name),
    );
  }

  update(object: KubeObject): Promise<KubeObject> {
    return this.call(
      requestFor("update", object, this.name),
      () => this.#server.update(object, this.name),
    );
  }

  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    return this.call(
      requestFor("apply", object, this.name),
      () => this.#server.apply(object, options),
    );
  }

  patchStatus(
    ref: TypeRef & { name: string; namespace?: string | undefined },
    status: Record<string, unknown>,
    options?: { resourceVersion?: string },
  ): Promise<KubeObject> {
    return this.call(
      request("patchStatus", ref, this.name, ref.name, ref.namespace),
      () => this.#server.patchStatus(ref, status, options),
    );
  }

  async delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options?: DeleteOptions,
  ): Promise<void> {
    await this.call(
      request("delete", type, this.name, name, namespace),
      () => this.#server.delete(type, name, namespace, options),
    );
  }

  async createEvent(event: KubeObject): Promise<void> {
    const filled = this.#fillEvent(event);
    await this.call(
      requestFor("createEvent", filled, this.name),
      () => this.#server.create(filled, this.name),
    );
  }

  /**
   * Counts the request, waits the latency, then runs `operation` between the hooks. A fault layer
   * may override this method.
   */
  protected async call<T>(req: SimRequest, operation: () => T): Promise<T> {
    const reading = READ_VERBS.has(req.verb);
    const byVerb = reading ? this.stats.readsByVerb : this.stats.writesByVerb;
    byVerb[req.verb] = (byVerb[req.verb] ?? 0) + 1;
    if (reading) this.stats.reads++;
    else this.stats.writes++;
    await sleep(this.#clock, this.#latencyMs);
    this.hooks.beforeRequest?.(req);
    const result = this.#share ? this.#server.withoutCopies(operation) : operation();
    this.hooks.afterRequest?.(req);
    return result;
  }

  /** Completes a core/v1 Event the way client-go's recorder does. */
  #fillEvent(event: KubeObject): KubeObject {
    const involved = (event.involvedObject ?? {}) as { name?: string; namespace?: string };
    const now = toTimestamp(this.#clock.nowMs());
    const metadata = { ...event.metadata };
    if (!metadata.name && !metadata.generateName) {
      metadata.generateName = `${involved.name ?? "event"}.`;
    }
    metadata.namespace ??= involved.namespace ?? "default";
    return {
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.name },
      reportingComponent: this.name,
      type: "Normal",
      ...event,
      apiVersion: event.apiVersion || "v1",
      kind: event.kind || "Event",
      metadata,
    };
  }
}

function request(
  verb: SimVerb,
  type: TypeRef,
  client: string,
  name: string | undefined,
  namespace: string | undefined,
): SimRequest {
  const req: SimRequest = { verb, apiVersion: type.apiVersion, kind: type.kind, client };
  if (name !== undefined) req.name = name;
  if (namespace !== undefined) req.namespace = namespace;
  return req;
}

function requestFor(verb: SimVerb, object: KubeObject, client: string): SimRequest {
  return request(verb, object, client, object.metadata?.name, object.metadata?.namespace);
}
