/**
 * `plan`: what the operator would do for these PostgresDBs, before it does it: on an empty
 * cluster, or (`--cluster`) against what the current kubeconfig's cluster holds now. Nothing is
 * written either way.
 *
 * @module
 */

import { describeAction } from "../core/actions.ts";
import { isApiError } from "../core/cluster.ts";
import { describeRef, type KubeObject, refOf } from "../core/object.ts";
import { postgresReconciler, reconcilePostgresDB } from "../core/postgres/reconcile.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import { postgresDBCrd } from "../crds/postgresdb.ts";
import { observe } from "../core/reconciler.ts";
import { SeededRandom } from "../sim/random.ts";
import { VIRTUAL_EPOCH_MS } from "../sim/clock.ts";
import { cryptoRandom, systemClock } from "../adapters/system.ts";
import { jsonEqual } from "../core/compare.ts";
import { fileOptions, parse } from "./_args.ts";
import { InputError, readManifests } from "./manifests.ts";
import { connect, type StartOptions } from "./start.ts";

/** The plan for one PostgresDB: a heading and the actions, one line each. */
export interface Plan {
  /** The PostgresDB, and where it was planned. */
  heading: string;
  /** One line per action, in order. */
  lines: string[];
}

/** `plan -f FILE ... [--cluster]`: prints the plans; returns the exit code. */
export async function plan(args: string[]): Promise<number> {
  const { values } = parse(args, {
    file: { type: "string", short: "f", multiple: true },
    cluster: { type: "boolean" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
  });
  const manifests = await readManifests(fileOptions(values.file, "plan"));
  const dbs = manifests.filter((o) =>
    o.apiVersion === POSTGRESDB.apiVersion && o.kind === POSTGRESDB.kind
  );
  if (dbs.length === 0) throw new InputError("plan found no PostgresDB in the files");
  const options: StartOptions = {};
  if (typeof values.kubeconfig === "string") options.kubeconfig = values.kubeconfig;
  if (typeof values.context === "string") options.context = values.context;
  const plans = values.cluster ? await planAgainstCluster(dbs, options) : planOnEmptyCluster(dbs);
  console.log(
    plans.map((p) => [p.heading, ...p.lines.map((l) => `  - ${l}`)].join("\n")).join("\n\n"),
  );
  return 0;
}

/**
 * Plans each PostgresDB as if the cluster were empty: on the virtual clock's epoch and a fixed
 * seed, so that the plan of a file is always the same text.
 */
export function planOnEmptyCluster(dbs: readonly KubeObject[]): Plan[] {
  const random = new SeededRandom(1);
  return dbs.map((object) => {
    const db = structuredClone(object) as PostgresDB;
    db.metadata.namespace ??= "default";
    db.metadata.uid ??= `<uid of ${db.metadata.name}>`;
    db.metadata.generation ??= 1;
    const { actions } = reconcilePostgresDB(observe(db, []), { nowMs: VIRTUAL_EPOCH_MS, random });
    return {
      heading: `${describeRef(refOf(db))}: on an empty cluster the operator will`,
      // Action descriptions name objects, never their data: no password can show here.
      lines: actions.map(describeAction),
    };
  });
}

/**
 * Plans each PostgresDB against the live cluster: the stored object with the file's spec (its
 * generation bumped when the spec changes, as the API server would), and the children the cluster
 * holds now.
 */
export async function planAgainstCluster(
  dbs: readonly KubeObject[],
  options: StartOptions,
): Promise<Plan[]> {
  const client = await connect(options);
  try {
    const plans: Plan[] = [];
    for (const object of dbs) {
      const namespace = object.metadata.namespace ?? client.defaultNamespace;
      const stored = await client.get(POSTGRESDB, object.metadata.name, namespace).catch((e) => {
        if (isApiError(e, "NotFound")) return undefined;
        throw e;
      }) as PostgresDB | undefined;
      const db = structuredClone(stored ?? object) as PostgresDB;
      db.metadata.namespace = namespace;
      db.metadata.uid ??= `<uid of ${db.metadata.name}>`;
      const generation = db.metadata.generation ?? 0;
      if (!stored) db.metadata.generation = 1;
      else if (!jsonEqual(stored.spec, withSchemaDefaults(object.spec))) {
        db.spec = withSchemaDefaults(object.spec) as NonNullable<PostgresDB["spec"]>;
        db.metadata.generation = generation + 1;
      }
      const others: KubeObject[] = [];
      // What the operator's caches hold: the kinds it owns and the ones it watches (its pods).
      const kinds = [
        ...postgresReconciler.owns,
        ...(postgresReconciler.watches ?? []).map((w) => w.type),
      ];
      const seen = new Set<string>();
      for (const type of kinds) {
        const key = `${type.apiVersion}/${type.kind}`;
        if (seen.has(key)) continue;
        seen.add(key);
        others.push(...(await client.list(type, { namespace })).items);
      }
      // The real clock and random source: a password in a plan is never the one created later.
      const { actions } = reconcilePostgresDB(observe(db, others), {
        nowMs: systemClock.nowMs(),
        random: cryptoRandom,
      });
      const where = stored ? "in the cluster now" : "not yet in the cluster";
      plans.push({
        heading: `${describeRef(refOf(db))} (${where}): the operator will ${
          actions.length === 0 ? "do nothing: the cluster already matches" : ""
        }`.trimEnd(),
        lines: actions.map(describeAction),
      });
    }
    return plans;
  } finally {
    client.close();
  }
}

/** The spec as the API server stores it: the CRD schema's defaults filled in. */
function withSchemaDefaults(spec: unknown): Record<string, unknown> {
  const copy = structuredClone(spec ?? {}) as Record<string, unknown>;
  // deno-lint-ignore no-explicit-any
  const crd = postgresDBCrd as any;
  const schema = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  fillDefaults(schema, copy);
  return copy;
}

/** Sets each missing property that has a `default` in `schema`, at every depth present in `value`. */
function fillDefaults(
  schema: { properties?: Record<string, { default?: unknown; properties?: unknown }> },
  value: Record<string, unknown>,
): void {
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && property.default !== undefined) {
      value[key] = structuredClone(property.default);
    }
    const child = value[key];
    if (
      property.properties && typeof child === "object" && child !== null && !Array.isArray(child)
    ) {
      fillDefaults(property as never, child as Record<string, unknown>);
    }
  }
}
