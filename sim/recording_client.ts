/**
 * A `ClusterClient` wrapper that reports every write and its outcome, for checkers: what the
 * controller under test tried to do, not only what reached the store.
 *
 * @module
 */

import {
  type ApiError,
  type ApplyOptions,
  type ClusterClient,
  type DeleteOptions,
  isApiError,
  type ListOptions,
  type ListResult,
  type WatchHandle,
  type WatchOptions,
} from "../core/cluster.ts";
import {
  describeRef,
  type KubeObject,
  type ObjectRef,
  refOf,
  type TypeRef,
} from "../core/object.ts";

/** One write of the controller under test. */
export interface WriteRecord {
  verb: "create" | "update" | "apply" | "patchStatus" | "delete" | "createEvent";
  /** `Kind namespace/name`. */
  target: string;
  ref: ObjectRef;
  /** The object written (create, update, apply, createEvent). */
  object?: KubeObject;
  /** The status written (patchStatus). */
  status?: Record<string, unknown>;
  /** The stored object the server answered with, when it answered. */
  result?: KubeObject;
  /** The API error reason, when the write failed (it may still have committed). */
  error?: ApiError["reason"] | "other";
}

/** Reports each write to `onWrite` after it settles. */
export class RecordingClient implements ClusterClient {
  readonly #inner: ClusterClient;
  readonly #onWrite: (write: WriteRecord) => void;

  constructor(inner: ClusterClient, onWrite: (write: WriteRecord) => void) {
    this.#inner = inner;
    this.#onWrite = onWrite;
  }

  async #record<T>(base: Omit<WriteRecord, "target">, run: () => Promise<T>): Promise<T> {
    const write: WriteRecord = { ...base, target: describeRef(base.ref) };
    try {
      const result = await run();
      if (result && typeof result === "object") write.result = result as unknown as KubeObject;
      return result;
    } catch (error) {
      write.error = isApiError(error) ? error.reason : "other";
      throw error;
    } finally {
      this.#onWrite(write);
    }
  }

  get(type: TypeRef, name: string, namespace?: string): Promise<KubeObject> {
    return this.#inner.get(type, name, namespace);
  }

  list(type: TypeRef, options?: ListOptions): Promise<ListResult> {
    return this.#inner.list(type, options);
  }

  watch(type: TypeRef, options: WatchOptions): Promise<WatchHandle> {
    return this.#inner.watch(type, options);
  }

  create(object: KubeObject): Promise<KubeObject> {
    return this.#record(
      { verb: "create", ref: refOf(object), object },
      () => this.#inner.create(object),
    );
  }

  update(object: KubeObject): Promise<KubeObject> {
    return this.#record(
      { verb: "update", ref: refOf(object), object },
      () => this.#inner.update(object),
    );
  }

  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    return this.#record(
      { verb: "apply", ref: refOf(object), object },
      () => this.#inner.apply(object, options),
    );
  }

  patchStatus(
    ref: TypeRef & { name: string; namespace?: string | undefined },
    status: Record<string, unknown>,
    options?: { resourceVersion?: string },
  ): Promise<KubeObject> {
    return this.#record(
      { verb: "patchStatus", ref, status },
      () => this.#inner.patchStatus(ref, status, options),
    );
  }

  delete(
    type: TypeRef,
    name: string,
    namespace: string | undefined,
    options?: DeleteOptions,
  ): Promise<void> {
    return this.#record(
      { verb: "delete", ref: { ...type, name, namespace } },
      () => this.#inner.delete(type, name, namespace, options),
    );
  }

  createEvent(event: KubeObject): Promise<void> {
    return this.#record(
      { verb: "createEvent", ref: refOf(event), object: event },
      () => this.#inner.createEvent(event),
    );
  }
}
