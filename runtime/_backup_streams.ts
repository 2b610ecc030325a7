/**
 * Stream and failure helpers of the backup runner: a checksum guard that errors a stream before
 * its end when the bytes differ from a manifest, the classification of failures into reasons,
 * and a result cut to fit a termination message.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  DatabaseError,
  type FailureReason,
  type RunnerResult,
  StoreError,
} from "../core/backup/types.ts";

/** An incremental sha256. */
export interface Sha256 {
  /** Adds bytes. */
  update(bytes: Uint8Array): void;
  /** The digest of everything added, hex. */
  hex(): string;
}

/** A fresh incremental sha256. */
export function sha256(): Sha256 {
  const hash = createHash("sha256");
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => hash.digest("hex"),
  };
}

/** What a guarded stream saw. */
export interface GuardState {
  /** Bytes read so far. */
  sizeBytes: number;
  /** Why the guard errored the stream, when the bytes differ from what was expected. */
  mismatch?: string;
  /** The source's own error, when it failed. */
  sourceError?: unknown;
}

/**
 * Wraps `source` so that its reader gets an error instead of the end of the stream when the
 * bytes differ from `expected` (size or sha256): a restorer that commits only at the end of its
 * input never commits them. A size beyond the expected one errors the stream at once.
 */
export function checksumGuard(
  source: ReadableStream<Uint8Array>,
  expected: { sizeBytes: number; sha256: string },
): { stream: ReadableStream<Uint8Array>; state: GuardState } {
  const state: GuardState = { sizeBytes: 0 };
  const hash = sha256();
  const reader = source.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        state.sourceError = error;
        controller.error(error);
        return;
      }
      if (next.done) {
        const digest = hash.hex();
        if (state.sizeBytes !== expected.sizeBytes) {
          state.mismatch = `${state.sizeBytes} bytes read, the manifest says ${expected.sizeBytes}`;
        } else if (digest !== expected.sha256) {
          state.mismatch = `sha256 "${digest}", the manifest says "${expected.sha256}"`;
        }
        if (state.mismatch === undefined) controller.close();
        else controller.error(new Error(`Checksum mismatch: ${state.mismatch}`));
        return;
      }
      state.sizeBytes += next.value.byteLength;
      if (state.sizeBytes > expected.sizeBytes) {
        state.mismatch = `more than the ${expected.sizeBytes} bytes the manifest says`;
        controller.error(new Error(`Checksum mismatch: ${state.mismatch}`));
        reader.cancel().catch(() => {});
        return;
      }
      hash.update(next.value);
      controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { stream, state };
}

/** The reason a store failure gives: `otherwise` for anything but the classified codes. */
export function storeReason(error: unknown, otherwise: FailureReason): FailureReason {
  if (!(error instanceof StoreError)) return otherwise;
  switch (error.code) {
    case "Unreachable":
      return "StoreUnreachable";
    case "BadCredentials":
      return "BadCredentials";
    case "NoSuchBucket":
      return "BucketNotFound";
    case "NotFound":
    case "Failed":
      return otherwise;
  }
}

/** The reason a database failure gives: `otherwise` unless the database was unreachable. */
export function databaseReason(error: unknown, otherwise: FailureReason): FailureReason {
  return error instanceof DatabaseError && error.code === "Unreachable"
    ? "DatabaseUnreachable"
    : otherwise;
}

/** An error's message, on one line. */
export function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, " ").trim();
}

/** The most a termination message holds. */
export const RESULT_MAX_BYTES = 4096;

/**
 * `result` cut to fit {@link RESULT_MAX_BYTES} as JSON: long messages are shortened and a long
 * list of deleted ids keeps its newest entries (the warning says how many were left out).
 */
export function fitResult(result: RunnerResult): RunnerResult {
  const fitted = structuredClone(result);
  if (fitted.outcome === "Failed") fitted.message = shorten(fitted.message, 2000);
  if (fitted.outcome === "Succeeded" && fitted.mode === "backup") {
    if (fitted.warning !== undefined) fitted.warning = shorten(fitted.warning, 1000);
    const omitted = fitted.deleted.length - 40;
    if (omitted > 0) {
      fitted.deleted = fitted.deleted.slice(-40);
      fitted.warning = `${fitted.warning ?? ""}${fitted.warning ? "; " : ""}` +
        `${omitted} older deleted ids are not listed`;
    }
  }
  return fitted;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
