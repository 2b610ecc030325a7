/**
 * Reading manifests for the command line: multi-document YAML files, checked enough that a
 * mistake is one clear line, never a stack trace.
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../core/object.ts";

import { InputError } from "./input_error.ts";

export { InputError } from "./input_error.ts";

/**
 * How many alias dereferences one document may make. Kubernetes manifests hardly use aliases; the
 * bound stops an alias bomb ("billion laughs") from expanding into gigabytes.
 */
export const MAX_YAML_ALIASES = 100;

/** Parses YAML text (one or more documents) into objects; `source` names it in messages. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  let documents: ReturnType<typeof parseAllDocuments>;
  try {
    documents = parseAllDocuments(text);
  } catch (error) {
    throw new InputError(`Cannot parse ${source}: ${firstLine(error)}`);
  }
  if (!Array.isArray(documents)) {
    throw new InputError(`Cannot parse ${source}: not YAML documents`);
  }
  for (const [index, document] of documents.entries()) {
    const where = documents.length > 1 ? `${source} (document ${index + 1})` : source;
    if (document.errors.length > 0) {
      const first = document.errors[0]!;
      throw new InputError(`Cannot parse ${where}: ${first.message.split("\n")[0]}`);
    }
    let value: unknown;
    try {
      // Undefined aliases and alias bombs throw here, not in `errors`.
      value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (error) {
      throw new InputError(`Cannot parse ${where}: ${firstLine(error)}`);
    }
    if (value === null || value === undefined) continue;
    for (const item of expandList(value, where)) objects.push(checkObject(item, where));
  }
  return objects;
}

/** Reads and parses manifest files, in order. */
export async function readManifests(paths: readonly string[]): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new InputError(`Cannot read ${JSON.stringify(path)}: ${reason}`);
    }
    objects.push(...parseManifests(text, JSON.stringify(path)));
  }
  return objects;
}

function expandList(value: unknown, where: string): unknown[] {
  if (isObject(value) && value.kind === "List" && Array.isArray(value.items)) return value.items;
  if (Array.isArray(value)) {
    throw new InputError(`Cannot use ${where}: a YAML list is not an object`);
  }
  return [value];
}

function checkObject(value: unknown, where: string): KubeObject {
  if (!isObject(value)) {
    throw new InputError(`Cannot use ${where}: expected a Kubernetes object, got ${typeof value}`);
  }
  if (typeof value.apiVersion !== "string" || value.apiVersion === "") {
    throw new InputError(`Cannot use ${where}: apiVersion is missing`);
  }
  if (typeof value.kind !== "string" || value.kind === "") {
    throw new InputError(`Cannot use ${where}: kind is missing`);
  }
  const metadata = value.metadata;
  if (!isObject(metadata) || metadata.name === undefined || metadata.name === null) {
    throw new InputError(`Cannot use ${where}: metadata.name is missing`);
  }
  if (typeof metadata.name !== "string") {
    throw new InputError(
      `Cannot use ${where}: metadata.name must be a string, not the ${typeof metadata
        .name} ${JSON.stringify(metadata.name)} (quote it in YAML)`,
    );
  }
  if (metadata.name === "") throw new InputError(`Cannot use ${where}: metadata.name is empty`);
  return value as KubeObject;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
