/**
 * A {@link KubeConnection} from a pod's service account, without `@kubernetes/client-node`: the
 * token file, the CA and `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, as client-go's
 * `rest.InClusterConfig` reads them. The token is read again every `tokenReloadMs` (kubelet
 * rotates projected tokens) and after a 401. Only the service account's CA is trusted.
 *
 * Use it with `KubeClusterClient`: `new KubeClusterClient(inClusterConnection())`.
 *
 * @module
 */

import { apiServerHttpClient, KubeConfigError, type KubeConnection } from "./kubeconfig.ts";
export type { KubeConnection } from "./kubeconfig.ts";

/** Options of {@link inClusterConnection}. */
export interface InClusterOptions {
  /** The service account directory. @default "/var/run/secrets/kubernetes.io/serviceaccount" */
  directory?: string;
  /** Reads an environment variable. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** How long a read token is reused. @default 60000 */
  tokenReloadMs?: number;
}

/**
 * The in-cluster connection.
 *
 * @throws {KubeConfigError} with one line when not in a cluster or the files cannot be read
 */
export function inClusterConnection(options: InClusterOptions = {}): KubeConnection {
  const dir = options.directory ?? "/var/run/secrets/kubernetes.io/serviceaccount";
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    throw new KubeConfigError(
      "Not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
    );
  }
  const ca = readFile(`${dir}/ca.crt`);
  const readToken = () => readFile(`${dir}/token`).trim();
  let namespace = "default";
  try {
    namespace = Deno.readTextFileSync(`${dir}/namespace`).trim() || "default";
  } catch { /* no namespace file: default */ }
  readToken(); // fail now, not at the first request
  let client: Deno.HttpClient;
  try {
    client = apiServerHttpClient({ ca }); // only the service account's CA
  } catch (error) {
    throw new KubeConfigError(
      `Cannot use the CA "${dir}/ca.crt": ${error instanceof Error ? error.message : error}`,
    );
  }
  const reloadMs = options.tokenReloadMs ?? 60_000;
  let cached: { token: string; atMs: number } | undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    namespace,
    fetch: (url, init) => fetch(url, { ...init, client }),
    authHeaders() {
      if (cached === undefined || Date.now() - cached.atMs >= reloadMs) {
        cached = { token: readToken(), atMs: Date.now() };
      }
      return Promise.resolve({ Authorization: `Bearer ${cached.token}` });
    },
    invalidateAuth() {
      cached = undefined;
    },
    close: () => client.close(),
  };
}

function readFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new KubeConfigError(`Cannot read the service account's "${path}": ${why}`);
  }
}
