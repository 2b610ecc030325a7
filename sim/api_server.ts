/**
 * An in-memory Kubernetes API server for the simulated cluster. Every method is synchronous and
 * throws {@link ApiError} as the real server answers; {@link SimClient} puts latency in front.
 *
 * Modelled: one global resourceVersion; optimistic concurrency (409 Conflict); no-op writes that
 * bump nothing; uids and generateName; finalizers and deletionTimestamp; garbage collection by
 * owner references (background, foreground, orphan) and namespace deletion, both asynchronous;
 * the status subresource and `metadata.generation`; immutable built-in fields; field managers and
 * server-side apply (lists merged by their keys, conflicts unless forced); Secret `stringData` and Service defaulting; CRDs that register kinds; watches
 * with a bounded history (410 Gone), initial events and bookmarks. See `sim/README.md` for what
 * is not modelled.
 *
 * @module
 */

import {
  ApiError,
  type ApplyOptions,
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  type WatchHandle,
  type WatchOptions,
} from "../core/cluster.ts";
import { type Clock, type Random, toTimestamp } from "../core/clock.ts";
import { type KubeObject, type ObjectMeta, typeKey, type TypeRef } from "../core/object.ts";
import { validateWrite } from "./_builtin_rules.ts";
import { deepEqual, mergePatch } from "./_json.ts";
import type { TypeStore } from "./_object_index.ts";
import { namespaceOf, SimStore } from "./_store.ts";
import {
  encodeManagers,
  type ManagerEntry,
  managersAfterUpdate,
  serverSideApply,
  type WriteManager,
} from "./_server_side_apply.ts";
import { leafFields } from "./_field_paths.ts";
import {
  conflictError,
  isGone,
  matchesLabels,
  MODIFIED_DETAIL,
  notFoundError,
  prepareObject,
  randomNameSuffix,
  randomUid,
} from "./_store_helpers.ts";
import type { ChangeType } from "./_watch_hub.ts";
import { GarbageCollector } from "./garbage_collector.ts";
import { NamespaceController } from "./namespace_controller.ts";
import {
  BUILTIN_TYPES,
  kindLabel,
  resourceLabel,
  type ResourceType,
  typesFromCrd,
} from "./resource_types.ts";

export type { ChangeType, DeliveryFilter, SimWatchInfo } from "./_watch_hub.ts";
export type { SimApiServerHooks, SimStore, StoreChange, StoreListener } from "./_store.ts";

/** Options of {@link SimApiServer}. */
export interface SimApiServerOptions {
  /** Virtual delay between a commit and its delivery to watches. @default 1 */
  watchDelayMs?: number;
  /** How many changes the watch history keeps before older versions answer 410. @default 10000 */
  watchHistoryEvents?: number;
  /** The least virtual time between two BOOKMARK events of one watch. @default 60000 */
  bookmarkIntervalMs?: number;
  /** Virtual delay before the garbage collector and namespace cleanup act. @default 50 */
  gcDelayMs?: number;
  /**
   * Whether the default StorageClass `standard` allows volume expansion
   * (`allowVolumeExpansion`). @default true
   */
  volumeExpansion?: boolean;
}

/** The field manager of writes that name none (the built-in controllers' own writes). */
export const DEFAULT_FIELD_MANAGER = "kube-controller-manager";

const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
const NAMESPACE: TypeRef = { apiVersion: "v1", kind: "Namespace" };

/**
 * The simulated API server store.
 *
 * Guarantees: stored objects are never modified in place (each write stores a new object), so
 * snapshots handed to the watch log and to listeners stay valid; every method returns copies.
 *
 * @example
 * ```ts
 * import { SimApiServer } from "./api_server.ts";
 * import { VirtualClock } from "./clock.ts";
 * import { SeededRandom } from "./random.ts";
 * const server = new SimApiServer(new VirtualClock(), new SeededRandom(1));
 * const cm = server.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "default" } });
 * console.assert(server.get(cm, "a", "default").metadata.uid === cm.metadata.uid);
 * ```
 */
export class SimApiServer extends SimStore {
  readonly #random: Random;
  #nextClusterIp = 10;
  readonly #context = {
    nowMs: () => this.clock.nowMs(),
    newUid: () => randomUid(this.#random),
    allocateClusterIp: () => this.allocateClusterIp(),
  };

