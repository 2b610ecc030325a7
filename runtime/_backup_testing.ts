/**
 * Test support: an in-memory {@link ObjectStore} that records its calls and fails on demand,
 * for the backup runner's unit tests and the real-PostgreSQL round trips.
 *
 * @module
 */

import {
  type ObjectStore,
  type StoredObject,
  StoreError,
  type UploadedPart,
} from "../core/backup/types.ts";

/** One call, as `op key` (`uploadPart key #n`). */
export type Call = string;

/** An in-memory store. */
export class MemoryStore implements ObjectStore {
  /** The objects, by key. */
  readonly objects = new Map<string, Uint8Array>();
  /** Every call, in order. */
  readonly calls: Call[] = [];
  /** Open uploads: their parts by number. */
  readonly uploads = new Map<string, Map<number, Uint8Array>>();
  /** Returns an error to throw for a call, or undefined to let it run. */
  failWith: (call: Call) => StoreError | undefined = () => undefined;
  private next = 0;

  private async enter(call: Call): Promise<void> {
    this.calls.push(call);
    await Promise.resolve();
    const error = this.failWith(call);
    if (error !== undefined) throw error;
  }

  /** Writes an object. */
  async putObject(key: string, body: Uint8Array): Promise<void> {
    await this.enter(`putObject ${key}`);
    this.objects.set(key, body.slice());
  }

  /** Starts an upload. */
  async createMultipartUpload(key: string): Promise<string> {
    await this.enter(`createMultipartUpload ${key}`);
    const id = `upload-${++this.next}`;
    this.uploads.set(id, new Map());
    return id;
  }

  /** Stores a part. */
  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
  ): Promise<string> {
    await this.enter(`uploadPart ${key} #${partNumber}`);
    const parts = this.uploads.get(uploadId);
    if (parts === undefined) throw new StoreError("Failed", `No upload "${uploadId}"`);
    parts.set(partNumber, body.slice());
    return `etag-${partNumber}`;
  }

  /** Joins the parts into the object. */
  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: UploadedPart[],
  ): Promise<void> {
    await this.enter(`completeMultipartUpload ${key}`);
    const stored = this.uploads.get(uploadId);
    if (stored === undefined) throw new StoreError("Failed", `No upload "${uploadId}"`);
    const bodies = parts.map((part) => {
      const body = stored.get(part.partNumber);
      if (body === undefined || part.etag !== `etag-${part.partNumber}`) {
        throw new StoreError("Failed", `Invalid part ${part.partNumber}`);
      }
      return body;
    });
    const whole = new Uint8Array(bodies.reduce((n, b) => n + b.byteLength, 0));
    let offset = 0;
    for (const body of bodies) {
      whole.set(body, offset);
      offset += body.byteLength;
    }
    this.objects.set(key, whole);
    this.uploads.delete(uploadId);
  }

  /** Drops an upload. */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.enter(`abortMultipartUpload ${key}`);
    this.uploads.delete(uploadId);
  }

  /** Streams an object in chunks of 64 KiB. */
  async getObject(key: string): Promise<ReadableStream<Uint8Array>> {
    await this.enter(`getObject ${key}`);
    const body = this.objects.get(key);
    if (body === undefined) throw new StoreError("NotFound", `No object "${key}"`);
    let offset = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= body.byteLength) return controller.close();
        controller.enqueue(body.slice(offset, offset + 65536));
        offset += 65536;
      },
    });
  }

  /** Lists keys under a prefix, in key order. */
  async listObjects(prefix: string): Promise<StoredObject[]> {
    await this.enter(`listObjects ${prefix}`);
    return [...this.objects.entries()].filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => a < b ? -1 : 1)
      .map(([key, body]) => ({ key, sizeBytes: body.byteLength }));
  }

  /** Deletes an object. */
  async deleteObject(key: string): Promise<void> {
    await this.enter(`deleteObject ${key}`);
    this.objects.delete(key);
  }
}
