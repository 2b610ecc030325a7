// Goal: a Job whose pod runs RUNNER_COMMAND backs up a simulated primary into the in-memory
// store and restores it, on virtual time, with the result as the pod's termination message; a
// pod deleted mid-upload leaves an incomplete upload and is retried; a missing Secret keeps the
// pod Pending with CreateContainerConfigError.
// Method: the operator converges the tutorial's sample in a SimCluster (cli/simulate.ts);
// a hand-written Job runs a minimal backup program (dump, multipart upload, manifest last) given
// to the JobRunner, until `runtime/backup_runner.ts` is on main; assertions read the store, its
// operation log, the Job's status and the instance's restored marker.

import assert from "node:assert/strict";
import { readManifests } from "../cli/manifests.ts";
import { dumpKey, manifestKey, RUNNER_COMMAND } from "../core/backup/runner_env.ts";
import { type RunnerResult, StoreError, type UploadedPart } from "../core/backup/types.ts";
import type { KubeObject } from "../core/object.ts";
import { type OperatorWorld as TestWorld, startOperatorWorld } from "../cli/simulate.ts";
import { MIN_PART_BYTES } from "./object_store.ts";
import type { RunnerContext, RunnerPrograms } from "./job_runner.ts";

const URL = "http://minio.sim:9000";
const JOB = { apiVersion: "batch/v1", kind: "Job" };
const POD = { apiVersion: "v1", kind: "Pod" };
const PREFIX = "pg/default/my-postgres/";

async function concat(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) whole.set(c, (at += c.length) - c.length);
  return whole;
}

/** A minimal runner: dump, multipart upload in 5 MiB parts, manifest last; restore by manifest. */
const programs: RunnerPrograms = {
  async backup(ctx: RunnerContext): Promise<RunnerResult> {
    const id = ctx.env.PGOP_BACKUP_ID!;
    const key = dumpKey(PREFIX, id);
    const startedAt = new Date(ctx.now()).toISOString();
    try {
      const dump = await ctx.dumper.dump();
      const uploadId = await ctx.store.createMultipartUpload(key);
      const parts: UploadedPart[] = [];
      let pending: Uint8Array[] = [];
      let size = 0;
      let pendingBytes = 0;
      const flush = async () => {
        const body = await concat(ReadableStream.from(pending));
        const partNumber = parts.length + 1;
        parts.push({
          partNumber,
          etag: await ctx.store.uploadPart(key, uploadId, partNumber, body),
        });
        pending = [];
        pendingBytes = 0;
      };
      for await (const chunk of dump.stream) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        size += chunk.length;
        if (pendingBytes >= MIN_PART_BYTES) await flush();
      }
      if (pendingBytes > 0) await flush();
      await dump.done;
      await ctx.store.completeMultipartUpload(key, uploadId, parts);
      const tables = await dump.tables;
      const manifest = { id, key, sizeBytes: size, parts: parts.length, tables };
      await ctx.store.putObject(
        manifestKey(PREFIX, id),
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
      const completedAt = new Date(ctx.now()).toISOString();
      return {
        outcome: "Succeeded",
        mode: "backup",
        backup: {
          id,
          key,
          sizeBytes: size,
          sha256: "",
          startedAt,
          completedAt,
          durationSeconds: 0,
        },
        deleted: [],
      };
    } catch (error) {
      const reason = error instanceof StoreError ? "UploadFailed" : "DumpFailed";
      return { outcome: "Failed", mode: "backup", reason, message: String(error) };
    }
  },
  async restore(ctx: RunnerContext): Promise<RunnerResult> {
    const id = ctx.env.PGOP_BACKUP_ID!;
    const tables = await ctx.restorer.restore(
      await ctx.store.getObject(dumpKey(PREFIX, id)),
      `restored:${id}`,
    );
    return {
      outcome: "Succeeded",
      mode: "restore",
      id,
      rows: tables.reduce((n, t) => n + t.rows, 0),
      alreadyRestored: false,
      durationSeconds: 0,
    };
  },
};