  /** Creates a server on `clock`, drawing uids and names from `random`. */
  constructor(clock: Clock, random: Random, options: SimApiServerOptions = {}) {
    super(clock, {
      watchDelayMs: options.watchDelayMs ?? 1,
      historyEvents: options.watchHistoryEvents ?? 10000,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60000,
    });
    this.#random = random;
    for (const type of BUILTIN_TYPES) this.registerType(type);
    const gcDelayMs = options.gcDelayMs ?? 50;
    new GarbageCollector(this, clock, { delayMs: gcDelayMs });
    new NamespaceController(this, clock, { delayMs: gcDelayMs });
    for (const name of ["default", "kube-system"]) {
      this.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
    this.create({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: "standard",
        annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
      },
      provisioner: "sim.local/volumes",
      reclaimPolicy: "Delete",
      volumeBindingMode: "Immediate",
      allowVolumeExpansion: options.volumeExpansion ?? true,
    });
  }

  /** Serves a kind (or changes how an already served kind behaves). */
  registerType(type: ResourceType): void {
    this.index.register(type);
  }

  /** The served kind named by `type`, if any. */
  resourceType(type: TypeRef): ResourceType | undefined {
    return this.index.store(type)?.resource;
  }

  /** Every served kind, in registration order. */
  resourceTypes(): ResourceType[] {
    return [...this.index.types.values()].map((store) => store.resource);
  }

  /** Reads one object; fails with NotFound. */
  get(type: TypeRef, name: string, namespace?: string): KubeObject {
    const store = this.#store(type);
    const found = this.#find(store, name, namespace);
    if (!found) throw notFoundError(store.resource, name);
    return this.answer(found);
  }

  /** Lists one kind sorted by namespace and name, with the current resourceVersion. */
  list(type: TypeRef, options: ListOptions = {}): ListResult {
    const store = this.#store(type);
    const items: KubeObject[] = [];
    const selector = options.labelSelector;
    for (const object of this.index.sorted(store, options.namespace)) {
      if (selector && !matchesLabels(object, selector)) continue;
      items.push(this.answer(object));
    }
    return { items, resourceVersion: this.resourceVersion };
  }

