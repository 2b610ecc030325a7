/**
 * The converging phase of a PostgresDB reconcile: the writes that bring the credentials Secret,
 * the headless Service and the StatefulSet to the spec, then the status and the events. Pure: each
 * child's step returns its writes and events as values, and they are joined in a fixed order
 * (writes, status, events) that crash-prefix tests rely on.
 *
 * @module
 */

import type { Action } from "../actions.ts";
import { compareDesired, overlay } from "../compare.ts";
import { findCondition } from "../conditions.ts";
import { describeRef, type KubeObject, refOf } from "../object.ts";
import type { ReconcileContext } from "../reconciler.ts";
import type { Children } from "./classify.ts";
import { managedByLabels, selectorLabels } from "./labels.ts";
import { connectionString, readOnlyServiceName, readWriteServiceName } from "./naming.ts";
import {
  buildCredentialsSecret,
  credentialsLabels,
  credentialsWithKeys,
  generatePassword,
  missingCredentialKeys,
} from "./secret.ts";
import {
  buildHeadlessService,
  buildRoleService,
  compareService,
  repairedService,
} from "./service.ts";
import { agentIdentitySteps, roleLabelStep } from "./converge_agents.ts";
import { replicationStatus } from "./instances.ts";
import {
  createStep,
  joinCreated,
  NO_STEP,
  normalEvent,
  type Step,
  withoutServerFields,
} from "./step.ts";
import { buildStatefulSet } from "./statefulset.ts";
import { READY, statefulSetReadiness, type StatusInput } from "./status.ts";
import { statusActions } from "./status_actions.ts";
import { planFailover } from "./failover.ts";
import { planStorage, type StoragePlan } from "./storage.ts";
import { rolloutStep } from "./rollout.ts";
import { NO_RESTORE, type RestoreStep } from "./restore.ts";
import { NO_UPGRADE, type UpgradeStep } from "./upgrade_step.ts";
import {
  chooseTarget,
  heldReplicas,
  PRIMARY_DATA_LOST,
  SCALE_DOWN,
  type TargetChoice,
} from "./target.ts";
import type { PostgresDB, ValidSpec } from "./types.ts";

/**
 * The actions that bring a valid PostgresDB's children to its spec: writes in the order Secret,
 * Service, StatefulSet, then the status, then the events.
 */
