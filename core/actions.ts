/**
 * Actions are data: what a reconcile decided, before anything is done. Each `kind` completes the
 * sentence "the operator will ...". Only the executor turns actions into API calls, so a plan can
 * be printed, compared in tests, and replayed under faults.
 *
 * @module
 */

import { describeRef, type KubeObject, type ObjectRef, refOf } from "./object.ts";

/** Create an object that must not exist yet; an existing one is never overwritten. */
export interface CreateAction {
  /** Discriminant. */
  kind: "create";
  /** The object to create. */
  object: KubeObject;
  /** Why, for plans and logs. */
  reason: string;
}

/** Server-side apply: create the object or bring the fields the controller owns to these values. */
export interface ApplyAction {
  /** Discriminant. */
  kind: "apply";
  /** The fields the controller owns, with their desired values. */
  object: KubeObject;
  /** Why, for plans and logs. */
  reason: string;
}

/**
 * Replace an object that was read, only if it is still the version that was read
 * (`metadata.resourceVersion`): a cache that was behind gets a conflict, never a blind write.
 */
export interface UpdateAction {
  /** Discriminant. */
  kind: "update";
  /** The whole object as it must become, carrying the `resourceVersion` that was read. */
  object: KubeObject;
  /** Why, for plans and logs. */
  reason: string;
}

/** Delete an object, only if it still has the given uid. */
export interface DeleteAction {
  /** Discriminant. */
  kind: "delete";
  /** The object to delete. */
  target: ObjectRef;
  /** Precondition: the uid the decision was made about. */
  uid: string;
  /**
   * What happens to its dependents: `Orphan` keeps them (a StatefulSet re-created with a new
   * claim template, its pods untouched). @default "Background"
   */
  propagationPolicy?: "Background" | "Orphan";
  /** Why, for plans and logs. */
  reason: string;
}

/** Write the status subresource of the reconciled object. */
export interface PatchStatusAction {
  /** Discriminant. */
  kind: "patchStatus";
  /** The object whose status is written. */
  target: ObjectRef;
  /** The whole new status. */
  status: Record<string, unknown>;
  /** Precondition: the version the status was computed from; a newer one makes it a conflict. */
  resourceVersion?: string;
  /** Why, for plans and logs. */
  reason: string;
}

/** Record an Event about the reconciled object. */
export interface EmitEventAction {
  /** Discriminant. */
  kind: "emitEvent";
  /** The object the Event is about. */
  regarding: KubeObject;
  /** `Warning` for what a user must act on, `Normal` otherwise. */
  type: "Normal" | "Warning";
  /** A CamelCase reason such as `Created` or `InvalidSpec`. */
  eventReason: string;
  /** A sentence for `kubectl describe`. */
  message: string;
}

/** Reconcile the same object again after a delay, even if nothing changes. */
export interface RequeueAfterAction {
  /** Discriminant. */
  kind: "requeueAfter";
  /** How long to wait, in milliseconds. */
  delayMs: number;
  /** Why, for plans and logs. */
  reason: string;
}

/** Everything a reconcile can decide to do. */
export type Action =
  | CreateAction
  | ApplyAction
  | UpdateAction
  | DeleteAction
  | PatchStatusAction
  | EmitEventAction
  | RequeueAfterAction;

/** True for actions that write to the API server. */
export function isWrite(action: Action): boolean {
  return action.kind !== "requeueAfter";
}

/**
 * One line that completes "the operator will ...", for plans and logs.
 *
 * @example
 * ```ts
 * import { describeAction } from "./actions.ts";
 * const line = describeAction({ kind: "requeueAfter", delayMs: 5000, reason: "waiting" });
 * console.assert(line === "requeue after 5000ms: waiting");
 * ```
 */
export function describeAction(action: Action): string {
  switch (action.kind) {
    case "create":
      return `create ${describeRef(refOf(action.object))}: ${action.reason}`;
    case "apply":
      return `apply ${describeRef(refOf(action.object))}: ${action.reason}`;
    case "update":
      return `update ${describeRef(refOf(action.object))}: ${action.reason}`;
    case "delete":
      return action.propagationPolicy === "Orphan"
        ? `delete ${describeRef(action.target)} (orphaning its dependents): ${action.reason}`
        : `delete ${describeRef(action.target)}: ${action.reason}`;
    case "patchStatus":
      return `patch status of ${describeRef(action.target)}: ${action.reason}`;
    case "emitEvent":
      return `emit ${action.type} event ${action.eventReason} on ${
        describeRef(refOf(action.regarding))
      }: ${action.message}`;
    case "requeueAfter":
      return `requeue after ${action.delayMs}ms: ${action.reason}`;
  }
}
