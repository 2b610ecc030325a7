/**
 * The cluster port over a real API server: {@link KubeClusterClient}.
 *
 * Requests go straight to the API server's REST paths with Deno's `fetch` over HTTP/1.1 (see
 * `kubeconfig.ts` for TLS and authentication); `@kubernetes/client-node` only loads the
 * kubeconfig. Kinds are resolved to URL paths through discovery, cached per group version and
 * refreshed on a miss. Watches are plain streaming GETs read line by line, so their errors and
 * ends are under our control (client-node's informer dies silently under Deno).
 *
 * Guarantees: every failure is an {@link ApiError} with the server's `Status.reason` and code
 * (network failures are `ServiceUnavailable`, deadlines `Timeout`); a watch calls `onDone` at most
 * once and never after `stop()`; every request has a deadline; `stats` counts every request.
 *
 * Caveats: `insecure-skip-tls-verify` needs Deno's `--unsafely-ignore-certificate-errors`.
 *
 * @module
 */

// The full specifier lets a project outside this one import the adapter by path.
// deno-lint-ignore no-import-prefix
import type { KubeConfig } from "npm:@kubernetes/client-node@1.4.0";
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
import type { KubeObject, TypeRef } from "../core/object.ts";
import { Discovery, type PathTarget, type ResourceInfo, resourcePath } from "./_discovery.ts";
import { errorFromNetwork, errorFromResponse } from "./_status.ts";
import { openWatch } from "./_watch_request.ts";
import { lightConnection } from "./_kubeconfig_light.ts";
import {
  connectionFromKubeConfig,
  type ConnectionOptions,
  type KubeConnection,
  loadKubeConfig,
  type LoadKubeConfigOptions,
} from "./kubeconfig.ts";

/** The operations {@link KubeClientStats.byVerb} counts, one per request sent. */
export type KubeVerb = "discovery" | PortOperation;

const WRITE_VERBS: ReadonlySet<KubeVerb> = new Set<KubeVerb>([
  "create",
  "update",
  "apply",
  "patchStatus",
  "delete",
  "createEvent",
]);

/** Request counters, for tests and metrics (e.g. "no writes during a quiet minute"). */
export interface KubeClientStats {
  /** Every request sent, list pages and discovery included. */
  requests: number;
  /** Requests that change the cluster: create, update, apply, patchStatus, delete, createEvent. */
  writes: number;
  /** Requests by port operation (plus `discovery`). */
  byVerb: Record<string, number>;
}

/** Options of {@link KubeClusterClient}. */
export interface KubeClusterClientOptions {
  /** Deadline of each request, response body included (not of watch streams). @default 30000 */
  requestTimeoutMs?: number;
  /**
   * How long the server keeps a watch open before closing it normally (`timeoutSeconds`); the
   * client gives up on a watch stream 60 s after that, which bounds a half-open connection.
   * @default 300
   */
  watchTimeoutSeconds?: number;
  /** Objects per list page (`limit`). @default 500 */
  listPageSize?: number;
  /** The `User-Agent` header. @default "pgop/0.1.0" */
  userAgent?: string;
  /**
   * Drop `metadata.managedFields` from the objects of lists and watch events, as
   * controller-runtime's `TransformStripManagedFields` does for its caches: about a third of a
   * pod or StatefulSet, which a controller's cache holds for nothing when its decisions never read
   * them. Answers to `get` and to writes keep them. @default false
   */
  stripManagedFields?: boolean;
}

/** Options of {@link KubeClusterClient.connect}. */
export interface ConnectOptions
  extends LoadKubeConfigOptions, ConnectionOptions, KubeClusterClientOptions {}

interface RequestSpec {
  verb: KubeVerb;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
}

const LIST_PAGES_MAX = 10_000;