export function convergeActions(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  context: ReconcileContext,
  restore: RestoreStep = NO_RESTORE,
  upgrade: UpgradeStep = NO_UPGRADE,
): Action[] {
  const storage = planStorage(db, spec, {
    facts: children.storage ?? { statefulSet: children.statefulSet, claims: [], unadoptedPods: 0 },
    nowMs: context.nowMs,
  });
  if (storage.recreating) return recreatingActions(db, spec, children, storage, context);
  const kept = { claimTemplates: storage.claimTemplates, conditions: storage.conditions };
  const chosen = chooseTarget(db, children.instances ?? []);
  const rollout = rolloutStep(
    db,
    children.statefulSet,
    children.instances ?? [],
    chosen.retarget === undefined ? (db.status?.targetPrimary ?? chosen.targetPrimary) : "",
    chosen.primaryTerm,
    spec.replicas,
  );
  const plan = planFailover(
    db,
    spec,
    children.instances ?? [],
    chosen,
    context.nowMs,
    { rolloutTo: rollout.switchoverTo ?? upgrade.switchoverTo, volumes: children.volumes },
  );
  const choice: TargetChoice = {
    ...chosen,
    targetPrimary: plan.targetPrimary,
    primaryTerm: plan.primaryTerm,
  };
  // Until a failover or switchover is recorded complete (in the stored status: the StatefulSet
  // is written before the status), the old primary's pod is kept as well.
  const moving = [db.status?.failover, plan.failover].filter((f) =>
    f !== undefined && f.completedAt === undefined && f.from !== ""
  );
  const holds = [plan.targetPrimary || chosen.targetPrimary, ...moving.map((f) => f!.from)];
  const held = holds.map((target) => heldReplicas(db.metadata.name, spec.replicas, target))
    .sort((a, b) => b.replicas - a.replicas)[0]!;
  const steps = [
    credentialsStep(db, spec, children, context),
    serviceStep(db, buildHeadlessService(db, spec), children.service),
    serviceStep(db, buildRoleService(db, spec, "primary"), children.readWrite),
    serviceStep(db, buildRoleService(db, spec, "standby"), children.readOnly),
    ...agentIdentitySteps(db, spec, children),
    // A database restored from a backup runs its primary alone until the restore succeeded.
    statefulSetStep(
      db,
      spec,
      children.statefulSet,
      kept.claimTemplates,
      restore.hold ? Math.min(held.replicas, 1) : held.replicas,
    ),
  ];
  const childWrites = [
    ...steps.flatMap((step) => step.writes),
    ...restore.writes,
    ...upgrade.writes,
  ];
  // Role labels follow the reports, and a volume grows under running pods: neither changes what
  // the StatefulSet's readiness describes.
  const writes = [...childWrites, ...storage.writes, ...roleLabelStep(children, choice).writes];
  const events = [...steps.flatMap((step) => step.events), ...storage.events];
  // A pod of the rolling update is replaced only when nothing else moves.
  const still = childWrites.length === 0 && storage.writes.length === 0;
  if (still && plan.events.length === 0 && plan.condition === undefined) {
    writes.push(...rollout.actions.filter((a) => a.kind !== "emitEvent"));
    events.push(...rollout.actions.filter((a) => a.kind === "emitEvent"));
  }
  if (choice.retarget !== undefined) {
    events.push({
      kind: "emitEvent",
      regarding: db,
      type: "Warning",
      eventReason: PRIMARY_DATA_LOST,
      message: choice.retarget.message,
    });
  }
  events.push(...plan.events);
  const replication = replicationStatus(db, children.instances ?? [], spec.replicas, choice, plan);
  const set = [...kept.conditions.set, replication.condition];
  if (held.condition !== undefined) set.push(held.condition);
  const remove = held.condition === undefined
    ? [...kept.conditions.remove, SCALE_DOWN]
    : kept.conditions.remove;
  const input: StatusInput = {
    ...readiness(db, spec, children, childWrites),
    replication,
    extra: { set, remove },
  };
  if (restore.status !== undefined) input.restore = restore.status;
  input.storage = storage.status;
  if (restore.notReady !== undefined) {
    input.phase = restore.notReady.phase;
    input.ready = false;
    input.reason = restore.notReady.reason;
    input.message = restore.notReady.message;
  }
  events.push(...restore.events);
  if (upgrade.status !== undefined) input.upgrade = upgrade.status;
  if (upgrade.notReady !== undefined) {
    input.phase = upgrade.notReady.phase;
    input.ready = false;
    input.reason = upgrade.notReady.reason;
    input.message = upgrade.notReady.message;
  }
  events.push(...upgrade.events);
  const wasReady = findCondition(db.status?.conditions, READY)?.status === "True";
  if (input.ready && !wasReady) {
    events.push(normalEvent(db, "Ready", `${spec.replicas}/${spec.replicas} instances ready`));
  }
  const requeue: Action[] = plan.requeueAfterMs === undefined ? [] : [{
    kind: "requeueAfter",
    delayMs: plan.requeueAfterMs,
    reason: plan.condition?.message ?? "the primary does not serve: the failover delay runs",
  }];
  if (upgrade.requeueMs !== undefined) {
    requeue.push({
      kind: "requeueAfter",
      delayMs: upgrade.requeueMs,
      reason: upgrade.status?.message ?? "the upgrade waits",
    });
  }
  if (storage.requeueAfterMs !== undefined) {
    requeue.push({
      kind: "requeueAfter",
      delayMs: storage.requeueAfterMs,
      reason: storage.conditions.set[0]?.message ?? "a volume grows",
    });
  }
  if (restore.requeueMs !== undefined) {
    requeue.push({
      kind: "requeueAfter",
      delayMs: restore.requeueMs,
      reason: restore.status?.message ?? "the restore waits",
    });
  }
  return [
    ...writes,
    ...statusActions(db, input, context),
    ...restore.after,
    ...upgrade.after,
    ...joinCreated(events),
    ...requeue,
  ];
}

/**
 * While the StatefulSet is re-created for a new claim template: its orphaning delete, or its
 * creation once it is gone, and the status (not Ready: readiness rests on the StatefulSet's
 * report). The replication facts are kept as they were: without a StatefulSet in charge of the
 * pods, no failover, rollout or role label is decided meanwhile.
 */
