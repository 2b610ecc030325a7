/**
 * The command line: `demo`, `sim`, `plan`, `crds`, `start`, `install-crds`, and the install
 * commands `bundle`, `manifests`, `image` and `deploy`.
 *
 * Exit codes: 0 success (and, for `sim`, converged); 1 not converged within the bound; 2 bad
 * input (unreadable file or YAML, unknown kind or option), with one line on stderr.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { KubeObject } from "./core/object.ts";
import { ApiError } from "./core/cluster.ts";
import { POSTGRESDB } from "./core/postgres/types.ts";
import { renderCrds } from "./crds/generate.ts";
import { InputError, readManifests } from "./cli/manifests.ts";
import { checkManifestsApply, simulate, type SimulationReport } from "./cli/simulate.ts";
import { DEMO_KINDS, renderEvents, renderTable } from "./cli/tables.ts";
import { installCrds, startOperator, type StartOptions } from "./cli/start.ts";
import { describeChaos, readFaultsFile, runWithFaults } from "./cli/chaos.ts";
import { planAgainstCluster, planOnEmptyCluster } from "./cli/plan.ts";
import { bundle, deploy, image, manifests } from "./deploy/install.ts";
import type { LogLevel } from "./runtime/log.ts";

const USAGE = `Usage: deno task <command> [options]

Commands:
  demo                         apply examples/postgresdb.yaml to a simulated cluster and show it
  sim -f FILE [-f FILE ...]    apply manifests to a simulated cluster and run the operator
      --seed N                 seed of every random choice (default 1)
      --output table|json      what to print (default table)
      --max-virtual-seconds N  give up after N virtual seconds (default 600)
      --faults none|light|heavy  inject faults (API errors, lost answers, watch drops, stale
                               lists, cache lag, operator crashes) and run every checker
      --faults-file FILE       the same with a custom schedule (JSON: faults, crashRate, steps)
  start                        run the operator against the current kubeconfig (JSON logs)
      --kubeconfig PATH --context NAME --namespace NS --log-level debug|info|warn|error
      --metrics-bind-address ADDR        serve /metrics on host:port (:port = all; 0 = off, default)
      --health-probe-bind-address ADDR   serve /healthz and /readyz (may equal the metrics address)
      --leader-elect                     reconcile only while holding the leader Lease
      --leader-election-namespace NS     the Lease's namespace (default POD_NAMESPACE, else the
                                         kubeconfig's namespace)
      --leader-election-id NAME          the Lease's name (default postgres-operator-leader)
      --leader-election-lease-duration D, --leader-election-renew-deadline D,
      --leader-election-retry-period D   e.g. 15s, 10s, 2s (the defaults), or 1500ms
  bundle [IMG=IMAGE]           print the in-cluster install (CRDs, RBAC, Deployment) as one YAML
  manifests [--check]          write deploy/*.yaml from deploy/manifests.ts (or check them)
  image IMG=IMAGE              build the operator image here, no Docker (scripts/images)
  deploy IMG=IMAGE [kubectl apply flags]  install the operator with that image (kubectl apply)
  install-crds                 install the CRDs into the current kubeconfig's cluster
  plan -f FILE [-f FILE ...]   print what the operator would do for these PostgresDBs
      --cluster                against what the current kubeconfig's cluster holds (writes nothing)
  crds [--check]               write crds/*.yaml from crds/postgresdb.ts (or check them)

Exit codes: 0 done, 1 not converged in time, 2 bad input.`;

/** Where the demo's manifest lives. */
export const DEMO_MANIFEST = new URL("./examples/postgresdb.yaml", import.meta.url);

