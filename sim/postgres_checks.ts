/**
 * The PostgresDB operator's own rules, as checkers for the harness: the credentials Secret is never
 * regenerated or overwritten, no PVC is deleted by the operator, `Ready` never runs ahead of the
 * pods; and the end-state checks: every PostgresDB matches its spec, and a converged operator
 * stays quiet.
 *
 * @module
 */

import { upgradeCheckers } from "./upgrade_checks.ts";
import { controllerOf, type KubeObject } from "../core/object.ts";
import { POSTGRESDB, type PostgresDB } from "../core/postgres/types.ts";
import { validatePostgresDB } from "../core/postgres/validate.ts";
import { podOrdinal, secretName } from "../core/postgres/naming.ts";
import { sourceGeneration } from "../core/postgres/labels.ts";
import { versionMajor } from "../core/postgres/version.ts";
import {
  invalidWriteChecker,
  observedGenerationChecker,
  ownerReferenceChecker,
  statusSubresourceChecker,
  writesPerReconcileChecker,
} from "./checkers.ts";
import type { Checker, Harness } from "./harness.ts";
import { isPodReady } from "./pod_lifecycle.ts";
import { checkReplicationConverged, topologyCheckers } from "./topology_checks.ts";
import { checkStorageConverged, storageCheckers } from "./storage_checks.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * The credentials Secret is only ever created by the operator, never updated, applied with data,
 * or deleted; and the password it holds opens the data: a ready pod runs on data initialised with
 * the password its Secret holds now (the simulated kubelet records the password a claim's data was
 * initialised with). A Secret the user deleted is no violation; a new password over old data is.
 */
export function credentialsChecker(): Checker {
  return {
    name: "credentials never regenerated or overwritten",
    onWrite(write) {
      if (write.ref.kind !== "Secret") return undefined;
      // Adopting a user's Secret writes its owner reference and labels, never its data.
      const content = write.object?.data !== undefined || write.object?.stringData !== undefined;
      if ((write.verb === "apply" || write.verb === "update") && content) {
        return `the operator ${write.verb === "apply" ? "applied" : "updated"} ${write.target}`;
      }
      if (write.verb === "delete") return `the operator deleted ${write.target}`;
      return undefined;
    },
    onCommit(change, { harness }) {
      const o = change.object;
      if (change.type === "DELETED") return undefined;
      if (o.kind === "Pod") return passwordMismatch(harness, o);
      if (o.kind !== "Secret") return undefined;
      for (const pod of harness.cluster.server.peekList(POD)) {
        if (pod.metadata.namespace !== o.metadata.namespace) continue;
        if (passwordSecretOf(pod) !== o.metadata.name) continue;
        const problem = passwordMismatch(harness, pod);
        if (problem) return problem;
      }
      return undefined;
    },
  };
}

const POD = { apiVersion: "v1", kind: "Pod" };

/** The Secret a pod reads `POSTGRES_PASSWORD` from. */
function passwordSecretOf(pod: KubeObject): string | undefined {
  const containers = (pod.spec as Any)?.containers ?? [];
  for (const container of containers) {
    for (const env of container.env ?? []) {
      if (env.name === "POSTGRES_PASSWORD") return env.valueFrom?.secretKeyRef?.name;
    }
  }
  return undefined;
}

/** A violation when a ready pod's data was initialised with another password than its Secret's. */
function passwordMismatch(harness: Harness, pod: KubeObject): string | undefined {
  if (!isPodReady(pod) || pod.metadata.deletionTimestamp) return undefined;
  const data = harness.cluster.pods.dataPassword(pod.metadata.uid ?? "");
  const name = passwordSecretOf(pod);
  if (data === undefined || name === undefined) return undefined;
  const namespace = pod.metadata.namespace ?? "default";
  const secret = harness.cluster.server.peek(SECRET_TYPE, name, namespace);
  const encoded = (secret?.data as Record<string, string> | undefined)?.password;
  if (encoded === undefined) return undefined;
  return atob(encoded) !== data
    ? `pod ${namespace}/${pod.metadata.name} is ready on data initialised with another password ` +
      `than Secret ${namespace}/${name} holds: applications cannot log in`
    : undefined;
}

const SECRET_TYPE = { apiVersion: "v1", kind: "Secret" };

/** The operator never deletes a PersistentVolumeClaim. */
export function volumeChecker(): Checker {
  return {
    name: "no PVC deleted by the operator",
    onWrite(write) {
      return write.verb === "delete" && write.ref.kind === "PersistentVolumeClaim"
        ? `the operator deleted ${write.target}`
        : undefined;
    },
  };
}