function recreatingActions(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  storage: StoragePlan,
  context: ReconcileContext,
): Action[] {
  const writes = [...storage.writes];
  const events = [...storage.events];
  if (children.statefulSet === undefined) {
    const held = heldReplicas(db.metadata.name, spec.replicas, db.status?.targetPrimary ?? "");
    const step = statefulSetStep(db, spec, undefined, undefined, held.replicas);
    writes.push(...step.writes);
    events.push(...step.events);
  }
  // Ready rests on the StatefulSet's report, and there is none until it is re-created and has
  // adopted the pods: not Ready meanwhile, though the pods keep serving.
  const input: StatusInput = {
    phase: db.status?.phase ?? "Creating",
    ready: false,
    reason: "RecreatingStatefulSet",
    message: `Re-creating the StatefulSet with ${spec.storage} volumes; its pods keep running`,
    extra: storage.conditions,
    storage: storage.status,
  };
  return [...writes, ...statusActions(db, input, context), ...joinCreated(events)];
}

/** The credentials Secret: created once, adopted or relabelled by its labels only. */
function credentialsStep(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  context: ReconcileContext,
): Step {
  if (!children.secret) {
    const secret = buildCredentialsSecret(
      db,
      spec,
      generatePassword(context.random),
      generatePassword(context.random),
    );
    return createStep(db, secret, "credentials are missing");
  }
  if (children.labelSecret) {
    // Adopting writes labels only (see credentialsLabels): the user's data stays as it is.
    const adopted = credentialsLabels(children.secret, {
      ...selectorLabels(db.metadata.name),
      ...managedByLabels(),
    });
    return {
      writes: [{ kind: "apply", object: adopted, reason: "adopting the user's credentials" }],
      events: [normalEvent(db, "Adopted", `Adopted ${describeRef(refOf(adopted))}`)],
    };
  }
  // Labels only, as in adoption (see credentialsLabels).
  const labels = buildCredentialsSecret(db, spec, "", "").metadata.labels;
  const drift = compareDesired({ metadata: { labels } }, children.secret);
  if (!drift.equal) {
    const relabelled = credentialsLabels(children.secret, labels);
    return { writes: [{ kind: "apply", object: relabelled, reason: drift.reason }], events: [] };
  }
  return missingKeysStep(db, spec, children.secret, context);
}

/**
 * The keys a Secret from before replication lacks (the replication password, the read-only URI),
 * added by an update of the version read: every key it has stays as it is, and of two racing
 * reconciles only one adds a password (the other gets a conflict).
 */
function missingKeysStep(
  db: PostgresDB,
  spec: ValidSpec,
  secret: KubeObject,
  context: ReconcileContext,
): Step {
  const missing = missingCredentialKeys(secret, db, spec, () => generatePassword(context.random));
  const keys = Object.keys(missing);
  if (keys.length === 0) return NO_STEP;
  return {
    writes: [{
      kind: "update",
      object: credentialsWithKeys(secret, missing),
      reason: `credentials lack ${keys.map((k) => JSON.stringify(k)).join(", ")}`,
    }],
    events: [
      normalEvent(
        db,
        "CredentialsExtended",
        `Added ${keys.join(", ")} to ${describeRef(refOf(secret))}`,
      ),
    ],
  };
}

/** A Service (headless, `-rw`, `-ro`): created when missing, repaired when it drifted. */
function serviceStep(db: PostgresDB, service: KubeObject, observed: KubeObject | undefined): Step {
  // Create, never apply, a Service the cache does not hold: a lagging cache may hide an earlier
  // PostgresDB's Service, and applying over it would add a second controller reference.
  if (!observed) return createStep(db, service, "missing");
  const diff = compareService(service, observed);
  if (diff.equal) return NO_STEP;
  // An update of the version read, not an apply: server-side apply merges ports by port and
  // protocol, so re-applying port 5432 beside a port someone changed to 5433 (both named
  // "postgres") is rejected as invalid forever; and it keeps items other managers added.
  // A stale cache gets a conflict and a quiet retry.
  const object = repairedService(observed, service);
  return { writes: [{ kind: "update", object, reason: diff.reason }], events: [] };
}

