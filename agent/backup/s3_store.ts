/**
 * The real {@link ObjectStore}: an S3-compatible server over HTTP, requests signed with SigV4 by
 * `aws4fetch`. Path-style addressing (`<endpoint>/<bucket>/<key>`), so any S3-compatible server
 * works without DNS for buckets. Every request is bounded by a timeout and never retried: the
 * caller decides. Failures are {@link StoreError}s with their class.
 *
 * @module
 */

import { AwsClient } from "aws4fetch";
import {
  type ObjectStore,
  type StoredObject,
  StoreError,
  type StoreErrorCode,
  type UploadedPart,
} from "../../core/backup/types.ts";
import { RUNNER_ENV } from "../../core/backup/runner_env.ts";
import { xmlElements, xmlEscape, xmlText } from "./s3_xml.ts";

export type {
  ObjectStore,
  StoredObject,
  StoreErrorCode,
  UploadedPart,
} from "../../core/backup/types.ts";
export { StoreError } from "../../core/backup/types.ts";

/** Where the store is and how to reach it. */
export interface S3StoreOptions {
  /** The endpoint URL, `http(s)://host[:port]` (path-style addressing). */
  endpoint: string;
  /** The bucket every key is in. */
  bucket: string;
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey: string;
  /** The region requests are signed for. @default "us-east-1" */
  region?: string;
  /**
   * Milliseconds a request may take, its answer read whole; for `getObject`, the most time
   * between two chunks of the object. @default 60000
   */
  timeoutMs?: number;
  /** Keys a listing asks for per page (1 to 1000). @default 1000 */
  pageSize?: number;
}

/**
 * The credentials codes: the store refused who we are or what we signed. versitygw answers an
 * unknown access key id with `XAdminUserNotFound` (HTTP 404) where S3 says `InvalidAccessKeyId`.
 */
const CREDENTIALS_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "XAdminUserNotFound",
]);

/** One request: what it is for people, and what goes on the wire. */
interface Call {
  /** `PUT "key"`, for messages. */
  what: string;
  method: string;
  key?: string;
  query?: Record<string, string>;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
}

/** An {@link ObjectStore} on an S3-compatible server. */
export class S3Store implements ObjectStore {
  readonly #client: AwsClient;
  readonly #endpoint: string;
  readonly #bucket: string;
  readonly #timeoutMs: number;
  readonly #pageSize: number;

