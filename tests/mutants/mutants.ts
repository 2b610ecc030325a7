/**
 * Test-only mutants of the PostgresDB reconciler, one per bug pattern from the published record of
 * operator bugs (Sieve, Acto) and from the tutorial itself. Each must be caught by a checker; the
 * README's mutant table says which fault and which checker it takes.
 *
 * @module
 */

import type { Action } from "../../core/actions.ts";
import { type ClusterClient, isApiError, withOverrides } from "../../core/cluster.ts";
import { controllerOf, type KubeObject } from "../../core/object.ts";
import type { Observed, ReconcileContext, Reconciler } from "../../core/reconciler.ts";
import { postgresReconciler, reconcilePostgresDB } from "../../core/postgres/reconcile.ts";
import { buildCredentialsSecret, generatePassword } from "../../core/postgres/secret.ts";
import { secretName } from "../../core/postgres/naming.ts";
import { SOURCE_GENERATION } from "../../core/postgres/labels.ts";
import type { PostgresDB } from "../../core/postgres/types.ts";
import { SECRET } from "../../core/postgres/types.ts";
import { validatePostgresDB } from "../../core/postgres/validate.ts";
import { ROLE_LABEL } from "../../core/postgres/labels.ts";
import { podName, podOrdinal, readWriteServiceName } from "../../core/postgres/naming.ts";
import { decide } from "../../core/agent/decide.ts";
import type {
  AgentAction,
  AgentIntent,
  Conninfo,
  InstanceObservation,
} from "../../core/agent/types.ts";
import type { DataPlaneOptions } from "../../sim/data_plane.ts";

/** A mutant: a reconciler with one bug, the real one behind a buggy client, or a buggy agent. */
export interface Mutant {
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  reconciler: Reconciler<PostgresDB>;
  /** Wraps the controller's cluster client, for bugs of the runtime rather than the decisions. */
  wrapClient?: (client: ClusterClient) => ClusterClient;
  /** The simulated data plane's options: a mutant agent's decision, for bugs of the agent. */
  dataPlane?: DataPlaneOptions;
  /** Hunted with the user actor (hand deletes and edits of children). @default false */
  userActor?: boolean;
}

function mutate(
  name: string,
  bug: string,
  reconcile: (observed: Observed<PostgresDB>, context: ReconcileContext) => Action[],
): Mutant {
  return {
    name,
    bug,
    reconciler: { ...postgresReconciler, reconcile: (o, c) => ({ actions: reconcile(o, c) }) },
  };
}

function real(observed: Observed<PostgresDB>, context: ReconcileContext): Action[] {
  return reconcilePostgresDB(observed, context).actions;
}

