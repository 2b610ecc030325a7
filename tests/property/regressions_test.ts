// Goal: schedules the PostgresDB fault campaign once found failing keep passing: each is replayed
// as it was printed, with every checker and the liveness judgement.
// Method: runSchedule() on the schedule's JSON (its seed fixes the faults); the name says what
// failed and which fix it guards.
import assert from "node:assert/strict";
import { runSchedule, type Schedule } from "../../sim/schedule.ts";
import { postgresSubject } from "./subject.ts";

/** Campaign schedules that once failed, by what they found. */
const FOUND: { name: string; schedule: Schedule }[] = [
  {
    // A PostgresDB (deletion policy Delete) deleted while its StatefulSet was re-created for a
    // larger storage: the orphaned pod kept running and its volume stayed, owned by nobody.
    name: "a PostgresDB deleted during a storage growth leaves no pod or volume behind",
    schedule: {
      "seed": 842279803,
      "steps": [
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "beta", "namespace": "default" },
            "spec": {
              "version": "16",
              "storage": "1Gi",
              "replicas": 2,
              "databaseName": "app",
              "deletionPolicy": "Delete",
            },
          },
          "atMs": 0,
        },
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "beta", "namespace": "default" },
            "spec": {
              "version": "16.4",
              "storage": "2Gi",
              "replicas": 1,
              "databaseName": "app",
              "deletionPolicy": "Delete",
            },
          },
          "atMs": 0,
        },
        { "do": "cutOffAgent", "name": "alpha-0", "durationMs": 1000, "atMs": 1834 },
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "alpha", "namespace": "default" },
            "spec": { "version": "16", "storage": "1Gi", "replicas": 1, "databaseName": "app" },
          },
          "atMs": 5429,
        },
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "alpha", "namespace": "default" },
            "spec": { "version": "16.4", "storage": "1Gi", "replicas": 3, "databaseName": "app" },
          },
          "atMs": 5429,
        },
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "beta", "namespace": "default" },
            "spec": {
              "version": "16",
              "storage": "1Gi",
              "replicas": 1,
              "databaseName": "app",
              "deletionPolicy": "Delete",
            },
          },
          "atMs": 10511,
        },
        {
          "do": "delete",
          "apiVersion": "database.thegeekyway.com/v1alpha1",
          "kind": "PostgresDB",
          "name": "beta",
          "atMs": 10826,
        },
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "beta", "namespace": "default" },
            "spec": {
              "version": "16.4",
              "storage": "2Gi",
              "replicas": 1,
              "databaseName": "app",
              "deletionPolicy": "Delete",
            },
          },
          "atMs": 11040,
        },
      ],
      "cluster": { "gcDelayMs": 1369, "readyDelayMs": 2000 },
      "faultsAfterLastStepMs": 10000,
      "faults": {
        "ambiguousWriteRate": 0.03922909411822427,
        "watchDisconnectRate": 0.01971634832102585,
        "watchLagMaxMs": 2820,
      },
    },
  },
  {
    // A restarted operator relisted an older snapshot of StatefulSets: the user-deleted one, still
    // reporting its ready pod, beside the successor's unready pod; Ready was written.
    name: "Ready is not written from a deleted StatefulSet's report after a stale relist",
    schedule: {
      "seed": 1282377796,
      "steps": [
        {
          "do": "apply",
          "object": {
            "apiVersion": "database.thegeekyway.com/v1alpha1",
            "kind": "PostgresDB",
            "metadata": { "name": "alpha", "namespace": "default" },
            "spec": { "version": "16", "storage": "1Gi", "replicas": 1, "databaseName": "app" },
          },
          "atMs": 0,
        },
        { "do": "deletePod", "name": "alpha-0", "atMs": 852 },
        { "do": "userDelete", "kind": "Service", "name": "alpha", "atMs": 4138 },
        { "do": "userDelete", "kind": "StatefulSet", "name": "alpha", "atMs": 7338 },
        { "do": "userDelete", "kind": "StatefulSet", "name": "beta", "atMs": 14069 },
      ],
      "cluster": { "gcDelayMs": 50, "readyDelayMs": 2000 },
      "faultsAfterLastStepMs": 10000,
      "faults": {
        "writeErrorRate": 0.10369491454243654,
        "ambiguousWriteRate": 0.12632792948040444,
        "watchDisconnectRate": 0.010000000000000012,
        "watchExpireRate": 0.03353524956308897,
        "staleListRate": 0.07168891816553977,
      },
      "crashRate": 0.1776021250322169,
    },
  },
  {
    // The cache still held a Secret the user had deleted when the live reads were decided (none),
    // and a relist dropped it before the reconcile ran: a new password over initialised data.
    name: "no new password over existing volumes when a relist lands during a reconcile",
    schedule: {
      "seed": 1012706252,
      "steps": [{
        "do": "apply",
        "object": {
          "apiVersion": "database.thegeekyway.com/v1alpha1",
          "kind": "PostgresDB",
          "metadata": { "name": "beta", "namespace": "default" },
          "spec": {
            "version": "16",
            "storage": "1Gi",
            "replicas": 1,
            "databaseName": "app",
            "deletionPolicy": "Delete",
          },
        },
        "atMs": 0,
      }, { "do": "userDelete", "kind": "Secret", "name": "beta-credentials", "atMs": 558 }],
      "cluster": { "gcDelayMs": 50, "readyDelayMs": 2000 },
      "faultsAfterLastStepMs": 10000,
      "faults": {
        "writeErrorRate": 0.01,
        "ambiguousWriteRate": 0.0959642991468305,
        "readErrorRate": 0.015768427061593586,
        "watchExpireRate": 0.011419124283905702,
        "watchLagMaxMs": 2694,
      },
    },
  },
  {
    // A user deleted the re-created StatefulSet: the pod, which the PostgresDB also owns, lost
    // only that owner, and the next StatefulSet never adopted the orphan (the simulated
    // controller woke only for pods it controlled).
    name: "a pod orphaned while its StatefulSet is idle is adopted",
    schedule: {
      "seed": 1,
      "steps": [{
        "do": "apply",
        "object": {
          "apiVersion": "database.thegeekyway.com/v1alpha1",
          "kind": "PostgresDB",
          "metadata": { "name": "alpha", "namespace": "default" },
          "spec": { "version": "16", "storage": "1Gi", "replicas": 1, "databaseName": "app" },
        },
        "atMs": 0,
      }, {
        "do": "apply",
        "object": {
          "apiVersion": "database.thegeekyway.com/v1alpha1",
          "kind": "PostgresDB",
          "metadata": { "name": "alpha", "namespace": "default" },
          "spec": { "version": "16", "storage": "2Gi", "replicas": 1, "databaseName": "app" },
        },
        "atMs": 0,
      }, { "do": "userDelete", "kind": "StatefulSet", "name": "alpha", "atMs": 2208 }],
      "cluster": { "gcDelayMs": 50, "readyDelayMs": 2000 },
      "faultsAfterLastStepMs": 10000,
    },
  },
];

for (const { name, schedule } of FOUND) {
  Deno.test(`property regression: ${name}`, async () => {
    const report = await runSchedule(schedule, postgresSubject());
    assert.deepEqual(report.violations, [], `seed ${schedule.seed}`);
    assert.ok(report.converged);
  });
}