  /** Makes one; contacts nothing. Throws {@link StoreConfigError} on an invalid option. */
  constructor(options: S3StoreOptions) {
    this.#endpoint = checkEndpoint(options.endpoint);
    if (options.bucket === "" || /[/?#]/.test(options.bucket)) {
      throw new StoreConfigError(`Bucket name "${options.bucket}" is not valid`);
    }
    this.#bucket = options.bucket;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    if (!(this.#timeoutMs > 0)) {
      throw new StoreConfigError(`Timeout ${this.#timeoutMs} ms is not positive`);
    }
    this.#pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1 || this.#pageSize > 1000) {
      throw new StoreConfigError(`Page size ${this.#pageSize} is not between 1 and 1000`);
    }
    this.#client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      region: options.region ?? "us-east-1",
      service: "s3",
      retries: 0,
    });
  }

  /** The endpoint, without a trailing slash. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** The bucket. */
  get bucket(): string {
    return this.#bucket;
  }

  /** Writes a small object in one request. */
  async putObject(key: string, body: Uint8Array, contentType?: string): Promise<void> {
    await this.#call({
      what: `PUT "${key}"`,
      method: "PUT",
      key,
      body,
      headers: { "content-type": contentType ?? "application/octet-stream" },
    }, () => Promise.resolve());
  }

  /** Starts a multipart upload; returns its upload id. */
  createMultipartUpload(key: string): Promise<string> {
    const what = `starting a multipart upload of "${key}"`;
    return this.#call(
      { what, method: "POST", key, query: { uploads: "" } },
      async (response) => {
        const uploadId = xmlText(await response.text(), "UploadId");
        if (uploadId === undefined || uploadId === "") {
          throw this.#failed("Failed", what, "the answer has no UploadId");
        }
        return uploadId;
      },
    );
  }

  /** Uploads part `partNumber`; returns its ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string> {
    const what = `uploading part ${partNumber} of "${key}"`;
    return this.#call({
      what,
      method: "PUT",
      key,
      query: { partNumber: String(partNumber), uploadId },
      body,
    }, (response) => {
      const etag = response.headers.get("etag");
      if (etag === null || etag === "") {
        return Promise.reject(this.#failed("Failed", what, "the answer has no ETag"));
      }
      return Promise.resolve(etag);
    });
  }

  /** Completes the upload: the object appears, whole, only now. */
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const what = `completing the multipart upload of "${key}"`;
    const body = "<CompleteMultipartUpload>" +
      [...parts].sort((a, b) => a.partNumber - b.partNumber).map((part) =>
        `<Part><PartNumber>${part.partNumber}</PartNumber>` +
        `<ETag>${xmlEscape(part.etag)}</ETag></Part>`
      ).join("") + "</CompleteMultipartUpload>";
    return this.#call({
      what,
      method: "POST",
      key,
      query: { uploadId },
      body,
      headers: { "content-type": "application/xml" },
    }, async (response) => {
      // S3 may answer 200 and still fail, with an <Error> as the body.
      const text = await response.text();
      if (/<Error[\s>]/.test(text)) throw this.#answerError(what, response.status, text);
    });
  }

  /** Abandons the upload and frees its parts (no error when the upload is already gone). */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.#call(
      {
        what: `aborting the multipart upload of "${key}"`,
        method: "DELETE",
        key,
        query: { uploadId },
      },
      () => Promise.resolve(),
      { when: (code) => code === "NoSuchUpload", value: undefined },
    );
  }

  /**
   * Reads an object as a stream (`NotFound` when absent). A read of the stream that waits longer
   * than the timeout for its chunk errors with `Unreachable`; time the reader spends between
   * reads does not count.
   */
  async getObject(key: string): Promise<ReadableStream<Uint8Array>> {
    const what = `GET "${key}"`;
    const timer = new Timer(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch({ what, method: "GET", key }, timer);
      if (!response.ok) {
        throw this.#answerError(what, response.status, await response.text());
      }
    } catch (error) {
      timer.clear();
      throw this.#classify(what, error, timer);
    }
    timer.clear();
    const body = response.body;
    if (body === null) return new ReadableStream({ start: (controller) => controller.close() });
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          timer.restart();
          const chunk = await reader.read();
          timer.clear();
          if (chunk.done) controller.close();
          else controller.enqueue(chunk.value);
        } catch (error) {
          timer.clear();
          controller.error(this.#classify(`reading "${key}"`, error, timer));
        }
      },
      cancel: async (reason) => {
        timer.clear();
        await reader.cancel(reason);
      },
    });
  }

  /** Every object whose key starts with `prefix`, across all pages, in key order. */
  async listObjects(prefix: string): Promise<StoredObject[]> {
    const what = `listing "${prefix}"`;
    const objects: StoredObject[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const query: Record<string, string> = {
        "list-type": "2",
        "max-keys": String(this.#pageSize),
        prefix,
      };
      if (token !== undefined) query["continuation-token"] = token;
      const page = await this.#call(
        { what, method: "GET", query },
        async (response) => await response.text(),
      );
      for (const entry of xmlElements(page, "Contents")) {
        const key = xmlText(entry, "Key");
        const size = Number(xmlText(entry, "Size"));
        if (key === undefined || !Number.isSafeInteger(size) || size < 0) {
          throw this.#failed("Failed", what, "an entry of the listing has no key or no size");
        }
        objects.push({ key, sizeBytes: size });
      }
      token = undefined;
      if (xmlText(page, "IsTruncated") === "true") {
        token = xmlText(page, "NextContinuationToken");
        if (token === undefined || token === "" || seen.has(token)) {
          throw this.#failed("Failed", what, "a truncated page has no new continuation token");
        }
        seen.add(token);
      }
    } while (token !== undefined);
    return objects;
  }

  /** Deletes an object (no error when absent). */
  async deleteObject(key: string): Promise<void> {
    await this.#call(
      { what: `DELETE "${key}"`, method: "DELETE", key },
      () => Promise.resolve(),
      {
        when: (code, status) => code === "NoSuchKey" || (code === undefined && status === 404),
        value: undefined,
      },
    );
  }

  /**
   * Sends `call` and reads its answer with `read`, all within the timeout. An error answer for
   * which `tolerate.when` holds gives `tolerate.value` (and `read` is not called).
   */
  async #call<T>(
    call: Call,
    read: (response: Response) => Promise<T>,
    tolerate?: { when: (code: string | undefined, status: number) => boolean; value: T },
  ): Promise<T> {
    const timer = new Timer(this.#timeoutMs);
    try {
      const response = await this.#fetch(call, timer);
      if (!response.ok) {
        const text = await response.text();
        if (tolerate?.when(xmlText(text, "Code"), response.status)) return tolerate.value;
        throw this.#answerError(call.what, response.status, text);
      }
      const value = await read(response);
      // An answer read or not, its connection is freed.
      if (!response.bodyUsed) await response.body?.cancel();
      return value;
    } catch (error) {
      throw this.#classify(call.what, error, timer);
    } finally {
      timer.clear();
    }
  }

  #fetch(call: Call, timer: Timer): Promise<Response> {
    const url = new URL(this.#path(call.key, call.what));
    for (const [name, value] of Object.entries(call.query ?? {})) {
      url.searchParams.set(name, value);
    }
    const init: RequestInit = { method: call.method, signal: timer.signal };
    // A Uint8Array over a SharedArrayBuffer would be refused by fetch; the ports never make one.
    if (call.body !== undefined) init.body = call.body as BodyInit;
    if (call.headers !== undefined) init.headers = call.headers;
    return this.#client.fetch(url.toString(), init);
  }

  /** `<endpoint>/<bucket>[/<key>]`, each segment of the key percent-encoded. */
  #path(key: string | undefined, what: string): string {
    const bucket = `${this.#endpoint}/${encodeSegment(this.#bucket)}`;
    if (key === undefined) return bucket;
    const segments = key.split("/");
    if (key === "" || key.startsWith("/") || segments.some((s) => s === "." || s === "..")) {
      throw this.#failed(
        "Failed",
        what,
        `the key "${key}" is empty, absolute or has a "." or ".." segment`,
      );
    }
    return `${bucket}/${segments.map(encodeSegment).join("/")}`;
  }

  /** A {@link StoreError} for anything thrown while calling: kept, or classified. */
  #classify(what: string, error: unknown, timer: Timer): StoreError {
    if (error instanceof StoreError) return error;
    if (timer.expired) {
      return this.#failed(
        "Unreachable",
        what,
        `no answer within ${timer.ms / 1000} s`,
      );
    }
    return this.#failed("Unreachable", what, reason(error));
  }

  /** The error an error answer means. */
  #answerError(what: string, status: number, body: string): StoreError {
    const code = xmlText(body, "Code");
    const message = xmlText(body, "Message");
    const answer = `HTTP ${status}${code === undefined ? "" : ` ${code}`}` +
      `${message === undefined || message === "" ? "" : `: ${message}`}`;
    let kind: StoreErrorCode = "Failed";
    if (code !== undefined && CREDENTIALS_CODES.has(code)) kind = "BadCredentials";
    else if (code === undefined && status === 403) kind = "BadCredentials";
    else if (code === "NoSuchBucket") kind = "NoSuchBucket";
    else if (code === "NoSuchKey" || code === "NoSuchUpload") kind = "NotFound";
    else if (code === undefined && status === 404) kind = "NotFound";
    return this.#failed(kind, what, answer);
  }

  #failed(code: StoreErrorCode, what: string, detail: string): StoreError {
    const where = `bucket "${this.#bucket}" at "${this.#endpoint}"`;
    const sentence: Record<StoreErrorCode, string> = {
      Unreachable: `The object store at "${this.#endpoint}" is unreachable`,
      BadCredentials: `The object store refused the credentials`,
      NoSuchBucket: `The bucket does not exist`,
      NotFound: `The object does not exist`,
      Failed: `The object store failed`,
    };
    return new StoreError(code, `${sentence[code]} (${what} in ${where}): ${detail}`);
  }
}

