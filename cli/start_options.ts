/**
 * The flags of `start` and `install-crds`, parsed into {@link StartOptions}: Go-style booleans
 * (`--leader-elect=true`) and durations (`15s`, `1500ms`) as controller-runtime's flags take them.
 *
 * @module
 */

import type { LogLevel } from "../runtime/log.ts";
import { parse } from "./_args.ts";
import { InputError } from "./input_error.ts";
import type { StartOptions } from "./start.ts";

const LOG_LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

/**
 * Parses the flags of `start`; bad input is an {@link InputError}.
 *
 * @example
 * ```ts
 * import { startOptions } from "./start_options.ts";
 * const options = startOptions(["--leader-elect=true", "--leader-election-lease-duration", "4s"]);
 * console.assert(options.leaderElect === true && options.leaseDurationMs === 4000);
 * ```
 */
export function startOptions(args: string[]): StartOptions {
  const { values } = parse(withBooleanValues(args, ["leader-elect"]), {
    kubeconfig: { type: "string" },
    context: { type: "string" },
    namespace: { type: "string", short: "n" },
    "log-level": { type: "string" },
    "metrics-bind-address": { type: "string" },
    "health-probe-bind-address": { type: "string" },
    "leader-elect": { type: "boolean" },
    "leader-election-namespace": { type: "string" },
    "leader-election-id": { type: "string" },
    "leader-election-lease-duration": { type: "string" },
    "leader-election-renew-deadline": { type: "string" },
    "leader-election-retry-period": { type: "string" },
    "max-concurrent-reconciles": { type: "string" },
  });
  const level = (values["log-level"] ?? "info") as string;
  if (!LOG_LEVELS.includes(level)) {
    throw new InputError(
      `--log-level must be debug, info, warn or error, not ${JSON.stringify(level)}`,
    );
  }
  const text = (name: string) => typeof values[name] === "string" ? values[name] : undefined;
  const duration = (name: string) => {
    const value = text(name);
    return value === undefined ? undefined : durationMs(value, `--${name}`);
  };
  const workers = text("max-concurrent-reconciles");
  if (workers !== undefined && !/^[1-9][0-9]{0,3}$/.test(workers)) {
    throw new InputError(
      `--max-concurrent-reconciles must be a whole number from 1 to 9999, not ${
        JSON.stringify(workers)
      }`,
    );
  }
  return withoutUndefined({
    logLevel: level as LogLevel,
    maxConcurrentReconciles: workers === undefined ? undefined : Number(workers),
    kubeconfig: text("kubeconfig"),
    context: text("context"),
    namespace: text("namespace"),
    metricsBindAddress: text("metrics-bind-address"),
    healthProbeBindAddress: text("health-probe-bind-address"),
    leaderElect: values["leader-elect"] === true ? true : undefined,
    leaderElectionNamespace: text("leader-election-namespace"),
    leaderElectionId: text("leader-election-id"),
    leaseDurationMs: duration("leader-election-lease-duration"),
    renewDeadlineMs: duration("leader-election-renew-deadline"),
    retryPeriodMs: duration("leader-election-retry-period"),
  });
}

/** Accepts Go's `--flag=true|false` for boolean flags, as controller-runtime's flags do. */
export function withBooleanValues(args: string[], names: string[]): string[] {
  return args.flatMap((arg) => {
    for (const name of names) {
      if (arg === `--${name}=true`) return [`--${name}`];
      if (arg === `--${name}=false`) return [];
    }
    return [arg];
  });
}

/**
 * Parses a duration: `15s`, `1500ms`, `1m`; `name` names the flag in the error.
 *
 * @example
 * ```ts
 * import { durationMs } from "./start_options.ts";
 * console.assert(durationMs("1500ms", "--retry") === 1500 && durationMs("1m", "--retry") === 60000);
 * ```
 */
export function durationMs(value: string, name: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  if (!match) {
    throw new InputError(
      `${name} must be a duration such as 15s or 1500ms, not ${JSON.stringify(value)}`,
    );
  }
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
}

/** The options without the keys whose value is undefined (`exactOptionalPropertyTypes`). */
function withoutUndefined(
  options: { [K in keyof StartOptions]?: StartOptions[K] | undefined },
): StartOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as StartOptions;
}
