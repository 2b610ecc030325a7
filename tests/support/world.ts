/**
 * A simulated cluster with the operator running, and small helpers to read it, for scenario tests.
 *
 * @module
 */

import type { KubeObject } from "../../core/object.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import {
  type OperatorWorld,
  type SimulateOptions,
  startOperatorWorld,
} from "../../cli/simulate.ts";
import { parseManifests } from "../../cli/manifests.ts";

/** A world plus readers. */
export interface TestWorld extends OperatorWorld {
  /** Runs until the cluster rests; fails the test if it does not within `maxVirtualMs`. */
  converge(maxVirtualMs?: number): Promise<void>;
  /** Reads one object, or undefined. */
  find(kind: string, name: string, namespace?: string): KubeObject | undefined;
  /** Reads one PostgresDB; fails when absent. */
  db(name: string): PostgresDB;
  /** Names of the objects of a kind, sorted. */
  names(kind: string): string[];
  /** Applies YAML text as the user. */
  applyYaml(text: string): Promise<void>;
  /** Deletes an object as the user. */
  remove(kind: string, apiVersion: string, name: string, namespace?: string): Promise<void>;
}

/** Starts a world with the operator on seed `seed`. */
export async function world(
  seed = 1,
  cluster?: SimulateOptions["cluster"],
): Promise<TestWorld> {
  const base = await startOperatorWorld(cluster === undefined ? { seed } : { seed, cluster });
  const user = base.cluster.client({ name: "test-user" });
  const find = (kind: string, name: string, namespace = "default") =>
    base.cluster.objects().find((o) =>
      o.kind === kind && o.metadata.name === name &&
      (o.metadata.namespace ?? "default") === namespace
    );
  const self: TestWorld = {
    ...base,
    async converge(maxVirtualMs = 600_000) {
      const result = await base.cluster.run({ maxVirtualMs });
      if (!result.quiescent || !base.controller.idle) {
        throw new Error(`Not converged within ${maxVirtualMs}ms of virtual time (seed ${seed})`);
      }
    },
    find,
    db(name) {
      const found = find("PostgresDB", name);
      if (!found) throw new Error(`No PostgresDB ${name}`);
      return found as PostgresDB;
    },
    names(kind) {
      return base.cluster.objects().filter((o) => o.kind === kind).map((o) => o.metadata.name)
        .sort();
    },
    async applyYaml(text) {
      await base.apply(parseManifests(text, "test"));
    },
    async remove(kind, apiVersion, name, namespace = "default") {
      await base.cluster.request(user.delete({ apiVersion, kind }, name, namespace), {
        maxVirtualMs: 60_000,
      });
    },
  };
  return self;
}

/** The tutorial's sample with overrides, as YAML. */
export function sampleYaml(
  overrides: {
    name?: string;
    version?: string;
    storage?: string;
    replicas?: unknown;
    databaseName?: string | undefined;
    deletionPolicy?: string;
    synchronous?: unknown;
    failoverDelay?: number;
    majorUpgrade?: string;
  } = {},
): string {
  const spec = {
    version: "16",
    storage: "1Gi",
    replicas: 1,
    databaseName: "myapp",
    ...overrides,
  } as Record<string, unknown>;
  delete spec.name;
  const lines = Object.entries(spec).filter(([, v]) => v !== undefined).map(([k, v]) =>
    `  ${k}: ${JSON.stringify(v)}`
  );
  return `apiVersion: database.thegeekyway.com/v1alpha1
kind: PostgresDB
metadata:
  name: ${overrides.name ?? "my-postgres"}
  namespace: default
spec:
${lines.join("\n")}
`;
}
