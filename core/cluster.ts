/**
 * The cluster port: the one interface through which controllers read and write a cluster.
 *
 * The simulated cluster (`sim/`) and the real API server adapter (`adapters/`) both implement it,
 * so the controller runtime cannot tell them apart. It is split into a reader and a writer;
 * only the action executor uses the writer.
 *
 * @module
 */

import type { KubeObject, TypeRef } from "./object.ts";

/** Options of {@link ClusterReader.list}. */
export interface ListOptions {
  /** Only objects in this namespace; all namespaces when absent. */
  namespace?: string;
  /** Equality-based label selector as a map: every pair must match. */
  labelSelector?: Record<string, string>;
  /**
   * The answer must be the server's current state (a quorum read, as a list without a
   * resourceVersion is), never a cached or older view: for decisions that cannot be undone.
   * @default false
   */
  consistent?: boolean;
}

/** The answer of {@link ClusterReader.list}: the items and the version to watch from. */
export interface ListResult {
  /** The objects, in the server's order. */
  items: KubeObject[];
  /** The collection's version: a watch from it misses nothing after this list. */
  resourceVersion: string;
}

/** One watch event, in the order the API server committed the changes. */
export type WatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject }
  | { type: "BOOKMARK"; resourceVersion: string };

/** Options of {@link ClusterReader.watch}. */
export interface WatchOptions {
  /** Only objects in this namespace; all namespaces when absent. */
  namespace?: string;
  /**
   * Only objects with these labels. An object that stops matching arrives as DELETED, one that
   * starts matching as ADDED, as the API server's watch cache sends them.
   */
  labelSelector?: Record<string, string>;
  /** Events after this version. A version older than the server's window fails with 410 Gone. */
  resourceVersion: string;
  /**
   * Ask for BOOKMARK events that carry the latest version without an object change.
   * @default false
   */
  allowBookmarks?: boolean;
  /** Called for every event, in order. */
  onEvent(event: WatchEvent): void;
  /**
   * Called once when the watch ends. An `ApiError` with reason `Expired` (410) means the
   * client must list again; no error means the server closed the watch normally.
   */
  onDone(error?: Error): void;
}

/** A running watch. */
export interface WatchHandle {
  /** Stops the watch; `onDone` is not called after `stop()`. */
  stop(): void;
}

/** The reading half of the cluster port. */
export interface ClusterReader {
  /** Reads one object; fails with reason `NotFound` when absent. */
  get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject>;
  /** Lists objects of one kind, with the collection's resourceVersion. */
  list(type: TypeRef, options?: ListOptions): Promise<ListResult>;
  /** Starts a watch of one kind from a resourceVersion. */
  watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle>;
}

/** Options of {@link ClusterWriter.apply}. */
export interface ApplyOptions {
  /** The field manager that owns the applied fields. */
  fieldManager: string;
  /**
   * Take over fields that another manager owns instead of failing with a conflict.
   * @default false
   */
  force?: boolean;
}

/** Preconditions and propagation of {@link ClusterWriter.delete}. */
export interface DeleteOptions {
  /** Delete only if the object still has this uid (it was not deleted and re-created). */
  uid?: string;
  /** Delete only if the object still has this resourceVersion. */
  resourceVersion?: string;
  /** How dependents are garbage-collected. @default "Background" */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
}

/** The writing half of the cluster port. */
export interface ClusterWriter {
  /** Creates an object; fails with reason `AlreadyExists` if the name is taken. */
  create(object: KubeObject): Promise<KubeObject>;
  /**
   * Replaces an object. With `metadata.resourceVersion` set, fails with reason `Conflict` when the
   * stored version differs. For kinds with a status subresource the status is ignored.
   */
  update(object: KubeObject): Promise<KubeObject>;
  /** Server-side apply: creates the object or merges the given fields into it. */
  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject>;
  /**
   * Writes `status` through the status subresource as a JSON merge patch; the rest of the object
   * is ignored. With `resourceVersion` given, fails with reason `Conflict` when it is stale.
   */
  patchStatus(
    ref: StatusRef,
    status: Record<string, unknown>,
    options?: { resourceVersion?: string },
  ): Promise<KubeObject>;
  /** Deletes an object (or marks it for deletion when it has finalizers). */
  delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options?: DeleteOptions,
  ): Promise<void>;
  /** Records a core/v1 Event. */
  createEvent(event: KubeObject): Promise<void>;
}

/** The whole cluster port. */
export interface ClusterClient extends ClusterReader, ClusterWriter {}

