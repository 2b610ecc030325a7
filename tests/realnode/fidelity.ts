/**
 * Fidelity of the simulated cluster, measured against the real node: the same scenario (the
 * tutorial's sample, applied and run to Ready) in both worlds, written once against the cluster
 * port, and two things compared: the shapes of the objects (the set of field paths each kind has,
 * as read back from the server) and the sequence of the PostgresDB's status conditions.
 *
 * @module
 */

import type { ClusterClient } from "../../core/cluster.ts";
import type { KubeObject } from "../../core/object.ts";
import { POSTGRESDB, PVC, SECRET, SERVICE, STATEFULSET } from "../../core/postgres/types.ts";

/** The kinds compared, with their type references. */
export const COMPARED_KINDS = [
  POSTGRESDB,
  SECRET,
  SERVICE,
  STATEFULSET,
  PVC,
  { apiVersion: "v1", kind: "Pod" },
] as const;

/** What one world showed. */
export interface WorldRecord {
  /** Field paths per kind: `spec.template.spec.containers[].image`. */
  shapes: Record<string, string[]>;
  /** Each distinct state of the PostgresDB's conditions, in order: `Ready=False/Creating`. */
  conditions: string[];
}

/**
 * Field paths of an object: objects descend by key, arrays by `[]` (every element merged), and a
 * map whose keys are data rather than fields (labels, annotations, a Secret's data) stops at its
 * own path.
 */
export function shapeOf(object: unknown, prefix = "", into = new Set<string>()): Set<string> {
  if (OPAQUE_MAPS.some((suffix) => prefix === suffix || prefix.endsWith(`.${suffix}`))) {
    into.add(prefix);
    return into;
  }
  if (Array.isArray(object)) {
    if (object.length === 0) into.add(`${prefix}[]`);
    for (const item of object) shapeOf(item, `${prefix}[]`, into);
    return into;
  }
  if (object !== null && typeof object === "object") {
    for (const [key, value] of Object.entries(object)) {
      shapeOf(value, prefix === "" ? key : `${prefix}.${key}`, into);
    }
    return into;
  }
  into.add(prefix);
  return into;
}

const OPAQUE_MAPS = [
  "labels",
  "annotations",
  "data",
  "stringData",
  "matchLabels",
  "selector",
  "nodeSelector",
  "capacity",
  "allocatable",
  "requests",
  "limits",
  "managedFields",
];

/** One condition state: `Ready=True/Running` for each condition, sorted by type. */
export function conditionState(db: KubeObject): string | undefined {
  const status =
    (db as { status?: { conditions?: { type: string; status: string; reason?: string }[] } })
      .status;
  const conditions = status?.conditions;
  if (!conditions || conditions.length === 0) return undefined;
  return [...conditions].sort((a, b) => a.type.localeCompare(b.type))
    .map((c) => `${c.type}=${c.status}/${c.reason ?? ""}`).join(" ");
}

/**
 * Watches the PostgresDBs of a namespace through the port and records each distinct condition
 * state of `name`, in order. Returns a function that stops and returns the states.
 */
export async function recordConditions(
  client: ClusterClient,
  namespace: string,
  name: string,
): Promise<() => string[]> {
  const states: string[] = [];
  const listed = await client.list(POSTGRESDB, { namespace });
  const note = (object: KubeObject) => {
    if (object.metadata.name !== name) return;
    const state = conditionState(object);
    if (state !== undefined && states.at(-1) !== state) states.push(state);
  };
  for (const item of listed.items) note(item);
  const handle = await client.watch(POSTGRESDB, {
    namespace,
    resourceVersion: listed.resourceVersion,
    onEvent(event) {
      if (event.type === "ADDED" || event.type === "MODIFIED") note(event.object);
    },
    onDone() {},
  });
  return () => {
    handle.stop();
    return states;
  };
}

/** The shapes of every object of the compared kinds in a namespace. */
export async function recordShapes(
  client: ClusterClient,
  namespace: string,
): Promise<Record<string, string[]>> {
  const shapes: Record<string, string[]> = {};
  for (const type of COMPARED_KINDS) {
    const { items } = await client.list(type, { namespace });
    const paths = new Set<string>();
    for (const item of items) shapeOf(item, "", paths);
    shapes[type.kind] = [...paths].sort();
  }
  return shapes;
}

/** The differences between two worlds' shapes: `Kind: +path` (only real) or `Kind: -path`. */
export function shapeDifferences(real: WorldRecord, sim: WorldRecord): string[] {
  const out: string[] = [];
  for (const kind of Object.keys(real.shapes)) {
    const r = new Set(real.shapes[kind]);
    const s = new Set(sim.shapes[kind] ?? []);
    for (const path of r) if (!s.has(path)) out.push(`${kind}: +${path}`);
    for (const path of s) if (!r.has(path)) out.push(`${kind}: -${path}`);
  }
  return out.sort();
}
