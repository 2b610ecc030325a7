// Goal: the built-in Job controller runs one pod at a time to `Complete`, retries failed or deleted
// pods with the pod-failure backoff until `backoffLimit`, enforces `activeDeadlineSeconds` and
// `ttlSecondsAfterFinished`, as the real controller does.
// Method: create Jobs in a SimCluster (no data plane, no runner), end their pods through the
// lifecycle's finishPod() at chosen virtual times, and assert on the pods created (names, labels,
// creation times) and the Job's status.

import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { POD } from "./_testing.ts";
import { SimCluster } from "./cluster.ts";
import { JOB_TRACKING_FINALIZER } from "./job_controller.ts";

const JOB = { apiVersion: "batch/v1", kind: "Job" };

function job(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "default" },
    spec: {
      template: {
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox" }] },
      },
      ...spec,
    },
  };
}

function newCluster(): SimCluster {
  return new SimCluster({ seed: 7, dataPlane: false, jobRunner: false });
}

function pods(cluster: SimCluster): KubeObject[] {
  return cluster.server.peekList(POD, "default");
}

function running(cluster: SimCluster): KubeObject | undefined {
  return pods(cluster).find((p) =>
    (p.status as { phase?: string }).phase === "Running" && !p.metadata.deletionTimestamp
  );
}