function runnerJob(name: string, mode: string, extra: Record<string, unknown> = {}): KubeObject {
  const env = [
    { name: "PGOP_RUN_MODE", value: mode },
    { name: "PGOP_STORE_ENDPOINT", value: URL },
    { name: "PGOP_STORE_BUCKET", value: "backups" },
    { name: "PGOP_STORE_PREFIX", value: PREFIX },
    { name: "PGOP_BACKUP_ID", value: "20260101T000000Z-abcde" },
    {
      name: "AWS_ACCESS_KEY_ID",
      valueFrom: { secretKeyRef: { name: "s3-creds", key: "AWS_ACCESS_KEY_ID" } },
    },
    {
      name: "AWS_SECRET_ACCESS_KEY",
      valueFrom: { secretKeyRef: { name: "s3-creds", key: "AWS_SECRET_ACCESS_KEY" } },
    },
    { name: "PGHOST", value: "my-postgres-rw.default.svc.cluster.local" },
    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  ];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "default" },
    spec: {
      backoffLimit: 0,
      ...extra,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "runner", image: "postgres:16", command: [...RUNNER_COMMAND], env }],
        },
      },
    },
  };
}

function credentials(): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s3-creds", namespace: "default" },
    stringData: { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "SECRET" },
  };
}

/** The sample converged, 3 MB of WAL flushed on its primary, and a store with a bucket. */
async function setup(): Promise<TestWorld> {
  const w = await startOperatorWorld({ seed: 3, cluster: { jobRunner: { programs } } });
  await w.apply(await readManifests(["examples/postgresdb.yaml"]));
  assert.ok((await w.cluster.run({ maxVirtualMs: 600_000 })).quiescent, "the sample converges");
  const instance = w.cluster.dataPlane!.instanceOfPod("default", "my-postgres-0")!;
  assert.ok(instance.commit(3_000_000), "the primary takes writes");
  // The data plane's loop rests once converged: flush the writes here (60 bytes/ms).
  instance.advance(60_000);
  assert.equal(instance.flushLsn >= 3_000_000, true);
  const endpoint = w.cluster.objectStores.endpoint(URL);
  endpoint.createBucket("backups");
  endpoint.addCredentials("AKID", "SECRET");
  return w;
}

function jobDone(w: TestWorld, name: string): () => boolean {
  return () => {
    const job = w.cluster.server.peek(JOB, name, "default");
    const conditions = (job?.status as { conditions?: { type: string }[] } | undefined)?.conditions;
    return conditions?.some((c) => c.type === "Complete" || c.type === "Failed") ?? false;
  };
}

function conditionTypes(w: TestWorld, name: string): string[] {
  const job = w.cluster.server.get(JOB, name, "default");
  return ((job.status as { conditions?: { type: string }[] }).conditions ?? []).map((c) => c.type);
}

function terminationMessage(pod: KubeObject): string | undefined {
  return (pod.status as {
    containerStatuses?: { state?: { terminated?: { message?: string } } }[];
  }).containerStatuses?.[0]?.state?.terminated?.message;
}

