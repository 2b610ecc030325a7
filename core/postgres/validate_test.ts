// Goal: every bad input of the issue is named by field and value; good input gets defaults.
import assert from "node:assert/strict";
import { validatePostgresDB } from "./validate.ts";
import { sample } from "../../tests/support/fixtures.ts";

const bad: [string, Record<string, unknown>, string, RegExp][] = [
  [
    "storage that is not a quantity",
    { storage: "10 gigs" },
    "spec.storage",
    /"10 gigs" is not a Kubernetes quantity/,
  ],
  ["zero storage", { storage: "0" }, "spec.storage", /must be positive/],
  ["storage of 1e308", { storage: "1e308" }, "spec.storage", /"1e308" must be from 1Mi to 1Ei/],
  ["storage of 1n", { storage: "1n" }, "spec.storage", /"1n" is not a whole number of bytes/],
  ["storage of 1k", { storage: "1k" }, "spec.storage", /"1k" must be from 1Mi to 1Ei/],
  ["storage of 2Ei", { storage: "2Ei" }, "spec.storage", /must be from 1Mi to 1Ei/],
  ["version latest", { version: "latest" }, "spec.version", /"latest" is not a PostgreSQL version/],
  ["version alpine", { version: "alpine" }, "spec.version", /"alpine" is not a PostgreSQL version/],
  ["a version without a major", { version: "bookworm-16" }, "spec.version", /not a PostgreSQL/],
  [
    "negative replicas",
    { replicas: -1 },
    "spec.replicas",
    /-1 must be a whole number from 1 to 16/,
  ],
  ["absurd replicas", { replicas: 1000 }, "spec.replicas", /1000 must be a whole number/],
  ["fractional replicas", { replicas: 1.5 }, "spec.replicas", /1.5 must be a whole number/],
  ["replicas as a string", { replicas: "3" }, "spec.replicas", /"3" must be a whole number/],
  [
    "a version with a shell metacharacter",
    { version: "16; rm -rf /" },
    "spec.version",
    /not a safe image tag/,
  ],
  [
    "a version that names another registry",
    { version: "evil.io/pg:16" },
    "spec.version",
    /not a safe image tag/,
  ],
  ["a version with a digest", { version: "16@sha256:abc" }, "spec.version", /not a safe image tag/],
  [
    "a databaseName with a dash",
    { databaseName: "my-app" },
    "spec.databaseName",
    /"my-app" is not a valid PostgreSQL identifier/,
  ],
  [
    "a databaseName in capitals",
    { databaseName: "MyApp" },
    "spec.databaseName",
    /not a valid PostgreSQL identifier/,
  ],
  [
    "a databaseName of 64 characters",
    { databaseName: "a".repeat(64) },
    "spec.databaseName",
    /not a valid/,
  ],
  ["a reserved databaseName", { databaseName: "template1" }, "spec.databaseName", /reserved/],
  ["a missing version", { version: undefined }, "spec.version", /is required/],
  ["a missing storage", { storage: undefined }, "spec.storage", /is required/],
  ["a missing databaseName", { databaseName: undefined }, "spec.databaseName", /is required/],
  ["a number for the version", { version: 16 }, "spec.version", /16 must be a string/],
];

for (const [what, spec, field, message] of bad) {
  Deno.test(`validatePostgresDB() rejects ${what}, naming ${field}`, () => {
    const result = validatePostgresDB(sample(spec));
    assert.equal(result.ok, false);
    if (result.ok) return;
    const problem = result.problems.find((p) => p.field === field);
    assert.ok(problem, `no problem for ${field} in ${JSON.stringify(result.problems)}`);
    assert.match(problem.message, message);
  });
}

Deno.test("validatePostgresDB() rejects a missing spec", () => {
  const db = sample();
  delete db.spec;
  const result = validatePostgresDB(db);
  assert.ok(!result.ok && result.problems[0]?.field === "spec");
});

Deno.test("validatePostgresDB() rejects a name too long for the StatefulSet's pods", () => {
  const result = validatePostgresDB(sample({}, { name: "x".repeat(53) }));
  assert.ok(!result.ok && result.problems[0]?.field === "metadata.name");
});

Deno.test("validatePostgresDB() accepts the tutorial's sample and defaults replicas to 1", () => {
  const db = sample();
  delete db.spec!.replicas;
  assert.deepEqual(validatePostgresDB(db), {
    ok: true,
    spec: {
      version: "16",
      storage: "1Gi",
      replicas: 1,
      databaseName: "myapp",
      deletionPolicy: "Retain",
      failoverDelay: 0,
      maxFailoverLagBytes: 16 * 2 ** 20,
    },
  });
});

Deno.test("validatePostgresDB() takes synchronous replication from 1 to replicas - 1 standbys", () => {
  const ok = validatePostgresDB(sample({ replicas: 3, synchronous: { number: 2 } }));
  assert.ok(ok.ok);
  assert.deepEqual(ok.spec.synchronous, { number: 2, durability: "required" });
  const preferred = validatePostgresDB(
    sample({ replicas: 2, synchronous: { number: 1, durability: "preferred" } }),
  );
  assert.ok(preferred.ok && preferred.spec.synchronous?.durability === "preferred");
  const tooMany = validatePostgresDB(sample({ replicas: 3, synchronous: { number: 3 } }));
  assert.ok(!tooMany.ok);
  assert.match(tooMany.problems[0]!.message, /3 must be a whole number from 1 to 2/);
  const alone = validatePostgresDB(sample({ replicas: 1, synchronous: { number: 1 } }));
  assert.ok(!alone.ok);
  assert.match(alone.problems[0]!.message, /needs at least 2 replicas/);
  const unknown = validatePostgresDB(
    sample({ replicas: 2, synchronous: { number: 1, durability: "maybe" } }),
  );
  assert.ok(!unknown.ok);
  assert.equal(unknown.problems[0]!.field, "spec.synchronous.durability");
  const delay = validatePostgresDB(sample({ failoverDelay: -1 }));
  assert.ok(!delay.ok && delay.problems[0]!.field === "spec.failoverDelay");
});

Deno.test("validatePostgresDB() refuses an unknown deletion policy", () => {
  const result = validatePostgresDB(sample({ deletionPolicy: "Orphan" }));
  assert.ok(!result.ok);
  assert.match(result.problems[0]!.message, /"Orphan" must be one of "Retain", "Delete"/);
});

Deno.test("validatePostgresDB() accepts usual image tags", () => {
  for (const version of ["16", "16.4", "17-alpine", "15.8-bookworm", "18beta1"]) {
    assert.ok(validatePostgresDB(sample({ version })).ok, version);
  }
});

Deno.test("validatePostgresDB() accepts versions with a parsable major and storage in bounds", () => {
  for (const version of ["15", "16.4", "17-bookworm", "16.4-alpine3.20", "18"]) {
    for (const storage of ["1Mi", "1.5Gi", "10G", "1Ei"]) {
      const result = validatePostgresDB(sample({ version, storage }));
      assert.ok(result.ok, `${version} ${storage}: ${JSON.stringify(result)}`);
    }
  }
});
