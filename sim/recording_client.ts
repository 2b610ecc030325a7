/**
 * A `ClusterClient` wrapper that reports every write and its outcome, for checkers: what the
 * controller under test tried to do, not only what reached the store.
 *
 * @module
 */

import {
  type ApiError,
  type ClusterClient,
  InterceptedClient,
  isApiError,
  type PortCall,
} from "../core/cluster.ts";
import { describeRef, type KubeObject, type ObjectRef, refOf } from "../core/object.ts";

/** One write of the controller under test. */
export interface WriteRecord {
  /** The port operation. */
  verb: "create" | "update" | "apply" | "patchStatus" | "delete" | "createEvent";
  /** `Kind namespace/name`. */
  target: string;
  /** The object written. */
  ref: ObjectRef;
  /** The object written (create, update, apply, createEvent). */
  object?: KubeObject;
  /** The status written (patchStatus). */
  status?: Record<string, unknown>;
  /** The stored object the server answered with, when it answered. */
  result?: KubeObject;
  /** The API error reason, when the write failed (it may still have committed). */
  error?: ApiError["reason"] | "other";
  /** A delete's propagation policy, when it named one. */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
}

/** Reports each write to `onWrite` after it settles; reads pass unrecorded. */
export class RecordingClient extends InterceptedClient {
  /** Wraps `inner`; `onWrite` hears of each write once it has an answer (or an error). */
  constructor(inner: ClusterClient, onWrite: (write: WriteRecord) => void) {
    super(inner, {
      around(call, next) {
        const base = writeOf(call);
        return base ? record(base, next, onWrite) : next();
      },
    });
  }
}

async function record<T>(
  base: Omit<WriteRecord, "target">,
  run: () => Promise<T>,
  onWrite: (write: WriteRecord) => void,
): Promise<T> {
  const write: WriteRecord = { ...base, target: describeRef(base.ref) };
  try {
    const result = await run();
    if (result && typeof result === "object") write.result = result as unknown as KubeObject;
    return result;
  } catch (error) {
    write.error = isApiError(error) ? error.reason : "other";
    throw error;
  } finally {
    onWrite(write);
  }
}

/** The record of a write call before it is sent; undefined for a read. */
function writeOf(call: PortCall): Omit<WriteRecord, "target"> | undefined {
  switch (call.operation) {
    case "get":
    case "list":
    case "watch":
      return undefined;
    case "create":
    case "update":
    case "apply":
    case "createEvent":
      return { verb: call.operation, ref: refOf(call.object), object: call.object };
    case "patchStatus":
      return { verb: "patchStatus", ref: call.ref, status: call.status };
    case "delete":
      return {
        verb: "delete",
        ref: { ...call.type, name: call.name, namespace: call.namespace },
        ...(call.options?.propagationPolicy === undefined
          ? {}
          : { propagationPolicy: call.options.propagationPolicy }),
      };
  }
}