/** Every mutant. */
export const MUTANTS: readonly Mutant[] = [
  mutate(
    "password-regenerated",
    "writes the credentials Secret with a new password on every reconcile",
    (observed, context) => {
      const actions = real(observed, context);
      const validation = validatePostgresDB(observed.object);
      const hasSecret = observed.owned.some((o) => o.kind === SECRET.kind);
      if (!validation.ok || !hasSecret || observed.object.metadata.deletionTimestamp) {
        return actions;
      }
      const secret = buildCredentialsSecret(
        observed.object,
        validation.spec,
        generatePassword(context.random),
        generatePassword(context.random),
      );
      return [{ kind: "apply", object: secret, reason: "refresh credentials" }, ...actions];
    },
  ),
  mutate(
    "children-by-name",
    "finds its children by name without checking the owner's uid (Sieve's ZooKeeper bug)",
    (observed, context) => {
      // Take the controller uid of a same-named Secret as if it were this object's own.
      const db = observed.object;
      const found = observed.lookup({
        ...SECRET,
        namespace: db.metadata.namespace,
        name: secretName(db.metadata.name),
      });
      const uid = found ? controllerOf(found)?.uid : undefined;
      if (!uid || uid === db.metadata.uid) return real(observed, context);
      const impostor = structuredClone(db);
      impostor.metadata.uid = uid;
      return real({ ...observed, object: impostor }, context);
    },
  ),
  mutate(
    "ready-too-early",
    "reports Ready as soon as the StatefulSet exists, as the tutorial does",
    (observed, context) => {
      const actions = real(observed, context);
      const db = observed.object;
      if (!observed.owned.some((o) => o.kind === "StatefulSet")) return actions;
      if (!validatePostgresDB(db).ok) return actions;
      const status = actions.find((a) => a.kind === "patchStatus");
      if (status?.kind === "patchStatus") {
        status.status = { ...status.status, ready: true, phase: "Running" };
      } else if (db.status?.ready !== true) {
        actions.push({
          kind: "patchStatus",
          target: {
            apiVersion: db.apiVersion,
            kind: db.kind,
            name: db.metadata.name,
            namespace: db.metadata.namespace,
          },
          status: { ...db.status, ready: true, phase: "Running" },
          reason: "ready",
        });
      }
      return actions;
    },
  ),
  mutate(
    "stale-statefulset-status",
    "reads readiness from a StatefulSet status that does not describe its current spec",
    (observed, context) => {
      // Pretend every StatefulSet status is current: drop the observedGeneration check.
      const fresh = (o: KubeObject | undefined) => {
        if (!o || o.kind !== "StatefulSet") return o;
        const copy = structuredClone(o);
        copy.status = { ...(copy.status as object), observedGeneration: copy.metadata.generation };
        return copy;
      };
      return real({
        ...observed,
        owned: observed.owned.map((o) => fresh(o)!),
        lookup: (ref) => fresh(observed.lookup(ref)),
      }, context);
    },
  ),
  mutate(
    "acts-on-stale-view",
    "acts on a view older than what it already wrote, so a restart onto a lagging cache undoes newer work (Sieve's time travel)",
    (observed, context) => {
      // Believe every StatefulSet was written for the generation in view: no stale-view guard.
      const generation = String(observed.object.metadata.generation ?? 0);
      const forget = (o: KubeObject | undefined) => {
        if (!o || o.kind !== "StatefulSet" || !o.metadata.annotations) return o;
        const copy = structuredClone(o);
        copy.metadata.annotations![SOURCE_GENERATION] = generation;
        return copy;
      };
      return real({
        ...observed,
        owned: observed.owned.map((o) => forget(o)!),
        lookup: (ref) => forget(observed.lookup(ref)),
      }, context);
    },
  ),
  mutate(
    "status-through-main-resource",
    "writes status by applying the whole object instead of through the status subresource",
    (observed, context) =>
      real(observed, context).map((action): Action =>
        action.kind === "patchStatus"
          ? {
            kind: "apply",
            object: { ...structuredClone(observed.object), status: action.status } as KubeObject,
            reason: action.reason,
          }
          : action
      ),
  ),
  mutate(
    "hot-loop",
    "applies the StatefulSet on every reconcile, even when nothing changed",
    (observed, context) => {
      const actions = real(observed, context);
      if (
        actions.some((a) =>
          (a.kind === "apply" || a.kind === "update") && a.object.kind === "StatefulSet"
        )
      ) {
        return actions;
      }
      const sts = observed.owned.find((o) => o.kind === "StatefulSet");
      if (!sts || observed.object.metadata.deletionTimestamp) return actions;
      const object = structuredClone(sts);
      delete object.status;
      return [...actions, { kind: "apply", object, reason: "always" }];
    },
  ),
  mutate(
    "event-every-reconcile",
    "records an Event on every reconcile, even when nothing changed: a hot loop that a schedule " +
      "ending with a delete hid from the steady-state check",
    (observed, context) => {
      const actions = real(observed, context);
      if (observed.object.metadata.deletionTimestamp) return actions;
      return [...actions, {
        kind: "emitEvent",
        regarding: observed.object,
        type: "Normal",
        eventReason: "Reconciled",
        message: "Reconciled",
      }];
    },
  ),
  mutate(
    "claim-template-rewritten",
    "rewrites the StatefulSet's volume claim template when storage changes (immutable)",
    (observed, context) => {
      const actions = real(observed, context);
      const validation = validatePostgresDB(observed.object);
      if (!validation.ok) return actions;
      const sts = observed.owned.find((o) => o.kind === "StatefulSet");
      const storage = (sts?.spec as {
        volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[];
      } | undefined)
        ?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;
      if (!sts || storage === undefined || storage === validation.spec.storage) return actions;
      const object = structuredClone(sts);
      delete object.status;
      const spec = object.spec as {
        volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[];
      };
      spec.volumeClaimTemplates[0]!.spec.resources.requests.storage = validation.spec.storage;
      return [{ kind: "apply", object, reason: "storage changed" }, ...actions];
    },
  ),
  mutate(
    "growth-deletes-pods",
    "re-creates the StatefulSet for a larger storage with a background delete, so its pods go too",
    (observed, context) =>
      real(observed, context).map((action) => {
        if (action.kind !== "delete" || action.propagationPolicy !== "Orphan") return action;
        const { propagationPolicy: _orphan, ...background } = action;
        return background;
      }),
  ),
];

