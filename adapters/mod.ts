/**
 * The real-cluster world: a {@link KubeClusterClient} that implements the cluster port against a
 * Kubernetes API server through `@kubernetes/client-node` 1.4 (HTTP/1.1, its own watch with an
 * inactivity watchdog), the kubeconfig loading it needs, and the system clock and randomness.
 *
 * @example Run a controller against the cluster of the current kubeconfig context
 * ```ts ignore
 * import { Controller } from "../mod.ts";
 * import { cryptoRandom, KubeClusterClient, systemClock } from "./mod.ts";
 *
 * const client = await KubeClusterClient.connect(); // KUBECONFIG, ~/.kube/config or in-cluster
 * const controller = new Controller(client, myReconciler, {
 *   clock: systemClock,
 *   random: cryptoRandom,
 * });
 * await controller.start();
 * ```
 *
 * @module
 */

export {
  type ConnectOptions,
  type KubeClientStats,
  KubeClusterClient,
  type KubeClusterClientOptions,
  type KubeVerb,
  labelSelector,
} from "./kube_client.ts";
export {
  connectionFromKubeConfig,
  type ConnectionOptions,
  KubeConfigError,
  type KubeConnection,
  loadKubeConfig,
  type LoadKubeConfigOptions,
} from "./kubeconfig.ts";
export { cryptoRandom, systemClock } from "./system.ts";