Deno.test("JobRunner: a runner Job backs up the simulated primary into the store, manifest last, and restores it", async () => {
  const w = await setup();
  w.cluster.server.create(credentials());
  w.cluster.server.create(runnerJob("backup-1", "backup"));
  await w.cluster.run({ maxVirtualMs: 600_000, until: jobDone(w, "backup-1") });
  assert.deepEqual(conditionTypes(w, "backup-1"), ["SuccessCriteriaMet", "Complete"]);
  const [pod] = w.cluster.server.peekList(POD, "default").filter((p) =>
    p.metadata.labels?.["job-name"] === "backup-1"
  );
  const result = JSON.parse(terminationMessage(pod!) ?? "{}") as RunnerResult;
  assert.equal(result.outcome, "Succeeded");
  const endpoint = w.cluster.objectStores.endpoint(URL);
  const objects = endpoint.objects("backups");
  assert.deepEqual(objects.map((o) => o.key), [
    dumpKey(PREFIX, "20260101T000000Z-abcde"),
    manifestKey(PREFIX, "20260101T000000Z-abcde"),
  ]);
  assert.ok(objects[0]!.sizeBytes > MIN_PART_BYTES, `a multipart dump: ${objects[0]!.sizeBytes}`);
  const log = w.cluster.objectStores.log;
  const completed = log.find((e) => e.op === "completeMultipartUpload" && e.ok)!;
  const manifest = log.find((e) => e.op === "putObject" && e.key.endsWith("manifest.json"))!;
  assert.ok(completed.atMs <= manifest.atMs, "the manifest is written after the dump completed");
  assert.equal(log.filter((e) => e.op === "uploadPart").length, 2);

  w.cluster.server.create(runnerJob("restore-1", "restore"));
  await w.cluster.run({ maxVirtualMs: 600_000, until: jobDone(w, "restore-1") });
  assert.deepEqual(conditionTypes(w, "restore-1"), ["SuccessCriteriaMet", "Complete"]);
  const instance = w.cluster.dataPlane!.instanceOfPod("default", "my-postgres-0")!;
  assert.equal(instance.restored?.marker, "restored:20260101T000000Z-abcde");
  assert.ok((instance.restored?.tables[0]?.rows ?? 0) > 40_000);
});

Deno.test("JobRunner: a pod deleted mid-upload leaves an incomplete upload and the retry succeeds", async () => {
  const w = await setup();
  w.cluster.server.create(credentials());
  const endpoint = w.cluster.objectStores.endpoint(URL);
  endpoint.latencyFactor = 200;
  w.cluster.server.create(runnerJob("backup-2", "backup", { backoffLimit: 1 }));
  await w.cluster.run({
    maxVirtualMs: 600_000,
    until: () => w.cluster.objectStores.log.some((e) => e.op === "uploadPart"),
  });
  const [first] = w.cluster.server.peekList(POD, "default").filter((p) =>
    p.metadata.labels?.["job-name"] === "backup-2"
  );
  w.cluster.server.delete(POD, first!.metadata.name, "default");
  endpoint.latencyFactor = 1;
  await w.cluster.run({ maxVirtualMs: 600_000, until: jobDone(w, "backup-2") });
  assert.deepEqual(conditionTypes(w, "backup-2"), ["SuccessCriteriaMet", "Complete"]);
  const status = w.cluster.server.get(JOB, "backup-2", "default").status as { failed?: number };
  assert.equal(status.failed, 1);
  assert.equal(endpoint.incompleteUploads("backups").length, 1, "the cut upload never completed");
  assert.equal(w.cluster.jobRunner!.runs.filter((r) => r.cut).length, 1);
});

Deno.test("JobRunner: a runner pod without its Secret stays Pending with CreateContainerConfigError", async () => {
  const w = await setup();
  w.cluster.server.create(runnerJob("backup-3", "backup"));
  await w.cluster.run({ maxVirtualMs: 60_000 });
  const [pod] = w.cluster.server.peekList(POD, "default").filter((p) =>
    p.metadata.labels?.["job-name"] === "backup-3"
  );
  const status = pod!.status as {
    phase: string;
    containerStatuses: { state: { waiting: { reason: string; message: string } } }[];
  };
  assert.equal(status.phase, "Pending");
  assert.equal(status.containerStatuses[0]!.state.waiting.reason, "CreateContainerConfigError");
  assert.equal(status.containerStatuses[0]!.state.waiting.message, 'secret "s3-creds" not found');
  w.cluster.server.create(credentials());
  await w.cluster.run({ maxVirtualMs: 600_000, until: jobDone(w, "backup-3") });
  assert.deepEqual(conditionTypes(w, "backup-3"), ["SuccessCriteriaMet", "Complete"]);
});