/** Runs the command line with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "demo":
        return await demo(rest);
      case "sim":
        return await sim(rest);
      case "plan":
        return await plan(rest);
      case "start":
        return await startOperator(startOptions(rest));
      case "install-crds":
        return await installCrds(startOptions(rest));
      case "crds":
        return await crds(rest);
      case "bundle":
        return bundle(rest);
      case "manifests":
        return await manifests(rest, new URL("./", import.meta.url));
      case "image":
        return await image(rest, new URL("./", import.meta.url));
      case "deploy":
        return await deploy(rest);
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

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

function parse(args: string[], options: OptionSpec) {
  try {
    return parseArgs({
      args: withNegativeValues(args, options),
      options,
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new InputError(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
}

function intOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InputError(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  }
  return n;
}

function startOptions(args: string[]): StartOptions {
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
  });
  const level = (values["log-level"] ?? "info") as string;
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new InputError(
      `--log-level must be debug, info, warn or error, not ${JSON.stringify(level)}`,
    );
  }
  const options: StartOptions = { logLevel: level as LogLevel };
  const text = (name: string) => typeof values[name] === "string" ? values[name] : undefined;
  const set = <K extends keyof StartOptions>(key: K, value: StartOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("kubeconfig", text("kubeconfig"));
  set("context", text("context"));
  set("namespace", text("namespace"));
  set("metricsBindAddress", text("metrics-bind-address"));
  set("healthProbeBindAddress", text("health-probe-bind-address"));
  if (values["leader-elect"] === true) options.leaderElect = true;
  set("leaderElectionNamespace", text("leader-election-namespace"));
  set("leaderElectionId", text("leader-election-id"));
  const duration = (name: string) => {
    const value = text(name);
    return value === undefined ? undefined : durationMs(value, `--${name}`);
  };
  set("leaseDurationMs", duration("leader-election-lease-duration"));
  set("renewDeadlineMs", duration("leader-election-renew-deadline"));
  set("retryPeriodMs", duration("leader-election-retry-period"));
  return options;
}

/**
 * Joins `--name -1` into `--name=-1` for string options, so that a negative number reaches the
 * option's own check ("must be a whole number") instead of parseArgs' "argument is ambiguous".
 */
function withNegativeValues(args: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Accepts Go's `--flag=true|false` for boolean flags, as controller-runtime's flags do. */
function withBooleanValues(args: string[], names: string[]): string[] {
  return args.flatMap((arg) => {
    for (const name of names) {
      if (arg === `--${name}=true`) return [`--${name}`];
      if (arg === `--${name}=false`) return [];
    }
    return [arg];
  });
}

/** Parses a duration: `15s`, `1500ms`, `1m`. */
function durationMs(value: string, name: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  if (!match) {
    throw new InputError(
      `${name} must be a duration such as 15s or 1500ms, not ${JSON.stringify(value)}`,
    );
  }
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
}

async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { seed: { type: "string" } });
  const manifests = await readManifests([DEMO_MANIFEST.pathname]);
  const report = await simulate(manifests, { seed: intOption(values.seed, "--seed", 1) });
  console.log(
    `Applied examples/postgresdb.yaml to a simulated cluster; the operator ${
      report.converged ? "converged" : "did NOT converge"
    } after ${report.virtualSeconds.toFixed(1)} virtual seconds ` +
      `(${report.reconciles} reconciles, ${report.apiWrites} API writes).\n`,
  );
  printTables(report);
  return report.converged ? 0 : 1;
}

async function sim(args: string[]): Promise<number> {
  const { values } = parse(args, {
    file: { type: "string", short: "f", multiple: true },
    seed: { type: "string" },
    output: { type: "string", short: "o" },
    "max-virtual-seconds": { type: "string" },
    faults: { type: "string" },
    "faults-file": { type: "string" },
  });
  const files = (values.file ?? []) as string[];
  if (files.length === 0) throw new InputError("sim needs at least one -f FILE");
  if (values.faults !== undefined || values["faults-file"] !== undefined) {
    return await simWithFaults(args, files, values);
  }
  const output = (values.output ?? "table") as string;
  if (output !== "table" && output !== "json") {
    throw new InputError(`--output must be table or json, not ${JSON.stringify(output)}`);
  }
  const manifests = await readManifests(files);
  const report = await simulate(manifests, {
    seed: intOption(values.seed, "--seed", 1),
    maxVirtualMs: intOption(values["max-virtual-seconds"], "--max-virtual-seconds", 600) * 1000,
  });
  if (output === "json") {
    const { converged, virtualSeconds, reconciles, apiWrites, objects, events } = report;
    const json = { converged, virtualSeconds, reconciles, apiWrites, objects, events };
    console.log(JSON.stringify(json, null, 2));
  } else {
    console.log(
      `${report.converged ? "Converged" : "Not converged"} after ` +
        `${report.virtualSeconds.toFixed(1)} virtual seconds: ${report.reconciles} reconciles, ` +
        `${report.apiWrites} API writes by the operator.`,
    );
    for (const problem of report.problems ?? []) console.log(`  ${problem}`);
    console.log("");
    printTables(report);
  }
  return report.converged ? 0 : 1;
}

