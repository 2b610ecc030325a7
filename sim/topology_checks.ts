/**
 * Replication rules of PostgresDB clusters in the simulated cluster, as harness checkers run after
 * every committed change: at most one pod per PostgresDB carries the primary role label; the `-rw`
 * Service never selects a pod whose report says standby; every running standby streams (or
 * retries) from the target primary, never another instance; no instance is cloned from anything
 * but a running primary; no StatefulSet is scaled below the target primary's ordinal; at most one
 * instance of a PostgresDB accepts writes (the primary Lease's fence). And the
 * end-state rule for {@link checkReplicationConverged}: exactly one primary, every standby
 * streaming from it.
 *
 * @module
 */

import type { KubeObject } from "../core/object.ts";
import { instanceOfVolume, ROLE_LABEL } from "../core/postgres/labels.ts";
import { podOrdinal, readWriteServiceName } from "../core/postgres/naming.ts";
import { readReport } from "../core/postgres/replication.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import type { Checker, Harness } from "./harness.ts";

const POD = { apiVersion: "v1", kind: "Pod" };
const SERVICE = { apiVersion: "v1", kind: "Service" };

/** The live pods of a PostgresDB (by its selector labels). */
function podsOf(harness: Pick<Harness, "cluster">, namespace: string, db: string): KubeObject[] {
  return harness.cluster.server.peekList(POD).filter((pod) =>
    (pod.metadata.namespace ?? "default") === namespace && !pod.metadata.deletionTimestamp &&
    instanceOfVolume(pod.metadata.labels) === db
  );
}

/** The PostgresDB a committed pod, or a PostgresDB itself, is, as `[namespace, name]`. */
function dbOfChange(object: KubeObject): [string, string] | undefined {
  if (object.kind === POSTGRESDB.kind) {
    return [object.metadata.namespace ?? "default", object.metadata.name];
  }
  return object.kind === "Pod" ? ownerOf(object) : undefined;
}

/** The PostgresDB a committed pod or Service belongs to, as `[namespace, name]`. */
function ownerOf(object: KubeObject): [string, string] | undefined {
  const db = instanceOfVolume(object.metadata.labels);
  return db === undefined ? undefined : [object.metadata.namespace ?? "default", db];
}

/** At most one pod of a PostgresDB carries the primary role label, at every instant. */
export function singlePrimaryLabelChecker(): Checker {
  return {
    name: "at most one primary label",
    onCommit(change, { harness }) {
      if (change.object.kind !== "Pod") return undefined;
      const owner = ownerOf(change.object);
      if (!owner) return undefined;
      const primaries = podsOf(harness, ...owner)
        .filter((pod) => pod.metadata.labels?.[ROLE_LABEL] === "primary")
        .map((pod) => pod.metadata.name);
      return primaries.length > 1
        ? `PostgresDB ${owner.join("/")}: pods ${primaries.join(", ")} are all labelled primary`
        : undefined;
    },
  };
}

/** The `-rw` Service selects only pods whose own report does not say standby. */
export function readWriteChecker(): Checker {
  return {
    name: "-rw never selects a standby",
    onCommit(change, { harness }) {
      const kind = change.object.kind;
      if (kind !== "Pod" && kind !== "Service") return undefined;
      const owner = ownerOf(change.object);
      if (!owner) return undefined;
      const [namespace, db] = owner;
      const service = harness.cluster.server.peek(SERVICE, readWriteServiceName(db), namespace);
      const selector = (service?.spec as { selector?: Record<string, string> } | undefined)
        ?.selector;
      if (!selector || Object.keys(selector).length === 0) return undefined;
      for (const pod of harness.cluster.server.peekList(POD)) {
        if ((pod.metadata.namespace ?? "default") !== namespace) continue;
        const labels = pod.metadata.labels ?? {};
        if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
        const report = readReport(pod);
        if (report?.role === "standby") {
          return `${readWriteServiceName(db)} selects ${pod.metadata.name}, whose report says ` +
            `standby`;
        }
      }
      return undefined;
    },
  };
}

/**
 * Every running standby's WAL receiver points at the target primary or a former one: after a
 * failover or a retarget, a standby still configured for the old target streams from it (while it
 * stops, or cascading once it is a standby itself) or retries it, until its agent follows the new
 * one; it never points at an instance that was never a target (a standby, a cascade by mistake).
 */
export function streamsFromPrimaryChecker(): Checker {
  /** The targets each PostgresDB has had, by `namespace/name`. */
  const targets = new Map<string, Set<string>>();
  return {
    name: "standbys follow the target primary",
    onCommit(change, { harness }) {
      const owner = dbOfChange(change.object);
      if (!owner) return undefined;
      const db = harness.cluster.server.peek(POSTGRESDB, owner[1], owner[0]) as PostgresDB;
      const target = db?.status?.targetPrimary;
      if (target === undefined) return undefined;
      // By name, not uid: a PostgresDB re-created on retained volumes finds standbys configured
      // for the primary of its previous life (see README, "Known limitations").
      const key = owner.join("/");
      const former = targets.get(key) ?? new Set<string>();
      // While a failover is pending (no target), standbys may still stream from the old primary
      // until it stops.
      const pending = target === "";
      if (!pending) former.add(target);
      targets.set(key, former);
      for (const pod of podsOf(harness, ...owner)) {
        const instance = harness.cluster.dataPlane?.instanceOfPod(owner[0], pod.metadata.name);
        const receiver = instance?.walReceiver;
        if (receiver === undefined || receiver.upstream === target) continue;
        // A former target may still feed a standby whose agent has not followed the new one yet
        // (it may by then be a standby itself: PostgreSQL cascades); any other upstream is a bug.
        if (!former.has(receiver.upstream)) {
          return `${pod.metadata.name} ${
            receiver.streaming ? "streams" : "retries"
          } from ${receiver.upstream}, never a target primary (now ${target || "pending"})`;
        }
      }
      return undefined;
    },
  };
}

