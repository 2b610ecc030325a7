/**
 * The indexes of the simulated API server's store: objects by kind, namespace and name; by uid;
 * and dependents by owner uid (for the garbage collector). Lookups are O(1); sorted listings sort
 * one kind (or one namespace of it) at a time.
 *
 * @module
 */

import type { KubeObject, TypeRef } from "../core/object.ts";
import { typeKey } from "../core/object.ts";
import type { ResourceType } from "./resource_types.ts";

/** The objects of one kind. */
export interface TypeStore {
  resource: ResourceType;
  /** namespace ("" when cluster-scoped) -> name -> stored object. */
  objects: Map<string, Map<string, KubeObject>>;
  /** Set for kinds a CustomResourceDefinition registered: the CRD's name. */
  crd?: string;
  /** namespace -> the names of `objects` in that namespace, kept sorted as they come and go. */
  names: Map<string, string[]>;
}

/** Objects by kind/namespace/name, by uid, and by owner uid. */
export class ObjectIndex {
  /** Served kinds by `apiVersion/kind`, in registration order. */
  readonly types: Map<string, TypeStore> = new Map();
  #uids = new Map<string, KubeObject>();
  #dependents = new Map<string, Set<string>>();

  /** Serves a kind, or replaces the settings of an already served one. */
  register(type: ResourceType): TypeStore {
    const existing = this.types.get(typeKey(type));
    if (existing) {
      existing.resource = { ...type };
      return existing;
    }
    const store: TypeStore = { resource: { ...type }, objects: new Map(), names: new Map() };
    this.types.set(typeKey(type), store);
    return store;
  }

  /** The store of a served kind, or undefined. */
  store(type: TypeRef): TypeStore | undefined {
    return this.types.get(typeKey(type));
  }

  /** The stored object, or undefined (`namespace` already resolved; "" for cluster scope). */
  find(store: TypeStore, name: string, namespace: string): KubeObject | undefined {
    return store.objects.get(namespace)?.get(name);
  }

  /** The objects of one kind sorted by namespace and name (one namespace when given). */
  sorted(store: TypeStore, namespace: string | undefined): KubeObject[] {
    const out: KubeObject[] = [];
    const namespaces = namespace !== undefined && store.resource.namespaced
      ? [namespace]
      : [...store.objects.keys()].sort();
    for (const ns of namespaces) {
      const byName = store.objects.get(ns);
      if (!byName) continue;
      for (const name of store.names.get(ns)!) out.push(byName.get(name)!);
    }
    return out;
  }

  /** Stores `next` (replacing `old`, if any) and updates the uid and owner indexes. */
  put(store: TypeStore, next: KubeObject, old: KubeObject | undefined): void {
    const namespace = next.metadata.namespace ?? "";
    let byName = store.objects.get(namespace);
    if (!byName) {
      store.objects.set(namespace, byName = new Map());
      store.names.set(namespace, []);
    }
    if (!byName.has(next.metadata.name)) {
      const names = store.names.get(namespace)!;
      names.splice(sortedIndex(names, next.metadata.name), 0, next.metadata.name);
    }
    byName.set(next.metadata.name, next);
    this.#uids.set(next.metadata.uid ?? "", next);
    this.#indexOwners(next.metadata.uid ?? "", old, next);
  }

  /** Removes the stored `old` and its index entries. */
  remove(store: TypeStore, old: KubeObject): void {
    const namespace = old.metadata.namespace ?? "";
    const byName = store.objects.get(namespace);
    if (byName?.delete(old.metadata.name)) {
      const names = store.names.get(namespace)!;
      names.splice(sortedIndex(names, old.metadata.name), 1);
    }
    if (byName?.size === 0) {
      store.objects.delete(namespace);
      store.names.delete(namespace);
    }
    this.#uids.delete(old.metadata.uid ?? "");
    this.#indexOwners(old.metadata.uid ?? "", old, undefined);
  }

  /** The stored object with this uid. */
  byUid(uid: string): KubeObject | undefined {
    return this.#uids.get(uid);
  }

  /** The stored objects whose ownerReferences name `uid`, in the order they gained it. */
  dependentsOf(uid: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const dependent of this.#dependents.get(uid) ?? []) {
      const object = this.#uids.get(dependent);
      if (object) out.push(object);
    }
    return out;
  }

  /** The namespaced objects of `namespace`, by kind (registration order) then name. */
  inNamespace(namespace: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const store of this.types.values()) {
      if (store.resource.namespaced) out.push(...this.sorted(store, namespace));
    }
    return out;
  }

  #indexOwners(uid: string, old: KubeObject | undefined, next: KubeObject | undefined): void {
    const before = old?.metadata.ownerReferences ?? [];
    const after = next?.metadata.ownerReferences ?? [];
    if (before === after) return;
    const keep = new Set(after.map((ref) => ref.uid));
    for (const ref of before) {
      if (keep.has(ref.uid)) continue;
      const set = this.#dependents.get(ref.uid);
      set?.delete(uid);
      if (set?.size === 0) this.#dependents.delete(ref.uid);
    }
    for (const ref of after) {
      let set = this.#dependents.get(ref.uid);
      if (!set) this.#dependents.set(ref.uid, set = new Set());
      set.add(uid);
    }
  }
}

/** Where `name` is or would go in the sorted `names` (the order of `Array.prototype.sort`). */
function sortedIndex(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (names[mid]! < name) low = mid + 1;
    else high = mid;
  }
  return low;
}
