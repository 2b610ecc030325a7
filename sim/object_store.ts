/**
 * An in-memory S3-compatible object store on virtual time, for the backup runner in the
 * simulation: {@link SimObjectStores} holds the endpoints (by URL), each with its buckets, its
 * valid credentials and its faults; {@link SimObjectStores.client} gives an
 * {@link ObjectStore} on one bucket, as a runner's S3 client sees it.
 *
 * Semantics, as S3 has them: a multipart object appears only at `completeMultipartUpload`, whole
 * (parts in the order listed, each matching its ETag; every part but the last at least 5 MiB,
 * else `EntityTooSmall`); `abortMultipartUpload` drops the parts; a listing is in key order; a
 * delete of an absent key succeeds; `putObject` replaces an object at once.
 *
 * Every call takes virtual time: `latencyMs` plus the bytes it carries at `bytesPerMs`, both
 * multiplied by the endpoint's `latencyFactor`; its effect happens, and it is logged, when it
 * ends. Faults an endpoint can show (each as the runner's S3 client would classify it):
 * - `down`: every call fails with `Unreachable` (connection refused);
 * - a key id not in its credentials, or a wrong secret: `BadCredentials`;
 * - a bucket that does not exist: `NoSuchBucket`;
 * - {@link SimEndpoint.cutUploadAfter}: the next multipart upload whose parts pass N bytes has its
 *   part cut as by a connection drop (`Unreachable`, the part not stored);
 * - {@link SimEndpoint.failNext}: the next N calls fail with a given code (`Failed` by default);
 * - `latencyFactor`: slowness.
 *
 * Every call that ended is in {@link SimObjectStores.log} (virtual time, endpoint, bucket, op,
 * key, bytes, outcome), for checkers: e.g. a manifest is never written before its dump was
 * completed. A client can be cut ({@link StoreSession.cut}: its pod died): its calls in flight and
 * later never answer and never take effect, so the store keeps an upload that never completes.
 *
 * Not modelled: object versions, conditional requests, ranged reads, a download cut mid-stream,
 * listing pagination (the client lists all pages), request signing beyond the secret's equality,
 * eventual consistency (S3 has been strongly consistent since 2020).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import {
  type ObjectStore,
  type StoredObject,
  StoreError,
  type StoreErrorCode,
  type UploadedPart,
} from "../core/backup/types.ts";

/** S3's minimum size of every part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/** Options of {@link SimObjectStores}. */
export interface SimObjectStoresOptions {
  /** Virtual time every call takes before it answers. @default 5 */
  latencyMs?: number;
  /** Transfer rate of request and response bodies, in bytes per virtual millisecond. @default 50_000 */
  bytesPerMs?: number;
}

/** One call as the store saw it end. */
export interface StoreOperation {
  /** Virtual time when it ended (its effect, if any, happened then). */
  atMs: number;
  /** The endpoint URL. */
  endpoint: string;
  /** The bucket. */
  bucket: string;
  /** The call. */
  op:
    | "putObject"
    | "createMultipartUpload"
    | "uploadPart"
    | "completeMultipartUpload"
    | "abortMultipartUpload"
    | "getObject"
    | "listObjects"
    | "deleteObject";
  /** The key (the prefix for a listing). */
  key: string;
  /** Bytes sent or received. */
  bytes: number;
  /** True when it succeeded. */
  ok: boolean;
  /** The error's code when it failed. */
  error?: StoreErrorCode;
}

/** A client's connection: {@link cut} it when its process dies. */
export class StoreSession {
  #cut = false;
  /** True once cut. */
  get isCut(): boolean {
    return this.#cut;
  }
  /** Cuts the connection: calls in flight and later never answer and never take effect. */
  cut(): void {
    this.#cut = true;
  }
}

/** Credentials a client signs with. */
export interface StoreCredentials {
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey?: string;
}

interface Upload {
  key: string;
  parts: Map<number, { etag: string; body: Uint8Array }>;
  /** Bytes of its parts received so far (for the cut fault). */
  receivedBytes: number;
}

interface Bucket {
  objects: Map<string, Uint8Array>;
  uploads: Map<string, Upload>;
}

/** One endpoint: its buckets, credentials and faults. */
export class SimEndpoint {
  /** The endpoint URL. */
  readonly url: string;
  /** While true, every call fails with `Unreachable`. */
  down = false;
  /** Multiplies every call's duration (slowness). */
  latencyFactor = 1;
  /** @internal The buckets by name. */
  readonly buckets: Map<string, Bucket> = new Map();
  /** @internal Valid key ids and their secrets (undefined: any secret). */
  readonly keys: Map<string, string | undefined> = new Map();
  /** @internal The calls left to fail, and how. */
  failing: { count: number; code: StoreErrorCode } | undefined;
  /** @internal The byte count past which the next multipart upload is cut. */
  cutAfterBytes: number | undefined;
  #uploadIds = 0;

