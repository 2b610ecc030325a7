/**
 * Safety checkers that hold for any controller: owner references that name a live owner by uid,
 * no write rejected as invalid (immutable fields), `observedGeneration <= generation`, a bound on
 * writes per reconcile, status only through the status subresource.
 *
 * @module
 */

import type { Action } from "../core/actions.ts";
import { isWrite } from "../core/actions.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import type { Checker } from "./harness.ts";

/**
 * Every object the controller creates or applies names exactly one controller, of `ownerType`,
 * with a uid that some object really had. (An owner gone between the controller's read and its
 * write is allowed: the garbage collector removes such a child. Writing for the wrong one of two
 * same-named owners is caught by the PostgresDB checkers, which know whose children are whose.)
 * Objects that `options.ownerless` accepts may have no owner reference at all.
 */
export function ownerReferenceChecker(
  ownerType: TypeRef,
  options: { ownerless?: (object: KubeObject) => boolean } = {},
): Checker {
  return {
    name: "owner references",
    onWrite(write, { harness }) {
      if (write.verb !== "create" && write.verb !== "apply") return undefined;
      const object = write.object;
      if (!object || object.kind === ownerType.kind || object.kind === "Event") return undefined;
      const references = object.metadata.ownerReferences ?? [];
      if (references.length === 0 && options.ownerless?.(object) === true) return undefined;
      const controllers = references.filter((r) => r.controller);
      if (controllers.length !== 1) {
        return `${write.target} has ${controllers.length} controller owner references`;
      }
      const ref = controllers[0]!;
      if (ref.kind !== ownerType.kind || !ref.uid) {
        return `${write.target} names ${ref.kind} ${ref.name} (uid ${
          JSON.stringify(ref.uid)
        }) as its controller`;
      }
      if (write.error !== undefined) return undefined;
      const owner = harness.cluster.server.byUid(ref.uid);
      if (!owner) {
        // The owner may have gone between the controller's read and its write; then the garbage
        // collector removes the child. Writing for an owner uid that never existed is a bug.
        return harness.seenUids.has(ref.uid)
          ? undefined
          : `${write.target} names an owner uid ${ref.uid} that never existed`;
      }
      return undefined;
    },
  };
}

/** No write of the controller is rejected as invalid: immutable fields stay untouched. */
export function invalidWriteChecker(): Checker {
  return {
    name: "no writes to immutable fields",
    onWrite(write) {
      return write.error === "Invalid"
        ? `${write.verb} of ${write.target} was rejected as invalid (an immutable field?)`
        : undefined;
    },
  };
}

/** `status.observedGeneration` never runs ahead of `metadata.generation`. */
export function observedGenerationChecker(type: TypeRef): Checker {
  return {
    name: "observedGeneration <= generation",
    onCommit(change) {
      const o = change.object;
      if (o.apiVersion !== type.apiVersion || o.kind !== type.kind) return undefined;
      const observed = (o.status as { observedGeneration?: number } | undefined)
        ?.observedGeneration;
      const generation = o.metadata.generation ?? 0;
      return observed !== undefined && observed > generation
        ? `${o.kind} ${o.metadata.name}: observedGeneration ${observed} > generation ${generation}`
        : undefined;
    },
  };
}

/** A reconcile plans at most `max` writes. */
export function writesPerReconcileChecker(max: number): Checker {
  return {
    name: "bounded writes per reconcile",
    onReconcile(key, actions: readonly Action[]) {
      const writes = actions.filter(isWrite).length;
      return writes > max
        ? `reconcile of ${key} planned ${writes} writes (at most ${max})`
        : undefined;
    },
  };
}

/** The controller writes the status of `type` only through the status subresource. */
export function statusSubresourceChecker(type: TypeRef): Checker {
  return {
    name: "status through the subresource",
    onWrite(write) {
      if (write.verb !== "apply" && write.verb !== "update") return undefined;
      const o = write.object;
      if (!o || o.apiVersion !== type.apiVersion || o.kind !== type.kind) return undefined;
      return o.status !== undefined
        ? `${write.verb} of ${write.target} carries a status: it is ignored by the main resource`
        : undefined;
    },
  };
}
