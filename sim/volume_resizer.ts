/**
 * The volume resizer of the simulated cluster (the external resizer and the kubelet's filesystem
 * expansion, reduced to timing): when a Bound claim's storage request exceeds its
 * `status.capacity.storage`, it gets a `Resizing` condition at once, `FileSystemResizePending`
 * half way, and after `resizeDelayMs` its capacity becomes the request and the conditions go.
 * The admission rules (no shrink, expansion only when the class allows it) are the API server's
 * (`_volume_rules.ts`). {@link VolumeResizer.hold} keeps claims from growing (a stuck resize).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { toTimestamp } from "../core/clock.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import { parseQuantity } from "../core/quantity.ts";
import type { SimApiServer, StoreChange } from "./api_server.ts";

const PVC: TypeRef = { apiVersion: "v1", kind: "PersistentVolumeClaim" };

/** Options of {@link VolumeResizer}. */
export interface VolumeResizerOptions {
  /** Virtual delay from a larger request to the new capacity. @default 400 */
  resizeDelayMs?: number;
}

/** Grows the capacity of claims whose request grew. */
export class VolumeResizer {
  readonly #server: SimApiServer;
  readonly #clock: Clock;
  readonly #delayMs: number;
  /** Claims (uid) with a resize under way. */
  readonly #pending = new Set<string>();
  #held = false;

  /** Subscribes to the server's changes. */
  constructor(server: SimApiServer, clock: Clock, options: VolumeResizerOptions = {}) {
    this.#server = server;
    this.#clock = clock;
    this.#delayMs = options.resizeDelayMs ?? 400;
    server.subscribe((change) => this.#onChange(change));
  }

  /** While held, no claim's capacity follows its request (a resize that does not finish). */
  hold(held: boolean): void {
    this.#held = held;
    if (held) return;
    for (const pvc of this.#server.peekList(PVC)) this.#consider(pvc);
  }

  #onChange(change: StoreChange): void {
    if (change.resource.kind !== PVC.kind || change.resource.apiVersion !== PVC.apiVersion) return;
    if (change.type === "DELETED") return;
    this.#consider(change.object);
  }

  #consider(pvc: KubeObject): void {
    const uid = pvc.metadata.uid ?? "";
    if (this.#held || this.#pending.has(uid) || !needsResize(pvc)) return;
    this.#pending.add(uid);
    this.#clock.setTimer(1, () => this.#condition(uid, "Resizing"));
    this.#clock.setTimer(
      Math.max(2, Math.floor(this.#delayMs / 2)),
      () => this.#condition(uid, "FileSystemResizePending"),
    );
    this.#clock.setTimer(Math.max(3, this.#delayMs), () => this.#finish(uid));
  }

  #condition(uid: string, type: string): void {
    const pvc = this.#server.byUid(uid);
    if (!pvc || !needsResize(pvc)) return;
    const status = {
      conditions: [{ type, status: "True", lastTransitionTime: toTimestamp(this.#clock.nowMs()) }],
    };
    this.#server.patchStatus(refOf(pvc), status);
  }

  #finish(uid: string): void {
    this.#pending.delete(uid);
    const pvc = this.#server.byUid(uid);
    if (!pvc || !needsResize(pvc)) return;
    if (this.#held) return;
    const storage = request(pvc)!;
    this.#server.patchStatus(refOf(pvc), { capacity: { storage }, conditions: null });
  }
}

function refOf(pvc: KubeObject) {
  return { ...PVC, name: pvc.metadata.name, namespace: pvc.metadata.namespace ?? "default" };
}

function request(pvc: KubeObject): string | undefined {
  const value = (pvc.spec as { resources?: { requests?: { storage?: unknown } } } | undefined)
    ?.resources?.requests?.storage;
  return typeof value === "string" ? value : undefined;
}

/** A Bound claim whose request is larger than its capacity. */
function needsResize(pvc: KubeObject): boolean {
  const status = pvc.status as { phase?: string; capacity?: { storage?: string } } | undefined;
  if (status?.phase !== "Bound" || pvc.metadata.deletionTimestamp) return false;
  const want = parseQuantity(request(pvc) ?? "");
  const have = parseQuantity(status.capacity?.storage ?? "");
  return want.ok && have.ok && want.value > have.value;
}
