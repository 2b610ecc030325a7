/**
 * The operator on a real API server, against the write ceiling: `deno task bench:cluster`.
 *
 * Brings up a control plane with kwok nodes (`scripts/controlplane/up.sh`, its own state directory
 * and ports; or uses `--kubeconfig`), installs the CRDs, and for each N (default 100 and 1,000),
 * `--runs` times, interleaved:
 *
 * - **operator**: `main.ts start` in a subprocess, idle and synced; N PostgresDBs created at once
 *   (32 requests in flight) in a fresh namespace; time until every one is Ready on its generation;
 *   the operator's CPU seconds and resident memory (idle, peak, converged) from `/proc`; its
 *   requests by verb and reconciles from its own `/metrics`; its writes in a quiet window; then a
 *   restart over the N converged (start to caches synced, to the first reconcile, writes until it
 *   rests).
 * - **ceiling**: no operator; the same N PostgresDBs, then a client of the project's own makes
 *   exactly the writes one PostgresDB needs: the children the pure core decides for it on an empty
 *   cluster (`reconcilePostgresDB`), created in that order, and one status patch; Events left out.
 *   32 PostgresDBs in flight. Time until the last write, and until every StatefulSet is ready
 *   (the same kube-controller-manager, scheduler and kwok as the operator's run).
 *
 * kube-controller-manager gets `--kube-api-qps=200 --kube-api-burst=400` (its default 20 would pace
 * both runs: 1,000 StatefulSets need about 3,000 of its requests). Each run's namespace is deleted
 * and gone before the next.
 *
 * Run: `deno task bench:cluster [--n 100,1000] [--runs 1] [--quiet-seconds 60] [--workers 4]
 * [--no-go] [--only operator,go-baseline,ceiling] [--profile] [--kubeconfig PATH]`.
 * `--profile` takes a CPU profile of the operator from the first create to all Ready (through the
 * inspector: it runs with `--inspect`), prints self time by file and function, and saves it under
 * /tmp. The figures depend on the machine; the README records them with it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { KubeClusterClient } from "../adapters/mod.ts";
import { observe } from "../core/reconciler.ts";
import { reconcilePostgresDB } from "../core/postgres/reconcile.ts";
import type { PostgresDB } from "../core/postgres/types.ts";
import { parsePrometheus } from "../runtime/prometheus.ts";
import { CpuProfiler, summarize } from "./_cpu_profile.ts";

const POSTGRESDB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };
const NAMESPACE = { apiVersion: "v1", kind: "Namespace" };
const STATEFULSET = { apiVersion: "apps/v1", kind: "StatefulSet" };
const IN_FLIGHT = 32;
const ROOT = new URL("../", import.meta.url).pathname;
const STATE = "/tmp/pgop-bench-cluster";
const PORTS = {
  PGOP_CP_ETCD_PORT: "19379",
  PGOP_CP_ETCD_PEER_PORT: "19380",
  PGOP_CP_APISERVER_PORT: "19443",
  PGOP_CP_KCM_PORT: "19257",
  PGOP_CP_SCHEDULER_PORT: "19259",
  PGOP_CP_KWOK_PORT: "19247",
  PGOP_CP_S3_PORT: "19900",
};
const METRICS_PORT = 19080;
const INSPECT_PORT = 19229;

/** One measured run. */
interface Row {
  who: "operator" | "go-baseline" | "ceiling";
  n: number;
  run: number;
  /** From the first create to every PostgresDB Ready (operator) or every StatefulSet ready. */
  readyS: number;
  /** From the first create to the last write of the ceiling client. */
  writesDoneS?: number;
  cpuS: number;
  writes: number;
  requests: number;
  byVerb: Record<string, number>;
  reconciles?: number;
  idleMiB?: number;
  peakMiB?: number;
  convergedMiB?: number;
  quietWrites?: number;
  restart?: { syncedS: number; firstReconcileS: number; restS: number; writes: number };
}