/**
 * A {@link ClusterClient} backed by a real API server.
 *
 * @example
 * ```ts ignore
 * import { KubeClusterClient } from "./adapters/kube_client.ts";
 * const client = await KubeClusterClient.connect(); // KUBECONFIG, ~/.kube/config or in-cluster
 * const { items } = await client.list({ apiVersion: "v1", kind: "Namespace" });
 * console.log(items.map((ns) => ns.metadata.name));
 * client.close();
 * ```
 */
export class KubeClusterClient implements ClusterClient {
  /** Request counters. */
  readonly stats: KubeClientStats = { requests: 0, writes: 0, byVerb: {} };
  readonly #connection: KubeConnection;
  readonly #discovery: Discovery;
  readonly #requestTimeoutMs: number;
  readonly #watchTimeoutSeconds: number;
  readonly #listPageSize: number;
  readonly #userAgent: string;
  readonly #strip: boolean;

  /**
   * A client over `connection`; {@link KubeClusterClient.connect} makes one from a kubeconfig.
   *
   * @param connection where and how to send requests (see {@link connectionFromKubeConfig})
   * @param options timeouts and paging
   */
  constructor(connection: KubeConnection, options: KubeClusterClientOptions = {}) {
    this.#connection = connection;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.#listPageSize = options.listPageSize ?? 500;
    this.#userAgent = options.userAgent ?? "pgop/0.1.0";
    this.#strip = options.stripManagedFields ?? false;
    this.#discovery = new Discovery((path) => this.#discover(path));
  }

  /**
   * Loads the kubeconfig (`options.path`, `KUBECONFIG`, `~/.kube/config` or in-cluster) and
   * returns a client for its current context.
   *
   * @throws {KubeConfigError} with a one-line message for a missing or unusable kubeconfig
   */
  static async connect(options: ConnectOptions = {}): Promise<KubeClusterClient> {
    // A plain kubeconfig or the in-cluster service account needs no client-node (78 MiB resident).
    const light = await lightConnection(options);
    if (light !== undefined) return new KubeClusterClient(light, options);
    const kc = await loadKubeConfig(options);
    return await KubeClusterClient.fromKubeConfig(kc, options);
  }

  /**
   * Returns a client for the current context of an already loaded client-node `KubeConfig`.
   *
   * @ignore Internal: it takes client-node's type; use {@link KubeClusterClient.connect}.
   */
  static async fromKubeConfig(
    kc: KubeConfig,
    options: ConnectionOptions & KubeClusterClientOptions = {},
  ): Promise<KubeClusterClient> {
    return new KubeClusterClient(await connectionFromKubeConfig(kc, options), options);
  }

  /** The namespace used for namespaced objects that name none (the context's, or `default`). */
  get defaultNamespace(): string {
    return this.#connection.namespace;
  }

  /** Closes idle connections; running watches should be stopped first. */
  close(): void {
    this.#connection.close();
  }

  /** Forgets discovered resources, e.g. after CRDs were removed. */
  clearDiscovery(): void {
    this.#discovery.clear();
  }

