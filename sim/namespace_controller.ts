/**
 * The namespace controller of the simulated cluster: when a Namespace is terminating it deletes
 * every namespaced object in it (finalizers are honoured, so objects may linger), and removes the
 * Namespace once it is empty. Event-driven, with one timer of `delayMs` virtual per batch.
 *
 * Like the real one, it deletes kind by kind in discovery order (built-in kinds before custom
 * resources), one kind per batch: other controllers see a custom resource outlive its children
 * for a while, and their writes into the namespace meanwhile are refused (403, "because it is
 * being terminated").
 *
 * @module
 */

import { isApiError } from "../core/cluster.ts";
import type { Clock } from "../core/clock.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";
import { DelayedBatch } from "./_batch.ts";

const NAMESPACE: TypeRef = { apiVersion: "v1", kind: "Namespace" };

/** Options of {@link NamespaceController}. */
export interface NamespaceControllerOptions {
  /** Virtual delay between a change and the controller acting on it. @default 50 */
  delayMs?: number;
}

/**
 * Empties and removes terminating Namespaces; {@link SimApiServer} starts one.
 *
 * @example
 * ```ts
 * import { SimApiServer } from "./api_server.ts";
 * import { VirtualClock } from "./clock.ts";
 * import { SeededRandom } from "./random.ts";
 * const clock = new VirtualClock();
 * const server = new SimApiServer(clock, new SeededRandom(1));
 * server.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
 * server.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "team" } });
 * server.delete({ apiVersion: "v1", kind: "Namespace" }, "team");
 * while (clock.runNext()) { /* let the controller act *\/ }
 * console.assert(server.peek({ apiVersion: "v1", kind: "Namespace" }, "team") === undefined);
 * ```
 */
export class NamespaceController {
  readonly #server: SimApiServer;
  readonly #batch: DelayedBatch;
  readonly #unsubscribe: () => void;

  /** Starts watching `server` for terminating Namespaces. */
  constructor(server: SimApiServer, clock: Clock, options: NamespaceControllerOptions = {}) {
    this.#server = server;
    this.#batch = new DelayedBatch(
      clock,
      options.delayMs ?? 50,
      (namespace) => this.#process(namespace),
    );
    this.#unsubscribe = server.subscribe((change) => this.#onChange(change));
  }

  /** Stops the controller. */
  stop(): void {
    this.#unsubscribe();
    this.#batch.cancel();
  }

  #onChange(change: StoreChange): void {
    const object = change.object;
    if (change.resource.kind === "Namespace" && change.resource.apiVersion === "v1") {
      if (change.type !== "DELETED" && object.metadata.deletionTimestamp) {
        this.#mark(object.metadata.name);
      }
      return;
    }
    const namespace = object.metadata.namespace;
    if (change.type !== "DELETED" || !change.resource.namespaced || !namespace) return;
    if (this.#server.peek(NAMESPACE, namespace)?.metadata.deletionTimestamp) this.#mark(namespace);
  }

  #mark(namespace: string): void {
    this.#batch.mark(namespace);
  }

  #process(namespace: string): void {
    if (!this.#server.peek(NAMESPACE, namespace)?.metadata.deletionTimestamp) return;
    const live = this.#server.objectsInNamespace(namespace).filter((o) =>
      !o.metadata.deletionTimestamp
    );
    const kinds = [...new Set(live.map(kindOf))].sort((a, b) =>
      Number(isCustom(a)) - Number(isCustom(b))
    );
    const kind = kinds[0];
    if (kinds.length > 1) this.#mark(namespace);
    for (const object of live.filter((o) => kindOf(o) === kind)) {
      try {
        this.#server.delete(object, object.metadata.name, namespace, {
          uid: object.metadata.uid ?? "",
          propagationPolicy: "Background",
        });
      } catch (error) {
        if (!isApiError(error, "NotFound") && !isApiError(error, "Conflict")) throw error;
      }
    }
    this.#server.finalizeNamespace(namespace);
  }
}

function kindOf(object: KubeObject): string {
  return `${object.apiVersion}/${object.kind}`;
}

/** A kind of a group with a dot in its name (`example.com/v1/Widget`): a custom resource. */
function isCustom(kind: string): boolean {
  const parts = kind.split("/");
  return parts.length > 2 && parts[0]!.includes(".");
}
