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

/** The operator, run as `main.ts start` in a subprocess. */
export class OperatorProcess {
  readonly lines: LogLine[] = [];
  #child: Deno.ChildProcess | undefined;
  #reader: Promise<void> | undefined;

  /** Starts the operator; resolves once its caches have synced. */
  async start(extraArgs: string[] = []): Promise<void> {
    const from = this.lines.length;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-net",
        "--allow-sys",
        "main.ts",
        "start",
        ...extraArgs,
      ],
      env: { KUBECONFIG: KUBECONFIG ?? "", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reader = this.#read(this.#child.stdout);
    await waitFor(
      "the operator's caches to sync",
      () =>
        Promise.resolve(
          this.lines.slice(from).some((l) => l.msg === "Caches synced, starting workers"),
        ),
      30_000,
    );
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push({ msg: line, level: "raw" });
        }
      }
    }
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
    const child = this.#child;
    if (!child) return 0;
    this.#child = undefined;
    child.kill("SIGTERM");
    const status = await child.status;
    await this.#reader;
    return status.code;
  }
}
