// Goal: buildCrd() fills in the names and root schema a CRD needs, and rejects a description the
// API server would reject (or silently misread) with one message that names the place.
import assert from "node:assert/strict";
import { buildCrd, checkSchema, conditionsSchema, type CrdOptions } from "./crd.ts";

function greetingCrd(overrides: Partial<CrdOptions> = {}): CrdOptions {
  return {
    group: "example.com",
    names: { kind: "Greeting" },
    versions: [{
      name: "v1",
      spec: {
        type: "object",
        required: ["message"],
        properties: { message: { type: "string", default: "hello" } },
      },
      status: { type: "object", properties: { conditions: conditionsSchema() } },
    }],
    ...overrides,
  };
}

Deno.test("buildCrd() derives the names, the scope and the root schema", () => {
  // deno-lint-ignore no-explicit-any
  const crd = buildCrd(greetingCrd()) as any;
  assert.equal(crd.metadata.name, "greetings.example.com");
  assert.deepEqual(crd.spec.names, {
    kind: "Greeting",
    listKind: "GreetingList",
    plural: "greetings",
    singular: "greeting",
  });
  assert.equal(crd.spec.scope, "Namespaced");
  const version = crd.spec.versions[0];
  assert.deepEqual(
    [version.name, version.served, version.storage, version.subresources],
    ["v1", true, true, { status: {} }],
  );
  const root = version.schema.openAPIV3Schema;
  assert.deepEqual(Object.keys(root.properties), [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
  ]);
  assert.deepEqual(root.required, ["spec"]);
});

Deno.test("buildCrd() leaves out the status subresource without a status, or when asked", () => {
  const base = greetingCrd().versions[0]!;
  // deno-lint-ignore no-explicit-any
  const noStatus = buildCrd(greetingCrd({ versions: [{ name: "v1", spec: base.spec }] })) as any;
  assert.equal(noStatus.spec.versions[0].subresources, undefined);
  // deno-lint-ignore no-explicit-any
  const plain = buildCrd(greetingCrd({ versions: [{ ...base, statusSubresource: false }] })) as any;
  assert.equal(plain.spec.versions[0].subresources, undefined);
  assert.ok(plain.spec.versions[0].schema.openAPIV3Schema.properties.status);
});

Deno.test("buildCrd() needs exactly one storage version", () => {
  const base = greetingCrd().versions[0]!;
  assert.throws(
    () => buildCrd(greetingCrd({ versions: [base, { ...base, name: "v2" }] })),
    { name: "TypeError", message: 'CRD "Greeting" has 0 storage versions: exactly one is needed' },
  );
  assert.throws(() => buildCrd(greetingCrd({ versions: [] })), /has no version/);
  const two = buildCrd(greetingCrd({ versions: [base, { ...base, name: "v2", storage: true }] }));
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((two.spec as any).versions.map((v: any) => v.storage), [false, true]);
});

const BAD_SCHEMAS: [string, Parameters<typeof checkSchema>[0], string][] = [
  [
    "a required field that is not a property",
    { type: "object", required: ["mesage"], properties: { message: { type: "string" } } },
    'Schema spec: requires "mesage", not a property',
  ],
  [
    "a default of the wrong type",
    { type: "object", properties: { replicas: { type: "integer", default: "1" } } },
    'Schema spec.replicas: default "1" is not a integer',
  ],
  [
    "an enum value of the wrong type",
    { type: "object", properties: { mode: { type: "string", enum: ["a", 2] } } },
    "Schema spec.mode: enum value 2 is not a string",
  ],
  [
    "an array without items",
    { type: "object", properties: { names: { type: "array" } } },
    "Schema spec.names: is an array without items",
  ],
  [
    "a node without a type",
    { type: "object", properties: { any: {} } },
    "Schema spec.any: has no type",
  ],
  [
    "a pattern that is no regular expression",
    { type: "object", properties: { name: { type: "string", pattern: "([" } } },
    'Schema spec.name: pattern "([" is not a regular expression',
  ],
  [
    "a list map key that items lack",
    {
      type: "object",
      properties: {
        ports: {
          type: "array",
          items: { type: "object", properties: { port: { type: "integer" } } },
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        },
      },
    },
    'Schema spec.ports: list map key "name" is not a property of the items',
  ],
];

for (const [what, schema, message] of BAD_SCHEMAS) {
  Deno.test(`buildCrd() rejects ${what}`, () => {
    const options = greetingCrd({ versions: [{ name: "v1", spec: schema }] });
    assert.throws(() => buildCrd(options), { name: "TypeError", message });
  });
}

Deno.test("buildCrd() rejects a kind that is not PascalCase", () => {
  assert.throws(
    () => buildCrd(greetingCrd({ names: { kind: "greeting" } })),
    { message: 'CRD kind "greeting" is not a PascalCase name' },
  );
});

Deno.test("conditionsSchema() passes its own check and keys conditions by type", () => {
  const schema = conditionsSchema();
  checkSchema(schema, "status.conditions");
  assert.deepEqual(schema["x-kubernetes-list-map-keys"], ["type"]);
});
