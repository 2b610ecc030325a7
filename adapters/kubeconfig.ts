/**
 * Finding and loading a kubeconfig, and turning it into a {@link KubeConnection}: the server URL,
 * a `fetch` that speaks HTTP/1.1 with the cluster's CA and client certificate, and the headers
 * that authenticate each request.
 *
 * Where the configuration comes from, first match wins: an explicit path; `KUBECONFIG` (a
 * `:`-separated list, merged as kubectl does: the first file that sets a value wins); then
 * `~/.kube/config`; then the in-cluster service account (`KUBERNETES_SERVICE_HOST` and
 * `/var/run/secrets/kubernetes.io/serviceaccount`). A user mistake (no file, unparsable YAML, an
 * unknown context) fails with a one-line {@link KubeConfigError}, never a stack trace.
 *
 * TLS: with a CA in the kubeconfig (or the in-cluster `ca.crt`), that CA is the only one trusted,
 * never the system's or Mozilla's roots as well.
 *
 * Caveats under Deno: `insecure-skip-tls-verify` cannot be honoured by Deno's fetch (run Deno
 * with `--unsafely-ignore-certificate-errors=<host>` instead), and `tls-server-name` is ignored.
 * HTTP/2 is switched off on purpose: a server's GOAWAY on a shared HTTP/2 connection has been
 * seen to abort Deno, and one watch per HTTP/1.1 connection isolates failures.
 *
 * @module
 */

import process from "node:process";
// The full specifier lets a project outside this one import the adapter by path.
// deno-lint-ignore no-import-prefix
import type { Cluster, Context, KubeConfig, User } from "npm:@kubernetes/client-node@1.4.0";

/** A kubeconfig that cannot be found, read or used; the message is one line for the user. */
export class KubeConfigError extends Error {
  /** A one-line message naming the file or context and what is wrong with it. */
  constructor(message: string) {
    super(message);
    this.name = "KubeConfigError";
  }
}

/** Options of {@link loadKubeConfig}. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file to use instead of `KUBECONFIG` and `~/.kube/config`. */
  path?: string;
  /** The context to use instead of the file's `current-context`. */
  context?: string;
  /** Reads an environment variable. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /**
   * A directory prefixed to `/var/run/secrets/kubernetes.io/serviceaccount`, for tests.
   * @default ""
   */
  inClusterRoot?: string;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Loads the kubeconfig to use, from `options.path`, `KUBECONFIG`, `~/.kube/config` or the
 * in-cluster service account, in that order. `@kubernetes/client-node` is imported only here,
 * so programs that never talk to a real cluster never load it.
 *
 * @throws {KubeConfigError} when nothing is found or the file cannot be read or used
 * @ignore Internal to the adapter: its result is client-node's type; use `KubeClusterClient.connect`.
 */
export async function loadKubeConfig(options: LoadKubeConfigOptions = {}): Promise<KubeConfig> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const KubeConfigClass = await importKubeConfig();
  const kc = new KubeConfigClass();
  const files = configFiles(options, env);
  if (files.length > 0) {
    loadFiles(kc, files, KubeConfigClass);
  } else if (!loadInCluster(kc, options.inClusterRoot ?? "", env)) {
    throw new KubeConfigError(
      "No kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run inside a cluster",
    );
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name).join(", ") || "none";
      throw new KubeConfigError(
        `Kubeconfig has no context "${options.context}": known contexts are ${known}`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  checkUsable(kc);
  return kc;
}

/** Imports client-node's KubeConfig without the `punycode` deprecation warning its fetch prints. */
async function importKubeConfig(): Promise<typeof KubeConfig> {
  const before = process.noDeprecation;
  process.noDeprecation = true;
  try {
    // deno-lint-ignore no-import-prefix
    return (await import("npm:@kubernetes/client-node@1.4.0")).KubeConfig;
  } finally {
    process.noDeprecation = before ?? false;
  }
}

/** The files to merge: the explicit path, else the existing files of KUBECONFIG, else ~/.kube/config. */
function configFiles(
  options: LoadKubeConfigOptions,
  env: (name: string) => string | undefined,
): string[] {
  if (options.path !== undefined) {
    if (!fileExists(options.path)) {
      throw new KubeConfigError(`Cannot read kubeconfig "${options.path}": no such file`);
    }
    return [options.path];
  }
  const list = env("KUBECONFIG");
  if (list !== undefined && list !== "") {
    const named = list.split(":").filter((file) => file !== "");
    const existing = named.filter(fileExists);
    if (existing.length === 0) {
      throw new KubeConfigError(
        `No kubeconfig found: KUBECONFIG names ${
          named.map((f) => `"${f}"`).join(", ")
        }, and none exists`,
      );
    }
    return existing;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  const fallback = home ? `${home}/.kube/config` : undefined;
  return fallback && fileExists(fallback) ? [fallback] : [];
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KubeConfigError(
        `Cannot read kubeconfig "${path}": permission denied (run Deno with --allow-read)`,
      );
    }
    return false;
  }
}