/**
 * `ready: true` is only written for a PostgresDB whose own StatefulSet (controlled by its uid, as
 * stored at the moment of the write) had, at its current generation and with a status describing
 * that generation, at least as many ready replicas as the PostgresDB asked for at the generation
 * the status reports.
 */
export function readyChecker(): Checker {
  /** `statefulSetUid@generation` -> the most ready replicas a current status reported. */
  const readyAt = new Map<string, number>();
  /** `postgresUid@generation` -> the replicas asked for at that generation. */
  const replicasAt = new Map<string, number>();
  /** PostgresDB uid -> its last StatefulSet, as last committed (deleted ones included). */
  const lastStatefulSet = new Map<string, Any>();
  return {
    name: "Ready never ahead of the pods",
    onCommit(change) {
      const o = change.object as Any;
      if (o.kind === "StatefulSet" && o.metadata.uid) {
        const owner = controllerOf(o)?.uid;
        if (owner) lastStatefulSet.set(owner, o);
        const generation = o.metadata.generation ?? 0;
        if (o.status?.observedGeneration !== generation) return undefined;
        const key = `${o.metadata.uid}@${generation}`;
        readyAt.set(key, Math.max(readyAt.get(key) ?? 0, o.status?.readyReplicas ?? 0));
      } else if (o.kind === POSTGRESDB.kind && o.metadata.uid) {
        const replicas = typeof o.spec?.replicas === "number" ? o.spec.replicas : 1;
        replicasAt.set(`${o.metadata.uid}@${o.metadata.generation ?? 0}`, replicas);
      }
      return undefined;
    },
    onWrite(write, { harness }) {
      if (write.verb !== "patchStatus" || write.ref.kind !== POSTGRESDB.kind) return undefined;
      if (write.status?.ready !== true || write.error !== undefined) return undefined;
      const server = harness.cluster.server;
      const db = server.peek(POSTGRESDB, write.ref.name, write.ref.namespace);
      if (!db?.metadata.uid) return undefined;
      let sts = server.peek(
        { apiVersion: "apps/v1", kind: "StatefulSet" },
        write.ref.name,
        write.ref.namespace,
      );
      // A StatefulSet a user deleted a moment ago may still be in the operator's cache: judge the
      // write by that StatefulSet's readiness (the next reconcile sees it gone).
      if (!sts) sts = lastStatefulSet.get(db.metadata.uid);
      if (!sts || controllerOf(sts)?.uid !== db.metadata.uid) {
        return `${write.target} was written ready without a StatefulSet of its own`;
      }
      const generation = (write.status.observedGeneration as number | undefined) ?? 0;
      const wanted = replicasAt.get(`${db.metadata.uid}@${generation}`) ?? 1;
      const ready = readyAt.get(`${sts.metadata.uid}@${sts.metadata.generation ?? 0}`) ?? 0;
      return ready < wanted
        ? `${write.target} was written ready with ${ready} of ${wanted} instances ready at the ` +
          `StatefulSet's generation ${sts.metadata.generation}`
        : undefined;
    },
  };
}

/**
 * The operator never moves a StatefulSet back in time: each write carries the PostgresDB
 * generation it was computed from, and that never goes down for one StatefulSet.
 */
export function timeTravelChecker(): Checker {
  const latest = new Map<string, number>();
  return {
    name: "no write from an older view",
    onWrite(write) {
      const writing = write.verb === "apply" || write.verb === "update";
      if (!writing || write.ref.kind !== "StatefulSet" || !write.object) {
        return undefined;
      }
      if (write.error !== undefined || !write.result?.metadata.uid) return undefined;
      const generation = sourceGeneration(write.object);
      if (generation === undefined) return undefined;
      const key = write.result.metadata.uid;
      const before = latest.get(key) ?? 0;
      latest.set(key, Math.max(before, generation));
      return generation < before
        ? `${write.target} was written for PostgresDB generation ${generation} after ${before}`
        : undefined;
    },
  };
}

/** Every checker for the PostgresDB operator. */
export function postgresCheckers(): Checker[] {
  return [
    // Credentials live as long as their data (Retain), and a user's Secret is never owned.
    ownerReferenceChecker(POSTGRESDB, { ownerless: (o) => o.kind === "Secret" }),
    invalidWriteChecker(),
    observedGenerationChecker(POSTGRESDB),
    writesPerReconcileChecker(20),
    statusSubresourceChecker(POSTGRESDB),
    credentialsChecker(),
    volumeChecker(),
    readyChecker(),
    timeTravelChecker(),
    ...topologyCheckers(),
    ...upgradeCheckers(),
    ...storageCheckers(),
  ];
}

