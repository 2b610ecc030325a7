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
import { printJson } from "./_json_stream.ts";
import { describeChaos, readFaultsFile, runWithFaults } from "./chaos.ts";
import { InputError, readManifests } from "./manifests.ts";
import {
  checkManifestsApply,
  runWhile,
  simulate,
  type SimulationReport,
  startOperatorWorld,
} from "./simulate.ts";
import { DEMO_KINDS, renderEvents, renderTable } from "./tables.ts";

/** Where the demo's manifest lives. */
export const DEMO_MANIFEST: URL = new URL("../examples/postgresdb.yaml", import.meta.url);

/** What `sim` prints. */
type Output = "table" | "json";

/** `demo [--seed N] [--failover]`: the example PostgresDB on a simulated cluster, as tables. */
export async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { seed: { type: "string" }, failover: { type: "boolean" } });
  if (values.failover === true) return await failoverDemo(intOption(values.seed, "--seed", 1));
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

/**
 * `demo --failover`: the example with three instances and a synchronous standby; its primary's
 * agent loses the API server (the primary fences itself, a standby takes over, the old primary
 * rejoins), then a switchover back by annotation. Never two writers: checked after every step.
 */
async function failoverDemo(seed: number): Promise<number> {
  const [manifest] = await readManifests([DEMO_MANIFEST.pathname]);
  const db = structuredClone(manifest!) as KubeObject & { spec: Record<string, unknown> };
  db.spec = { ...db.spec, replicas: 3, synchronous: { number: 1 } };
  const world = await startOperatorWorld({ seed });
  const clock = world.cluster.clock;
  const startMs = clock.nowMs();
  const at = () => `[${((clock.nowMs() - startMs) / 1000).toFixed(1).padStart(5)} s]`;
  const name = db.metadata.name;
  const namespace = db.metadata.namespace ?? "default";
  const plane = world.cluster.dataPlane!;
  const writers = () =>
    [0, 1, 2].map((i) => `${name}-${i}`).filter((pod) =>
      plane.instanceOfPod(namespace, pod)?.acceptsWrites === true
    );
  let twoWriters = false;
  let seenEvents = 0;
  let lastWriters = "";
  const story = () => {
    const events = world.cluster.objects().filter((o) => o.kind === "Event")
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    for (const event of events.slice(seenEvents)) {
      const e = event as KubeObject & { type?: string; reason?: string; message?: string };
      if (e.reason === "Created") continue;
      console.log(`${at()} ${e.type} ${e.reason}: ${e.message}`);
    }
    seenEvents = events.length;
  };
  const run = async (ms: number) => {
    await world.cluster.run({
      maxVirtualMs: ms,
      until: () => {
        story();
        const now = writers();
        twoWriters ||= now.length > 1;
        if (now.join() !== lastWriters) {
          console.log(`${at()} Accepting writes: ${now.join(", ") || "none"}`);
          lastWriters = now.join();
        }
        return twoWriters;
      },
    });
    story();
  };
  const table = () =>
    console.log(`\n${renderTable("PostgresDB", world.cluster.objects(), clock.nowMs())}\n`);
  console.log(
    `${at()} Applied examples/postgresdb.yaml with replicas: 3 and synchronous: {number: 1}`,
  );
  await world.apply([db]);
  await run(60_000);
  table();
  const primary = currentPrimary(world.cluster.objects(), name) ?? `${name}-0`;
  console.log(`${at()} Fault: the agent of ${primary} loses the API server for 60 s`);
  plane.cutOff(namespace, primary, 60_000);
  await run(90_000);
  table();
  const now = currentPrimary(world.cluster.objects(), name);
  console.log(
    `${at()} $ kubectl annotate postgresdb/${name} ` +
      `database.thegeekyway.com/switchover-to=${primary}`,
  );
  const stored = world.cluster.objects().find((o) =>
    o.kind === "PostgresDB" && o.metadata.name === name
  )!;
  const annotated = structuredClone(stored);
  annotated.metadata.annotations = {
    ...annotated.metadata.annotations,
    "database.thegeekyway.com/switchover-to": primary,
  };
  delete annotated.status;
  await runWhile(world.cluster, world.cluster.client({ name: "kubectl" }).update(annotated));
  await run(60_000);
  table();
  const back = currentPrimary(world.cluster.objects(), name);
  await world.controller.stop();
  await world.backups.stop();
  const ok = !twoWriters && now !== undefined && now !== primary && back === primary;
  console.log(
    twoWriters
      ? "Two instances accepted writes at once: a bug (please report it with the seed)."
      : `At most one instance accepted writes at every step (seed ${seed}).`,
  );
  return ok ? 0 : 1;
}

function currentPrimary(objects: readonly KubeObject[], name: string): string | undefined {
  const db = objects.find((o) => o.kind === "PostgresDB" && o.metadata.name === name) as
    | { status?: { currentPrimary?: string } }
    | undefined;
  return db?.status?.currentPrimary;
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
    printJson({ converged, virtualSeconds, reconciles, apiWrites, objects, events });
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
    printJson({ ...json, events, faults, violations, traceHash });
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