function log(message: string): void {
  console.error(`[bench:cluster] ${new Date().toISOString().slice(11, 19)} ${message}`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms / 1000} s waiting for ${what}`);
    }
    await sleep(250);
  }
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The PostgresDBs of one run. */
function manifests(n: number, namespace: string): PostgresDB[] {
  return Array.from({ length: n }, (_, i) =>
    ({
      ...POSTGRESDB,
      metadata: { name: `db-${i}`, namespace },
      spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
    }) as PostgresDB);
}

/** Runs `work` over `items`, `inFlight` at a time. */
async function pool<T>(items: readonly T[], inFlight: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** Resident memory (MiB) and CPU seconds of process `pid`, from /proc. */
function sample(pid: number): { rssMiB: number; cpuS: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return { rssMiB: rssKiB / 1024, cpuS: ticks / 100 };
}

/** What a subject's /metrics says: its requests by verb, writes, and reconciles. */
interface Counts {
  byVerb: Record<string, number>;
  writes: number;
  requests: number;
  reconciles: number;
}

/** An operator under measurement, as a subprocess with /metrics. */
abstract class Subject {
  abstract readonly who: Row["who"];
  readonly lines: { text: string; atMs: number }[] = [];
  #child: Deno.ChildProcess | undefined;
  #reader: Promise<void> | undefined;
  protected readonly kubeconfig: string;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
  }

  get pid(): number {
    return this.#child!.pid;
  }

  protected abstract command(): { cmd: string; args: string[] };
  /** Parses its /metrics. */
  protected abstract counts(text: string): Counts;
  /** True once it takes work, from its output lines since `from`. */
  protected abstract started(from: number): boolean;

  start(): number {
    const from = this.lines.length;
    const { cmd, args } = this.command();
    this.#child = new Deno.Command(cmd, {
      args,
      env: { KUBECONFIG: this.kubeconfig, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let buffer = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          this.lines.push({ text: buffer.slice(0, newline), atMs: Date.now() });
          buffer = buffer.slice(newline + 1);
        }
      }
    };
    this.#reader = Promise.all([read(this.#child.stdout), read(this.#child.stderr)]).then(() => {});
    return from;
  }

  /** Waits until it takes work (caches synced); returns when that was seen. */
  async whenStarted(from: number): Promise<number> {
    await until(`${this.who} to start`, () => Promise.resolve(this.started(from)), 120_000);
    return Date.now();
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    child.kill("SIGTERM");
    await child.status;
    await this.#reader;
  }

  async metrics(): Promise<Counts> {
    return this.counts(await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text());
  }
}

/** This project's operator: `main.ts start`. */
class ThisOperator extends Subject {
  readonly who = "operator" as const;
  readonly #workers: number;
  /** Whether the process listens for the inspector (a CPU profile). */
  readonly inspect: boolean;

  constructor(kubeconfig: string, workers: number, inspect = false) {
    super(kubeconfig);
    this.#workers = workers;
    this.inspect = inspect;
  }

  protected command() {
    return {
      cmd: Deno.execPath(),
      args: [
        "run",
        ...(this.inspect ? [`--inspect=127.0.0.1:${INSPECT_PORT}`] : []),
        "--allow-read",
        "--allow-env",
        "--allow-net",
        "--allow-sys",
        `${ROOT}main.ts`,
        "start",
        "--metrics-bind-address",
        `127.0.0.1:${METRICS_PORT}`,
        "--max-concurrent-reconciles",
        String(this.#workers),
      ],
    };
  }

  protected started(from: number): boolean {
    return this.lines.slice(from).some((l) => l.text.includes('"Caches synced, starting workers"'));
  }

  protected counts(text: string): Counts {
    const byVerb: Record<string, number> = {};
    let reconciles = 0;
    for (const s of parsePrometheus(text).samples) {
      if (s.name === "pgop_api_requests_total") byVerb[s.labels.verb!] = s.value;
      if (s.name === "controller_runtime_reconcile_total") reconciles += s.value;
    }
    const writes = WRITE_VERBS.reduce((n, v) => n + (byVerb[v] ?? 0), 0);
    const requests = Object.values(byVerb).reduce((a, b) => a + b, 0);
    return { byVerb, writes, requests, reconciles };
  }
}

/** The Go controller-runtime floor (bench/go-baseline), built once and cached. */
class GoBaseline extends Subject {
  readonly who = "go-baseline" as const;
  readonly #binary: string;

  constructor(kubeconfig: string, binary: string) {
    super(kubeconfig);
    this.#binary = binary;
  }

  protected command() {
    return {
      cmd: this.#binary,
      args: ["--metrics-bind-address", `127.0.0.1:${METRICS_PORT}`],
    };
  }

  protected started(from: number): boolean {
    // controller-runtime logs nothing without a logger: its workers start once the caches sync,
    // which the first answer of /metrics after "starting" does not prove; the reconcile of the
    // first PostgresDB does (measured from the create, so the figure stays honest).
    return this.lines.slice(from).some((l) => l.text.includes("go-baseline: starting"));
  }

  protected counts(text: string): Counts {
    const byVerb: Record<string, number> = {};
    let reconciles = 0;
    for (const s of parsePrometheus(text).samples) {
      if (s.name === "rest_client_requests_total") {
        const verb = s.labels.method!;
        byVerb[verb] = (byVerb[verb] ?? 0) + s.value;
      }
      if (s.name === "controller_runtime_reconcile_total") reconciles += s.value;
    }
    const writes = ["POST", "PUT", "PATCH", "DELETE"].reduce((n, v) => n + (byVerb[v] ?? 0), 0);
    const requests = Object.values(byVerb).reduce((a, b) => a + b, 0);
    return { byVerb, writes, requests, reconciles };
  }
}

/** Builds bench/go-baseline once per source version, under ~/.cache/pgop-bench. */
async function goBaseline(): Promise<string | undefined> {
  const dir = `${ROOT}bench/go-baseline`;
  const sources = ["go.mod", "go.sum", "main.go"].map((f) => Deno.readTextFileSync(`${dir}/${f}`));
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(sources.join("\0")),
  );
  const hash = Array.from(
    new Uint8Array(digest).slice(0, 8),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const binary = `${Deno.env.get("HOME")}/.cache/pgop-bench/go-baseline-${hash}`;
  try {
    Deno.statSync(binary);
    return binary;
  } catch {
    // Build it.
  }
  log(`building the Go baseline (go build, modules from the Go module proxy) into ${binary}`);
  const built = await run("go", ["build", "-o", binary, "."], {
    ...Deno.env.toObject(),
  }, dir).catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
  if (built.code !== 0) {
    log(`no Go baseline: go build failed: ${built.stderr.trim().split("\n").slice(-3).join(" ")}`);
    return undefined;
  }
  return binary;
}

const WRITE_VERBS = ["create", "update", "apply", "patchStatus", "delete", "createEvent"];

function writesOf(byVerb: Record<string, number>): number {
  return WRITE_VERBS.reduce((n, v) => n + (byVerb[v] ?? 0), 0);
}

function minus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
}

async function createNamespace(client: KubeClusterClient, name: string): Promise<void> {
  await client.create({ ...NAMESPACE, metadata: { name } });
}

async function deleteNamespace(client: KubeClusterClient, name: string): Promise<void> {
  await client.delete(NAMESPACE, name, undefined).catch(() => {});
  await until(`namespace ${name} to go`, async () => {
    try {
      await client.get(NAMESPACE, name);
      return false;
    } catch {
      return true;
    }
  }, 600_000);
}

async function createAll(client: KubeClusterClient, dbs: readonly PostgresDB[]): Promise<void> {
  await pool(dbs, IN_FLIGHT, async (db) => {
    await client.create(db);
  });
}

async function readyCount(client: KubeClusterClient, namespace: string): Promise<number> {
  const { items } = await client.list(POSTGRESDB, { namespace });
  return items.filter((o) => {
    const status = o.status as { ready?: boolean; observedGeneration?: number } | undefined;
    return status?.ready === true && status.observedGeneration === o.metadata.generation;
  }).length;
}

async function statefulSetsReady(client: KubeClusterClient, namespace: string): Promise<number> {
  const { items } = await client.list(STATEFULSET, { namespace });
  return items.filter((o) => (o.status as { readyReplicas?: number })?.readyReplicas === 1).length;
}

/** Waits until `subject` reconciled nothing for 3 s; returns when its last reconcile was seen. */
async function rest(subject: Subject): Promise<number> {
  let last = -1;
  let since = Date.now();
  await until(`${subject.who} to rest`, async () => {
    const m = await subject.metrics();
    if (m.reconciles !== last) {
      last = m.reconciles;
      since = Date.now();
    }
    return Date.now() - since >= 3_000;
  }, 600_000);
  return since;
}

async function measureSubject(
  client: KubeClusterClient,
  subject: Subject,
  n: number,
  runIndex: number,
  quietSeconds: number,
): Promise<Row> {
  const namespace = `bench-${subject.who}-${n}-${runIndex}`;
  await createNamespace(client, namespace);
  try {
    await subject.whenStarted(subject.start());
    await sleep(2_000);
    const idle = sample(subject.pid);
    const before = await subject.metrics();
    let peak = idle.rssMiB;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, sample(subject.pid).rssMiB);
      } catch { /* exited */ }
    }, 200);
    const profiler = subject instanceof ThisOperator && subject.inspect
      ? await CpuProfiler.connect(INSPECT_PORT)
      : undefined;
    await profiler?.start();
    const t0 = Date.now();
    await createAll(client, manifests(n, namespace));
    await until(
      `${n} PostgresDBs Ready`,
      async () => await readyCount(client, namespace) === n,
      1_800_000,
    );
    const readyS = (Date.now() - t0) / 1000;
    if (profiler) {
      const profile = await profiler.stop();
      const file = `/tmp/pgop-bench-operator-${n}.cpuprofile`;
      Deno.writeTextFileSync(file, JSON.stringify(profile));
      console.error(summarize(profile).join("\n"));
      log(`the profile is in ${file} (open it in Chrome's DevTools)`);
    }
    const atReady = sample(subject.pid);
    await rest(subject);
    clearInterval(sampler);
    const converged = sample(subject.pid);
    const after = await subject.metrics();
    const byVerb = minus(after.byVerb, before.byVerb);
    await sleep(quietSeconds * 1000);
    const quietWrites = (await subject.metrics()).writes - after.writes;
    await subject.stop();

    // A restart over the N converged.
    const startedAt = Date.now();
    const synced = await subject.whenStarted(subject.start());
    const firstReconcile = await until("the first reconcile after the restart", async () => {
      return (await subject.metrics()).reconciles > 0 && Date.now();
    }, 120_000);
    const restAt = await rest(subject);
    const restarted = await subject.metrics();
    return {
      who: subject.who,
      n,
      run: runIndex,
      readyS,
      cpuS: atReady.cpuS - idle.cpuS,
      writes: after.writes - before.writes,
      requests: after.requests - before.requests,
      byVerb,
      reconciles: after.reconciles - before.reconciles,
      idleMiB: idle.rssMiB,
      peakMiB: peak,
      convergedMiB: converged.rssMiB,
      quietWrites,
      restart: {
        syncedS: (synced - startedAt) / 1000,
        firstReconcileS: (firstReconcile - startedAt) / 1000,
        restS: (restAt - startedAt) / 1000,
        writes: restarted.writes,
      },
    };
  } finally {
    await subject.stop();
    const logFile = `/tmp/pgop-bench-${subject.who}-${n}-${runIndex}.log`;
    Deno.writeTextFileSync(logFile, subject.lines.map((l) => l.text).join("\n") + "\n");
    log(`its output is in ${logFile}`);
    await deleteNamespace(client, namespace);
  }
}

