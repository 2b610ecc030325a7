/**
 * Reading manifests for the command line: multi-document YAML files, checked enough that a
 * mistake is one clear line, never a stack trace.
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../core/object.ts";

/** A mistake in the user's input: the command line prints its message and exits 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** Parses YAML text (one or more documents) into objects; `source` names it in messages. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) {
    throw new InputError(`Cannot parse ${source}: not YAML documents`);
  }
  for (const [index, document] of documents.entries()) {
    const where = documents.length > 1 ? `${source} (document ${index + 1})` : source;
    if (document.errors.length > 0) {
      const first = document.errors[0]!;
      throw new InputError(`Cannot parse ${where}: ${first.message.split("\n")[0]}`);
    }
    const value = document.toJS();
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
  if (!isObject(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
    throw new InputError(`Cannot use ${where}: metadata.name is missing`);
  }
  return value as KubeObject;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
