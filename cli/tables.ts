/**
 * kubectl-style tables of objects: the columns `kubectl get` prints, never a Secret's values.
 *
 * @module
 */

import { fromTimestamp } from "../core/clock.ts";
import type { KubeObject } from "../core/object.ts";

/** A column: its header and how to read a cell. */
interface Column {
  header: string;
  cell(object: KubeObject, nowMs: number): string;
}

// deno-lint-ignore no-explicit-any
type Any = any;

const AGE: Column = { header: "AGE", cell: (o, now) => formatAge(o, now) };

const TABLES: Record<string, { title: string; columns: Column[] }> = {
  PostgresDB: {
    title: "postgresdbs",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      { header: "VERSION", cell: (o) => text((o as Any).spec?.version) },
      { header: "REPLICAS", cell: (o) => text((o as Any).spec?.replicas) },
      { header: "PHASE", cell: (o) => text((o as Any).status?.phase) },
      { header: "READY", cell: (o) => text((o as Any).status?.ready) },
      { header: "PRIMARY", cell: (o) => text((o as Any).status?.currentPrimary) },
      { header: "STREAMING", cell: (o) => text((o as Any).status?.streamingStandbys) },
      AGE,
    ],
  },
  StatefulSet: {
    title: "statefulsets",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      {
        header: "READY",
        cell: (o: Any) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
      },
      AGE,
    ],
  },
  Service: {
    title: "services",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      { header: "TYPE", cell: (o: Any) => text(o.spec?.type ?? "ClusterIP") },
      { header: "CLUSTER-IP", cell: (o: Any) => text(o.spec?.clusterIP) },
      { header: "EXTERNAL-IP", cell: () => "<none>" },
      {
        header: "PORT(S)",
        cell: (o: Any) =>
          (o.spec?.ports ?? []).map((p: Any) => `${p.port}/${p.protocol ?? "TCP"}`).join(",") ||
          "<none>",
      },
      AGE,
    ],
  },
  PersistentVolumeClaim: {
    title: "persistentvolumeclaims",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      { header: "STATUS", cell: (o: Any) => text(o.status?.phase ?? "Pending") },
      { header: "VOLUME", cell: (o: Any) => text(o.spec?.volumeName) },
      { header: "CAPACITY", cell: (o: Any) => text(o.status?.capacity?.storage) },
      { header: "ACCESS MODES", cell: (o: Any) => accessModes(o.status?.accessModes) },
      AGE,
    ],
  },
  Secret: {
    title: "secrets",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      { header: "TYPE", cell: (o: Any) => text(o.type ?? "Opaque") },
      { header: "DATA", cell: (o: Any) => String(Object.keys(o.data ?? {}).length) },
      AGE,
    ],
  },
  Pod: {
    title: "pods",
    columns: [
      { header: "NAME", cell: (o) => o.metadata.name },
      { header: "READY", cell: (o: Any) => podReady(o) },
      { header: "STATUS", cell: (o: Any) => text(o.status?.phase ?? "Pending") },
      {
        header: "RESTARTS",
        cell: (o: Any) => String(o.status?.containerStatuses?.[0]?.restartCount ?? 0),
      },
      AGE,
    ],
  },
};

/** The kinds `demo` prints, in order. */
export const DEMO_KINDS = [
  "PostgresDB",
  "StatefulSet",
  "Service",
  "PersistentVolumeClaim",
  "Secret",
];

/** Renders the table of one kind with a `$ kubectl get <plural>` line above it. */
export function renderTable(kind: string, objects: readonly KubeObject[], nowMs: number): string {
  const table = TABLES[kind];
  if (!table) throw new RangeError(`No table for kind ${JSON.stringify(kind)}`);
  const rows = objects.filter((o) => o.kind === kind).map((o) =>
    table.columns.map((c) => c.cell(o, nowMs))
  );
  const lines = [`$ kubectl get ${table.title}`];
  if (rows.length === 0) return [...lines, "No resources found in default namespace."].join("\n");
  const headers = table.columns.map((c) => c.header);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [headers, ...rows]) {
    lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join("   ").trimEnd());
  }
  return lines.join("\n");
}

/** Renders Events as `kubectl get events` prints them. */
export function renderEvents(events: readonly KubeObject[], nowMs: number): string {
  const sorted = [...events].sort((a: Any, b: Any) =>
    String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)) ||
    String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) ||
    Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)
  );
  const rows = sorted.map((e: Any) => [
    formatDuration(nowMs - fromTimestamp(e.lastTimestamp ?? e.metadata.creationTimestamp)),
    text(e.type),
    text(e.reason),
    `${String(e.involvedObject?.kind ?? "").toLowerCase()}/${e.involvedObject?.name ?? ""}`,
    text(e.message),
  ]);
  const headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = ["$ kubectl get events"];
  for (const row of [headers, ...rows]) {
    lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join("   ").trimEnd());
  }
  return lines.join("\n");
}

/** kubectl's short duration format: 30s, 2m5s, 5m, 3h, 2d. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function formatAge(object: KubeObject, nowMs: number): string {
  const created = object.metadata.creationTimestamp;
  return created ? formatDuration(nowMs - fromTimestamp(created)) : "<unknown>";
}

function text(value: unknown): string {
  return value === undefined || value === null || value === "" ? "<none>" : String(value);
}

function accessModes(modes: unknown): string {
  const short: Record<string, string> = {
    ReadWriteOnce: "RWO",
    ReadOnlyMany: "ROX",
    ReadWriteMany: "RWX",
    ReadWriteOncePod: "RWOP",
  };
  return Array.isArray(modes) ? modes.map((m) => short[m] ?? m).join(",") : "<none>";
}

function podReady(pod: Any): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  return `${statuses.filter((s: Any) => s.ready).length}/${total}`;
}