/**
 * A controller that takes a conflict for success: the runtime forgets the key and the write is
 * lost until something else changes.
 */
export const noRetryOnConflict: Mutant = {
  name: "no-retry-on-conflict",
  bug: "takes a 409 Conflict for success, so the write is lost instead of retried",
  reconciler: postgresReconciler,
  wrapClient: (client) => {
    const swallow = <T>(write: () => Promise<T>): Promise<T> =>
      write().catch((error) => {
        if (isApiError(error, "Conflict")) return undefined as T;
        throw error;
      });
    return withOverrides(client, {
      create: (o) => swallow(() => client.create(o)),
      update: (o) => swallow(() => client.update(o)),
      apply: (o, opts) => swallow(() => client.apply(o, opts)),
      patchStatus: (r, s, opts) => swallow(() => client.patchStatus(r, s, opts)),
      delete: (t, n, ns, opts) => swallow(() => client.delete(t, n, ns, opts)),
      createEvent: (e) => swallow(() => client.createEvent(e)),
    });
  },
};

/**
 * A controller that decides a new password on its cache alone: when its cache holds no Secret
 * (the user deleted it, or the cache has not seen it), it generates one without reading the
 * volumes live, though the server may hold a volume initialised with the old password.
 */
export const credentialsFromCache: Mutant = {
  name: "credentials-from-cache",
  bug: "regenerates the password when the Secret is missing from its cache, without reading " +
    "the volumes live",
  reconciler: {
    ...postgresReconciler,
    // The Secret is still read by name (a user's is adopted); the volumes are not.
    liveReads: (observed) =>
      (postgresReconciler.liveReads?.(observed) ?? []).filter((r) => r.type.kind === "Secret"),
    reconcile: (observed, context) => {
      const db = observed.object;
      const namespace = db.metadata.namespace ?? "default";
      const name = secretName(db.metadata.name);
      if (observed.lookup({ ...SECRET, namespace, name })) {
        return reconcilePostgresDB(observed, context);
      }
      const blind: Observed<PostgresDB> = {
        object: db,
        owned: observed.owned,
        lookup: (ref) => ref.kind === "PersistentVolumeClaim" ? undefined : observed.lookup(ref),
      };
      return reconcilePostgresDB(blind, context);
    },
  },
  userActor: true,
};

/** The writes of a StatefulSet or Service in `actions`, changed by `change` (a copy). */
function rewriteWrites(
  actions: Action[],
  matches: (object: KubeObject) => boolean,
  change: (object: KubeObject) => void,
): Action[] {
  return actions.map((action) => {
    if (action.kind !== "create" && action.kind !== "apply" && action.kind !== "update") {
      return action;
    }
    if (!matches(action.object)) return action;
    const object = structuredClone(action.object);
    change(object);
    return { ...action, object };
  });
}