/** Every clone copies a running primary: never a standby's (possibly stale) data. */
export function cloneSourceChecker(): Checker {
  let seen = 0;
  return {
    name: "no clone from a standby",
    onCommit(_change, { harness }) {
      const clones = harness.cluster.dataPlane?.clones ?? [];
      for (; seen < clones.length; seen++) {
        const clone = clones[seen]!;
        if (clone.upstreamRole !== "primary") {
          return `${clone.instance} was cloned from ${clone.upstream}, whose role was ` +
            clone.upstreamRole;
        }
      }
      return undefined;
    },
  };
}

/**
 * No StatefulSet write scales a PostgresDB below its target primary's ordinal, but to zero during
 * a major upgrade whose stored record already says the instances stop.
 */
export function scaleDownChecker(): Checker {
  return {
    name: "scale-down keeps the primary",
    onWrite(write, { harness }) {
      if (write.ref.kind !== "StatefulSet" || !write.object) return undefined;
      if (write.verb !== "update" && write.verb !== "apply" && write.verb !== "create") {
        return undefined;
      }
      const replicas = (write.object.spec as { replicas?: number } | undefined)?.replicas;
      const name = write.object.metadata.name;
      const namespace = write.object.metadata.namespace ?? "default";
      const db = harness.cluster.server.peek(POSTGRESDB, name, namespace) as PostgresDB;
      // A major upgrade stops every instance, once its record says so (the status first).
      const phase = db?.status?.upgrade?.phase;
      if (replicas === 0 && (phase === "Stopping" || phase === "Upgrading")) return undefined;
      // Until a failover or switchover completed, the old primary's pod is kept too.
      const failover = db?.status?.failover;
      const kept = [db?.status?.targetPrimary];
      if (failover !== undefined && failover.completedAt === undefined) kept.push(failover.from);
      for (const target of kept) {
        const ordinal = target ? podOrdinal(name, target) : undefined;
        if (replicas !== undefined && ordinal !== undefined && replicas <= ordinal) {
          return `${write.target} scaled to ${replicas}, removing the ${
            target === db?.status?.targetPrimary ? "target primary" : "primary being moved"
          } ${target}`;
        }
      }
      return undefined;
    },
  };
}

/**
 * At most one instance of a PostgresDB accepts writes (runs as a primary), judged at every
 * committed change of its pods or of itself: the primary Lease must fence an old primary before
 * a new one is promoted.
 */
export function singleWriterChecker(): Checker {
  return {
    name: "single writer",
    onCommit(change, { harness }) {
      const owner = dbOfChange(change.object);
      const plane = harness.cluster.dataPlane;
      if (!owner || !plane) return undefined;
      const writers: string[] = [];
      for (const pod of harness.cluster.server.peekList(POD, owner[0])) {
        if (instanceOfVolume(pod.metadata.labels) !== owner[1]) continue;
        if (plane.instanceOfPod(owner[0], pod.metadata.name)?.acceptsWrites) {
          writers.push(pod.metadata.name);
        }
      }
      return writers.length > 1
        ? `${writers.length} instances of ${owner.join("/")} accept writes: ${writers.join(", ")}`
        : undefined;
    },
  };
}

/** The replication checkers, run after every step. */
export function topologyCheckers(): Checker[] {
  return [
    singlePrimaryLabelChecker(),
    readWriteChecker(),
    streamsFromPrimaryChecker(),
    cloneSourceChecker(),
    scaleDownChecker(),
    singleWriterChecker(),
  ];
}

/**
 * The replication end state of every Running PostgresDB: exactly one pod labelled primary (the
 * current primary), and every other pod labelled standby, streaming from it. Returns problems.
 */
export function checkReplicationConverged(harness: Pick<Harness, "cluster">): string[] {
  if (harness.cluster.dataPlane === undefined) return [];
  const problems: string[] = [];
  for (const db of harness.cluster.server.peekList(POSTGRESDB) as PostgresDB[]) {
    if (db.metadata.deletionTimestamp || db.status?.phase !== "Running") continue;
    const namespace = db.metadata.namespace ?? "default";
    const name = `${namespace}/${db.metadata.name}`;
    const pods = podsOf(harness, namespace, db.metadata.name);
    const primaries = pods.filter((p) => p.metadata.labels?.[ROLE_LABEL] === "primary");
    if (primaries.length !== 1 || primaries[0]!.metadata.name !== db.status.currentPrimary) {
      problems.push(`${name}: ${primaries.length} pods labelled primary`);
      continue;
    }
    for (const pod of pods) {
      if (pod === primaries[0]) continue;
      const report = readReport(pod);
      if (
        pod.metadata.labels?.[ROLE_LABEL] !== "standby" ||
        report?.streamingFrom !== db.status.currentPrimary
      ) {
        problems.push(`${name}: ${pod.metadata.name} is not a standby streaming from the primary`);
      }
    }
  }
  return problems;
}
