// Goal: the simulated StatefulSet controller's status is a pure function of the StatefulSet, its
// pods and the time. Method: statefulSetStatus() and statusPatch() on hand-made pods.
import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { toTimestamp } from "../core/clock.ts";
import {
  REVISION_LABEL,
  statefulSetRevision,
  statefulSetStatus,
  statusPatch,
} from "./_statefulset_objects.ts";

const sts: KubeObject = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "db", namespace: "default", generation: 2 },
  spec: { replicas: 2, minReadySeconds: 10, template: { spec: {} } },
};

function pod(name: string, revision: string, readySinceMs?: number): KubeObject {
  const conditions = readySinceMs === undefined
    ? []
    : [{ type: "Ready", status: "True", lastTransitionTime: toTimestamp(readySinceMs) }];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { [REVISION_LABEL]: revision } },
    status: { phase: "Running", conditions },
  };
}

Deno.test("statefulSetStatus() counts pods by revision and readiness, and says when one becomes available", () => {
  const revision = statefulSetRevision(sts);
  const nowMs = 100_000;
  const { status, availableInMs } = statefulSetStatus(
    sts,
    [pod("db-0", revision, 80_000), pod("db-1", revision, 96_000)],
    revision,
    nowMs,
  );
  assert.deepEqual(status, {
    observedGeneration: 2,
    replicas: 2,
    readyReplicas: 2,
    currentReplicas: 2,
    updatedReplicas: 2,
    availableReplicas: 1,
    currentRevision: revision,
    updateRevision: revision,
    collisionCount: 0,
  });
  assert.deepEqual(availableInMs, [6_000]);
});

Deno.test("statefulSetStatus() leaves out zero counters, as the real API does", () => {
  const revision = statefulSetRevision(sts);
  const { status } = statefulSetStatus(sts, [pod("db-0", "old")], revision, 0);
  assert.equal("readyReplicas" in status, false);
  assert.equal("updatedReplicas" in status, false);
  assert.equal("currentReplicas" in status, false);
  assert.equal(status.replicas, 1);
});

Deno.test("statusPatch() is undefined for an equal status and nulls the keys that went", () => {
  assert.equal(statusPatch({ replicas: 1 }, { replicas: 1 }), undefined);
  assert.deepEqual(statusPatch({ replicas: 1, readyReplicas: 1 }, { replicas: 1 }), {
    replicas: 1,
    readyReplicas: null,
  });
});
