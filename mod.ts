/**
 * A simulation-first controller library for Kubernetes: the pure core and the runtime.
 *
 * A controller is a pure {@link Reconciler}: observed state in, {@link Action}s out. One
 * {@link Controller} runtime runs it in either world: a real API server (the `./kube` entry point)
 * or the deterministic simulated cluster (the `./sim` entry point), where a seed fixes every
 * interleaving. Nothing here loads `@kubernetes/client-node`.
 *
 * The entry points, by purpose:
 * - `mod.ts` (this one): objects, the cluster port, actions, reconcilers, conditions, the
 *   controller runtime, leader election, metrics and health;
 * - `sim/mod.ts`: the simulated cluster, fault injection, the harness and its checkers;
 * - `adapters/mod.ts`: the real-cluster adapter (kubeconfig, `KubeClusterClient`, system clock);
 * - `postgres.ts`: the PostgreSQL operator built on all three.
 *
 * @example A controller that keeps one ConfigMap per Namespace, converging in the simulation
 * ```ts
 * import { Controller, type Reconciler } from "./mod.ts";
 * import { SimCluster } from "./sim/mod.ts";
 *
 * const reconciler: Reconciler = {
 *   name: "hello",
 *   for: { apiVersion: "v1", kind: "Namespace" },
 *   owns: [{ apiVersion: "v1", kind: "ConfigMap" }],
 *   reconcile: ({ object, owned }) => ({
 *     actions: owned.length > 0 ? [] : [{
 *       kind: "apply",
 *       reason: "missing",
 *       object: {
 *         apiVersion: "v1",
 *         kind: "ConfigMap",
 *         metadata: {
 *           name: "hello",
 *           namespace: object.metadata.name,
 *           ownerReferences: [{
 *             apiVersion: "v1",
 *             kind: "Namespace",
 *             name: object.metadata.name,
 *             uid: object.metadata.uid!,
 *             controller: true,
 *           }],
 *         },
 *         data: { greeting: `hello, ${object.metadata.name}` },
 *       },
 *     }],
 *   }),
 * };
 *
 * const cluster = new SimCluster({ seed: 7 });
 * const controller = new Controller(cluster.client(), reconciler, {
 *   clock: cluster.clock,
 *   random: cluster.random.fork(),
 * });
 * void controller.start();
 * await cluster.run({ maxVirtualMs: 60_000 });
 * const hellos = cluster.objects().filter((o) => o.kind === "ConfigMap" && o.metadata.name === "hello");
 * const namespaces = cluster.objects().filter((o) => o.kind === "Namespace");
 * if (hellos.length !== namespaces.length) throw new Error("not converged");
 * await controller.stop();
 * ```
 *
 * @module
 */

export * from "./core/object.ts";
export * from "./core/cluster.ts";
export * from "./core/clock.ts";
export * from "./core/actions.ts";
export * from "./core/reconciler.ts";
export * from "./core/compare.ts";
export * from "./core/conditions.ts";
export * from "./core/quantity.ts";
export * from "./core/finalizer.ts";
export * from "./core/status.ts";
export * from "./core/owned.ts";
export * from "./core/crd.ts";
export * from "./runtime/controller.ts";
export * from "./runtime/informer.ts";
export * from "./runtime/queue.ts";
export * from "./runtime/executor.ts";
export * from "./runtime/log.ts";
export * from "./runtime/leader_election.ts";
export * from "./runtime/manager.ts";
export * from "./runtime/agent_round.ts";
export * from "./runtime/metrics.ts";
export * from "./runtime/health_server.ts";
export * from "./runtime/event_limiter.ts";