/**
 * Liveness at the end of a run: each PostgresDB is Ready with its children at the spec, or, with
 * an invalid spec, reports InvalidSpec for its current generation. Returns the problems found.
 */
export function checkPostgresConverged(harness: Pick<Harness, "cluster">): string[] {
  const problems: string[] = [];
  const objects = harness.cluster.objects();
  const controlled = (uid: string, kind: string) =>
    objects.filter((o) => o.kind === kind && controllerOf(o)?.uid === uid);
  for (const db of objects.filter((o) => o.kind === POSTGRESDB.kind) as PostgresDB[]) {
    const name = `${db.metadata.namespace}/${db.metadata.name}`;
    if (db.metadata.deletionTimestamp) continue;
    const status = db.status ?? {};
    const ready = status.conditions?.find((c) => c.type === "Ready");
    if (status.observedGeneration !== db.metadata.generation) {
      problems.push(
        `${name}: observedGeneration ${status.observedGeneration} != generation ${db.metadata.generation}`,
      );
      continue;
    }
    const validation = validatePostgresDB(db);
    const uid = db.metadata.uid!;
    if (!validation.ok) {
      if (ready?.reason !== "InvalidSpec") problems.push(`${name}: invalid spec not reported`);
      continue;
    }
    // A valid spec may only be refused when it renames a database that was already initialised,
    // or when its volumes outlived the credentials they were initialised with.
    const secret = objects.find((o) =>
      o.kind === "Secret" && o.metadata.namespace === db.metadata.namespace &&
      o.metadata.name === secretName(db.metadata.name)
    ) as Any;
    const volumes = objects.filter((o) =>
      o.kind === "PersistentVolumeClaim" && o.metadata.namespace === db.metadata.namespace &&
      o.metadata.name.startsWith(`data-${db.metadata.name}-`) && !o.metadata.deletionTimestamp
    );
    if (!secret && volumes.length > 0) {
      if (ready?.reason !== "CredentialsMissing") {
        problems.push(`${name}: credentials missing over existing volumes, not reported`);
      }
      continue;
    }
    const initialised = secret?.data?.database ? atob(secret.data.database) : undefined;
    if (initialised !== undefined && initialised !== validation.spec.databaseName) {
      if (ready?.reason !== "InvalidSpec") problems.push(`${name}: the rename was not refused`);
      continue;
    }
    // A refused change of major must be genuine: a data volume holds another major's data.
    const wanted = versionMajor(validation.spec.version);
    // After a major upgrade, a volume left by a scale-down keeps the old major's data until an
    // instance starts on it again (it re-clones then): only the serving ordinals must match.
    const upgraded = status.upgrade?.phase === "Succeeded" && status.upgrade.to === wanted;
    const dataMajors = volumes.filter((pvc) => {
      if (!upgraded) return true;
      const ordinal = Number(pvc.metadata.name.slice(`data-${db.metadata.name}-`.length));
      return ordinal < validation.spec.replicas;
    }).map((pvc) =>
      harness.cluster.pods.dataMajor(pvc.metadata.namespace ?? "default", pvc.metadata.name)
    ).filter((major) => major !== undefined);
    const otherMajor = dataMajors.find((major) => major !== wanted);
    if (ready?.reason === "MajorUpgradeUnsupported" || ready?.reason === "MajorDowngradeRefused") {
      // Genuine when a volume holds another major's data, or says it will: a volume made for
      // another major (its annotation) on which no instance has run yet cannot be told apart
      // from one that holds data without reading it.
      const annotated = volumes.map((pvc) =>
        Number(pvc.metadata.annotations?.["database.thegeekyway.com/data-major"])
      ).find((major) => Number.isInteger(major) && major > 0 && major !== wanted);
      if (otherMajor === undefined && annotated === undefined) {
        problems.push(`${name}: ${ready.reason} without such data`);
      }
      continue;
    }
    if (otherMajor !== undefined) {
      problems.push(`${name}: the data is PostgreSQL ${otherMajor}, spec ${wanted}, not refused`);
      continue;
    }
    // A reported conflict must be genuine: a same-named child of someone else exists.
    if (ready?.reason === "ChildConflict") {
      if (!hasForeignChild(objects, db)) problems.push(`${name}: ChildConflict without a conflict`);
      continue;
    }
    if (status.ready !== true || status.phase !== "Running") {
      problems.push(
        `${name}: not Running and ready (${status.phase}, ${ready?.reason}: ${ready?.message})`,
      );
    }
    const [sts] = controlled(uid, "StatefulSet") as Any[];
    // A scale-down below the target primary's ordinal is held (and reported) until switchover.
    const targetOrdinal = podOrdinal(db.metadata.name, status.targetPrimary ?? "") ?? 0;
    const wantReplicas = Math.max(validation.spec.replicas, targetOrdinal + 1);
    const scaleDown = status.conditions?.find((c) => c.type === "ScaleDown");
    if (wantReplicas > validation.spec.replicas && scaleDown?.status !== "False") {
      problems.push(`${name}: the scale-down held for the primary is not reported`);
    } else if (wantReplicas === validation.spec.replicas && scaleDown !== undefined) {
      problems.push(`${name}: ScaleDown reported with nothing held`);
    }
    if (!sts) problems.push(`${name}: no StatefulSet`);
    else if (sts.spec.replicas !== wantReplicas) {
      problems.push(
        `${name}: StatefulSet has ${sts.spec.replicas} replicas, spec ${validation.spec.replicas}` +
          (wantReplicas === validation.spec.replicas ? "" : ` (held at ${wantReplicas})`),
      );
    } else if (
      !sts.spec.template.spec.containers[0].image.endsWith(`:${validation.spec.version}`)
    ) {
      problems.push(`${name}: StatefulSet runs ${sts.spec.template.spec.containers[0].image}`);
    }
    const services = controlled(uid, "Service").map((s) => s.metadata.name).sort().join(",");
    const wantServices = [db.metadata.name, `${db.metadata.name}-ro`, `${db.metadata.name}-rw`]
      .join(",");
    if (services !== wantServices) {
      problems.push(`${name}: Services ${services}, want ${wantServices}`);
    }
    if (!secret) problems.push(`${name}: no credentials Secret`);
  }
  return [
    ...problems,
    ...checkReplicationConverged(harness),
    ...checkStorageConverged(harness),
  ];
}

