/**
 * Helpers shared by the sim tests: a bare server on a virtual clock, a synchronous drain of the
 * clock, and small object builders.
 *
 * @module
 */

import type { KubeObject, TypeRef } from "../core/object.ts";
import { SimApiServer, type SimApiServerOptions } from "./api_server.ts";
import { VirtualClock } from "./clock.ts";
import { SeededRandom } from "./random.ts";

/** ConfigMap type. */
export const CONFIG_MAP: TypeRef = { apiVersion: "v1", kind: "ConfigMap" };
/** Secret type. */
export const SECRET: TypeRef = { apiVersion: "v1", kind: "Secret" };
/** Service type. */
export const SERVICE: TypeRef = { apiVersion: "v1", kind: "Service" };
/** Pod type. */
export const POD: TypeRef = { apiVersion: "v1", kind: "Pod" };
/** PersistentVolumeClaim type. */
export const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };
/** Namespace type. */
export const NAMESPACE: TypeRef = { apiVersion: "v1", kind: "Namespace" };
/** StatefulSet type. */
export const STATEFUL_SET: TypeRef = { apiVersion: "apps/v1", kind: "StatefulSet" };

/** A server on a fresh virtual clock with seed 1. */
export function newServer(
  options: SimApiServerOptions = {},
): { clock: VirtualClock; server: SimApiServer } {
  const clock = new VirtualClock();
  return { clock, server: new SimApiServer(clock, new SeededRandom(1), options) };
}

/** Runs the clock until no timer is pending (no promises involved). */
export function drain(clock: VirtualClock, maxSteps = 100_000): void {
  for (let steps = 0; clock.pending > 0; steps++) {
    if (steps >= maxSteps) throw new Error(`Clock did not settle after ${maxSteps} steps`);
    clock.runNext();
  }
}

/** A ConfigMap in `default`. */
export function configMap(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" }, data };
}

/** A StatefulSet `web`-like object with one claim template `data`. */
export function statefulSet(
  name: string,
  spec: Record<string, unknown> = {},
  namespace = "default",
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace },
    spec: {
      replicas: 3,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image: "postgres:16" }] },
      },
      volumeClaimTemplates: [{
        metadata: { name: "data" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      }],
      ...spec,
    },
  };
}