/** A store's settings are missing or invalid: nothing was tried. */
export class StoreConfigError extends Error {
  /** Makes one: `message` says which setting and why. */
  constructor(message: string) {
    super(message);
    this.name = "StoreConfigError";
  }
}

/**
 * The store the runner's environment names ({@link RUNNER_ENV}: endpoint, region, bucket and the
 * two keys). The region defaults to `us-east-1`. Throws {@link StoreConfigError} naming every
 * variable missing.
 */
export function storeFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: Pick<S3StoreOptions, "timeoutMs"> = {},
): S3Store {
  const required = [
    RUNNER_ENV.endpoint,
    RUNNER_ENV.bucket,
    RUNNER_ENV.accessKeyId,
    RUNNER_ENV.secretAccessKey,
  ];
  const missing = required.filter((name) => (env[name] ?? "") === "");
  if (missing.length > 0) {
    const names = missing.map((name) => `"${name}"`).join(", ");
    throw new StoreConfigError(
      `The object store is not configured: ${names} ${missing.length === 1 ? "is" : "are"} not set`,
    );
  }
  const region = env[RUNNER_ENV.region];
  const settings: S3StoreOptions = {
    endpoint: env[RUNNER_ENV.endpoint]!,
    bucket: env[RUNNER_ENV.bucket]!,
    accessKeyId: env[RUNNER_ENV.accessKeyId]!,
    secretAccessKey: env[RUNNER_ENV.secretAccessKey]!,
    region: region === undefined || region === "" ? "us-east-1" : region,
  };
  if (options.timeoutMs !== undefined) settings.timeoutMs = options.timeoutMs;
  return new S3Store(settings);
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StoreConfigError(`Endpoint "${endpoint}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new StoreConfigError(`Endpoint "${endpoint}" is not an http or https URL`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new StoreConfigError(
      `Endpoint "${endpoint}" must have no query, fragment or credentials`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

/** RFC 3986 percent-encoding of one path segment (what SigV4 signs). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The deepest message of an error and its causes. */
function reason(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    messages.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(": ");
}

/** A restartable deadline that aborts a signal when it passes. */
class Timer {
  readonly ms: number;
  readonly #controller = new AbortController();
  #handle: ReturnType<typeof setTimeout> | undefined;
  #expired = false;

  constructor(ms: number) {
    this.ms = ms;
    this.restart();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get expired(): boolean {
    return this.#expired;
  }

  restart(): void {
    this.clear();
    this.#handle = setTimeout(() => {
      this.#expired = true;
      this.#controller.abort(new DOMException(`No answer within ${this.ms} ms`, "TimeoutError"));
    }, this.ms);
  }

  clear(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