/** The writes one PostgresDB needs: its children as the core decides them, and one status. */
async function ceilingWrites(client: KubeClusterClient, created: PostgresDB): Promise<void> {
  const random = { next: Math.random, int: (k: number) => Math.floor(Math.random() * k) };
  const { actions } = reconcilePostgresDB(observe(created, []), { nowMs: Date.now(), random });
  for (const action of actions) {
    if (action.kind === "create") await client.create(action.object);
    else if (action.kind === "patchStatus") await client.patchStatus(action.target, action.status);
  }
}

async function measureCeiling(
  client: KubeClusterClient,
  n: number,
  runIndex: number,
): Promise<Row> {
  const namespace = `bench-ceil-${n}-${runIndex}`;
  await createNamespace(client, namespace);
  try {
    const before = { ...client.stats.byVerb };
    const cpu0 = cpuUsage();
    const t0 = Date.now();
    await pool(manifests(n, namespace), IN_FLIGHT, async (db) => {
      await ceilingWrites(client, await client.create(db) as PostgresDB);
    });
    const writesDoneS = (Date.now() - t0) / 1000;
    const cpu = cpuUsage(cpu0);
    const byVerb = minus(client.stats.byVerb, before);
    await until(
      `${n} StatefulSets ready`,
      async () => await statefulSetsReady(client, namespace) === n,
      900_000,
    );
    return {
      who: "ceiling",
      n,
      run: runIndex,
      readyS: (Date.now() - t0) / 1000,
      writesDoneS,
      cpuS: (cpu.user + cpu.system) / 1e6,
      writes: writesOf(byVerb) - n, // the PostgresDBs' own creates are the user's
      requests: Object.values(byVerb).reduce((a, b) => a + b, 0),
      byVerb,
    };
  } finally {
    await deleteNamespace(client, namespace);
  }
}

