/**
 * The executor: the one place where actions become API calls.
 *
 * @module
 */

import type { Action } from "../core/actions.ts";
import { toTimestamp } from "../core/clock.ts";
import { type ClusterWriter, isApiError } from "../core/cluster.ts";
import { type KubeObject, refOf } from "../core/object.ts";
import { errorMessage, type Logger, silentLogger } from "./log.ts";

/** Options of {@link executeActions}. */
export interface ExecuteOptions {
  /** The field manager of applies, and the Events' reporting component. */
  fieldManager: string;
  /** The current time, for Event timestamps. */
  nowMs: number;
  /** Called after each successful write; a throw stops the reconcile there (crash injection). */
  afterWrite?: (action: Action, index: number) => void;
  /** Where each write is logged; silent when absent. */
  logger?: Logger;
  /**
   * Namespaces the server said are terminating: no write goes into them (it could never
   * succeed), and a refusal that says so adds its namespace here.
   */
  terminatingNamespaces?: Set<string>;
}

/**
 * True for the API server's refusal of new content in a terminating namespace: 403 Forbidden,
 * "unable to create new content in namespace X because it is being terminated" (cause
 * `NamespaceTerminating`).
 */
export function isNamespaceTerminating(error: unknown): boolean {
  return isApiError(error, "Forbidden") &&
    /because it is being terminated|NamespaceTerminating/.test((error as Error).message);
}

/** The namespace an action writes into, if any. */
function namespaceOf(action: Action): string | undefined {
  switch (action.kind) {
    case "create":
    case "apply":
    case "update":
      return action.object.metadata.namespace;
    case "delete":
    case "patchStatus":
      return action.target.namespace;
    case "emitEvent":
      return action.regarding.metadata.namespace ?? "default";
    case "requeueAfter":
      return undefined;
  }
}

/** What an execution did. */
export interface ExecuteResult {
  /** Writes that reached the API server. */
  writes: number;
  /** The smallest `requeueAfter` among the actions, if any. */
  requeueAfterMs?: number;
}

/**
 * Runs actions in order through the cluster writer. The first failed write stops the run and
 * throws (the runtime retries the whole reconcile with backoff, which is safe because reconciles
 * are idempotent). A failed Event is logged and skipped: events are best-effort. With
 * `terminatingNamespaces`, a write refused because its namespace is terminating is not an error:
 * that namespace gets no more writes, in this run or later ones.
 */
export async function executeActions(
  writer: ClusterWriter,
  actions: readonly Action[],
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const result: ExecuteResult = { writes: 0 };
  const logger = options.logger ?? silentLogger;
  const terminating = options.terminatingNamespaces;
  for (const [index, action] of actions.entries()) {
    const namespace = namespaceOf(action);
    if (namespace !== undefined && terminating?.has(namespace)) continue;
    let wrote: boolean;
    try {
      wrote = await execute(writer, action, options, result, logger);
    } catch (error) {
      if (!terminating || namespace === undefined || !isNamespaceTerminating(error)) throw error;
      // Everything in the namespace is being deleted, this PostgresDB too: stop writing there.
      terminating.add(namespace);
      logger.log("info", "Namespace is terminating: no more writes into it", { namespace });
      continue;
    }
    if (!wrote) continue;
    result.writes++;
    options.afterWrite?.(action, index);
  }
  return result;
}

/**
 * Runs one action; true when it was a write that succeeded. A failed Event is logged and skipped
 * (false); any other failure throws.
 */
async function execute(
  writer: ClusterWriter,
  action: Action,
  options: ExecuteOptions,
  result: ExecuteResult,
  logger: Logger,
): Promise<boolean> {
  {
    switch (action.kind) {
      case "create":
        await writer.create(action.object);
        break;
      case "apply":
        await writer.apply(action.object, { fieldManager: options.fieldManager, force: true });
        break;
      case "update":
        await writer.update(action.object);
        break;
      case "delete":
        await writer.delete(
          action.target,
          action.target.name,
          action.target.namespace,
          { uid: action.uid, propagationPolicy: action.propagationPolicy ?? "Background" },
        );
        break;
      case "patchStatus":
        await writer.patchStatus(
          action.target,
          action.status,
          action.resourceVersion ? { resourceVersion: action.resourceVersion } : {},
        );
        break;
      case "emitEvent":
        try {
          await writer.createEvent(buildEvent(action, options));
        } catch (error) {
          if (isNamespaceTerminating(error) && options.terminatingNamespaces) throw error;
          logger.log("warn", "Cannot record event", { error: errorMessage(error) });
          return false;
        }
        break;
      case "requeueAfter":
        result.requeueAfterMs = Math.min(result.requeueAfterMs ?? Infinity, action.delayMs);
        return false;
    }
  }
  return true;
}

/** Builds a core/v1 Event for an `emitEvent` action. */
export function buildEvent(
  action: Extract<Action, { kind: "emitEvent" }>,
  options: { fieldManager: string; nowMs: number },
): KubeObject {
  const regarding = action.regarding;
  const time = toTimestamp(options.nowMs);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: "",
      generateName: `${regarding.metadata.name}.`,
      namespace: regarding.metadata.namespace ?? "default",
    },
    involvedObject: {
      ...refOf(regarding),
      uid: regarding.metadata.uid,
      resourceVersion: regarding.metadata.resourceVersion,
    },
    type: action.type,
    reason: action.eventReason,
    message: action.message,
    source: { component: options.fieldManager },
    reportingComponent: options.fieldManager,
    reportingInstance: options.fieldManager,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}