/** Loads each file and merges them; a name defined twice keeps its first definition. */
function loadFiles(kc: KubeConfig, files: string[], KubeConfigClass: typeof KubeConfig): void {
  for (const [index, file] of files.entries()) {
    const target = index === 0 ? kc : new KubeConfigClass();
    try {
      target.loadFromFile(file);
    } catch (error) {
      throw new KubeConfigError(`Cannot parse kubeconfig "${file}": ${firstLine(error)}`);
    }
    if (target === kc) continue;
    if (!kc.currentContext) kc.currentContext = target.currentContext;
    mergeByName(kc.clusters, target.clusters);
    mergeByName(kc.users, target.users);
    mergeByName(kc.contexts, target.contexts);
  }
}

function mergeByName<T extends { name: string }>(into: T[], from: T[]): void {
  for (const entry of from) if (!into.some((e) => e.name === entry.name)) into.push(entry);
}

/** Configures the in-cluster service account, if there is one. */
function loadInCluster(
  kc: KubeConfig,
  root: string,
  env: (name: string) => string | undefined,
): boolean {
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  const dir = root + SERVICE_ACCOUNT_DIR;
  if (!host || !port || !fileExists(`${dir}/token`)) return false;
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const cluster: Cluster = {
    name: "inCluster",
    server,
    caFile: `${dir}/ca.crt`,
    skipTLSVerify: false,
  };
  const user: User = {
    name: "inClusterUser",
    authProvider: { name: "tokenFile", config: { tokenFile: `${dir}/token` } },
  };
  kc.loadFromClusterAndUser(cluster, user);
  let namespace: string | undefined;
  try {
    namespace = Deno.readTextFileSync(`${dir}/namespace`).trim() || undefined;
  } catch {
    namespace = undefined;
  }
  const context: Context = {
    name: "inClusterContext",
    cluster: cluster.name,
    user: user.name,
    ...(namespace ? { namespace } : {}),
  };
  kc.contexts = [context];
  kc.currentContext = context.name;
  return true;
}

function checkUsable(kc: KubeConfig): void {
  const name = kc.getCurrentContext();
  if (!name) {
    throw new KubeConfigError(
      "Kubeconfig has no current-context: run kubectl config use-context NAME",
    );
  }
  const context = kc.getContextObject(name);
  if (!context) throw new KubeConfigError(`Kubeconfig's current-context "${name}" is not defined`);
  const cluster = kc.getCluster(context.cluster);
  if (!cluster) {
    throw new KubeConfigError(
      `Kubeconfig context "${name}" names cluster "${context.cluster}", which is not defined`,
    );
  }
  if (!/^https?:\/\//.test(cluster.server)) {
    throw new KubeConfigError(
      `Kubeconfig cluster "${cluster.name}" has server "${cluster.server}": not an http(s) URL`,
    );
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError && /undefined|null/.test(message)) {
    return "not a kubeconfig (empty or missing sections)";
  }
  return (message.split("\n")[0] ?? "").trim() || "unknown error";
}

/** Everything a client needs to talk to one API server. */
export interface KubeConnection {
  /** The API server's base URL, without a trailing slash, e.g. `https://127.0.0.1:6443`. */
  readonly server: string;
  /** The current context's namespace, or `default`. */
  readonly namespace: string;
  /** Sends one request to the server with the connection's TLS settings. */
  fetch(url: string, init: RequestInit): Promise<Response>;
  /** The headers that authenticate a request (bearer token, basic auth, impersonation). */
  authHeaders(): Promise<Record<string, string>>;
  /** Forgets cached credentials, e.g. after a 401, so the next request gets fresh ones. */
  invalidateAuth(): void;
  /** Closes the connection pool. */
  close(): void;
}

/** Options of {@link connectionFromKubeConfig}. */
export interface ConnectionOptions {
  /**
   * How long authentication headers are reused before asking the kubeconfig again (token files
   * and exec plugins rotate credentials). @default 10000
   */
  authCacheMs?: number;
}

/**
 * Makes the process trust no root certificate but the ones a client names: Deno's `caCerts` are
 * added to its root store (Mozilla's, or the system's with `DENO_TLS_CA_STORE=system`, plus
 * `DENO_CERT`), so a server signed by any public or system CA would otherwise receive the bearer
 * token. Deno reads these variables once, when the first TLS connection builds the store; the
 * operator makes no TLS connection before it connects to the API server, and only talks to it.
 *
 * Caveat: the variables are changed for the whole process and its children (exec credential
 * plugins inherit them); an empty `DENO_TLS_CA_STORE` means no store at all.
 */
