/**
 * The world a conformance case runs in, and the two ways to build it: on a fresh simulated
 * cluster (virtual time) and on a real kube-apiserver (real time). A case sees only this
 * interface, so the same case checks both implementations through the same cluster port.
 *
 * @module
 */

import type {
  ApplyOptions,
  ClusterClient,
  DeleteOptions,
  ListOptions,
  ListResult,
  WatchHandle,
  WatchOptions,
} from "../../core/cluster.ts";
import type { KubeObject, TypeRef } from "../../core/object.ts";
import { KubeClusterClient } from "../../adapters/kube_client.ts";
import { settle } from "../../sim/clock.ts";
import { SimCluster } from "../../sim/cluster.ts";

/** Which implementation of the API semantics a case runs against. */
export type EnvKind = "sim" | "real";

/** What a conformance case can use. */
export interface ConformanceEnv {
  /** "sim" for the simulated cluster, "real" for a kube-apiserver. */
  readonly kind: EnvKind;
  /**
   * The cluster port. Every call is already driven: on the simulated cluster each call runs
   * virtual time until it is answered, so a case simply awaits it. Calls must not overlap.
   */
  readonly client: ClusterClient;
  /** A namespace of this case alone, created before the case runs. */
  readonly namespace: string;
  /** Awaits `promise`, running virtual time meanwhile on the simulated cluster. */
  await<T>(promise: Promise<T>): Promise<T>;
  /**
   * Polls `check` until it returns something other than `undefined`, for at most `timeoutMs`
   * (virtual time on the simulated cluster, real time otherwise); then fails naming `what`.
   */
  waitFor<T>(
    what: string,
    check: () => T | undefined | Promise<T | undefined>,
    timeoutMs?: number,
  ): Promise<T>;
}

/** The default bound of {@link ConformanceEnv.waitFor}. */
export const WAIT_TIMEOUT_MS = 30_000;
/** How often {@link ConformanceEnv.waitFor} polls. */
const POLL_MS = 100;
/**
 * The watch history of the simulated cluster the suite runs on, in changes. The log keeps at least
 * this many and trims itself when it holds twice as many, so a case that needs a 410 Gone writes
 * more than twice this many changes.
 */
export const SIM_WATCH_HISTORY_EVENTS = 20;
/** The most virtual time one call may take on the simulated cluster before the case fails. */
const SIM_CALL_BOUND_MS = 60_000;

/** A {@link ClusterClient} whose every call goes through `drive`. */
function drivenClient(
  inner: ClusterClient,
  drive: <T>(promise: Promise<T>) => Promise<T>,
): ClusterClient {
  return {
    get: (type: TypeRef, name: string, namespace?: string) =>
      drive(inner.get(type, name, namespace)),
    list: (type: TypeRef, options?: ListOptions): Promise<ListResult> =>
      drive(inner.list(type, options)),
    watch: (type: TypeRef, options: WatchOptions): Promise<WatchHandle> =>
      drive(inner.watch(type, options)),
    create: (object: KubeObject) => drive(inner.create(object)),
    update: (object: KubeObject) => drive(inner.update(object)),
    apply: (object: KubeObject, options: ApplyOptions) => drive(inner.apply(object, options)),
    patchStatus: (ref, status, options) => drive(inner.patchStatus(ref, status, options)),
    delete: (type: TypeRef, name: string, namespace: string | undefined, options?: DeleteOptions) =>
      drive(inner.delete(type, name, namespace, options)),
    createEvent: (event: KubeObject) => drive(inner.createEvent(event)),
  };
}

const NAMESPACE: TypeRef = { apiVersion: "v1", kind: "Namespace" };

/** An environment on the simulated cluster `cluster`, in namespace `namespace`. */
export function simEnv(cluster: SimCluster, namespace: string): ConformanceEnv {
  const drive = <T>(promise: Promise<T>): Promise<T> =>
    cluster.request(promise, { maxVirtualMs: SIM_CALL_BOUND_MS });
  /** Runs every timer due within `ms` of virtual time, then moves the clock to its end. */
  const advance = async (ms: number): Promise<void> => {
    const target = cluster.clock.nowMs() + ms;
    for (;;) {
      await settle();
      const due = cluster.clock.nextDueMs();
      if (due === undefined || due > target) break;
      cluster.clock.runNext();
    }
    cluster.clock.advanceTo(target);
    await settle();
  };
  const client = drivenClient(cluster.client({ name: "conformance" }), drive);
  return {
    kind: "sim",
    client,
    namespace,
    await: drive,
    async waitFor(what, check, timeoutMs = WAIT_TIMEOUT_MS) {
      const deadline = cluster.clock.nowMs() + timeoutMs;
      for (;;) {
        // The check's own calls are driven by the client; driving them again would nest runs.
        const value = await check();
        if (value !== undefined) return value;
        if (cluster.clock.nowMs() >= deadline) {
          throw new Error(`Timed out after ${timeoutMs}ms (virtual) waiting for ${what}`);
        }
        await advance(POLL_MS);
      }
    },
  };
}

/** A fresh simulated cluster with the case's namespace created, and its environment. */
export async function freshSimEnv(namespace = "conformance"): Promise<ConformanceEnv> {
  const cluster = new SimCluster({ seed: 1, watchHistoryEvents: SIM_WATCH_HISTORY_EVENTS });
  const env = simEnv(cluster, namespace);
  await env.client.create({ ...NAMESPACE, metadata: { name: namespace } });
  return env;
}

/** An environment on a real API server through `client`, in namespace `namespace`. */
export function realEnv(client: ClusterClient, namespace: string): ConformanceEnv {
  return {
    kind: "real",
    client,
    namespace,
    await: (promise) => promise,
    async waitFor(what, check, timeoutMs = WAIT_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() >= deadline) {
          throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  };
}

/**
 * Connects to the API server of `kubeconfig`, creates `namespace`, runs `body` in it, then deletes
 * the namespace (without waiting for it to go) and closes the client.
 */
export async function withRealEnv(
  kubeconfig: string,
  namespace: string,
  body: (env: ConformanceEnv) => Promise<void>,
): Promise<void> {
  const client = await KubeClusterClient.connect({ path: kubeconfig, requestTimeoutMs: 20_000 });
  try {
    await client.create({ ...NAMESPACE, metadata: { name: namespace } });
    try {
      await body(realEnv(client, namespace));
    } finally {
      await client.delete(NAMESPACE, namespace, undefined).catch(() => {});
    }
  } finally {
    client.close();
  }
}