/** The StatefulSet: created when missing, updated (the version read) when it differs. */
export function statefulSetStep(
  db: PostgresDB,
  spec: ValidSpec,
  observed: KubeObject | undefined,
  claimTemplates: unknown,
  replicas: number,
): Step {
  // The spec's replicas, or more while the target primary's ordinal is not below them.
  const built = buildStatefulSet(db, { ...spec, replicas });
  // Create, never apply, a StatefulSet the cache does not hold: if the cache is only behind,
  // the existing one may have other (immutable) claim templates, and creating it fails
  // harmlessly with AlreadyExists where applying would be rejected as an invalid update.
  if (!observed) return createStep(db, built, "missing");
  const statefulSet = claimTemplates === undefined ? built : {
    ...built,
    spec: { ...built.spec as Record<string, unknown>, volumeClaimTemplates: claimTemplates },
  };
  // The spec first, so that the reason names what changes for the database, not the bookkeeping.
  const specDiff = compareDesired({ spec: statefulSet.spec }, observed);
  const diff = specDiff.equal ? compareDesired(statefulSet, observed) : specDiff;
  if (diff.equal) return { writes: [], events: [] };
  // An update of the version that was read: if the cache was behind (the StatefulSet was
  // changed, or deleted and re-created, since), the server answers Conflict and the next
  // reconcile sees the current one.
  const object = overlay(withoutServerFields(observed), statefulSet);
  const before = (observed.spec as { replicas?: number } | undefined)?.replicas;
  return {
    writes: [{ kind: "update", object, reason: diff.reason }],
    events: before === replicas
      ? []
      : [normalEvent(db, "Scaled", `Scaling from ${before ?? 0} to ${replicas} instances`)],
  };
}

/**
 * Readiness from the StatefulSet. When this reconcile writes, the observed StatefulSet describes
 * the old spec, so nothing is claimed ready until the next reconcile sees the result.
 *
 * The StatefulSet's ready count is believed only as far as the cache shows it controlling that
 * many pods: a stale view (a relist after a restart may answer from an older snapshot) can show a
 * StatefulSet a user deleted, still reporting the pods it had, beside the pods its successor made.
 */
function readiness(
  db: PostgresDB,
  spec: ValidSpec,
  children: Children,
  childWrites: readonly Action[],
): StatusInput {
  const writing = childWrites.length > 0;
  const statefulSet = children.statefulSet;
  const namespace = db.metadata.namespace ?? "default";
  const connection = connectionString(
    readWriteServiceName(db.metadata.name),
    namespace,
    spec.databaseName,
  );
  const readOnly = connectionString(
    readOnlyServiceName(db.metadata.name),
    namespace,
    spec.databaseName,
  );
  if (
    !statefulSet &&
    childWrites.some((w) => w.kind === "create" && w.object.kind === "StatefulSet")
  ) {
    // The status is written after this reconcile's creates succeeded: every object then exists
    // and no instance is ready yet. Saying so now saves the status write of the next reconcile,
    // which would only move "Provisioning" to "0/N instances ready".
    return {
      phase: "Creating",
      ready: false,
      reason: "InstancesNotReady",
      message: `0/${spec.replicas} instances ready`,
      connectionString: connection,
      readOnlyConnectionString: readOnly,
      readyReplicas: 0,
    };
  }
  if (!statefulSet || writing) {
    return {
      phase: statefulSet ? "Creating" : "Pending",
      ready: false,
      reason: "Provisioning",
      message: "Creating or updating the database's objects",
      connectionString: connection,
      readOnlyConnectionString: readOnly,
    };
  }
  const facts = statefulSetReadiness(statefulSet);
  // The instances are the pods the cache shows this StatefulSet (by uid) controlling.
  const readyReplicas = Math.min(facts.readyReplicas, children.instances?.length ?? 0);
  const ready = facts.current && readyReplicas >= spec.replicas &&
    facts.updatedReplicas >= spec.replicas;
  return {
    phase: ready ? "Running" : "Creating",
    ready,
    reason: ready ? "InstancesReady" : "InstancesNotReady",
    message: `${Math.min(readyReplicas, spec.replicas)}/${spec.replicas} instances ready`,
    connectionString: connection,
    readOnlyConnectionString: readOnly,
    readyReplicas,
  };
}