function trustOnlyGivenCas(): void {
  Deno.env.set("DENO_TLS_CA_STORE", "");
  Deno.env.delete("DENO_CERT");
}

/** What {@link apiServerHttpClient} builds a client from: PEM texts and a proxy URL. */
export interface ApiServerTls {
  /** The CA to trust, alone (see trustOnlyGivenCas). */
  ca?: string | undefined;
  /** The client certificate; with `key`. */
  cert?: string | undefined;
  /** The client key; with `cert`. */
  key?: string | undefined;
  /** An HTTP proxy's URL. */
  proxy?: string | undefined;
}

/**
 * The `Deno.HttpClient` every connection to an API server uses: HTTP/1.1 only (a GOAWAY on a
 * shared HTTP/2 connection has aborted Deno), the given CA as the only one trusted, and the client
 * certificate when there is one.
 *
 * @throws what `Deno.createHttpClient` throws for unusable PEM texts
 * @ignore Internal to the adapter.
 */
export function apiServerHttpClient(tls: ApiServerTls): Deno.HttpClient {
  const options: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {
    http1: true,
    http2: false,
  };
  if (tls.ca !== undefined) {
    trustOnlyGivenCas();
    options.caCerts = [tls.ca];
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    Object.assign(options, { cert: tls.cert, key: tls.key });
  }
  if (tls.proxy) options.proxy = { url: tls.proxy };
  return Deno.createHttpClient(options as Deno.CreateHttpClientOptions);
}

/**
 * Builds a {@link KubeConnection} from a loaded kubeconfig: a `Deno.HttpClient` restricted to
 * HTTP/1.1 with the cluster CA and client certificate, and cached authentication headers.
 *
 * @throws {KubeConfigError} when the credentials cannot be obtained (unreadable files, a failing
 *   exec plugin, a certificate without a key)
 * @ignore Internal to the adapter: it takes client-node's type; use `KubeClusterClient.connect`.
 */
export async function connectionFromKubeConfig(
  kc: KubeConfig,
  options: ConnectionOptions = {},
): Promise<KubeConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(
      "Kubeconfig has no current cluster: run kubectl config use-context NAME",
    );
  }
  const contextName = kc.getCurrentContext();
  const namespace = kc.getContextObject(contextName)?.namespace || "default";
  const material = await httpsOptions(kc, contextName);
  const ca = pem(material.ca);
  const cert = pem(material.cert);
  const key = pem(material.key);
  if ((cert === undefined) !== (key === undefined)) {
    throw new KubeConfigError(
      `Kubeconfig context "${contextName}" has a client certificate without a key, or a key without a certificate`,
    );
  }
  let client: Deno.HttpClient;
  try {
    client = apiServerHttpClient({ ca, cert, key, proxy: cluster.proxyUrl });
  } catch (error) {
    throw new KubeConfigError(
      `Cannot use the TLS settings of context "${contextName}": ${firstLine(error)}`,
    );
  }
  const authCacheMs = options.authCacheMs ?? 10_000;
  let cached: { headers: Record<string, string>; atMs: number } | undefined = {
    headers: headersOf(material),
    atMs: Date.now(),
  };
  return {
    server: cluster.server.replace(/\/+$/, ""),
    namespace,
    fetch: (url, init) => fetch(url, { ...init, client }),
    async authHeaders() {
      if (cached && Date.now() - cached.atMs < authCacheMs) return cached.headers;
      const headers = headersOf(await httpsOptions(kc, contextName));
      cached = { headers, atMs: Date.now() };
      return headers;
    },
    invalidateAuth() {
      cached = undefined;
    },
    close: () => client.close(),
  };
}

/** What `applyToHTTPSOptions` fills in. */
interface HttpsMaterial {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  auth?: string;
  headers?: Record<string, unknown>;
}

async function httpsOptions(kc: KubeConfig, contextName: string): Promise<HttpsMaterial> {
  const material: HttpsMaterial = {};
  try {
    await kc.applyToHTTPSOptions(material as Parameters<KubeConfig["applyToHTTPSOptions"]>[0]);
  } catch (error) {
    throw new KubeConfigError(
      `Cannot get credentials of context "${contextName}": ${firstLine(error)}`,
    );
  }
  return material;
}

function headersOf(material: HttpsMaterial): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(material.headers ?? {})) {
    if (typeof value === "string" || typeof value === "number") headers[name] = String(value);
  }
  if (material.auth) headers["Authorization"] = `Basic ${btoa(material.auth)}`;
  return headers;
}

function pem(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === "string" ? value : new TextDecoder().decode(value as Uint8Array);
  return text.trim() === "" ? undefined : text;
}
