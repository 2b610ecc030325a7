/**
 * CustomResourceDefinitions from TypeScript: {@link buildCrd} turns a typed description (group,
 * names, scope, versions with printer columns, the status subresource and a {@link JsonSchema})
 * into the `apiextensions.k8s.io/v1` object, with the boilerplate filled in (list kind, plural,
 * the `apiVersion`/`kind`/`metadata` properties of the root schema) and the schema checked.
 *
 * The schema is a plain object typed as {@link JsonSchema}, the structural OpenAPI v3 subset that
 * Kubernetes accepts, so the compiler rejects misspelt keywords and wrong value types; the builder
 * rejects what a type cannot say (a required field that is not a property, an enum or default of
 * the wrong type, one storage version), with a `TypeError` naming the path.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";

/** The types a structural schema node can have. */
export type SchemaType = "object" | "array" | "string" | "integer" | "number" | "boolean";

/** A CEL validation rule (`x-kubernetes-validations`). */
export interface ValidationRule {
  /** The CEL expression, e.g. `self == oldSelf`. */
  rule: string;
  /** The message shown when the rule fails. */
  message?: string;
}

/** One node of a structural OpenAPI v3 schema, as CRDs take it. */
export interface JsonSchema {
  /** The JSON type. Absent only with `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`. */
  type?: SchemaType;
  /** What the field means, shown by `kubectl explain`. */
  description?: string;
  /** The fields of an object. */
  properties?: Record<string, JsonSchema>;
  /** Fields of an object that must be present. */
  required?: string[];
  /** The schema of a map's values (an object without fixed properties). */
  additionalProperties?: JsonSchema | boolean;
  /** The schema of an array's items. */
  items?: JsonSchema;
  /** The only values allowed. */
  enum?: unknown[];
  /** The value the API server fills in when the field is absent. */
  default?: unknown;
  /** A regular expression a string must match. */
  pattern?: string;
  /** A format such as `date-time`, `int32` or `int64`. */
  format?: string;
  /** Least length of a string. */
  minLength?: number;
  /** Greatest length of a string. */
  maxLength?: number;
  /** Least value of a number. */
  minimum?: number;
  /** Greatest value of a number. */
  maximum?: number;
  /** Least number of items of an array. */
  minItems?: number;
  /** Greatest number of items of an array. */
  maxItems?: number;
  /** Whether `null` is accepted. */
  nullable?: boolean;
  /** CEL rules, e.g. an immutable field (`self == oldSelf`). */
  "x-kubernetes-validations"?: ValidationRule[];
  /** How server-side apply merges a list: `atomic`, `set` or `map`. */
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  /** The keys of a `map` list. */
  "x-kubernetes-list-map-keys"?: string[];
  /** How server-side apply merges a map: `granular` or `atomic`. */
  "x-kubernetes-map-type"?: "granular" | "atomic";
  /** Keep fields the schema does not name. */
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  /** An integer or a string (a port name or number, a percentage). */
  "x-kubernetes-int-or-string"?: boolean;
  /** An embedded Kubernetes object (`apiVersion`, `kind`, `metadata`). */
  "x-kubernetes-embedded-resource"?: boolean;
}

/** A column of `kubectl get`. */
export interface PrinterColumn {
  /** The column header. */
  name: string;
  /** How the value is shown. */
  type: "string" | "integer" | "number" | "boolean" | "date";
  /** Where the value is, e.g. `.spec.replicas`. */
  jsonPath: string;
  /** What the column shows (`kubectl explain`). */
  description?: string;
  /** 0 for the default view; higher ones show with `-o wide`. */
  priority?: number;
}

/** One served version of the resource. */
export interface CrdVersion {
  /** The version, e.g. `v1alpha1`. */
  name: string;
  /** Served by the API server. @default true */
  served?: boolean;
  /** The version objects are stored in; exactly one version has it. @default true when it is the only version */
  storage?: boolean;
  /** The description of the whole resource (the root schema's). */
  description?: string;
  /** The schema of `spec`. */
  spec: JsonSchema;
  /** The schema of `status`; with it, `status` is a subresource unless `statusSubresource` is false. */
  status?: JsonSchema;
  /** Make `status` a subresource. @default true when `status` is given */
  statusSubresource?: boolean;
  /** `spec` must be present. @default true */
  specRequired?: boolean;
  /** Columns of `kubectl get`. */
  printerColumns?: PrinterColumn[];
}

/** The names of the resource. */
export interface CrdNames {
  /** The kind, in PascalCase, e.g. `PostgresDB`. */
  kind: string;
  /** The resource name in URLs. @default the kind in lower case, plus `s` */
  plural?: string;
  /** The name of one object for kubectl. @default the kind in lower case */
  singular?: string;
  /** The kind of a list. @default the kind plus `List` */
  listKind?: string;
  /** Short names for kubectl, e.g. `pgdb`. */
  shortNames?: string[];
  /** Groups for kubectl, e.g. `all`. */
  categories?: string[];
}

/** The description {@link buildCrd} takes. */
export interface CrdOptions {
  /** The API group, e.g. `example.com`. */
  group: string;
  /** The resource's names. */
  names: CrdNames;
  /** Whether objects live in a namespace. @default "Namespaced" */
  scope?: "Namespaced" | "Cluster";
  /** The versions, at least one. */
  versions: CrdVersion[];
}