  /** An endpoint without buckets or credentials. */
  constructor(url: string) {
    this.url = url;
  }

  /** Creates a bucket (no-op when it exists). */
  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { objects: new Map(), uploads: new Map() });
  }

  /** Deletes a bucket and everything in it. */
  deleteBucket(name: string): void {
    this.buckets.delete(name);
  }

  /** Accepts a key id (and, when given, only with this secret). */
  addCredentials(accessKeyId: string, secretAccessKey?: string): void {
    this.keys.set(accessKeyId, secretAccessKey);
  }

  /** Revokes a key id. */
  removeCredentials(accessKeyId: string): void {
    this.keys.delete(accessKeyId);
  }

  /** The next `count` calls fail with `code`. */
  failNext(count: number, code: StoreErrorCode = "Failed"): void {
    this.failing = count > 0 ? { count, code } : undefined;
  }

  /** The next multipart upload whose parts pass `bytes` is cut there (once). */
  cutUploadAfter(bytes: number): void {
    this.cutAfterBytes = bytes;
  }

  /** The objects of a bucket (key, size), in key order. */
  objects(bucket: string): StoredObject[] {
    const objects = this.buckets.get(bucket)?.objects ?? new Map<string, Uint8Array>();
    return [...objects].map(([key, body]) => ({ key, sizeBytes: body.length }))
      .sort((a, b) => compareKeys(a.key, b.key));
  }

  /** An object's bytes, if present. */
  object(bucket: string, key: string): Uint8Array | undefined {
    return this.buckets.get(bucket)?.objects.get(key);
  }

  /** The keys of multipart uploads started and neither completed nor aborted. */
  incompleteUploads(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.uploads.values() ?? [])].map((u) => u.key).sort(
      compareKeys,
    );
  }

  /** @internal */
  newUploadId(): string {
    return `upload-${++this.#uploadIds}`;
  }
}

/**
 * The object store endpoints of a simulated world, by URL.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * import { SimObjectStores } from "./object_store.ts";
 * const clock = new VirtualClock();
 * const stores = new SimObjectStores(clock);
 * const endpoint = stores.endpoint("http://s3.local");
 * endpoint.createBucket("backups");
 * endpoint.addCredentials("key");
 * const store = stores.client("http://s3.local", "backups", { accessKeyId: "key" });
 * const put = store.putObject("a", new TextEncoder().encode("x"));
 * while (clock.runNext()) { /* virtual time passes *\/ }
 * await put;
 * console.assert(endpoint.objects("backups")[0]?.key === "a");
 * ```
 */
export class SimObjectStores {
  /** Every call that ended, in order. */
  readonly log: StoreOperation[] = [];
  readonly #clock: Clock;
  readonly #latencyMs: number;
  readonly #bytesPerMs: number;
  readonly #endpoints = new Map<string, SimEndpoint>();

  /** Stores on `clock`'s virtual time. */
  constructor(clock: Clock, options: SimObjectStoresOptions = {}) {
    this.#clock = clock;
    this.#latencyMs = options.latencyMs ?? 5;
    this.#bytesPerMs = options.bytesPerMs ?? 50_000;
  }

  /** The endpoint at `url`, made (empty) on first use. */
  endpoint(url: string): SimEndpoint {
    const key = normalizeUrl(url);
    let endpoint = this.#endpoints.get(key);
    if (!endpoint) this.#endpoints.set(key, endpoint = new SimEndpoint(key));
    return endpoint;
  }

  /** True when an endpoint exists at `url` (a client of another URL finds no server). */
  has(url: string): boolean {
    return this.#endpoints.has(normalizeUrl(url));
  }

  /**
   * A client of one bucket at `url`, signing with `credentials`; `session` cuts it. A URL with no
   * endpoint answers every call with `Unreachable`.
   */
  client(
    url: string,
    bucket: string,
    credentials: StoreCredentials,
    session: StoreSession = new StoreSession(),
  ): ObjectStore {
    return new SimStoreClient(this, normalizeUrl(url), bucket, credentials, session);
  }

  /** @internal The endpoint at a normalised URL, if any. */
  endpointOf(url: string): SimEndpoint | undefined {
    return this.#endpoints.get(url);
  }

