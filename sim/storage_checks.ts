/**
 * Storage growth's rules, as checkers for the harness: no volume ever shrinks (a claim's storage
 * request and capacity never decrease); a growth restarts no pod (the operator deletes no instance
 * pod while it re-creates the StatefulSet, and deletes a StatefulSet only by orphaning its pods);
 * and the end-state check: a growth converges (every volume and the claim template of a ready
 * PostgresDB at `spec.storage`, unless the change was refused).
 *
 * @module
 */

import { controllerOf } from "../core/object.ts";
import { parseQuantity } from "../core/quantity.ts";
import { instanceOfVolume } from "../core/postgres/labels.ts";
import { observedStorage } from "../core/postgres/statefulset.ts";
import { capacity, request } from "../core/postgres/storage.ts";
import { POSTGRESDB, type PostgresDB, STATEFULSET } from "../core/postgres/types.ts";
import { validatePostgresDB } from "../core/postgres/validate.ts";
import type { Checker, Harness } from "./harness.ts";

/** A claim's storage request and capacity never decrease, whoever writes them. */
export function volumeShrinkChecker(): Checker {
  /** Claim uid -> the largest request and capacity seen, in bytes. */
  const largest = new Map<string, { request: number; capacity: number }>();
  return {
    name: "no volume ever shrinks",
    onCommit(change) {
      const o = change.object;
      if (o.kind !== "PersistentVolumeClaim" || change.type === "DELETED") return undefined;
      const uid = o.metadata.uid ?? "";
      const now = { request: bytes(request(o)), capacity: bytes(capacity(o)) };
      const before = largest.get(uid) ?? { request: 0, capacity: 0 };
      largest.set(uid, {
        request: Math.max(before.request, now.request),
        capacity: Math.max(before.capacity, now.capacity),
      });
      if (now.request < before.request) {
        return `the request of ${o.metadata.name} fell to ${request(o)}`;
      }
      if (now.capacity < before.capacity) {
        return `the capacity of ${o.metadata.name} fell to ${capacity(o)}`;
      }
      return undefined;
    },
  };
}

/**
 * A growth restarts no pod: the operator deletes a StatefulSet only with propagation `Orphan`,
 * and deletes no instance pod while a PostgresDB's status says its StatefulSet is re-created and
 * its StatefulSet is gone or terminating (the pods then belong to nobody).
 */
export function resizeRestartChecker(): Checker {
  return {
    name: "no pod restarted by a resize",
    onWrite(write, { harness }) {
      if (write.verb !== "delete") return undefined;
      // The operator deletes a StatefulSet only to re-create it with a new claim template.
      if (write.ref.kind === "StatefulSet" && write.propagationPolicy !== "Orphan") {
        return `the operator deleted ${write.target} with its pods`;
      }
      if (write.ref.kind !== "Pod") return undefined;
      const pod = harness.cluster.server.peek(write.ref, write.ref.name, write.ref.namespace);
      const name = pod ? instanceOfVolume(pod.metadata.labels) : undefined;
      if (name === undefined) return undefined;
      const db = harness.cluster.server.peek(POSTGRESDB, name, write.ref.namespace) as
        | PostgresDB
        | undefined;
      if (db?.status?.storage?.phase !== "Recreating") return undefined;
      // The window where the StatefulSet is gone or going: nothing may replace a pod then.
      const sts = harness.cluster.server.peek(STATEFULSET, name, write.ref.namespace);
      const own = sts !== undefined && controllerOf(sts)?.uid === db.metadata.uid;
      return !own || sts.metadata.deletionTimestamp
        ? `the operator deleted ${write.target} while its StatefulSet was re-created for a resize`
        : undefined;
    },
  };
}

/** Every storage checker. */
export function storageCheckers(): Checker[] {
  return [volumeShrinkChecker(), resizeRestartChecker()];
}

/**
 * A growth converges: for each PostgresDB with a valid spec whose storage change was not refused,
 * its StatefulSet's claim template and every data volume (capacity) have `spec.storage`. Returns
 * the problems found.
 */
export function checkStorageConverged(harness: Pick<Harness, "cluster">): string[] {
  const problems: string[] = [];
  const objects = harness.cluster.objects();
  for (const db of objects.filter((o) => o.kind === POSTGRESDB.kind) as PostgresDB[]) {
    if (db.metadata.deletionTimestamp) continue;
    const validation = validatePostgresDB(db);
    // Only a database that reached its spec otherwise (ready); a refused change stays refused.
    if (!validation.ok || db.status?.ready !== true) continue;
    if (db.status.storage?.phase === "Refused") continue;
    const name = `${db.metadata.namespace}/${db.metadata.name}`;
    const want = bytes(validation.spec.storage);
    const sts = objects.find((o) =>
      o.kind === "StatefulSet" && controllerOf(o)?.uid === db.metadata.uid
    );
    if (sts === undefined) continue;
    const template = observedStorage(sts);
    if (bytes(template) !== want) {
      problems.push(
        `${name}: the claim template has ${template}, spec.storage ${validation.spec.storage}`,
      );
    }
    for (const pvc of objects) {
      if (
        pvc.kind !== "PersistentVolumeClaim" || pvc.metadata.namespace !== db.metadata.namespace
      ) {
        continue;
      }
      if (!pvc.metadata.name.startsWith(`data-${db.metadata.name}-`)) continue;
      if (bytes(capacity(pvc)) < want) {
        problems.push(
          `${name}: ${pvc.metadata.name} has ${
            capacity(pvc)
          }, spec.storage ${validation.spec.storage}`,
        );
      }
    }
  }
  return problems;
}

function bytes(text: string | undefined): number {
  if (text === undefined) return 0;
  const parsed = parseQuantity(text);
  return parsed.ok ? parsed.value : 0;
}
