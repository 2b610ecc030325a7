/**
 * The body of a watch: newline-delimited JSON, one `{type, object}` per line, as the API server
 * streams it. Parsing is separate from the transport so it can be tested with a fake stream.
 *
 * @module
 */

import { ApiError, type WatchEvent } from "../core/cluster.ts";
import type { KubeObject, TypeRef } from "../core/object.ts";
import { errorFromStatus, isStatus } from "./_status.ts";

/** One parsed line: an event to deliver, or the error that ends the watch. */
export type WatchLine = { event: WatchEvent } | { error: ApiError };

/**
 * Parses one line of a watch body. `ERROR` lines carry a `Status` and become an
 * {@link ApiError} (410 → `Expired`); `BOOKMARK` lines become a bookmark with the version;
 * objects without `apiVersion`/`kind` get them from `type`.
 *
 * @returns undefined for a blank line
 */
export function parseWatchLine(line: string, type: TypeRef): WatchLine | undefined {
  const text = line.trim();
  if (text === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: badLine(text, "not JSON") };
  }
  const { type: eventType, object } = (parsed ?? {}) as { type?: unknown; object?: unknown };
  if (eventType === "ERROR") {
    const status = isStatus(object)
      ? object
      : { kind: "Status", code: 500, message: "watch failed" };
    return { error: errorFromStatus(status, 500) };
  }
  if (typeof object !== "object" || object === null) return { error: badLine(text, "no object") };
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== "object" || metadata === null) {
    return { error: badLine(text, "no metadata") };
  }
  if (eventType === "BOOKMARK") {
    const version = (metadata as { resourceVersion?: unknown }).resourceVersion;
    if (typeof version !== "string") {
      return { error: badLine(text, "bookmark without resourceVersion") };
    }
    return { event: { type: "BOOKMARK", resourceVersion: version } };
  }
  if (eventType !== "ADDED" && eventType !== "MODIFIED" && eventType !== "DELETED") {
    return { error: badLine(text, `unknown type ${JSON.stringify(eventType)}`) };
  }
  const kube = object as KubeObject;
  if (typeof kube.apiVersion !== "string" || kube.apiVersion === "") {
    kube.apiVersion = type.apiVersion;
  }
  if (typeof kube.kind !== "string" || kube.kind === "") kube.kind = type.kind;
  return { event: { type: eventType, object: kube } };
}

function badLine(text: string, why: string): ApiError {
  return new ApiError(
    "InternalError",
    `Cannot parse watch event ${JSON.stringify(text.slice(0, 120))}: ${why}`,
  );
}

/** Splits a stream of text chunks into lines; a chunk may end in the middle of a line. */
export class LineSplitter {
  #rest = "";

  /** Adds a chunk and returns the lines it completed. */
  push(chunk: string): string[] {
    const text = this.#rest + chunk;
    const lines = text.split("\n");
    this.#rest = lines.pop() ?? "";
    return lines;
  }

  /** Returns what is left after the stream ended (a last line without a newline). */
  flush(): string[] {
    const rest = this.#rest;
    this.#rest = "";
    return rest.trim() === "" ? [] : [rest];
  }
}

/**
 * Reads a watch body to its end, delivering each event in order. Resolves `undefined` when the
 * server closed the stream normally, or the {@link ApiError} of an `ERROR` line or a malformed
 * line (reading stops there). Rejects when reading fails (a reset connection, an abort).
 *
 * @param body the response body
 * @param type the watched kind, to fill in what list-style objects omit
 * @param onEvent called for each event, in order
 */
export async function readWatchStream(
  body: ReadableStream<Uint8Array>,
  type: TypeRef,
  onEvent: (event: WatchEvent) => void,
): Promise<ApiError | undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const splitter = new LineSplitter();
  try {
    while (true) {
      const { value, done } = await reader.read();
      const lines = done ? splitter.flush() : splitter.push(value);
      for (const line of lines) {
        const parsed = parseWatchLine(line, type);
        if (parsed === undefined) continue;
        if ("error" in parsed) return parsed.error;
        onEvent(parsed.event);
      }
      if (done) return undefined;
    }
  } finally {
    // Cancelling releases the connection when we stopped early; after the end it is a no-op.
    reader.cancel().catch(() => {});
  }
}
