/**
 * Turns what a real API server answers (a `Status` body, a bare HTTP code, a failed connection)
 * into the port's {@link ApiError}, so callers branch on `reason` the same way for the simulated
 * and the real cluster.
 *
 * @module
 */

import { ApiError, type ApiErrorReason } from "../core/cluster.ts";

/** The `Status.reason` values the port knows by name, as the server spells them. */
const KNOWN_REASONS: ReadonlySet<string> = new Set<ApiErrorReason>([
  "NotFound",
  "AlreadyExists",
  "Conflict",
  "Expired",
  "Invalid",
  "BadRequest",
  "Forbidden",
  "TooManyRequests",
  "InternalError",
  "Timeout",
  "ServiceUnavailable",
]);

/** Server reasons outside the port's union, mapped to the nearest reason the port branches on. */
const REASON_ALIASES: Record<string, ApiErrorReason> = {
  Gone: "Expired",
  ServerTimeout: "Timeout",
  Unauthorized: "Forbidden",
  MethodNotAllowed: "BadRequest",
  NotAcceptable: "BadRequest",
  UnsupportedMediaType: "BadRequest",
  RequestEntityTooLarge: "BadRequest",
};

/**
 * The reason of an HTTP code when the body names none (a proxy's plain-text answer, or a Status
 * with an empty reason such as the 409 of a failed delete precondition).
 */
export function reasonForCode(code: number): ApiErrorReason {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "BadRequest";
  }
}

/** True when `value` looks like a `meta/v1 Status` object. */
export function isStatus(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "Status";
}

/**
 * Maps a `Status` object (an error body, or the object of a watch ERROR event) to an
 * {@link ApiError}. A 410 is always `Expired`, whether the server says `Expired` or `Gone`.
 *
 * @param status the parsed Status
 * @param fallbackCode the HTTP code when the Status carries none
 */
export function errorFromStatus(status: Record<string, unknown>, fallbackCode = 500): ApiError {
  const code = typeof status.code === "number" && status.code > 0 ? status.code : fallbackCode;
  const rawReason = typeof status.reason === "string" ? status.reason : "";
  let reason: ApiErrorReason;
  if (code === 410) reason = "Expired";
  else if (KNOWN_REASONS.has(rawReason)) reason = rawReason as ApiErrorReason;
  else reason = REASON_ALIASES[rawReason] ?? reasonForCode(code);
  const message = typeof status.message === "string" && status.message !== ""
    ? status.message
    : `the server answered ${code}${rawReason ? ` ${rawReason}` : ""}`;
  return new ApiError(reason, message, code);
}

/**
 * Maps a failed HTTP answer to an {@link ApiError}: from its `Status` body when it has one,
 * otherwise from the code and the first 200 characters of the body.
 *
 * @param code the HTTP status code
 * @param body the response text
 * @param what the request, for messages without a Status, e.g. `GET /api/v1/pods`
 */
export function errorFromResponse(code: number, body: string, what: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (isStatus(parsed)) return errorFromStatus(parsed, code);
  const text = body.trim().replace(/\s+/g, " ").slice(0, 200);
  const detail = text === "" ? "" : `: ${text}`;
  return new ApiError(reasonForCode(code), `${what} answered ${code}${detail}`, code);
}

/**
 * Maps an error thrown by `fetch` (refused or reset connection, TLS failure, DNS) or by the
 * request's own deadline to an {@link ApiError}. A deadline becomes `Timeout` (504); anything
 * else `ServiceUnavailable` (503), so the caller retries.
 *
 * @param error what fetch or the body reader threw
 * @param what the request and server, for the message
 */
export function errorFromNetwork(error: unknown, what: string): ApiError {
  if (error instanceof ApiError) return error;
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  if (name === "TimeoutError") {
    const detail = error instanceof Error && error.message ? `: ${error.message}` : "";
    return new ApiError("Timeout", `${what} timed out${detail}`, 504);
  }
  return new ApiError(
    "ServiceUnavailable",
    `Cannot reach the API server: ${what}: ${causeOf(error)}`,
    503,
  );
}

/** The innermost message of an error chain, which is where fetch puts the OS error. */
function causeOf(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      if (current.message && !messages.includes(current.message)) messages.push(current.message);
      current = current.cause;
    } else {
      messages.push(String(current));
      break;
    }
  }
  return messages.length === 0 ? "unknown error" : messages.join(": ");
}