  /** @internal Runs one call: waits its virtual time, checks faults, applies `effect`. */
  call<T>(
    request: {
      url: string;
      bucket: string;
      credentials: StoreCredentials;
      session: StoreSession;
      op: StoreOperation["op"];
      key: string;
      bytes: number;
    },
    effect: (bucket: Bucket, endpoint: SimEndpoint) => { value: T; bytes?: number },
  ): Promise<T> {
    const endpoint = this.#endpoints.get(request.url);
    const factor = endpoint?.latencyFactor ?? 1;
    const delayMs = Math.round((this.#latencyMs + request.bytes / this.#bytesPerMs) * factor);
    return new Promise<T>((resolve, reject) => {
      this.#clock.setTimer(delayMs, () => {
        // A dead client's request never arrives whole, and nobody reads the answer.
        if (request.session.isCut) return;
        const entry: StoreOperation = {
          atMs: this.#clock.nowMs(),
          endpoint: request.url,
          bucket: request.bucket,
          op: request.op,
          key: request.key,
          bytes: request.bytes,
          ok: true,
        };
        try {
          const { value, bytes } = effect(this.#admit(endpoint, request), endpoint!);
          if (bytes !== undefined) entry.bytes = bytes;
          this.log.push(entry);
          resolve(value);
        } catch (error) {
          entry.ok = false;
          if (error instanceof StoreError) entry.error = error.code;
          this.log.push(entry);
          reject(error);
        }
      });
    });
  }

  /** The checks every call passes before its effect: reachability, faults, credentials, bucket. */
  #admit(
    endpoint: SimEndpoint | undefined,
    request: { url: string; bucket: string; credentials: StoreCredentials; op: string },
  ): Bucket {
    const what = `${request.op} on ${JSON.stringify(request.url)}`;
    if (!endpoint || endpoint.down) {
      throw new StoreError("Unreachable", `Cannot ${what}: connection refused`);
    }
    if (endpoint.failing) {
      const { code } = endpoint.failing;
      if (--endpoint.failing.count <= 0) endpoint.failing = undefined;
      throw new StoreError(code, `Cannot ${what}: injected ${code} (InternalError)`);
    }
    const { accessKeyId, secretAccessKey } = request.credentials;
    if (!endpoint.keys.has(accessKeyId)) {
      throw new StoreError(
        "BadCredentials",
        `Cannot ${what}: InvalidAccessKeyId: the access key id ${
          JSON.stringify(accessKeyId)
        } does not exist`,
      );
    }
    const secret = endpoint.keys.get(accessKeyId);
    if (secret !== undefined && secret !== secretAccessKey) {
      throw new StoreError(
        "BadCredentials",
        `Cannot ${what}: SignatureDoesNotMatch: the request signature does not match`,
      );
    }
    const bucket = endpoint.buckets.get(request.bucket);
    if (!bucket) {
      throw new StoreError(
        "NoSuchBucket",
        `Cannot ${what}: NoSuchBucket: the bucket ${JSON.stringify(request.bucket)} does not exist`,
      );
    }
    return bucket;
  }
}

