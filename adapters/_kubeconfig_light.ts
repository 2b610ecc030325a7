/**
 * A {@link KubeConnection} from a plain kubeconfig without `@kubernetes/client-node`, whose import
 * alone costs about 78 MiB of resident memory (its whole dependency tree loads to parse a YAML
 * file). "Plain": one file (an explicit path, the one existing file of `KUBECONFIG`, or
 * `~/.kube/config`), whose context's cluster has a server and a CA (inline or a file), and whose
 * user authenticates with a client certificate and key (inline or files), a token or a token file.
 * That is what kubeadm, kind, minikube and `kubectl create token` write.
 *
 * Anything else (exec plugins, auth providers, basic auth, impersonation, `insecure-skip-tls-verify`,
 * several files to merge, an unknown context, a file that does not parse) is not handled here:
 * {@link lightConnection} returns undefined and the caller loads the file with client-node, which
 * covers it all and reports mistakes in one line.
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { inClusterConnection } from "./in_cluster.ts";
import {
  apiServerHttpClient,
  type ConnectionOptions,
  type KubeConnection,
  type LoadKubeConfigOptions,
} from "./kubeconfig.ts";

type Named<K extends string> = { name?: unknown } & { [key in K]?: Record<string, unknown> };

/** The keys of a plain user; any other key sends the file to client-node. */
const PLAIN_USER_KEYS = new Set([
  "client-certificate",
  "client-certificate-data",
  "client-key",
  "client-key-data",
  "token",
  "tokenFile",
]);
/** The keys of a plain cluster. */
const PLAIN_CLUSTER_KEYS = new Set([
  "server",
  "certificate-authority",
  "certificate-authority-data",
  "proxy-url",
  "tls-server-name",
  "extensions",
]);

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Where the configuration comes from: one kubeconfig file, the in-cluster service account (no
 * kubeconfig anywhere, as in the operator's pod), or undefined for anything else.
 */
function source(
  options: LoadKubeConfigOptions,
): { file: string } | { inCluster: string } | undefined {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const file = onlyFile(options, env);
  if (file !== undefined) return { file };
  if (options.path !== undefined || options.context !== undefined || env("KUBECONFIG")) {
    return undefined;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (home && exists(`${home}/.kube/config`)) return undefined;
  const dir = (options.inClusterRoot ?? "") + SERVICE_ACCOUNT_DIR;
  const inCluster = env("KUBERNETES_SERVICE_HOST") && env("KUBERNETES_SERVICE_PORT") &&
    exists(`${dir}/token`) && exists(`${dir}/ca.crt`);
  return inCluster ? { inCluster: dir } : undefined;
}

/** The one kubeconfig file to read, or undefined when it is not one plain file. */
function onlyFile(
  options: LoadKubeConfigOptions,
  env: (name: string) => string | undefined,
): string | undefined {
  if (options.path !== undefined) return exists(options.path) ? options.path : undefined;
  const list = env("KUBECONFIG");
  if (list !== undefined && list !== "") {
    const existing = list.split(":").filter((f) => f !== "" && exists(f));
    return existing.length === 1 ? existing[0] : undefined;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  const fallback = home ? `${home}/.kube/config` : undefined;
  return fallback && exists(fallback) ? fallback : undefined;
}

function entry<K extends string>(
  list: unknown,
  name: unknown,
  key: K,
): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const found = (list as Named<K>[]).filter((e) => e?.name === name);
  if (found.length !== 1) return undefined;
  const value = found[0]![key];
  return typeof value === "object" && value !== null ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The connection of a plain kubeconfig, or undefined when the file is not plain (the caller then
 * uses client-node). Never throws for the file's content; reading a named certificate or token
 * file that is missing also returns undefined, so that client-node reports it.
 */
export async function lightConnection(
  options: LoadKubeConfigOptions & ConnectionOptions,
): Promise<KubeConnection | undefined> {
  const from = source(options);
  if (from === undefined) return undefined;
  if ("inCluster" in from) {
    try {
      return inClusterConnection({
        directory: from.inCluster,
        ...(options.env ? { env: options.env } : {}),
      });
    } catch {
      return undefined;
    }
  }
  const file = from.file;
  let config: Record<string, unknown>;
  try {
    const source = Deno.readTextFileSync(file);
    // The full specifier lets a project outside this one import the adapter by path.
    // deno-lint-ignore no-import-prefix
    const { parse } = await import("npm:yaml@2.9.1");
    const parsed = parse(source, { maxAliasCount: 100 });
    if (typeof parsed !== "object" || parsed === null) return undefined;
    config = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const contextName = options.context ?? text(config["current-context"]);
  if (contextName === undefined) return undefined;
  const context = entry(config.contexts, contextName, "context");
  if (!context) return undefined;
  const cluster = entry(config.clusters, context.cluster, "cluster");
  const user = entry(config.users, context.user, "user") ?? {};
  if (!cluster || Object.keys(cluster).some((k) => !PLAIN_CLUSTER_KEYS.has(k))) return undefined;
  if (Object.keys(user).some((k) => !PLAIN_USER_KEYS.has(k))) return undefined;
  const server = text(cluster.server);
  if (server === undefined || !/^https?:\/\//.test(server)) return undefined;
  const base = dirname(file);
  const path = (p: string) => isAbsolute(p) ? p : join(base, p);
  const material = (dataKey: string, fileKey: string, from: Record<string, unknown>) => {
    const data = text(from[dataKey]);
    if (data !== undefined) return new TextDecoder().decode(decodeBase64(data));
    const named = text(from[fileKey]);
    return named === undefined ? undefined : Deno.readTextFileSync(path(named));
  };
  let ca: string | undefined;
  let cert: string | undefined;
  let key: string | undefined;
  try {
    ca = material("certificate-authority-data", "certificate-authority", cluster);
    cert = material("client-certificate-data", "client-certificate", user);
    key = material("client-key-data", "client-key", user);
  } catch {
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) return undefined;
  const tokenFile = text(user.tokenFile);
  const token = text(user.token);
  const readToken = (): string | undefined =>
    token ?? (tokenFile === undefined ? undefined : Deno.readTextFileSync(path(tokenFile)).trim());
  try {
    readToken();
  } catch {
    return undefined;
  }
  let client: Deno.HttpClient;
  try {
    client = apiServerHttpClient({ ca, cert, key, proxy: text(cluster["proxy-url"]) });
  } catch {
    return undefined;
  }
  const authCacheMs = options.authCacheMs ?? 10_000;
  let cached: { headers: Record<string, string>; atMs: number } | undefined;
  return {
    server: server.replace(/\/+$/, ""),
    namespace: text(context.namespace) ?? "default",
    fetch: (url, init) => fetch(url, { ...init, client }),
    authHeaders() {
      if (cached === undefined || Date.now() - cached.atMs >= authCacheMs) {
        const bearer = readToken();
        cached = {
          headers: bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` },
          atMs: Date.now(),
        };
      }
      return Promise.resolve(cached.headers);
    },
    invalidateAuth() {
      cached = undefined;
    },
    close: () => client.close(),
  };
}

function decodeBase64(data: string): Uint8Array {
  const binary = atob(data.replace(/\s+/g, ""));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
