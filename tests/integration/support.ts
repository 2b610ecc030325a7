/**
 * Support for the integration suites: kubectl, the operator as a subprocess, bounded waits. They
 * run only when `PGOP_KUBECONFIG` names the kubeconfig of a test control plane
 * (`scripts/controlplane/up.sh`; `.ci/run` does this).
 *
 * @module
 */

/** The kubeconfig of the test control plane, if there is one. */
export const KUBECONFIG: string | undefined = Deno.env.get("PGOP_KUBECONFIG");

/** Why a suite is skipped, printed once. */
export const SKIP_REASON =
  "integration suites skipped: no PGOP_KUBECONFIG (run scripts/controlplane/up.sh, then PGOP_KUBECONFIG=$KUBECONFIG deno task test tests/integration/)";

/** The output of a command. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl against the test control plane. */
export async function kubectl(...args: string[]): Promise<Output> {
  const out = await new Deno.Command(Deno.env.get("PGOP_KUBECTL") ?? "kubectl", {
    args,
    env: { KUBECONFIG: KUBECONFIG ?? "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** `kubectl apply -f -` with `manifest` (YAML or JSON) on standard input. */
export async function kubectlApply(manifest: string): Promise<Output> {
  const child = new Deno.Command(Deno.env.get("PGOP_KUBECTL") ?? "kubectl", {
    args: ["apply", "-f", "-"],
    env: { KUBECONFIG: KUBECONFIG ?? "" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(manifest));
  await writer.close();
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Runs kubectl and returns its stdout; throws with its stderr when it fails. */
export async function kubectlOk(...args: string[]): Promise<string> {
  const out = await kubectl(...args);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${out.stderr.trim()}`);
  return out.stdout;
}

/** Reads one object as JSON, or undefined when absent. */
export async function getJson(kind: string, name: string, namespace = "default") {
  const out = await kubectl("get", kind, name, "-n", namespace, "-o", "json");
  // deno-lint-ignore no-explicit-any
  return out.code === 0 ? JSON.parse(out.stdout) as any : undefined;
}

/** Polls `check` every 250 ms until it returns a value other than undefined or false. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** One structured log line of the operator. */
export type LogLine = Record<string, unknown> & { msg: string; level: string };

/** The arguments that run `main.ts` with the permissions its cluster commands need. */
export const MAIN_ARGS: readonly string[] = [
  "run",
  "--allow-read",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "main.ts",
];

/** Runs `main.ts` with `args` against the test control plane; returns its output. */
export async function runMain(...args: string[]): Promise<Output> {
  return await runMainWith(KUBECONFIG ?? "", ...args);
}

/** Runs `main.ts` with `args` against the cluster of `kubeconfig`; returns its output. */
export async function runMainWith(kubeconfig: string, ...args: string[]): Promise<Output> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...MAIN_ARGS, ...args],
    env: { KUBECONFIG: kubeconfig, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * The operator with the admin kubeconfig (or `kubeconfig`), started and stopped again as one would
 * restart it: every run's log lines are kept in one list.
 */
export class OperatorProcess {
  readonly lines: LogLine[] = [];
  readonly kubeconfig: string | undefined;
  #current: OperatorSubprocess | undefined;

  constructor(kubeconfig?: string) {
    this.kubeconfig = kubeconfig;
  }

  /** Starts the operator; resolves once its caches have synced. */
  async start(extraArgs: string[] = []): Promise<void> {
    const process = new OperatorSubprocess({
      args: extraArgs,
      lines: this.lines,
      ...(this.kubeconfig ? { kubeconfig: this.kubeconfig } : {}),
    });
    const from = this.lines.length;
    process.start();
    this.#current = process;
    await waitFor(
      "the operator's caches to sync",
      () =>
        Promise.resolve(
          this.lines.slice(from).some((l) => l.msg === "Caches synced, starting workers"),
        ),
      30_000,
    );
  }

  /** Writes the operator logged since line `from`. */
  writesSince(from: number): number {
    return this.lines.slice(from).reduce(
      (n, l) => n + (l.msg === "Reconciled" ? Number(l.writes ?? 0) : 0),
      0,
    );
  }

  /** Sends SIGTERM and waits for a clean exit; returns the exit code. */
  async stop(): Promise<number> {
    const process = this.#current;
    this.#current = undefined;
    return process ? await process.kill("SIGTERM") : 0;
  }

  /** Kills the operator at once (SIGKILL), as a lost node or an OOM kill would. */
  async kill(): Promise<void> {
    const process = this.#current;
    this.#current = undefined;
    if (process) await process.kill("SIGKILL");
  }
}

// The parser moved to the library; the suites keep importing it from here.
export { parsePrometheus } from "../../runtime/prometheus.ts";

/** Options of {@link OperatorSubprocess}. */
export interface OperatorSubprocessOptions {
  /** The kubeconfig it uses. @default the test control plane's admin kubeconfig */
  kubeconfig?: string;
  /** Arguments after `main.ts start`. */
  args?: string[];
  /** Its leader-election identity (POD_NAME). */
  podName?: string;
  /** Where its log lines go. @default a list of its own */
  lines?: LogLine[];
}

/**
 * The operator as `main.ts start` in a subprocess, with any kubeconfig and flags, that can be
 * killed; unlike {@link OperatorProcess} it does not wait for the caches on start (a standby
 * replica never syncs them), callers wait for the log line they need.
 */
export class OperatorSubprocess {
  readonly lines: LogLine[];
  readonly options: OperatorSubprocessOptions;
  #child: Deno.ChildProcess | undefined;
  #reader: Promise<void> | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;

  constructor(options: OperatorSubprocessOptions = {}) {
    this.options = options;
    this.lines = options.lines ?? [];
  }

  /** Starts it; resolves at once. */
  start(): void {
    const env: Record<string, string> = {
      KUBECONFIG: this.options.kubeconfig ?? KUBECONFIG ?? "",
      NO_COLOR: "1",
    };
    if (this.options.podName) env.POD_NAME = this.options.podName;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [...MAIN_ARGS, "start", ...(this.options.args ?? [])],
      env,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#status = this.#child.status;
    this.#reader = readLogLines(this.#child.stdout, this.lines);
  }

  /** Waits until a log line matches; returns it. */
  async waitForLine(
    what: string,
    match: (line: LogLine) => boolean,
    timeoutMs = 60_000,
  ): Promise<LogLine> {
    return await waitFor(what, () => Promise.resolve(this.lines.find(match)), timeoutMs);
  }

  /** True when some log line matches. */
  logged(match: (line: LogLine) => boolean): boolean {
    return this.lines.some(match);
  }

  /** The exit code, once it has exited. */
  async exitCode(): Promise<number> {
    const status = await this.#status!;
    await this.#reader;
    return status.code;
  }

  /** True once the process has exited. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Sends a signal (SIGTERM: a clean stop; SIGKILL: a crash) and waits for the exit code. */
  async kill(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    const child = this.#child;
    if (!child) return 0;
    this.#child = undefined;
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
    return await this.exitCode();
  }
}

async function readLogLines(stream: ReadableStream<Uint8Array>, lines: LogLine[]): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        lines.push({ ...JSON.parse(line), receivedMs: Date.now() });
      } catch {
        lines.push({ msg: line, level: "raw", receivedMs: Date.now() });
      }
    }
  }
}

/**
 * Writes a kubeconfig that authenticates with a token of a ServiceAccount (minted by
 * `kubectl create token`), for the server and CA of the test control plane's kubeconfig.
 */
export async function writeServiceAccountKubeconfig(
  serviceAccount: string,
  namespace: string,
  path: string,
): Promise<void> {
  const token = (await kubectlOk(
    "create",
    "token",
    serviceAccount,
    "-n",
    namespace,
    "--duration=1h",
  )).trim();
  const admin = JSON.parse(await kubectlOk("config", "view", "--raw", "--minify", "-o", "json"));
  const cluster = admin.clusters[0].cluster;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster }],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: "sa", context: { cluster: "test", user: serviceAccount, namespace } }],
    "current-context": "sa",
  };
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** GETs a URL on 127.0.0.1; the status and the body, or status 0 when nothing listens. */
export async function httpGet(url: string): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, text: await response.text() };
  } catch {
    return { status: 0, text: "" };
  }
}
