/**
 * Resource discovery and URL paths: which plural and scope a kind has, asked of the API server's
 * discovery endpoints (`/api/v1`, `/apis/<group>/<version>`) once per group version and cached.
 * A kind the cache does not know triggers one refresh of its group version, so custom resources
 * whose CRD was installed after the client started are found.
 *
 * @module
 */

import { ApiError } from "../core/cluster.ts";
import type { TypeRef } from "../core/object.ts";

/** How a kind is served: its resource name in URLs and whether it lives in namespaces. */
export interface ResourceInfo {
  /** The resource name in URLs, e.g. `statefulsets`. */
  plural: string;
  /** True for namespaced kinds. */
  namespaced: boolean;
}

/**
 * The discovery path of an `apiVersion`: `/api/v1` for the core group, `/apis/<group>/<version>`
 * otherwise.
 */
export function groupVersionPath(apiVersion: string): string {
  const parts = apiVersion.split("/");
  if (parts.length === 1 && parts[0] !== "") return `/api/${encodeURIComponent(parts[0]!)}`;
  if (parts.length === 2 && parts[0] !== "" && parts[1] !== "") {
    return `/apis/${encodeURIComponent(parts[0]!)}/${encodeURIComponent(parts[1]!)}`;
  }
  throw new ApiError(
    "BadRequest",
    `Cannot use apiVersion ${JSON.stringify(apiVersion)}: not "v1" or "group/version"`,
  );
}

/** Where in a kind's URL space a request goes. */
export interface PathTarget {
  /** The namespace; ignored for cluster-scoped kinds. */
  namespace?: string | undefined;
  /** The object's name; absent for the collection. */
  name?: string | undefined;
  /** A subresource such as `status`; needs `name`. */
  subresource?: string;
}

/**
 * Builds a resource URL path, e.g.
 * `/apis/apps/v1/namespaces/default/statefulsets/db/status`. A namespaced kind without a
 * namespace addresses all namespaces (valid for list and watch only).
 */
export function resourcePath(
  apiVersion: string,
  info: ResourceInfo,
  target: PathTarget = {},
): string {
  let path = groupVersionPath(apiVersion);
  if (info.namespaced && target.namespace) {
    path += `/namespaces/${encodeURIComponent(target.namespace)}`;
  }
  path += `/${encodeURIComponent(info.plural)}`;
  if (target.name !== undefined) {
    if (target.name === "") {
      throw new ApiError("BadRequest", "Cannot address an object without a name");
    }
    path += `/${encodeURIComponent(target.name)}`;
    if (target.subresource) path += `/${encodeURIComponent(target.subresource)}`;
  }
  return path;
}

/**
 * Reads an `APIResourceList` into a map from kind to {@link ResourceInfo}. Subresources
 * (`pods/status`) are skipped; the first resource of a kind wins.
 */
export function parseResourceList(body: unknown): Map<string, ResourceInfo> {
  const kinds = new Map<string, ResourceInfo>();
  const resources = (body as { resources?: unknown } | null)?.resources;
  if (!Array.isArray(resources)) return kinds;
  for (const entry of resources) {
    const { name, kind, namespaced } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== "string" || typeof kind !== "string" || name.includes("/")) continue;
    if (!kinds.has(kind)) kinds.set(kind, { plural: name, namespaced: namespaced === true });
  }
  return kinds;
}

/** The message the API server itself uses for a resource it does not serve. */
export function unknownKindError(type: TypeRef): ApiError {
  return new ApiError(
    "NotFound",
    `the server could not find the requested resource (kind "${type.kind}" in "${type.apiVersion}")`,
  );
}

/**
 * Fetches the `APIResourceList` at a discovery path; resolves `undefined` when the server does
 * not serve that group version (404).
 */
export type FetchResourceList = (groupVersionPath: string) => Promise<unknown | undefined>;

/** A cache of discovery answers, refreshed per group version on a miss. */
export class Discovery {
  readonly #fetch: FetchResourceList;
  readonly #cache = new Map<string, Map<string, ResourceInfo>>();
  readonly #inFlight = new Map<string, Promise<Map<string, ResourceInfo>>>();

  constructor(fetchResourceList: FetchResourceList) {
    this.#fetch = fetchResourceList;
  }

  /**
   * Resolves a kind to its resource, asking the server when the cache has no answer; fails with
   * reason `NotFound` when the server does not serve the kind.
   */
  async resolve(type: TypeRef): Promise<ResourceInfo> {
    const path = groupVersionPath(type.apiVersion);
    const cached = this.#cache.get(path)?.get(type.kind);
    if (cached) return cached;
    const kinds = await this.#refresh(path);
    const info = kinds.get(type.kind);
    if (!info) throw unknownKindError(type);
    return info;
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.#cache.clear();
  }

  /** One refresh per group version at a time; concurrent misses share it. */
  #refresh(path: string): Promise<Map<string, ResourceInfo>> {
    const running = this.#inFlight.get(path);
    if (running) return running;
    const refresh = (async () => {
      try {
        const body = await this.#fetch(path);
        const kinds = body === undefined
          ? new Map<string, ResourceInfo>()
          : parseResourceList(body);
        this.#cache.set(path, kinds);
        return kinds;
      } finally {
        this.#inFlight.delete(path);
      }
    })();
    this.#inFlight.set(path, refresh);
    return refresh;
  }
}
