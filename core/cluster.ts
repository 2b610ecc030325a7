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
  items: KubeObject[];
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
    ref: TypeRef & { name: string; namespace?: string | undefined },
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
