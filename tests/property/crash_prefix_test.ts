// Goal: the operator recovers from a crash after any prefix of its writes. For the tutorial's
// sample (and a 3-instance variant), crash right after write k for every k up to the number of
// writes a fault-free run makes; each run must converge with every checker passing.
// Method: the harness crashes the controller after its k-th successful write (losing its cache
// and queue) and restarts it a virtual second later.
import assert from "node:assert/strict";
import { runSchedule, type Schedule } from "../../sim/schedule.ts";
import { postgresDB } from "./arbitraries.ts";
import { postgresSubject } from "./subject.ts";

for (const replicas of [1, 3]) {
  Deno.test(`crash after every prefix of the writes: ${replicas} instance(s) converge`, async () => {
    const base: Schedule = {
      seed: 7,
      steps: [{
        atMs: 0,
        do: "apply",
        object: postgresDB("my-postgres", {
          version: "16",
          storage: "1Gi",
          replicas,
          databaseName: "myapp",
        }),
      }],
    };
    const clean = await runSchedule(base, postgresSubject());
    assert.deepEqual(clean.violations, []);
    assert.ok(clean.successfulWrites >= 8, `${clean.successfulWrites} writes`);
    // Every prefix of the writes that succeed (a write refused with a conflict is retried, and
    // the crash counts only those that committed).
    for (let k = 1; k <= clean.successfulWrites; k++) {
      const report = await runSchedule({ ...base, crashAfterWrites: [k] }, postgresSubject());
      assert.equal(report.injected.operatorCrash, 1, `crash after write ${k}`);
      assert.deepEqual(report.violations, [], `crash after write ${k}`);
      assert.ok(report.converged, `crash after write ${k}`);
    }
  });
}

Deno.test("crash after each single write: the operator still gets there, one write per life", async () => {
  const report = await runSchedule({
    seed: 3,
    steps: [{
      atMs: 0,
      do: "apply",
      object: postgresDB("my-postgres", {
        version: "16",
        storage: "1Gi",
        replicas: 2,
        databaseName: "myapp",
      }),
    }],
    crashAfterWrites: Array.from({ length: 24 }, (_, i) => i + 1),
  }, postgresSubject());
  // Every incarnation made exactly one write and died: one crash per write.
  assert.equal(report.injected.operatorCrash, report.writes);
  assert.ok(report.writes >= 5, `${report.writes} writes`);
  assert.deepEqual(report.violations, []);
});
