// Goal: the committed CRD YAML is what crds/postgresdb.ts generates, and it says what the issue asks.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { renderCrds } from "../crds/generate.ts";

Deno.test("crds: the committed YAML equals the generated one (run `deno task crds`)", async () => {
  for (const { file, text } of renderCrds()) {
    assert.equal(await Deno.readTextFile(`crds/${file}`), text, `crds/${file} is stale`);
  }
});

Deno.test("crds: PostgresDB is namespaced, short name pgdb, status subresource, printer columns", () => {
  const text = renderCrds()[0]!.text;
  // deno-lint-ignore no-explicit-any
  const crd = parse(text) as any;
  assert.equal(crd.spec.scope, "Namespaced");
  assert.deepEqual(crd.spec.names.shortNames, ["pgdb"]);
  const version = crd.spec.versions[0];
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c: { name: string }) => c.name),
    ["Version", "Replicas", "Phase", "Ready", "Primary", "Streaming", "Age"],
  );
  const spec = version.schema.openAPIV3Schema.properties.spec;
  assert.deepEqual(spec.required, ["version", "storage", "databaseName"]);
  assert.equal(spec.properties.replicas.default, 1);
});
