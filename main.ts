/**
 * The command line: `demo`, `sim`, `plan`, `crds`, `start`, `install-crds`, the install
 * commands `bundle`, `manifests`, `image` and `deploy`, and `agent` (the instance agent). This file only dispatches: each command
 * lives in `cli/` (or `crds/generate.ts`, `deploy/install.ts`).
 *
 * Exit codes: 0 success (and, for `sim`, converged); 1 not converged within the bound; 2 bad
 * input (unreadable file or YAML, unknown kind or option), with one line on stderr.
 *
 * @module
 */

import { ApiError } from "./core/cluster.ts";
import { parse } from "./cli/_args.ts";
import { InputError } from "./cli/input_error.ts";
import { USAGE } from "./cli/usage.ts";
import { startOptions } from "./cli/start_options.ts";

// Each command imports its own modules when it runs: the operator (`start`) does not load the
// simulation, the YAML parser or the install commands, and a resident process is that much smaller.

/** Runs the command line with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "demo":
        return await (await import("./cli/sim.ts")).demo(rest);
      case "sim":
        return await (await import("./cli/sim.ts")).sim(rest);
      case "plan":
        return await (await import("./cli/plan.ts")).plan(rest);
      case "start":
        return await (await import("./cli/start.ts")).startOperator(startOptions(rest));
      case "install-crds":
        return await (await import("./cli/start.ts")).installCrds(startOptions(rest));
      case "crds":
        return await (await import("./crds/generate.ts")).generateCrds({
          check: parse(rest, { check: { type: "boolean" } }).values.check === true,
        });
      case "bundle":
        return (await import("./deploy/install.ts")).bundle(rest);
      case "manifests":
        return await (await import("./deploy/install.ts")).manifests(
          rest,
          new URL("./", import.meta.url),
        );
      case "image":
        return await (await import("./deploy/install.ts")).image(
          rest,
          new URL("./", import.meta.url),
        );
      case "deploy":
        return await (await import("./deploy/install.ts")).deploy(rest);
      case "agent":
        // The instance agent (agent/main.ts); a pod runs that file directly, with --no-npm.
        return await (await import("./agent/main.ts")).runAgent((name) => Deno.env.get(name));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new InputError(`Unknown command ${JSON.stringify(command)}; see --help`);
    }
  } catch (error) {
    if (error instanceof InputError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof ApiError) {
      // The cluster refused or could not be reached: one line, not a stack trace.
      console.error(
        `error: the API server answered ${error.code} ${error.reason}: ${error.message}`,
      );
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