/** One client's view of one bucket. */
class SimStoreClient implements ObjectStore {
  readonly #stores: SimObjectStores;
  readonly #request: {
    url: string;
    bucket: string;
    credentials: StoreCredentials;
    session: StoreSession;
  };

  constructor(
    stores: SimObjectStores,
    url: string,
    bucket: string,
    credentials: StoreCredentials,
    session: StoreSession,
  ) {
    this.#stores = stores;
    this.#request = { url, bucket, credentials: { ...credentials }, session };
  }

  #call<T>(
    op: StoreOperation["op"],
    key: string,
    bytes: number,
    effect: (bucket: Bucket, endpoint: SimEndpoint) => { value: T; bytes?: number },
  ): Promise<T> {
    return this.#stores.call({ ...this.#request, op, key, bytes }, effect);
  }

  putObject(key: string, body: Uint8Array, _contentType?: string): Promise<void> {
    const copy = body.slice();
    return this.#call("putObject", key, copy.length, (bucket) => {
      bucket.objects.set(key, copy);
      return { value: undefined };
    });
  }

  createMultipartUpload(key: string): Promise<string> {
    return this.#call("createMultipartUpload", key, 0, (bucket, endpoint) => {
      const id = endpoint.newUploadId();
      bucket.uploads.set(id, { key, parts: new Map(), receivedBytes: 0 });
      return { value: id };
    });
  }

  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
  ): Promise<string> {
    const copy = body.slice();
    return this.#call("uploadPart", key, copy.length, (bucket, endpoint) => {
      const upload = uploadOf(bucket, key, uploadId);
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        throw new StoreError(
          "Failed",
          `Cannot upload part ${partNumber} of ${JSON.stringify(key)}: InvalidArgument`,
        );
      }
      const cutAt = endpoint.cutAfterBytes;
      if (cutAt !== undefined && upload.receivedBytes + copy.length > cutAt) {
        endpoint.cutAfterBytes = undefined;
        upload.receivedBytes = cutAt;
        throw new StoreError(
          "Unreachable",
          `Cannot upload part ${partNumber} of ${JSON.stringify(key)}: connection reset by peer`,
        );
      }
      upload.receivedBytes += copy.length;
      const etag = `"${uploadId}-${partNumber}-${checksum(copy)}"`;
      upload.parts.set(partNumber, { etag, body: copy });
      return { value: etag };
    });
  }

  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const listed = parts.map((p) => ({ ...p }));
    return this.#call("completeMultipartUpload", key, 0, (bucket) => {
      const upload = uploadOf(bucket, key, uploadId);
      const bodies: Uint8Array[] = [];
      for (const [i, part] of listed.entries()) {
        const stored = upload.parts.get(part.partNumber);
        if (!stored || stored.etag !== part.etag) {
          throw new StoreError(
            "Failed",
            `Cannot complete ${
              JSON.stringify(key)
            }: InvalidPart: part ${part.partNumber} was not uploaded`,
          );
        }
        if (i > 0 && part.partNumber <= listed[i - 1]!.partNumber) {
          throw new StoreError(
            "Failed",
            `Cannot complete ${JSON.stringify(key)}: InvalidPartOrder`,
          );
        }
        if (i < listed.length - 1 && stored.body.length < MIN_PART_BYTES) {
          throw new StoreError(
            "Failed",
            `Cannot complete ${
              JSON.stringify(key)
            }: EntityTooSmall: part ${part.partNumber} has ${stored.body.length} bytes`,
          );
        }
        bodies.push(stored.body);
      }
      if (bodies.length === 0) {
        throw new StoreError(
          "Failed",
          `Cannot complete ${JSON.stringify(key)}: MalformedXML: no parts`,
        );
      }
      const whole = concat(bodies);
      bucket.uploads.delete(uploadId);
      bucket.objects.set(key, whole);
      return { value: undefined, bytes: whole.length };
    });
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.#call("abortMultipartUpload", key, 0, (bucket) => {
      uploadOf(bucket, key, uploadId);
      bucket.uploads.delete(uploadId);
      return { value: undefined };
    });
  }

  async getObject(key: string): Promise<ReadableStream<Uint8Array>> {
    // The body's transfer time counts in the call (the download is not cut midway).
    const size = this.#stores.endpointOf(this.#request.url)?.object(this.#request.bucket, key)
      ?.length ?? 0;
    const body = await this.#call("getObject", key, size, (bucket) => {
      const found = bucket.objects.get(key);
      if (!found) throw new StoreError("NotFound", `Cannot get ${JSON.stringify(key)}: NoSuchKey`);
      return { value: found, bytes: found.length };
    });
    return streamOf(body);
  }

  listObjects(prefix: string): Promise<StoredObject[]> {
    return this.#call("listObjects", prefix, 0, (bucket) => ({
      value: [...bucket.objects].filter(([key]) => key.startsWith(prefix))
        .map(([key, body]) => ({ key, sizeBytes: body.length }))
        .sort((a, b) => compareKeys(a.key, b.key)),
    }));
  }

  deleteObject(key: string): Promise<void> {
    return this.#call("deleteObject", key, 0, (bucket) => {
      bucket.objects.delete(key);
      return { value: undefined };
    });
  }
}

function uploadOf(bucket: Bucket, key: string, uploadId: string): Upload {
  const upload = bucket.uploads.get(uploadId);
  if (!upload || upload.key !== key) {
    throw new StoreError(
      "NotFound",
      `Cannot use upload ${JSON.stringify(uploadId)} of ${JSON.stringify(key)}: NoSuchUpload`,
    );
  }
  return upload;
}

/** S3 orders keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function normalizeUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}

/** A short deterministic digest for ETags (FNV-1a, hex). */
function checksum(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 1 + (bytes.length >> 16)) {
    hash = Math.imul(hash ^ bytes[i]!, 0x01000193) >>> 0;
  }
  return `${hash.toString(16).padStart(8, "0")}${bytes.length.toString(16)}`;
}

/** The object's bytes as a stream of 64 KiB chunks (a copy: the stored object never changes). */
function streamOf(body: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= body.length) {
        controller.close();
        return;
      }
      const end = Math.min(body.length, at + 65_536);
      controller.enqueue(body.slice(at, end));
      at = end;
    },
  });
}
