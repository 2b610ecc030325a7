/**
 * One streaming watch request to the API server: the request with its two deadlines (the
 * answer's headers, then the whole stream), the refusal of the request, and the stream's events
 * until it ends. The policy around it (relist, backoff, watchdog) is the informer's.
 *
 * @module
 */

import type { WatchHandle, WatchOptions } from "../core/cluster.ts";
import type { TypeRef } from "../core/object.ts";
import { errorFromNetwork, errorFromResponse } from "./_status.ts";
import { readWatchStream } from "./_watch_stream.ts";

/** What {@link openWatch} needs: the request, where to send it, and its deadlines. */
export interface WatchRequest {
  /** The watched type: it fills in objects' `apiVersion` and `kind`. */
  type: TypeRef;
  /** The full URL of the watch. */
  url: string;
  /** The request's headers (authentication included). */
  headers: Record<string, string>;
  /** Names the request in errors, e.g. `GET /api/v1/pods (watch)`. */
  what: string;
  /** Sends the request (the connection's TLS and HTTP/1.1). */
  fetch(url: string, init: RequestInit): Promise<Response>;
  /** How long to wait for the answer's headers. */
  requestTimeoutMs: number;
  /** How long the whole stream may stay open before it is taken for a half-open connection. */
  lifetimeMs: number;
  /** Called on a 401 answer, so that the next request authenticates afresh. */
  onUnauthorized(): void;
}

/** A timer's id. */
type Timer = ReturnType<typeof setTimeout>;

/** The state one watch shares between its deadline, its handle and its stream. */
interface WatchState {
  controller: AbortController;
  stopped: boolean;
  finished: boolean;
  deadline: Timer;
}

/**
 * Opens a streaming watch. Resolves once the server accepted it; a 410 answer is reported
 * through `onDone(Expired)` like the ERROR event it usually is, other refusals reject. `onDone`
 * is called at most once, and never after the handle's `stop()`.
 */
export async function openWatch(
  request: WatchRequest,
  options: WatchOptions,
): Promise<WatchHandle> {
  const controller = new AbortController();
  // The server ends the watch after timeoutSeconds; a stream that outlives that by a minute is
  // a half-open connection, so the whole watch has a deadline.
  const deadline = abortAfter(controller, request.lifetimeMs, "watch still open after");
  Deno.unrefTimer(deadline);
  const state: WatchState = { controller, stopped: false, finished: false, deadline };
  const finish = (error?: Error) => {
    clearTimeout(state.deadline);
    if (state.stopped || state.finished) return;
    state.finished = true;
    controller.abort();
    if (error) options.onDone(error);
    else options.onDone();
  };
  const handle: WatchHandle = {
    stop() {
      if (state.stopped) return;
      state.stopped = true;
      clearTimeout(state.deadline);
      controller.abort();
    },
  };
  const response = await send(request, state);
  if (!response.ok || response.body === null) {
    clearTimeout(state.deadline);
    const error = await refusal(request, response);
    if (error.reason !== "Expired") throw error;
    queueMicrotask(() => finish(error));
    return handle;
  }
  stream(request, response.body, state, options, finish);
  return handle;
}

/** A timer that aborts `controller` with a TimeoutError after `ms`. */
function abortAfter(controller: AbortController, ms: number, what: string): Timer {
  return setTimeout(
    () => controller.abort(new DOMException(`${what} ${ms}ms`, "TimeoutError")),
    ms,
  );
}

/** Sends the request; waiting for the answer's headers has the ordinary request deadline. */
async function send(request: WatchRequest, state: WatchState): Promise<Response> {
  const { controller } = state;
  const headersTimer = abortAfter(controller, request.requestTimeoutMs, "no answer within");
  try {
    return await request.fetch(request.url, {
      headers: request.headers,
      signal: controller.signal,
    });
  } catch (error) {
    clearTimeout(state.deadline);
    throw errorFromNetwork(
      controller.signal.aborted ? controller.signal.reason : error,
      request.what,
    );
  } finally {
    clearTimeout(headersTimer);
  }
}

/** The error of a refused watch, from the server's Status. */
async function refusal(request: WatchRequest, response: Response) {
  const text = await response.text().catch(() => "");
  if (response.status === 401) request.onUnauthorized();
  return errorFromResponse(response.status, text, request.what);
}

/** Delivers the stream's events until it ends, then finishes the watch with how it ended. */
function stream(
  request: WatchRequest,
  body: ReadableStream<Uint8Array>,
  state: WatchState,
  options: WatchOptions,
  finish: (error?: Error) => void,
): void {
  let handlerError: Error | undefined;
  readWatchStream(body, request.type, (event) => {
    if (state.stopped || state.finished) return;
    try {
      options.onEvent(event);
    } catch (error) {
      // A throwing handler ends the watch with its own error, not a network one.
      handlerError = error instanceof Error ? error : new Error(String(error));
      throw handlerError;
    }
  }).then(
    (error) => finish(error),
    (error) =>
      finish(
        handlerError ??
          errorFromNetwork(
            state.controller.signal.aborted ? state.controller.signal.reason : error,
            request.what,
          ),
      ),
  );
}