/**
 * Builds the CustomResourceDefinition object (checked; see the module doc).
 *
 * @example
 * ```ts
 * import { buildCrd } from "./crd.ts";
 * const crd = buildCrd({
 *   group: "example.com",
 *   names: { kind: "Greeting" },
 *   versions: [{
 *     name: "v1",
 *     spec: { type: "object", required: ["message"], properties: { message: { type: "string" } } },
 *     status: { type: "object", properties: { phase: { type: "string" } } },
 *   }],
 * });
 * console.assert(crd.metadata.name === "greetings.example.com");
 * ```
 */
export function buildCrd(options: CrdOptions): KubeObject {
  const names = crdNames(options.names);
  if (options.versions.length === 0) {
    throw new TypeError(`CRD ${JSON.stringify(names.kind)} has no version`);
  }
  const versions = options.versions.map((v) => crdVersion(v, options.versions.length === 1));
  const storage = versions.filter((v) => v.storage).length;
  if (storage !== 1) {
    throw new TypeError(
      `CRD ${JSON.stringify(names.kind)} has ${storage} storage versions: exactly one is needed`,
    );
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${names.plural}.${options.group}` },
    spec: {
      group: options.group,
      names,
      scope: options.scope ?? "Namespaced",
      versions,
    },
  };
}

/**
 * The schema of a `metav1.Condition` list (`status.conditions`), keyed by `type` for server-side
 * apply.
 */
export function conditionsSchema(): JsonSchema {
  return {
    type: "array",
    items: {
      type: "object",
      required: ["type", "status", "reason", "message", "lastTransitionTime"],
      properties: {
        type: { type: "string", maxLength: 316 },
        status: { type: "string", enum: ["True", "False", "Unknown"] },
        reason: { type: "string", maxLength: 1024 },
        message: { type: "string", maxLength: 32768 },
        lastTransitionTime: { type: "string", format: "date-time" },
        observedGeneration: { type: "integer", format: "int64", minimum: 0 },
      },
    },
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
  };
}

/** Checks a schema, throwing a `TypeError` that names the first problem's path. */
export function checkSchema(schema: JsonSchema, path = "spec"): void {
  const fail = (message: string): never => {
    throw new TypeError(`Schema ${path}: ${message}`);
  };
  const open = schema["x-kubernetes-int-or-string"] === true ||
    schema["x-kubernetes-preserve-unknown-fields"] === true;
  if (schema.type === undefined && !open) fail("has no type");
  if (schema.properties !== undefined && schema.type !== "object") {
    fail(`has properties but type ${JSON.stringify(schema.type)}`);
  }
  if (schema.items !== undefined && schema.type !== "array") {
    fail(`has items but type ${JSON.stringify(schema.type)}`);
  }
  if (schema.type === "array" && schema.items === undefined) fail("is an array without items");
  for (const name of schema.required ?? []) {
    if (schema.properties?.[name] === undefined) {
      fail(`requires ${JSON.stringify(name)}, not a property`);
    }
  }
  for (const value of schema.enum ?? []) {
    if (!fits(schema.type, value)) {
      fail(`enum value ${JSON.stringify(value)} is not a ${schema.type}`);
    }
  }
  if (schema.default !== undefined && !fits(schema.type, schema.default)) {
    fail(`default ${JSON.stringify(schema.default)} is not a ${schema.type}`);
  }
  if (schema.pattern !== undefined && !validPattern(schema.pattern)) {
    fail(`pattern ${JSON.stringify(schema.pattern)} is not a regular expression`);
  }
  const keys = schema["x-kubernetes-list-map-keys"];
  if (keys !== undefined && schema["x-kubernetes-list-type"] !== "map") {
    fail("has list map keys but is not a map list");
  }
  for (const key of keys ?? []) {
    if (schema.items?.properties?.[key] === undefined) {
      fail(`list map key ${JSON.stringify(key)} is not a property of the items`);
    }
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    checkSchema(child, `${path}.${name}`);
  }
  if (schema.items !== undefined) checkSchema(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === "object") {
    checkSchema(schema.additionalProperties, `${path}.*`);
  }
}

function crdNames(
  names: CrdNames,
): Required<Omit<CrdNames, "shortNames" | "categories">> & CrdNames {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(names.kind)) {
    throw new TypeError(`CRD kind ${JSON.stringify(names.kind)} is not a PascalCase name`);
  }
  const lower = names.kind.toLowerCase();
  const out: Required<Omit<CrdNames, "shortNames" | "categories">> & CrdNames = {
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    plural: names.plural ?? `${lower}s`,
    singular: names.singular ?? lower,
  };
  if (names.shortNames) out.shortNames = [...names.shortNames];
  if (names.categories) out.categories = [...names.categories];
  return out;
}

function crdVersion(version: CrdVersion, only: boolean): Record<string, unknown> & {
  storage: boolean;
} {
  checkSchema(version.spec, "spec");
  if (version.status) checkSchema(version.status, "status");
  const out: Record<string, unknown> & { storage: boolean } = {
    name: version.name,
    served: version.served ?? true,
    storage: version.storage ?? only,
  };
  if (version.status && version.statusSubresource !== false) out.subresources = { status: {} };
  if (version.printerColumns) out.additionalPrinterColumns = version.printerColumns;
  const root: JsonSchema = { type: "object" };
  if (version.description !== undefined) root.description = version.description;
  root.properties = {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    spec: version.spec,
    ...(version.status ? { status: version.status } : {}),
  };
  if (version.specRequired !== false) root.required = ["spec"];
  out.schema = { openAPIV3Schema: root };
  return out;
}

function fits(type: SchemaType | undefined, value: unknown): boolean {
  switch (type) {
    case undefined:
      return true;
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
  }
}

function validPattern(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