  /**
   * Creates an object; fails with AlreadyExists, NotFound (namespace) or Invalid. `fieldManager`
   * owns every field of the stored object (an `Update` entry of `metadata.managedFields`).
   */
  create(object: KubeObject, fieldManager: string = DEFAULT_FIELD_MANAGER): KubeObject {
    return this.#create(object, (next, writer) => managersAfterUpdate(undefined, next, writer), {
      manager: fieldManager,
      operation: "Update",
    });
  }

  #create(
    object: KubeObject,
    managers: (next: KubeObject, writer: WriteManager) => ManagerEntry[],
    who: Pick<WriteManager, "manager" | "operation">,
  ): KubeObject {
    const store = this.#store(object);
    const resource = store.resource;
    const meta = object.metadata ?? { name: "" };
    const namespace = namespaceOf(resource, meta.namespace);
    let name = meta.name;
    const prefix = meta.generateName;
    if (!name && typeof prefix === "string" && prefix) {
      name = this.#generateName(store, namespace, prefix);
    }
    if (!name) {
      throw new ApiError(
        "Invalid",
        `${
          kindLabel(resource)
        } "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    if (resource.namespaced) this.#checkNamespaceOpen(resource, namespace, name);
    if (meta.resourceVersion) {
      // The real server answers this with a 500, not a 400.
      throw new ApiError(
        "InternalError",
        "resourceVersion should not be set on objects to be created",
      );
    }
    if (store.objects.get(namespace)?.has(name)) {
      throw new ApiError("AlreadyExists", `${resourceLabel(resource)} "${name}" already exists`);
    }
    const next = prepareObject(resource, object, undefined, { name, namespace }, this.#context);
    validateWrite(resource, next, undefined);
    const entries = managers(next, this.#writer(resource, who));
    if (entries.length > 0) next.metadata.managedFields = encodeManagers(entries);
    return this.answer(this.commit(resource, "ADDED", next, undefined));
  }

  /**
   * Replaces an object. A set `metadata.resourceVersion` (or `uid`) must match the stored one;
   * for kinds with a status subresource the given status is ignored. `fieldManager` gains the
   * fields the update changes; other managers lose them (no conflicts on an update).
   */
  update(object: KubeObject, fieldManager: string = DEFAULT_FIELD_MANAGER): KubeObject {
    const { store, stored } = this.#existing(object);
    this.#checkPreconditions(store.resource, stored, object.metadata);
    const writer = this.#writer(store.resource, { manager: fieldManager, operation: "Update" });
    return this.answer(
      this.#replace(
        store.resource,
        stored,
        object,
        (next) => managersAfterUpdate(stored, next, writer),
      ),
    );
  }

  /**
   * Server-side apply with field managers (see `_server_side_apply.ts`): creates the object when
   * absent, else merges the applied fields into the stored object (keyed lists by their keys),
   * removes the fields this manager applied before and no longer applies unless another manager
   * owns them, and fails with Conflict when another manager owns a field it would change, unless
   * `force`. The result is written like an update.
   */
  apply(object: KubeObject, options: ApplyOptions): KubeObject {
    if (!options.fieldManager) {
      throw new ApiError(
        "BadRequest",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const store = this.#store(object);
    const name = object.metadata?.name;
    if (!name) {
      throw new ApiError(
        "Invalid",
        `${
          kindLabel(store.resource)
        } "" is invalid: metadata.name: Required value: name is required`,
      );
    }
    const resource = store.resource;
    const { managedFields: _m, ...appliedMeta } = object.metadata;
    const applied: KubeObject = { ...object, metadata: appliedMeta };
    if (resource.statusSubresource) delete applied.status;
    const who = { manager: options.fieldManager, operation: "Apply" as const };
    const stored = this.#find(store, name, object.metadata.namespace);
    if (!stored) {
      const { resourceVersion: _rv, ...metadata } = appliedMeta;
      return this.#create({ ...applied, metadata }, (_next, writer) => {
        const fields = new Set(leafFields(applied, !resource.statusSubresource).keys());
        return fields.size === 0 ? [] : [{ ...writer, fields }];
      }, who);
    }
    this.#checkPreconditions(resource, stored, object.metadata);
    const writer = { ...this.#writer(resource, who), force: options.force === true };
    const outcome = serverSideApply(stored, applied, writer);
    return this.answer(
      this.#replace(resource, stored, outcome.object as KubeObject, () => outcome.managers),
    );
  }

  /**
   * Writes `status` as an RFC 7386 merge patch through the status subresource; nothing else
   * changes. With `resourceVersion`, fails with Conflict when it is stale.
   */
  patchStatus(
    ref: TypeRef & { name: string; namespace?: string | undefined },
    status: Record<string, unknown>,
    options: { resourceVersion?: string } = {},
  ): KubeObject {
    const store = this.#store(ref);
    const resource = store.resource;
    if (!resource.statusSubresource) {
      throw new ApiError("NotFound", "the server could not find the requested resource");
    }
    const stored = this.#find(store, ref.name, ref.namespace);
    if (!stored) throw notFoundError(resource, ref.name);
    const precondition = options.resourceVersion !== undefined
      ? { name: ref.name, resourceVersion: options.resourceVersion }
      : { name: ref.name };
    this.#checkPreconditions(resource, stored, precondition);
    const patched = mergePatchStatus(stored.status, status);
    if (deepEqual(patched, stored.status)) return this.answer(stored);
    const next: KubeObject = { ...stored, metadata: { ...stored.metadata }, status: patched };
    return this.answer(this.commit(resource, "MODIFIED", next, stored));
  }

  /**
   * Deletes an object, or marks it terminating when it has finalizers (or a Foreground/Orphan
   * propagation adds one). A terminating object is left as it is. Returns the object's last
   * state.
   */
  delete(
    type: TypeRef,
    name: string,
    namespace?: string | undefined,
    options: DeleteOptions = {},
  ): KubeObject {
    const store = this.#store(type);
    const resource = store.resource;
    const stored = this.#find(store, name, namespace);
    if (!stored) throw notFoundError(resource, name);
    if (options.uid !== undefined && options.uid !== stored.metadata.uid) {
      // A delete's precondition failure names the kind, not the resource (as the real one does).
      throw new ApiError(
        "Conflict",
        `Operation cannot be fulfilled on ${resource.kind} "${name}": the UID in the precondition ` +
          `(${options.uid}) does not match the UID in record (${stored.metadata.uid}). ` +
          "The object might have been deleted and then recreated",
      );
    }
    const rv = options.resourceVersion;
    if (rv !== undefined && rv !== stored.metadata.resourceVersion) {
      throw new ApiError(
        "Conflict",
        `Operation cannot be fulfilled on ${resource.kind} "${name}": the ResourceVersion in the ` +
          `precondition (${rv}) does not match the ResourceVersion in record ` +
          `(${stored.metadata.resourceVersion}). The object might have been modified`,
      );
    }
    if (resource.kind === "Namespace" && PROTECTED_NAMESPACES.has(name)) {
      throw new ApiError(
        "Forbidden",
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
      );
    }
    if (stored.metadata.deletionTimestamp) return this.answer(stored);
    return this.answer(this.#deleteStored(resource, stored, options.propagationPolicy));
  }

  /**
   * Starts a watch of one kind. Events are delivered on the clock, `watchDelayMs` after their
   * commit; a version older than the history answers `onDone(Expired)`; "" or "0" first sends
   * ADDED for every current object.
   */
  watch(type: TypeRef, options: WatchOptions): WatchHandle {
    const store = this.#store(type);
    const version = options.resourceVersion;
    let fromRv: number | undefined;
    if (version !== "" && version !== "0") {
      fromRv = Number(version);
      if (!/^[0-9]+$/.test(version) || !Number.isSafeInteger(fromRv)) {
        // The real server answers a version it cannot parse with a 500 and Go's parse error.
        const why = /^[0-9]+$/.test(version) ? "value out of range" : "invalid syntax";
        throw new ApiError(
          "InternalError",
          `resourceVersion: Invalid value: ${JSON.stringify(version)}: strconv.ParseUint: parsing ${
            JSON.stringify(version)
          }: ${why}`,
        );
      }
    }
    return this.openWatch(store, options, fromRv);
  }

  /**
   * The pod binding subresource (what the scheduler writes): sets `spec.nodeName` and the
   * `PodScheduled` condition. Fails with Conflict when the pod is already bound.
   */
  bindPod(namespace: string, name: string, nodeName: string): KubeObject {
    const store = this.#store({ apiVersion: "v1", kind: "Pod" });
    const stored = this.#find(store, name, namespace);
    if (!stored) throw notFoundError(store.resource, name);
    const spec = (stored.spec ?? {}) as Record<string, unknown>;
    if (spec.nodeName) {
      throw new ApiError(
        "Conflict",
        `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${spec.nodeName}"`,
      );
    }
    const status = (stored.status ?? {}) as Record<string, unknown>;
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    const scheduled = {
      type: "PodScheduled",
      status: "True",
      lastTransitionTime: toTimestamp(this.clock.nowMs()),
    };
    const next: KubeObject = {
      ...stored,
      metadata: { ...stored.metadata },
      spec: { ...spec, nodeName },
      status: { ...status, conditions: [...conditions, scheduled] },
    };
    return this.answer(this.commit(store.resource, "MODIFIED", next, stored));
  }

  /** Removes a terminating Namespace once it is empty (the namespace controller's last step). */
  finalizeNamespace(name: string): void {
    const stored = this.peek(NAMESPACE, name);
    if (!stored?.metadata.deletionTimestamp) return;
    if (this.objectsInNamespace(name).length > 0) return;
    const next = { ...stored, metadata: { ...stored.metadata }, spec: { finalizers: [] } };
    const gone = (stored.metadata.finalizers ?? []).length === 0;
    this.commit(this.#store(NAMESPACE).resource, gone ? "DELETED" : "MODIFIED", next, stored);
  }

  /** Commits like {@link SimStore.commit}, then keeps the kinds of a CRD in line with it. */
  protected override commit(
    resource: ResourceType,
    type: ChangeType,
    next: KubeObject,
    old: KubeObject | undefined,
  ): KubeObject {
    const committed = super.commit(resource, type, next, old);
    if (resource.kind === "CustomResourceDefinition") this.#syncCrd(type, committed);
    return committed;
  }

  #deleteStored(
    resource: ResourceType,
    stored: KubeObject,
    policy: DeleteOptions["propagationPolicy"],
  ): KubeObject {
    const finalizers = [...(stored.metadata.finalizers ?? [])];
    const extra = policy === "Foreground"
      ? "foregroundDeletion"
      : policy === "Orphan"
      ? "orphan"
      : undefined;
    if (extra && !finalizers.includes(extra)) finalizers.push(extra);
    const metadata = { ...stored.metadata };
    if (finalizers.length === 0 && resource.kind !== "Namespace") {
      return this.commit(resource, "DELETED", { ...stored, metadata }, stored);
    }
    metadata.deletionTimestamp = toTimestamp(this.clock.nowMs());
    metadata.deletionGracePeriodSeconds = 0;
    if (finalizers.length > 0) metadata.finalizers = finalizers;
    const next: KubeObject = { ...stored, metadata };
    if (resource.kind === "Namespace") next.status = { phase: "Terminating" };
    return this.commit(resource, "MODIFIED", next, stored);
  }

  /**
   * Writes `incoming` over `stored` like an update: normalise, validate, record the managers,
   * skip no-ops.
   */
  #replace(
    resource: ResourceType,
    stored: KubeObject,
    incoming: KubeObject,
    managers: (next: KubeObject) => ManagerEntry[],
  ): KubeObject {
    const namespace = stored.metadata.namespace ?? "";
    const ident = { name: stored.metadata.name, namespace };
    const next = prepareObject(resource, incoming, stored, ident, this.#context);
    validateWrite(resource, next, stored, (type, name) => this.peek(type, name));
    const entries = managers(next);
    if (entries.length > 0) next.metadata.managedFields = encodeManagers(entries);
    if (deepEqual(next, stored)) return stored;
    return this.commit(resource, isGone(next) ? "DELETED" : "MODIFIED", next, stored);
  }

  #writer(
    resource: ResourceType,
    who: Pick<WriteManager, "manager" | "operation">,
  ): WriteManager {
    return {
      ...who,
      apiVersion: resource.apiVersion,
      time: toTimestamp(this.clock.nowMs()),
      statusSubresource: resource.statusSubresource,
    };
  }

  #checkPreconditions(resource: ResourceType, stored: KubeObject, given: ObjectMeta): void {
    const name = stored.metadata.name;
    if (given.uid && given.uid !== stored.metadata.uid) {
      throw conflictError(
        resource,
        name,
        `Precondition failed: UID in precondition: ${given.uid}, UID in object meta: ${stored.metadata.uid}`,
      );
    }
    if (given.resourceVersion && given.resourceVersion !== stored.metadata.resourceVersion) {
      throw conflictError(resource, name, MODIFIED_DETAIL);
    }
  }

  #existing(object: KubeObject): { store: TypeStore; stored: KubeObject } {
    const store = this.#store(object);
    const name = object.metadata?.name ?? "";
    const stored = this.#find(store, name, object.metadata?.namespace);
    if (!stored) throw notFoundError(store.resource, name);
    return { store, stored };
  }

  #store(type: TypeRef): TypeStore {
    const store = this.index.store(type);
    if (store) return store;
    throw new ApiError(
      "NotFound",
      `the server could not find the requested resource (kind "${type.kind}" in "${type.apiVersion}")`,
    );
  }

  #find(store: TypeStore, name: string, namespace: string | undefined): KubeObject | undefined {
    return this.index.find(store, name, namespaceOf(store.resource, namespace));
  }

  #checkNamespaceOpen(resource: ResourceType, namespace: string, name: string): void {
    const ns = this.peek(NAMESPACE, namespace);
    if (!ns) throw new ApiError("NotFound", `namespaces "${namespace}" not found`);
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError(
        "Forbidden",
        `${
          resourceLabel(resource)
        } "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      );
    }
  }

  #syncCrd(type: ChangeType, crd: KubeObject): void {
    const crdName = crd.metadata.name;
    const declared = type === "DELETED" ? [] : typesFromCrd(crd);
    const keep = new Set(declared.map(typeKey));
    for (const [key, store] of [...this.index.types]) {
      if (store.crd !== crdName || keep.has(key)) continue;
      // Deleting a CRD removes its objects at once; their finalizers are not honoured.
      for (const object of this.index.sorted(store, undefined)) {
        this.commit(
          store.resource,
          "DELETED",
          { ...object, metadata: { ...object.metadata } },
          object,
        );
      }
      this.index.types.delete(key);
    }
    for (const resource of declared) {
      const existing = this.index.store(resource);
      if (existing && existing.crd === undefined) continue; // never shadow a built-in kind
      this.index.register(resource).crd = crdName;
    }
  }

  /** Allocates the next Service cluster IP (10.96.0.10, 10.96.0.11, ...). */
  allocateClusterIp(): string {
    const n = this.#nextClusterIp++;
    return `10.96.${(n >> 8) & 255}.${n & 255}`;
  }

  #generateName(store: TypeStore, namespace: string, prefix: string): string {
    for (;;) {
      const name = prefix + randomNameSuffix(this.#random);
      if (!store.objects.get(namespace)?.has(name)) return name;
    }
  }
}

function mergePatchStatus(status: unknown, patch: Record<string, unknown>): unknown {
  return mergePatch(status ?? {}, patch);
}