function table(rows: Row[]): string {
  const f = (x: number | undefined, d = 1) =>
    x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d);
  const lines = [
    "| who | N | run | to Ready s | last write s | CPU s | CPU ms/db | writes | writes/db | requests | reconciles | RSS idle/peak/converged MiB | quiet writes | restart: synced / first reconcile / rest s, writes |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.who} | ${r.n} | ${r.run} | ${f(r.readyS)} | ${f(r.writesDoneS)} | ${f(r.cpuS)} | ${
        f(r.cpuS * 1000 / r.n, 2)
      } | ${r.writes} | ${f(r.writes / r.n, 2)} | ${r.requests} | ${r.reconciles ?? "-"} | ${
        r.idleMiB === undefined ? "-" : `${f(r.idleMiB)}/${f(r.peakMiB)}/${f(r.convergedMiB)}`
      } | ${r.quietWrites ?? "-"} | ${
        r.restart
          ? `${f(r.restart.syncedS, 2)} / ${f(r.restart.firstReconcileS, 2)} / ${
            f(r.restart.restS)
          }, ${r.restart.writes}`
          : "-"
      } |`,
    );
  }
  for (const r of rows) {
    lines.push(`  ${r.who} N=${r.n} run ${r.run} requests by verb: ${JSON.stringify(r.byVerb)}`);
  }
  return lines.join("\n");
}

async function controlPlane(
  maxN: number,
): Promise<{ kubeconfig: string; down: () => Promise<void> }> {
  const env = {
    ...Deno.env.toObject(),
    ...PORTS,
    PGOP_CONTROLPLANE_STATE: STATE,
    PGOP_CP_NODES: String(Math.max(3, Math.ceil(maxN / 100) + 1)),
    PGOP_CP_KCM_QPS: "200",
    PGOP_CP_KCM_BURST: "400",
  };
  log(`starting a control plane in ${STATE}`);
  const up = await run("bash", [`${ROOT}scripts/controlplane/up.sh`], env);
  log(up.stderr.trim().split("\n").at(-1) ?? "");
  if (up.code !== 0) throw new Error(`up.sh failed:\n${up.stderr.slice(-2000)}`);
  return {
    kubeconfig: `${STATE}/kubeconfig`,
    down: async () => {
      await run("bash", [`${ROOT}scripts/controlplane/down.sh`], env);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      n: { type: "string", default: "100,1000" },
      runs: { type: "string", default: "1" },
      "quiet-seconds": { type: "string", default: "60" },
      workers: { type: "string", default: "4" },
      "no-go": { type: "boolean" },
      profile: { type: "boolean" },
      only: { type: "string" },
      kubeconfig: { type: "string" },
    },
  });
  const ns = values.n.split(",").map(Number);
  const runs = Number(values.runs);
  const quietSeconds = Number(values["quiet-seconds"]);
  const workers = Number(values.workers);
  if (
    ns.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1 ||
    !(quietSeconds >= 0) || !Number.isInteger(workers) || workers < 1
  ) {
    console.error(
      `Bad arguments: --n ${JSON.stringify(values.n)} --runs ${JSON.stringify(values.runs)} ` +
        `--quiet-seconds ${JSON.stringify(values["quiet-seconds"])} --workers ${
          JSON.stringify(values.workers)
        } (N and runs: whole numbers from 1; seconds: 0 or more; workers: from 1)`,
    );
    Deno.exit(2);
  }
  const only = values.only?.split(",");
  const wantGo = !values["no-go"] && (only === undefined || only.includes("go-baseline"));
  const go = wantGo ? await goBaseline() : undefined;
  const cp = values.kubeconfig
    ? { kubeconfig: values.kubeconfig, down: () => Promise.resolve() }
    : await controlPlane(Math.max(...ns));
  const rows: Row[] = [];
  try {
    const kubectl = await run("kubectl", ["apply", "-f", `${ROOT}crds/`], {
      KUBECONFIG: cp.kubeconfig,
      PATH: Deno.env.get("PATH") ?? "",
    });
    if (kubectl.code !== 0) throw new Error(`kubectl apply -f crds/ failed: ${kubectl.stderr}`);
    await sleep(2_000);
    const client = await KubeClusterClient.connect({ path: cp.kubeconfig });
    const whos = (go ? ["operator", "go-baseline", "ceiling"] : ["operator", "ceiling"])
      .filter((w) => only === undefined || only.includes(w)) as Row["who"][];
    for (const n of ns) {
      for (let r = 1; r <= runs; r++) {
        // Interleaved: each run starts with the next of them.
        const order = whos.map((_, i) => whos[(i + r - 1) % whos.length]!);
        for (const who of order) {
          log(`${who} N=${n} run ${r}`);
          const row = who === "ceiling" ? await measureCeiling(client, n, r) : await measureSubject(
            client,
            who === "operator"
              ? new ThisOperator(cp.kubeconfig, workers, values.profile === true)
              : new GoBaseline(cp.kubeconfig, go!),
            n,
            r,
            quietSeconds,
          );
          rows.push(row);
          log(JSON.stringify(row));
        }
      }
    }
    client.close();
  } finally {
    await cp.down();
  }
  console.log(
    `Machine: ${Deno.build.os} ${navigator.hardwareConcurrency} cores; ` +
      `${workers} workers for the operator; N = ${ns.join(", ")}; ${runs} run(s) each`,
  );
  console.log(table(rows));
}

if (import.meta.main) await main();