/**
 * `inner` with some operations replaced: every other call goes straight through. For wrappers
 * that change one thing (rate-limited Events, a fault on one verb, a test's silent watch).
 *
 * @example
 * ```ts
 * import { withOverrides } from "./cluster.ts";
 * import { SimCluster } from "../sim/cluster.ts";
 * const client = new SimCluster().client();
 * const quiet = withOverrides(client, { createEvent: () => Promise.resolve() });
 * console.assert(quiet.createEvent !== client.createEvent);
 * ```
 */
export function withOverrides(
  inner: ClusterClient,
  overrides: Partial<ClusterClient>,
): ClusterClient {
  return {
    get: overrides.get ?? ((t, n, ns) => inner.get(t, n, ns)),
    list: overrides.list ?? ((t, o) => inner.list(t, o)),
    watch: overrides.watch ?? ((t, o) => inner.watch(t, o)),
    create: overrides.create ?? ((o) => inner.create(o)),
    update: overrides.update ?? ((o) => inner.update(o)),
    apply: overrides.apply ?? ((o, opts) => inner.apply(o, opts)),
    patchStatus: overrides.patchStatus ?? ((r, s, opts) => inner.patchStatus(r, s, opts)),
    delete: overrides.delete ?? ((t, n, ns, opts) => inner.delete(t, n, ns, opts)),
    createEvent: overrides.createEvent ?? ((e) => inner.createEvent(e)),
  };
}

/** The operations of the cluster port, by name: what request counters and RBAC tables key on. */
export type PortOperation = keyof ClusterClient;

/** What a {@link PortCall} is about: the object, or the kind (and namespace) of a list or watch. */
export type PortCallTarget = TypeRef & {
  name?: string | undefined;
  namespace?: string | undefined;
};

/** The reference {@link ClusterWriter.patchStatus} takes. */
export type StatusRef = TypeRef & { name: string; namespace?: string | undefined };

/**
 * One call of the cluster port with its arguments, as an {@link Interceptor} sees it. `write` is
 * true for the {@link ClusterWriter} verbs; `target` says what the call is about.
 */
export type PortCall =
  & { readonly write: boolean; readonly target: PortCallTarget }
  & (
    | { operation: "get"; type: TypeRef; name: string; namespace: string | undefined }
    | { operation: "list"; type: TypeRef; options: ListOptions | undefined }
    | { operation: "watch"; type: TypeRef; options: WatchOptions }
    | { operation: "create" | "update" | "createEvent"; object: KubeObject }
    | { operation: "apply"; object: KubeObject; options: ApplyOptions }
    | {
      operation: "patchStatus";
      ref: StatusRef;
      status: Record<string, unknown>;
      options: { resourceVersion?: string } | undefined;
    }
    | {
      operation: "delete";
      type: TypeRef;
      name: string;
      namespace: string | undefined;
      options: DeleteOptions | undefined;
    }
  );

/**
 * What an {@link InterceptedClient} does around the calls it forwards, in the style of
 * controller-runtime's `pkg/client/interceptor`, but for every verb at once: a wrapper states
 * what it does to a call, not how each of the port's verbs forwards.
 */
export interface Interceptor {
  /** Runs before every call is sent; a throw refuses the call (nothing is sent). */
  before?(call: PortCall): void;
  /** Runs before every write is sent, after `before`; a throw refuses the write. */
  beforeWrite?(call: PortCall): void;
  /**
   * Wraps every call that passed `before` and `beforeWrite`: `next()` sends it and answers what
   * the inner client answered. Return that answer (or throw) to finish the call.
   */
  around?<T>(call: PortCall, next: () => Promise<T>): Promise<T>;
}

/**
 * A {@link ClusterClient} that forwards every call to `inner` through an {@link Interceptor}.
 * Adding a verb to the port means adding it here (and to {@link PortCall}); every wrapper built on
 * it (the leader fence, RBAC recording, the simulation's write recording) follows.
 *
 * @example
 * ```ts
 * import { InterceptedClient } from "./cluster.ts";
 * import { SimCluster } from "../sim/cluster.ts";
 * const cluster = new SimCluster();
 * const seen: string[] = [];
 * const client = new InterceptedClient(cluster.client(), {
 *   before: (call) => void seen.push(`${call.operation} ${call.target.kind}`),
 * });
 * await cluster.request(client.list({ apiVersion: "v1", kind: "ConfigMap" }));
 * console.assert(seen[0] === "list ConfigMap");
 * ```
 */
export class InterceptedClient implements ClusterClient {
  readonly #inner: ClusterClient;
  readonly #interceptor: Interceptor;

  /** Wraps `inner`; `interceptor` says what happens around each call. */
  constructor(inner: ClusterClient, interceptor: Interceptor) {
    this.#inner = inner;
    this.#interceptor = interceptor;
  }