/** Mutants of the replication topology: the reconciler's role labels, Services and scaling. */
export const TOPOLOGY_MUTANTS: readonly Mutant[] = [
  mutate(
    "primary-label-in-template",
    "puts the primary role label in the pod template, so every new pod starts labelled primary",
    (observed, context) =>
      rewriteWrites(
        real(observed, context),
        (o) => o.kind === "StatefulSet",
        (o) => {
          const template = (o.spec as { template: { metadata: { labels: object } } }).template;
          template.metadata.labels = { ...template.metadata.labels, [ROLE_LABEL]: "primary" };
        },
      ),
  ),
  mutate(
    "rw-selects-every-instance",
    "builds the -rw Service's selector from the instance labels alone, without the role label",
    (observed, context) => {
      const rw = readWriteServiceName(observed.object.metadata.name);
      const isRw = (o: KubeObject) => o.kind === "Service" && o.metadata.name === rw;
      // Its own desired -rw Service lacks the role: the stored one looks right to it as it is.
      const asDesired = (o: KubeObject | undefined) => {
        if (!o || !isRw(o)) return o;
        const copy = structuredClone(o);
        const spec = copy.spec as { selector?: Record<string, string> };
        spec.selector = { ...spec.selector, [ROLE_LABEL]: "primary" };
        return copy;
      };
      const view: Observed<PostgresDB> = {
        ...observed,
        owned: observed.owned.map((o) => asDesired(o)!),
        lookup: (ref) => asDesired(observed.lookup(ref)),
      };
      return rewriteWrites(real(view, context), isRw, (o) => {
        const spec = o.spec as { selector: Record<string, string> };
        const { [ROLE_LABEL]: _role, ...rest } = spec.selector;
        spec.selector = rest;
      });
    },
  ),
  {
    // The primary sits above ordinal 0 only after a lost primary volume: hunted with the user.
    ...mutate(
      "scale-down-removes-primary",
      "scales the StatefulSet to spec.replicas wherever the primary is, so a scale-down may " +
        "remove it (hunted with the user actor)",
      (observed, context) => {
        const validation = validatePostgresDB(observed.object);
        const actions = real(observed, context);
        if (!validation.ok) return actions;
        return rewriteWrites(actions, (o) => o.kind === "StatefulSet", (o) => {
          (o.spec as { replicas: number }).replicas = validation.spec.replicas;
        });
      },
    ),
    userActor: true,
  },
  agentMutant(
    "standby-follows-a-standby",
    "an agent points a standby's primary_conninfo at the previous instance (a cascade), not the " +
      "target primary",
    (actions, obs, redirect) => {
      // Once its standby data follows the target, it rewrites the configuration to cascade.
      const data = obs.data;
      if (data.kind !== "initialized" || data.config.role !== "standby") return actions;
      const conninfo = data.config.primaryConninfo;
      const cascade = redirect(conninfo);
      // Already cascading: it keeps that configuration, and starts on it.
      if (conninfo.host === cascade.host) {
        const stopped = obs.process === "stopped" || obs.process === "crashed";
        const start: AgentAction = { kind: "start", reason: "cascade" };
        return stopped ? [start, ...actions.slice(-1)] : actions.slice(-1);
      }
      const config = { role: "standby" as const, primaryConninfo: cascade };
      return [{ kind: "writeConfig", config, reason: "cascade" }, ...actions.slice(-1)];
    },
  ),
  agentMutant(
    "clone-from-a-standby",
    "an agent clones from the previous instance (perhaps a standby), not the target primary",
    (actions, _obs, redirect) =>
      actions.map((action) => {
        if (action.kind !== "cloneFrom" && action.kind !== "reclone") return action;
        const conninfo = redirect(action.conninfo);
        return { ...action, conninfo, upstream: conninfo.host.split(".")[0]! };
      }),
  ),
];

/**
 * A mutant agent: the real operator, and agents whose decisions `change` rewrites; `redirect`
 * turns a conninfo into one for the instance before this one. Only instances of ordinal 2 and up
 * are mutated (the instance before them is not the first primary).
 */
function agentMutant(
  name: string,
  bug: string,
  change: (
    actions: AgentAction[],
    obs: InstanceObservation,
    redirect: (c: Conninfo) => Conninfo,
  ) => AgentAction[],
): Mutant {
  const mutantDecide = (obs: InstanceObservation, intent: AgentIntent) => {
    const actions = decide(obs, intent);
    const db = intent.headlessService;
    const ordinal = podOrdinal(db, intent.self);
    if (ordinal === undefined || ordinal < 2) return actions;
    const previous = podName(db, ordinal - 1);
    const redirect = (c: Conninfo): Conninfo => ({
      ...c,
      host: `${previous}.${c.host.split(".").slice(1).join(".")}`,
    });
    return change(actions, obs, redirect);
  };
  return { name, bug, reconciler: postgresReconciler, dataPlane: { decide: mutantDecide } };
}

/** Every mutant, the client-side ones last. */
export const ALL_MUTANTS: readonly Mutant[] = [
  ...MUTANTS,
  ...TOPOLOGY_MUTANTS,
  noRetryOnConflict,
  credentialsFromCache,
];