  async get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject> {
    const path = await this.#path(type, { namespace: namespace ?? this.defaultNamespace, name });
    return withType(await this.#request({ verb: "get", method: "GET", path }), type);
  }

  async list(type: TypeRef, options: ListOptions = {}): Promise<ListResult> {
    const path = await this.#path(type, { namespace: options.namespace });
    const query: Record<string, string> = { limit: String(this.#listPageSize) };
    if (options.labelSelector) query.labelSelector = labelSelector(options.labelSelector);
    const items: KubeObject[] = [];
    let resourceVersion = "";
    for (let page = 0; page < LIST_PAGES_MAX; page++) {
      const body = await this.#request({ verb: "list", method: "GET", path, query }) as {
        items?: KubeObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      for (const item of body.items ?? []) items.push(withType(this.#stripped(item), type));
      // Every page of a paginated list is a consistent snapshot of the first page's version.
      if (page === 0) resourceVersion = body.metadata?.resourceVersion ?? "";
      const next = body.metadata?.continue;
      if (!next) return { items, resourceVersion };
      query.continue = next;
    }
    throw errorFromResponse(500, "", `Listing ${type.kind} took more than ${LIST_PAGES_MAX} pages`);
  }

  async watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle> {
    const path = await this.#path(type, { namespace: options.namespace });
    const query: Record<string, string> = {
      watch: "1",
      timeoutSeconds: String(this.#watchTimeoutSeconds),
    };
    if (options.resourceVersion !== "") query.resourceVersion = options.resourceVersion;
    if (options.allowBookmarks === true) query.allowWatchBookmarks = "true";
    if (options.labelSelector) query.labelSelector = labelSelector(options.labelSelector);
    return await this.#openWatch(type, path, query, options);
  }

  async create(object: KubeObject): Promise<KubeObject> {
    return await this.#createAs("create", object);
  }

  async update(object: KubeObject): Promise<KubeObject> {
    const path = await this.#objectPath(object);
    return withType(
      await this.#request({ verb: "update", method: "PUT", path, body: object }),
      object,
    );
  }

  async apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    const path = await this.#objectPath(object);
    const query: Record<string, string> = { fieldManager: options.fieldManager };
    if (options.force === true) query.force = "true";
    // The server rejects an apply that carries managedFields; everything else is the caller's intent.
    const { managedFields: _, ...metadata } = object.metadata;
    const body = { ...object, metadata };
    // JSON is YAML, so the apply patch content type takes the object as it is.
    const contentType = "application/apply-patch+yaml";
    return withType(
      await this.#request({ verb: "apply", method: "PATCH", path, query, body, contentType }),
      object,
    );
  }

  async patchStatus(
    ref: TypeRef & { name: string; namespace?: string | undefined },
    status: Record<string, unknown>,
    options: { resourceVersion?: string } = {},
  ): Promise<KubeObject> {
    const path = await this.#path(ref, {
      namespace: ref.namespace ?? this.defaultNamespace,
      name: ref.name,
      subresource: "status",
    });
    // A resourceVersion in a merge patch is a precondition: a stale one answers 409 Conflict.
    const body: Record<string, unknown> = { status };
    if (options.resourceVersion !== undefined) {
      body.metadata = { resourceVersion: options.resourceVersion };
    }
    const contentType = "application/merge-patch+json";
    return withType(
      await this.#request({ verb: "patchStatus", method: "PATCH", path, body, contentType }),
      ref,
    );
  }

  async delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options: DeleteOptions = {},
  ): Promise<void> {
    const path = await this.#path(type, { namespace: namespace ?? this.defaultNamespace, name });
    const body: Record<string, unknown> = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: options.propagationPolicy ?? "Background",
    };
    const preconditions: Record<string, string> = {};
    if (options.uid !== undefined) preconditions.uid = options.uid;
    if (options.resourceVersion !== undefined) {
      preconditions.resourceVersion = options.resourceVersion;
    }
    if (Object.keys(preconditions).length > 0) body.preconditions = preconditions;
    await this.#request({ verb: "delete", method: "DELETE", path, body });
  }

  async createEvent(event: KubeObject): Promise<void> {
    await this.#createAs("createEvent", event);
  }

  async #createAs(verb: KubeVerb, object: KubeObject): Promise<KubeObject> {
    const namespace = object.metadata.namespace ?? this.defaultNamespace;
    const path = await this.#path(object, { namespace });
    return withType(await this.#request({ verb, method: "POST", path, body: object }), object);
  }

  #objectPath(object: KubeObject): Promise<string> {
    return this.#path(object, {
      namespace: object.metadata.namespace ?? this.defaultNamespace,
      name: object.metadata.name,
    });
  }

  async #path(type: TypeRef, target: PathTarget): Promise<string> {
    const info: ResourceInfo = await this.#discovery.resolve(type);
    return resourcePath(type.apiVersion, info, target);
  }

  /** Asks a discovery endpoint; a 404 means the group version is not served. */
  async #discover(path: string): Promise<unknown | undefined> {
    try {
      return await this.#request({ verb: "discovery", method: "GET", path });
    } catch (error) {
      if (error instanceof Error && (error as { code?: unknown }).code === 404) return undefined;
      throw error;
    }
  }

  #count(verb: KubeVerb): void {
    this.stats.requests++;
    if (WRITE_VERBS.has(verb)) this.stats.writes++;
    this.stats.byVerb[verb] = (this.stats.byVerb[verb] ?? 0) + 1;
  }

  async #headers(contentType?: string): Promise<Record<string, string>> {
    let auth: Record<string, string>;
    try {
      auth = await this.#connection.authHeaders();
    } catch (error) {
      throw errorFromNetwork(error, "getting credentials");
    }
    const headers: Record<string, string> = {
      ...auth,
      Accept: "application/json",
      "User-Agent": this.#userAgent,
    };
    if (contentType !== undefined) headers["Content-Type"] = contentType;
    return headers;
  }

  #url(path: string, query?: Record<string, string>): string {
    const search = query && Object.keys(query).length > 0 ? `?${new URLSearchParams(query)}` : "";
    return `${this.#connection.server}${path}${search}`;
  }

  /** Sends one request and returns its parsed JSON body; every failure is an ApiError. */
  async #request(spec: RequestSpec): Promise<unknown> {
    const what = `${spec.method} ${spec.path}`;
    const init: RequestInit = {
      method: spec.method,
      headers: await this.#headers(
        spec.body === undefined ? undefined : spec.contentType ?? "application/json",
      ),
    };
    if (spec.body !== undefined) init.body = JSON.stringify(spec.body);
    const controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(
      () =>
        controller.abort(
          new DOMException(`no answer within ${this.#requestTimeoutMs}ms`, "TimeoutError"),
        ),
      this.#requestTimeoutMs,
    );
    this.#count(spec.verb);
    let status: number;
    let text: string;
    try {
      const response = await this.#connection.fetch(this.#url(spec.path, spec.query), init);
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw errorFromNetwork(controller.signal.aborted ? controller.signal.reason : error, what);
    } finally {
      clearTimeout(timer);
    }
    if (status === 401) this.#connection.invalidateAuth();
    if (status < 200 || status >= 300) throw errorFromResponse(status, text, what);
    try {
      return text === "" ? {} : JSON.parse(text);
    } catch {
      throw errorFromResponse(500, text, `${what} (answer is not JSON)`);
    }
  }

  /** `object` without its managedFields when the client strips them (in place: it is parsed anew). */
  #stripped(object: KubeObject): KubeObject {
    if (this.#strip) delete object.metadata.managedFields;
    return object;
  }

  /** Opens a streaming watch (see {@link openWatch}); counted as one request. */
  async #openWatch(
    type: TypeRef,
    path: string,
    query: Record<string, string>,
    options: WatchOptions,
  ): Promise<WatchHandle> {
    const headers = await this.#headers();
    this.#count("watch");
    if (this.#strip) {
      const onEvent = options.onEvent;
      options = {
        ...options,
        onEvent: (event) => {
          if (event.type !== "BOOKMARK") this.#stripped(event.object);
          onEvent(event);
        },
      };
    }
    return await openWatch({
      type,
      url: this.#url(path, query),
      headers,
      what: `GET ${path} (watch)`,
      fetch: (url, init) => this.#connection.fetch(url, init),
      requestTimeoutMs: this.#requestTimeoutMs,
      lifetimeMs: (this.#watchTimeoutSeconds + 60) * 1000,
      onUnauthorized: () => this.#connection.invalidateAuth(),
    }, options);
  }
}

/** Formats an equality label selector: `app=db,tier=data`. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(",");
}

/** List items and some answers omit `apiVersion` and `kind`; the request's type fills them in. */
function withType(value: unknown, type: TypeRef): KubeObject {
  const object = value as KubeObject;
  if (typeof object.apiVersion !== "string" || object.apiVersion === "") {
    object.apiVersion = type.apiVersion;
  }
  if (typeof object.kind !== "string" || object.kind === "") object.kind = type.kind;
  return object;
}