  /** Forwards {@link ClusterReader.get}. */
  get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject> {
    const target = { ...type, name, namespace };
    return this.#send(
      { operation: "get", write: false, target, type, name, namespace },
      () => this.#inner.get(type, name, namespace),
    );
  }

  /** Forwards {@link ClusterReader.list}. */
  list(type: TypeRef, options?: ListOptions): Promise<ListResult> {
    const target = { ...type, namespace: options?.namespace };
    return this.#send(
      { operation: "list", write: false, target, type, options },
      () => this.#inner.list(type, options),
    );
  }

  /** Forwards {@link ClusterReader.watch}. */
  watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle> {
    const target = { ...type, namespace: options.namespace };
    return this.#send(
      { operation: "watch", write: false, target, type, options },
      () => this.#inner.watch(type, options),
    );
  }

  /** Forwards {@link ClusterWriter.create}. */
  create(object: KubeObject): Promise<KubeObject> {
    return this.#send(
      { operation: "create", write: true, target: targetOf(object), object },
      () => this.#inner.create(object),
    );
  }

  /** Forwards {@link ClusterWriter.update}. */
  update(object: KubeObject): Promise<KubeObject> {
    return this.#send(
      { operation: "update", write: true, target: targetOf(object), object },
      () => this.#inner.update(object),
    );
  }

  /** Forwards {@link ClusterWriter.apply}. */
  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    return this.#send(
      { operation: "apply", write: true, target: targetOf(object), object, options },
      () => this.#inner.apply(object, options),
    );
  }

  /** Forwards {@link ClusterWriter.patchStatus}. */
  patchStatus(
    ref: StatusRef,
    status: Record<string, unknown>,
    options?: { resourceVersion?: string },
  ): Promise<KubeObject> {
    return this.#send(
      { operation: "patchStatus", write: true, target: ref, ref, status, options },
      () => this.#inner.patchStatus(ref, status, options),
    );
  }

  /** Forwards {@link ClusterWriter.delete}. */
  delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options?: DeleteOptions,
  ): Promise<void> {
    const target = { ...type, name, namespace };
    return this.#send(
      { operation: "delete", write: true, target, type, name, namespace, options },
      () => this.#inner.delete(type, name, namespace, options),
    );
  }

  /** Forwards {@link ClusterWriter.createEvent}. */
  createEvent(event: KubeObject): Promise<void> {
    return this.#send(
      { operation: "createEvent", write: true, target: targetOf(event), object: event },
      () => this.#inner.createEvent(event),
    );
  }

  #send<T>(call: PortCall, next: () => Promise<T>): Promise<T> {
    const interceptor = this.#interceptor;
    try {
      interceptor.before?.(call);
      if (call.write) interceptor.beforeWrite?.(call);
    } catch (error) {
      return Promise.reject(error);
    }
    return interceptor.around ? interceptor.around(call, next) : next();
  }
}

/** `inner` behind `interceptor`: shorthand for `new InterceptedClient(inner, interceptor)`. */
export function interceptClient(inner: ClusterClient, interceptor: Interceptor): ClusterClient {
  return new InterceptedClient(inner, interceptor);
}

function targetOf(object: KubeObject): PortCallTarget {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata?.name,
    namespace: object.metadata?.namespace,
  };
}

/** The Kubernetes `Status.reason` values the library branches on. */
export type ApiErrorReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Expired"
  | "Invalid"
  | "BadRequest"
  | "Forbidden"
  | "TooManyRequests"
  | "InternalError"
  | "Timeout"
  | "ServiceUnavailable";

const STATUS_CODES: Record<ApiErrorReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  Invalid: 422,
  BadRequest: 400,
  Forbidden: 403,
  TooManyRequests: 429,
  InternalError: 500,
  Timeout: 504,
  ServiceUnavailable: 503,
};

/**
 * An error answered by an API server, real or simulated, with the HTTP code and the
 * `Status.reason` that callers branch on.
 */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly code: number;
  /** The Kubernetes `Status.reason`. */
  readonly reason: ApiErrorReason;

  /** An error with `reason`, `message`, and the reason's usual HTTP code unless `code` is given. */
  constructor(reason: ApiErrorReason, message: string, code?: number) {
    super(message);
    this.name = "ApiError";
    this.reason = reason;
    this.code = code ?? STATUS_CODES[reason];
  }
}

/** True when `error` is an {@link ApiError} with the given reason. */
export function isApiError(error: unknown, reason?: ApiErrorReason): error is ApiError {
  return error instanceof ApiError && (reason === undefined || error.reason === reason);
}