async function simWithFaults(
  args: string[],
  files: string[],
  values: Record<string, unknown>,
): Promise<number> {
  const preset = (values.faults ?? "none") as string;
  if (preset !== "none" && preset !== "light" && preset !== "heavy") {
    throw new InputError(`--faults must be none, light or heavy, not ${JSON.stringify(preset)}`);
  }
  const output = (values.output ?? "table") as string;
  if (output !== "table" && output !== "json") {
    throw new InputError(`--output must be table or json, not ${JSON.stringify(output)}`);
  }
  const file = typeof values["faults-file"] === "string"
    ? await readFaultsFile(values["faults-file"])
    : undefined;
  const manifests = await readManifests(files);
  const seed = intOption(values.seed, "--seed", 1);
  await checkManifestsApply(manifests, { seed });
  const report = await runWithFaults(manifests, {
    seed,
    preset,
    ...(file ? { file } : {}),
    convergeWithinMs: intOption(values["max-virtual-seconds"], "--max-virtual-seconds", 600) * 1000,
  });
  const objects = report.harness.cluster.objects();
  const ok = report.converged && report.violations.length === 0;
  const replay = `deno task sim ${withoutSeed(args).join(" ")} --seed ${seed}`;
  if (output === "json") {
    console.log(JSON.stringify(
      {
        converged: report.converged,
        virtualSeconds: report.virtualMs / 1000,
        reconciles: report.reconciles,
        apiWrites: report.writes,
        objects,
        events: objects.filter((o: KubeObject) => o.kind === "Event"),
        faults: report.injected,
        violations: report.violations,
        traceHash: report.traceHash,
      },
      null,
      2,
    ));
    return ok ? 0 : 1;
  }
  console.log(
    `${report.converged ? "Converged" : "Not converged"} under ${
      file ? "the faults file" : `${preset} faults`
    } ` +
      `(seed ${seed}) after ${(report.virtualMs / 1000).toFixed(1)} virtual seconds: ` +
      `${report.reconciles} reconciles, ${report.writes} API writes by the operator ` +
      `(${report.harness.incarnations} operator start${
        report.harness.incarnations === 1 ? "" : "s"
      }).`,
  );
  for (const line of describeChaos(report, replay)) console.log(line);
  console.log("");
  printTables(
    {
      ...report,
      objects,
      events: objects.filter((o: KubeObject) => o.kind === "Event"),
      nowMs: report.harness.cluster.clock.nowMs(),
    } as never,
  );
  return ok ? 0 : 1;
}

/** The arguments without `--seed N`, to print a replay command with the seed that ran. */
function withoutSeed(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--seed") i++;
    else if (!args[i]!.startsWith("--seed=")) out.push(args[i]!);
  }
  return out;
}

function printTables(report: SimulationReport & { nowMs: number }): void {
  for (const kind of DEMO_KINDS) {
    console.log(renderTable(kind, report.objects, report.nowMs) + "\n");
  }
  if (report.events.length > 0) console.log(renderEvents(report.events, report.nowMs));
}

async function plan(args: string[]): Promise<number> {
  const { values } = parse(args, {
    file: { type: "string", short: "f", multiple: true },
    cluster: { type: "boolean" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
  });
  const files = (values.file ?? []) as string[];
  if (files.length === 0) throw new InputError("plan needs at least one -f FILE");
  const manifests = await readManifests(files);
  const dbs = manifests.filter((o) =>
    o.apiVersion === POSTGRESDB.apiVersion && o.kind === POSTGRESDB.kind
  );
  if (dbs.length === 0) throw new InputError("plan found no PostgresDB in the files");
  const options: StartOptions = {};
  if (typeof values.kubeconfig === "string") options.kubeconfig = values.kubeconfig;
  if (typeof values.context === "string") options.context = values.context;
  const plans = values.cluster ? await planAgainstCluster(dbs, options) : planOnEmptyCluster(dbs);
  console.log(
    plans.map((p) => [p.heading, ...p.lines.map((l) => `  - ${l}`)].join("\n")).join("\n\n"),
  );
  return 0;
}

async function crds(args: string[]): Promise<number> {
  const { values } = parse(args, { check: { type: "boolean" } });
  const dir = new URL("./crds/", import.meta.url);
  let stale = 0;
  for (const { file, text } of renderCrds()) {
    const path = new URL(file, dir);
    if (values.check) {
      const current = await Deno.readTextFile(path).catch(() => "");
      if (current !== text) {
        console.error(`crds/${file} is out of date: run deno task crds`);
        stale++;
      }
    } else {
      await Deno.writeTextFile(path, text);
      console.log(`wrote crds/${file}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
