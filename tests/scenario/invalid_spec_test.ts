// Goal: each bad input of the issue ends in Ready=False/InvalidSpec with the field and value named,
// an event, nothing created from the bad field, other PostgresDBs unaffected, and recovery once
// the spec is fixed. Method: the operator in the simulated cluster (no CRD schema there, so the
// operator's own validation is what is tested).
import assert from "node:assert/strict";
import { sampleYaml, world } from "../support/world.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const cases: [string, Parameters<typeof sampleYaml>[0], RegExp][] = [
  ["storage that is not a quantity", { storage: "10 gigs" }, /spec\.storage: "10 gigs"/],
  ["negative replicas", { replicas: -1 }, /spec\.replicas: -1/],
  ["absurd replicas", { replicas: 100000 }, /spec\.replicas: 100000/],
  [
    "a version that is not a safe image tag",
    { version: "16; rm -rf /" },
    /spec\.version: "16; rm -rf \/"/,
  ],
  [
    "a databaseName that is not an identifier",
    { databaseName: "my-app" },
    /spec\.databaseName: "my-app"/,
  ],
  ["a missing required field", { databaseName: undefined }, /spec\.databaseName: is required/],
];

for (const [what, overrides, message] of cases) {
  Deno.test(`PostgresDB: invalid spec: ${what} -> InvalidSpec, nothing created, then recovery`, async () => {
    const w = await world(11);
    await w.applyYaml(sampleYaml({ name: "good" }));
    await w.applyYaml(sampleYaml({ name: "bad", ...overrides }));
    await w.converge();
    const bad = w.db("bad");
    const ready = bad.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready?.reason, "InvalidSpec");
    assert.match(ready?.message ?? "", message);
    assert.equal(bad.status?.phase, "Failed");
    assert.equal(bad.status?.ready, false);
    assert.ok(
      w.cluster.objects().some((o: Any) =>
        o.kind === "Event" && o.reason === "InvalidSpec" && o.involvedObject.name === "bad" &&
        o.type === "Warning"
      ),
      "a Warning event",
    );
    for (const kind of ["StatefulSet", "Secret", "PersistentVolumeClaim"]) {
      assert.ok(!w.names(kind).some((n) => n.includes("bad")), `no ${kind} for the bad one`);
    }
    assert.equal(w.db("good").status?.ready, true, "the other PostgresDB is unaffected");
    await w.applyYaml(sampleYaml({ name: "bad" }));
    await w.converge();
    assert.equal(w.db("bad").status?.ready, true, "recovers once fixed");
    await w.controller.stop();
  });
}

Deno.test("PostgresDB: a bad storage change on a running database changes nothing, then recovers", async () => {
  const w = await world(12);
  await w.applyYaml(sampleYaml({ replicas: 2 }));
  await w.converge();
  const sts = structuredClone(w.find("StatefulSet", "my-postgres")) as Any;
  await w.applyYaml(sampleYaml({ replicas: 3, storage: "lots" }));
  await w.converge();
  const after = w.find("StatefulSet", "my-postgres") as Any;
  assert.equal(
    after.metadata.resourceVersion,
    sts.metadata.resourceVersion,
    "StatefulSet untouched",
  );
  assert.equal(w.db("my-postgres").status?.phase, "Failed");
  await w.applyYaml(sampleYaml({ replicas: 2 }));
  await w.converge();
  assert.equal(w.db("my-postgres").status?.ready, true);
  assert.equal(w.db("my-postgres").status?.phase, "Running");
  await w.controller.stop();
});
