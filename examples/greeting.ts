/**
 * A controller of a custom resource, written with the library's helpers only (`../mod.ts`): a
 * `Greeting` (`example.com/v1`) gets an owned ConfigMap `<name>-greeting` holding its text, a
 * `Ready` condition, and a finalizer that deletes the ConfigMap and says goodbye (an Event)
 * before the Greeting may go.
 *
 * The decision is the library's shape: classify the finalizer state, then act. Run its tests, in
 * the simulated cluster and under the fault harness, with `deno test -A examples/greeting_test.ts`.
 *
 * @module
 */

import {
  type Action,
  addFinalizer,
  buildCrd,
  conditionsSchema,
  decideChild,
  finalizerState,
  type KubeObject,
  type Observed,
  ownedBy,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
  refOf,
  removeFinalizer,
  statusAction,
  type TypeRef,
  withCondition,
} from "../mod.ts";

/** The Greeting kind. */
export const GREETING: TypeRef = { apiVersion: "example.com/v1", kind: "Greeting" };

/** The finalizer the controller puts on every Greeting. */
export const GOODBYE_FINALIZER = "example.com/goodbye";

/** The Greeting CRD, built from its schema. */
export const greetingCrd: KubeObject = buildCrd({
  group: "example.com",
  names: { kind: "Greeting", shortNames: ["greet"] },
  versions: [{
    name: "v1",
    description: "A greeting, kept in a ConfigMap.",
    spec: {
      type: "object",
      required: ["message"],
      properties: {
        message: { type: "string", minLength: 1, description: "What to say." },
        to: { type: "string", default: "world", description: "Whom to greet." },
      },
    },
    status: {
      type: "object",
      properties: {
        observedGeneration: { type: "integer", format: "int64" },
        conditions: conditionsSchema(),
      },
    },
    printerColumns: [
      { name: "Message", type: "string", jsonPath: ".spec.message" },
      { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    ],
  }],
});

/** The ConfigMap a Greeting owns. */
export function buildGreetingConfigMap(greeting: KubeObject): KubeObject {
  const spec = (greeting.spec ?? {}) as { message?: unknown; to?: unknown };
  const to = typeof spec.to === "string" ? spec.to : "world";
  return ownedBy(greeting, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${greeting.metadata.name}-greeting` },
    data: { text: `${String(spec.message)}, ${to}!` },
  });
}

/** Decides what to do for one Greeting. */
export function reconcileGreeting(observed: Observed, context: ReconcileContext): ReconcileResult {
  const greeting = observed.object;
  const configMap = observed.owned.find((o) => o.kind === "ConfigMap");
  switch (finalizerState(greeting, GOODBYE_FINALIZER)) {
    case "add":
      return { actions: [addFinalizer(greeting, GOODBYE_FINALIZER)] };
    case "done":
      return { actions: [] };
    case "cleanup":
      return { actions: cleanup(greeting, configMap) };
    case "apply":
      return { actions: converge(greeting, configMap, context.nowMs) };
  }
}

/**
 * The ConfigMap goes first; once it is gone, the finalizer's removal, then a goodbye. The Event
 * comes after the removal: a reconcile on a cache that has not yet seen the removal gets a conflict
 * at the update and stops there, so the goodbye is never said twice (a crash between the two
 * loses it: Events are best-effort).
 */
function cleanup(greeting: KubeObject, configMap: KubeObject | undefined): Action[] {
  if (configMap) {
    return [{
      kind: "delete",
      target: refOf(configMap),
      uid: configMap.metadata.uid ?? "",
      reason: "the Greeting is being deleted",
    }];
  }
  return [
    removeFinalizer(greeting, GOODBYE_FINALIZER),
    {
      kind: "emitEvent",
      regarding: greeting,
      type: "Normal",
      eventReason: "Goodbye",
      message: `Goodbye from ${greeting.metadata.name}`,
    },
  ];
}

function converge(greeting: KubeObject, configMap: KubeObject | undefined, nowMs: number) {
  const message = (greeting.spec as { message?: unknown } | undefined)?.message;
  if (typeof message !== "string" || message === "") {
    return ready(greeting, false, "InvalidSpec", "spec.message must be a non-empty string", nowMs);
  }
  const decision = decideChild(buildGreetingConfigMap(greeting), configMap);
  switch (decision.kind) {
    case "foreign":
      return ready(greeting, false, "ConfigMapConflict", "The ConfigMap has another owner", nowMs);
    case "unchanged":
      return ready(greeting, true, "Greeted", "The ConfigMap holds the greeting", nowMs);
    case "create":
    case "change":
      return [
        decision.action,
        ...ready(greeting, false, "Writing", "Writing the ConfigMap", nowMs),
      ];
  }
}

function ready(
  greeting: KubeObject,
  isReady: boolean,
  reason: string,
  message: string,
  nowMs: number,
): Action[] {
  const condition = { type: "Ready", status: isReady ? "True" : "False", reason, message } as const;
  return statusAction(greeting, {
    observedGeneration: greeting.metadata.generation ?? 0,
    conditions: withCondition(greeting, condition, nowMs),
  });
}

/** The reconciler, ready for `new Controller(client, greetingReconciler, options)`. */
export const greetingReconciler: Reconciler = {
  name: "greeting",
  for: GREETING,
  owns: [{ apiVersion: "v1", kind: "ConfigMap" }],
  reconcile: reconcileGreeting,
};
