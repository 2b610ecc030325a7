/**
 * The `demo` and `sim` commands: parse their flags, run the operator on a simulated cluster
 * (`simulate.ts`), or under faults (`chaos.ts`), and print the outcome as kubectl-style tables or
 * JSON. Returns the exit code: 0 converged, 1 not converged (or a check failed).
 *
 * @module
 */

import type { KubeObject } from "../core/object.ts";
import type { FaultPresetName } from "../sim/faults.ts";
import { fileOptions, intOption, parse } from "./_args.ts";
import { describeChaos, readFaultsFile, runWithFaults } from "./chaos.ts";
import { InputError, readManifests } from "./manifests.ts";
import { checkManifestsApply, simulate, type SimulationReport } from "./simulate.ts";
import { DEMO_KINDS, renderEvents, renderTable } from "./tables.ts";

/** Where the demo's manifest lives. */
export const DEMO_MANIFEST: URL = new URL("../examples/postgresdb.yaml", import.meta.url);

/** What `sim` prints. */
type Output = "table" | "json";

/** `demo [--seed N]`: the example PostgresDB on a simulated cluster, as tables. */
export async function demo(args: string[]): Promise<number> {
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

/** `sim -f FILE ...`: the manifests on a simulated cluster, with or without faults. */
export async function sim(args: string[]): Promise<number> {
  const { values } = parse(args, {
    file: { type: "string", short: "f", multiple: true },
    seed: { type: "string" },
    output: { type: "string", short: "o" },
    "max-virtual-seconds": { type: "string" },
    faults: { type: "string" },
    "faults-file": { type: "string" },
  });
  const files = fileOptions(values.file, "sim");
  const faulty = values.faults !== undefined || values["faults-file"] !== undefined;
  const preset = faulty ? presetOption(values.faults) : undefined;
  const output = outputOption(values.output);
  if (preset !== undefined) return await simWithFaults(args, files, { ...values, preset, output });
  const manifests = await readManifests(files);
  const report = await simulate(manifests, {
    seed: intOption(values.seed, "--seed", 1),
    maxVirtualMs: maxVirtualMs(values),
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

/** The options of `sim --faults` / `--faults-file`, the preset and output checked. */
type FaultsRun = Record<string, unknown> & { preset: FaultPresetName; output: Output };

async function simWithFaults(args: string[], files: string[], run: FaultsRun): Promise<number> {
  const faultsFile = run["faults-file"];
  const file = typeof faultsFile === "string" ? await readFaultsFile(faultsFile) : undefined;
  const manifests = await readManifests(files);
  const seed = intOption(run.seed, "--seed", 1);
  await checkManifestsApply(manifests, { seed });
  const report = await runWithFaults(manifests, {
    seed,
    preset: run.preset,
    ...(file ? { file } : {}),
    convergeWithinMs: maxVirtualMs(run),
  });
  const objects = report.harness.cluster.objects();
  const events = objects.filter((o: KubeObject) => o.kind === "Event");
  const ok = report.converged && report.violations.length === 0;
  if (run.output === "json") {
    const { converged, reconciles, injected: faults, violations, traceHash } = report;
    const virtualSeconds = report.virtualMs / 1000;
    const json = { converged, virtualSeconds, reconciles, apiWrites: report.writes, objects };
    console.log(JSON.stringify({ ...json, events, faults, violations, traceHash }, null, 2));
    return ok ? 0 : 1;
  }
  const starts = report.harness.incarnations;
  console.log(
    `${report.converged ? "Converged" : "Not converged"} under ${
      file ? "the faults file" : `${run.preset} faults`
    } ` +
      `(seed ${seed}) after ${(report.virtualMs / 1000).toFixed(1)} virtual seconds: ` +
      `${report.reconciles} reconciles, ${report.writes} API writes by the operator ` +
      `(${starts} operator start${starts === 1 ? "" : "s"}).`,
  );
  const replay = `deno task sim ${withoutSeed(args).join(" ")} --seed ${seed}`;
  for (const line of describeChaos(report, replay)) console.log(line);
  console.log("");
  printTables({ objects, events, nowMs: report.harness.cluster.clock.nowMs() });
  return ok ? 0 : 1;
}

function maxVirtualMs(values: Record<string, unknown>): number {
  return intOption(values["max-virtual-seconds"], "--max-virtual-seconds", 600) * 1000;
}

function presetOption(value: unknown): FaultPresetName {
  const preset = (value ?? "none") as string;
  if (preset !== "none" && preset !== "light" && preset !== "heavy") {
    throw new InputError(`--faults must be none, light or heavy, not ${JSON.stringify(preset)}`);
  }
  return preset;
}

function outputOption(value: unknown): Output {
  const output = (value ?? "table") as string;
  if (output !== "table" && output !== "json") {
    throw new InputError(`--output must be table or json, not ${JSON.stringify(output)}`);
  }
  return output;
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

/** Prints the kubectl-style tables of a simulated cluster, then its events. */
function printTables(
  report: Pick<SimulationReport, "objects" | "events"> & { nowMs: number },
): void {
  for (const kind of DEMO_KINDS) {
    console.log(renderTable(kind, report.objects, report.nowMs) + "\n");
  }
  if (report.events.length > 0) console.log(renderEvents(report.events, report.nowMs));
}
