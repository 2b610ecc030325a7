/**
 * The leader write fence: a {@link ClusterClient} that refuses every write while this replica is
 * not the leader, so that a reconcile still running when leadership was lost cannot write after
 * it. Reads pass: a standby may look, never touch.
 *
 * @example
 * ```ts
 * import { leaderFencedClient, NotLeaderError } from "./leader_fence.ts";
 * import { SimCluster } from "../sim/cluster.ts";
 * const cluster = new SimCluster();
 * const fenced = leaderFencedClient(cluster.client(), () => false);
 * const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "default" } };
 * const refused = await fenced.create(configMap).catch((error) => error);
 * console.assert(refused instanceof NotLeaderError);
 * ```
 *
 * @module
 */

import { type ClusterClient, interceptClient, type PortOperation } from "../core/cluster.ts";

/** What each write is called in the fence's message. */
const WRITES: Partial<Record<PortOperation, string>> = {
  create: "create",
  update: "update",
  apply: "apply",
  patchStatus: "patch status",
  delete: "delete",
  createEvent: "create an event",
};

/**
 * Wraps `client` so that every write fails with a {@link NotLeaderError}, without a request,
 * while `isLeader()` is false. `isLeader` is asked at each write, when the call is made.
 */
export function leaderFencedClient(client: ClusterClient, isLeader: () => boolean): ClusterClient {
  return interceptClient(client, {
    beforeWrite(call) {
      if (isLeader()) return;
      const what = WRITES[call.operation] ?? call.operation;
      throw new NotLeaderError(`Cannot ${what}: this replica is not the leader`);
    },
  });
}

/** A write refused because this replica is not (or no longer) the leader. */
export class NotLeaderError extends Error {
  /** An error with `message`, named `NotLeaderError`. */
  constructor(message: string) {
    super(message);
    this.name = "NotLeaderError";
  }
}