/** True when a Secret, Service or StatefulSet of a child's name is controlled by someone else. */
function hasForeignChild(objects: readonly KubeObject[], db: PostgresDB): boolean {
  const names: Record<string, string> = {
    Secret: secretName(db.metadata.name),
    Service: db.metadata.name,
    StatefulSet: db.metadata.name,
  };
  return objects.some((o) =>
    names[o.kind] === o.metadata.name && o.metadata.namespace === db.metadata.namespace &&
    controllerOf(o)?.uid !== db.metadata.uid && !adoptable(o)
  );
}

/** An ownerless Secret with the credential keys: the operator adopts it, no conflict. */
function adoptable(o: KubeObject): boolean {
  const data = { ...(o.data as object | undefined), ...(o.stringData as object | undefined) };
  return o.kind === "Secret" && controllerOf(o) === undefined &&
    ["username", "password", "database"].every((key) => key in data);
}

/**
 * The end state with what legitimately differs between runs masked (uids, versions, times,
 * passwords, PVCs of ordinals beyond the current replicas): equal masks, equal outcomes.
 */
export function postgresOutcome(objects: readonly KubeObject[]): unknown {
  const dbs = objects.filter((o) => o.kind === POSTGRESDB.kind) as PostgresDB[];
  return dbs.map((db) => {
    const uid = db.metadata.uid;
    const mine = (kind: string) =>
      objects.filter((o) => o.kind === kind && controllerOf(o)?.uid === uid) as Any[];
    const sts = mine("StatefulSet")[0];
    const replicas = sts?.spec?.replicas ?? 0;
    const pvcs = objects.filter((o) =>
      o.kind === "PersistentVolumeClaim" &&
      new RegExp(`^data-${db.metadata.name}-(\\d+)$`).test(o.metadata.name) &&
      Number(o.metadata.name.split("-").pop()) < replicas
    ).map((o) => o.metadata.name).sort();
    const pods = objects.filter((o) =>
      o.kind === "Pod" && controllerOf(o)?.uid === sts?.metadata.uid
    )
      .map((o) => o.metadata.name).sort();
    return {
      name: db.metadata.name,
      phase: db.status?.phase,
      ready: db.status?.ready,
      connectionString: db.status?.connectionString,
      conditions: (db.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`)
        .sort(),
      statefulSet: sts ? { replicas, template: sts.spec.template } : undefined,
      service: mine("Service").map((s) => s.spec.ports),
      secretKeys: objects.filter((o) =>
        o.kind === "Secret" && o.metadata.namespace === db.metadata.namespace &&
        o.metadata.name === secretName(db.metadata.name)
      ).map((s) => Object.keys((s as Any).data ?? {}).sort()),
      pvcs,
      pods,
    };
  });
}
