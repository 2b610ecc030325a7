/**
 * Test support: an in-memory API server for Leases (and one PostgresDB), enough for the agent's
 * Lease keeper: `get`, `create` (AlreadyExists), `update` conditional on `resourceVersion`
 * (Conflict), and a switch that makes every request fail as an unreachable server does.
 *
 * @module
 */

import { ApiError, type ClusterClient } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";

/** The fake server and its client. */
export class FakeLeaseServer {
  /** Stored objects by `kind/namespace/name`. */
  readonly objects = new Map<string, KubeObject>();
  /** While true, every request fails (the API server cannot be reached). */
  unreachable = false;
  /** Requests made, as `verb kind/name`. */
  readonly requests: string[] = [];
  #version = 0;

  /** The client. */
  client(): ClusterClient {
    const key = (kind: string, namespace: string | undefined, name: string) =>
      `${kind}/${namespace ?? "default"}/${name}`;
    const check = (what: string) => {
      this.requests.push(what);
      if (this.unreachable) throw new TypeError("error sending request: connection refused");
    };
    const copy = (o: KubeObject) => JSON.parse(JSON.stringify(o)) as KubeObject;
    const unsupported = () => Promise.reject(new Error("not supported by the fake"));
    return {
      get: (type, name, namespace) => {
        check(`get ${type.kind}/${name}`);
        const found = this.objects.get(key(type.kind, namespace, name));
        if (found === undefined) {
          return Promise.reject(new ApiError("NotFound", `${type.kind} "${name}" not found`));
        }
        return Promise.resolve(copy(found));
      },
      create: (object) => {
        check(`create ${object.kind}/${object.metadata.name}`);
        const k = key(object.kind, object.metadata.namespace, object.metadata.name);
        if (this.objects.has(k)) {
          return Promise.reject(new ApiError("AlreadyExists", `"${object.metadata.name}" exists`));
        }
        const stored = copy(object);
        stored.metadata.resourceVersion = String(++this.#version);
        this.objects.set(k, stored);
        return Promise.resolve(copy(stored));
      },
      update: (object) => {
        check(`update ${object.kind}/${object.metadata.name}`);
        const k = key(object.kind, object.metadata.namespace, object.metadata.name);
        const found = this.objects.get(k);
        if (found === undefined) return Promise.reject(new ApiError("NotFound", "not found"));
        const rv = object.metadata.resourceVersion;
        if (rv !== undefined && rv !== found.metadata.resourceVersion) {
          return Promise.reject(new ApiError("Conflict", "the object has been modified"));
        }
        const stored = copy(object);
        stored.metadata.resourceVersion = String(++this.#version);
        this.objects.set(k, stored);
        return Promise.resolve(copy(stored));
      },
      list: unsupported,
      watch: unsupported,
      apply: unsupported,
      patchStatus: unsupported,
      delete: unsupported,
      createEvent: unsupported,
    };
  }

  /** The stored Lease `name`, if any. */
  lease(name: string, namespace = "default"): KubeObject | undefined {
    return this.objects.get(`Lease/${namespace}/${name}`);
  }
}

/** A PostgresDB naming `target` as its target primary. */
export function postgresDB(target: string, name = "db", uid = "uid-db"): KubeObject {
  return {
    apiVersion: "database.thegeekyway.com/v1alpha1",
    kind: "PostgresDB",
    metadata: { name, namespace: "default", uid },
    status: { targetPrimary: target, primaryTerm: 1 },
  } as KubeObject;
}
