/**
 * Fixtures shared by unit tests: the tutorial's sample and a stand-in for what the API server
 * makes of a written object.
 *
 * @module
 */

import type { KubeObject } from "../../core/object.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { SeededRandom } from "../../sim/random.ts";

/** The tutorial's sample PostgresDB, as stored (uid, generation), with spec overrides. */
export function sample(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) {
  return {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: {
      name: "my-postgres",
      namespace: "default",
      uid: "uid-1",
      generation: 1,
      resourceVersion: "10",
      ...meta,
    },
    spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "myapp", ...spec },
  } as PostgresDB;
}

/** A seeded random source for tests. */
export function random(seed = 1): SeededRandom {
  return new SeededRandom(seed);
}

let uidCounter = 100;

/** What the API server returns for a written object: uid, version, stringData folded into data. */
export function stored(object: KubeObject, status?: Record<string, unknown>): KubeObject {
  const out = structuredClone(object);
  out.metadata.uid ??= `uid-${uidCounter++}`;
  out.metadata.resourceVersion ??= "1";
  out.metadata.generation ??= 1;
  if (out.stringData) {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(out.stringData as Record<string, string>)) {
      data[k] = btoa(v);
    }
    out.data = data;
    delete out.stringData;
  }
  if (status) out.status = status;
  return out;
}