interface Status {
  active?: number;
  succeeded?: number;
  failed?: number;
  ready?: number;
  terminating?: number;
  startTime?: string;
  completionTime?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

function status(cluster: SimCluster, name: string): Status {
  return (cluster.server.get(JOB, name, "default").status ?? {}) as Status;
}

/** Runs until a pod of the Job runs, and returns it. */
async function nextRunning(cluster: SimCluster): Promise<KubeObject> {
  await cluster.run({ maxVirtualMs: 3_600_000, until: () => running(cluster) !== undefined });
  const pod = running(cluster);
  assert.ok(pod, "a pod runs");
  return pod;
}

Deno.test("JobController: a Job whose pod succeeds is Complete", async () => {
  const cluster = newCluster();
  cluster.server.create(job("once"));
  const pod = await nextRunning(cluster);
  assert.match(pod.metadata.name, /^once-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const created = cluster.server.get(JOB, "once", "default");
  const uid = created.metadata.uid!;
  assert.deepEqual(pod.metadata.labels, {
    "batch.kubernetes.io/controller-uid": uid,
    "batch.kubernetes.io/job-name": "once",
    "controller-uid": uid,
    "job-name": "once",
  });
  assert.deepEqual(pod.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
  assert.equal(pod.metadata.ownerReferences?.[0]?.controller, true);
  assert.deepEqual((created.spec as { selector?: unknown }).selector, {
    matchLabels: { "batch.kubernetes.io/controller-uid": uid },
  });
  assert.equal(status(cluster, "once").active, 1);
  cluster.pods.finishPod(pod.metadata.uid!, { exitCode: 0, message: "done" });
  const result = await cluster.run({ maxVirtualMs: 600_000 });
  assert.ok(result.quiescent);
  const s = status(cluster, "once");
  assert.deepEqual(s.conditions?.map((c) => `${c.type}/${c.reason}`), [
    "SuccessCriteriaMet/CompletionsReached",
    "Complete/CompletionsReached",
  ]);
  assert.equal(s.succeeded, 1);
  assert.equal(s.active, undefined);
  assert.equal(s.failed, undefined);
  assert.ok(s.completionTime !== undefined && s.startTime !== undefined);
  const [done] = pods(cluster);
  assert.equal((done!.status as { phase?: string }).phase, "Succeeded");
  assert.deepEqual(done!.metadata.finalizers, undefined, "the counted pod lost its finalizer");
  const terminated = (done!.status as {
    containerStatuses: {
      state: { terminated: { exitCode: number; reason: string; message: string } };
    }[];
  }).containerStatuses[0]!.state.terminated;
  assert.deepEqual([terminated.exitCode, terminated.reason, terminated.message], [
    0,
    "Completed",
    "done",
  ]);
});

Deno.test("JobController: failed pods are retried with a doubling backoff, then the Job fails with BackoffLimitExceeded", async () => {
  const cluster = newCluster();
  cluster.server.create(job("flaky", { backoffLimit: 2 }));
  const started: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const pod = await nextRunning(cluster);
    started.push(cluster.nowMs());
    cluster.pods.finishPod(pod.metadata.uid!, { exitCode: 1, message: "boom" });
  }
  const result = await cluster.run({ maxVirtualMs: 3_600_000 });
  assert.ok(result.quiescent);
  // Each retry waits 10 s, then 20 s, after the failure (the pod starts 100 ms after creation;
  // the failure time is the container's finishedAt, at second precision).
  const gaps = started.slice(1).map((t, i) => t - started[i]!);
  assert.ok(gaps[0]! >= 10_000 && gaps[0]! < 11_200, `first gap ${gaps[0]}`);
  assert.ok(gaps[1]! >= 20_000 && gaps[1]! < 21_200, `second gap ${gaps[1]}`);
  const s = status(cluster, "flaky");
  assert.equal(s.failed, 3);
  assert.deepEqual(s.conditions?.map((c) => `${c.type}/${c.reason}`), [
    "FailureTarget/BackoffLimitExceeded",
    "Failed/BackoffLimitExceeded",
  ]);
  assert.equal(s.conditions?.[1]?.message, "Job has reached the specified backoff limit");
  assert.equal(s.completionTime, undefined);
  assert.equal(pods(cluster).length, 3, "failed pods are kept");
});

Deno.test("JobController: activeDeadlineSeconds deletes the running pod and fails the Job with DeadlineExceeded", async () => {
  const cluster = newCluster();
  const startMs = cluster.nowMs();
  cluster.server.create(job("slow", { activeDeadlineSeconds: 30 }));
  await nextRunning(cluster);
  const result = await cluster.run({ maxVirtualMs: 3_600_000 });
  assert.ok(result.quiescent);
  const s = status(cluster, "slow");
  assert.deepEqual(s.conditions?.map((c) => `${c.type}/${c.reason}`), [
    "FailureTarget/DeadlineExceeded",
    "Failed/DeadlineExceeded",
  ]);
  assert.equal(s.failed, 1);
  assert.equal(pods(cluster).length, 0, "the active pod was deleted");
  assert.ok(cluster.nowMs() - startMs >= 30_000 && cluster.nowMs() - startMs < 31_000);
});

Deno.test("JobController: a deleted running pod counts as failed and is replaced after the backoff", async () => {
  const cluster = newCluster();
  cluster.server.create(job("victim"));
  const first = await nextRunning(cluster);
  const deletedAtMs = cluster.nowMs();
  cluster.server.delete(POD, first.metadata.name, "default");
  assert.ok(cluster.server.byUid(first.metadata.uid!)?.metadata.deletionTimestamp, "terminating");
  const second = await nextRunning(cluster);
  assert.notEqual(second.metadata.name, first.metadata.name);
  assert.equal(cluster.server.byUid(first.metadata.uid!), undefined, "counted, then gone");
  assert.equal(status(cluster, "victim").failed, 1);
  assert.ok(cluster.nowMs() - deletedAtMs >= 10_000, "the replacement waited for the backoff");
  cluster.pods.finishPod(second.metadata.uid!, { exitCode: 0 });
  await cluster.run({ maxVirtualMs: 600_000 });
  assert.equal(status(cluster, "victim").conditions?.at(-1)?.type, "Complete");
});

Deno.test("JobController: ttlSecondsAfterFinished deletes the finished Job and its pods", async () => {
  const cluster = newCluster();
  cluster.server.create(job("short", { ttlSecondsAfterFinished: 60 }));
  const pod = await nextRunning(cluster);
  cluster.pods.finishPod(pod.metadata.uid!, { exitCode: 0 });
  await cluster.run({ maxVirtualMs: 30_000 });
  assert.ok(cluster.server.peek(JOB, "short", "default"), "kept within its TTL");
  const result = await cluster.run({ maxVirtualMs: 600_000 });
  assert.ok(result.quiescent);
  assert.equal(cluster.server.peek(JOB, "short", "default"), undefined);
  assert.equal(pods(cluster).length, 0);
});

Deno.test("JobController: deleting a Job removes its running pod, finalizer included", async () => {
  const cluster = newCluster();
  cluster.server.create(job("gone"));
  await nextRunning(cluster);
  cluster.server.delete(JOB, "gone", "default");
  const result = await cluster.run({ maxVirtualMs: 600_000 });
  assert.ok(result.quiescent);
  assert.equal(pods(cluster).length, 0);
});

Deno.test("PodLifecycle: finishPod cuts the termination message to 4096 bytes and fails on a non-zero exit", async () => {
  const cluster = newCluster();
  cluster.server.create(job("long", { backoffLimit: 0 }));
  const pod = await nextRunning(cluster);
  cluster.pods.finishPod(pod.metadata.uid!, { exitCode: 3, message: "é".repeat(3000) });
  const ended = cluster.server.byUid(pod.metadata.uid!)!;
  const st = ended.status as {
    phase: string;
    conditions: { type: string; status: string; reason?: string }[];
    containerStatuses: {
      state: { terminated: { exitCode: number; reason: string; message: string } };
    }[];
  };
  assert.equal(st.phase, "Failed");
  const terminated = st.containerStatuses[0]!.state.terminated;
  assert.equal(terminated.exitCode, 3);
  assert.equal(terminated.reason, "Error");
  assert.equal(new TextEncoder().encode(terminated.message).length, 4096);
  assert.deepEqual(
    st.conditions.filter((c) => c.type === "Ready").map((c) => [c.status, c.reason]),
    [["False", "PodCompleted"]],
  );
});
