/**
 * Support for the suites on the real node (`scripts/controlplane/up.sh --real-node`): kubectl bound
 * to that cluster's kubeconfig, `kubectl port-forward` to 127.0.0.1, and `psql` through it. The
 * suites run only when `PGOP_REALNODE_KUBECONFIG` names the kubeconfig of such a control plane
 * (`.ci/run` starts one beside the kwok control plane of the other integration suites).
 *
 * Every connection a test makes goes to 127.0.0.1: PostgreSQL is reached through a port-forward,
 * never through a pod or Service address.
 *
 * @module
 */

import { type Output, waitFor } from "../integration/support.ts";

/** The kubeconfig of the real-node control plane, if there is one. */
export const REALNODE_KUBECONFIG: string | undefined = Deno.env.get("PGOP_REALNODE_KUBECONFIG");

/** Why the real-node suites are skipped, printed once. */
export const REALNODE_SKIP_REASON =
  "real-node suites skipped: no PGOP_REALNODE_KUBECONFIG (run scripts/controlplane/up.sh --real-node, then PGOP_REALNODE_KUBECONFIG=$KUBECONFIG deno task test tests/realnode/)";

const decoder = new TextDecoder();

/** kubectl against one cluster. */
export class Kube {
  readonly kubeconfig: string;

  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig;
  }

  /** Runs kubectl; never throws for a non-zero exit. */
  async run(args: string[], stdin?: string): Promise<Output> {
    const child = new Deno.Command(Deno.env.get("PGOP_KUBECTL") ?? "kubectl", {
      args: ["--request-timeout=30s", ...args],
      env: { KUBECONFIG: this.kubeconfig },
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  }

  /** Runs kubectl and returns its stdout; throws with its stderr when it fails. */
  async ok(...args: string[]): Promise<string> {
    const out = await this.run(args);
    if (out.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${out.stderr.trim()}`);
    return out.stdout;
  }

  /** `kubectl apply -f -`; throws when it fails. */
  async apply(manifest: string, ...flags: string[]): Promise<string> {
    const out = await this.run(["apply", ...flags, "-f", "-"], manifest);
    if (out.code !== 0) throw new Error(`kubectl apply failed: ${out.stderr.trim()}`);
    return out.stdout;
  }

  /** One object as JSON, or undefined when absent. */
  async json(kind: string, name: string, namespace = "default"): Promise<
    // deno-lint-ignore no-explicit-any
    any
  > {
    const out = await this.run(["get", kind, name, "-n", namespace, "-o", "json"]);
    return out.code === 0 ? JSON.parse(out.stdout) : undefined;
  }

  /** Runs SQL with the pod's own psql as `postgres` (`kubectl exec`); its unaligned output. */
  async psqlInPod(pod: string, database: string, sql: string, namespace = "default"): Promise<
    string
  > {
    return await this.ok(
      "exec",
      "-n",
      namespace,
      pod,
      "--",
      "psql",
      "-X",
      "-At",
      "-U",
      "postgres",
      "-d",
      database,
      "-c",
      sql,
    );
  }

  /** A key of a Secret, decoded. */
  async secretValue(name: string, key: string, namespace = "default"): Promise<string> {
    const secret = await this.json("secret", name, namespace);
    const value = secret?.data?.[key];
    if (typeof value !== "string") throw new Error(`Secret ${namespace}/${name} has no ${key}`);
    return atob(value);
  }
}

/** Installs the CRDs (`kubectl apply -f crds/`) and waits until they are established. */
export async function installCrds(kube: Kube): Promise<void> {
  await kube.ok("apply", "-f", new URL("../../crds/", import.meta.url).pathname);
  await kube.ok(
    "wait",
    "--for=condition=Established",
    "crd/postgresdbs.database.thegeekyway.com",
    "crd/postgresbackups.database.thegeekyway.com",
    "--timeout=60s",
  );
}

/** `kubectl port-forward` from a free port on 127.0.0.1 to a pod's port. */
export class PortForward {
  readonly localPort: number;
  #child: Deno.ChildProcess;

  private constructor(child: Deno.ChildProcess, localPort: number) {
    this.#child = child;
    this.localPort = localPort;
  }

  /**
   * Opens a forward to `pod`'s `remotePort` (or to `svc/<name>`: kubectl picks one of its ready
   * pods); resolves once kubectl says it is forwarding.
   */
  static async open(
    kube: Kube,
    pod: string,
    options: { namespace?: string; remotePort?: number; timeoutMs?: number } = {},
  ): Promise<PortForward> {
    const child = new Deno.Command(Deno.env.get("PGOP_KUBECTL") ?? "kubectl", {
      args: [
        "port-forward",
        "-n",
        options.namespace ?? "default",
        "--address",
        "127.0.0.1",
        pod.includes("/") ? pod : `pod/${pod}`,
        `:${options.remotePort ?? 5432}`,
      ],
      env: { KUBECONFIG: kube.kubeconfig },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    // Drain stderr from the start, keeping its beginning for an error: a kubectl blocked on a full
    // pipe never exits (a forward to a pod that died logs an error for every connection).
    let errors = "";
    void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write(chunk) {
          if (errors.length < 4096) errors += chunk;
        },
      }),
    ).catch(() => {});
    const timeoutMs = options.timeoutMs ?? 30_000;
    let seen = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const port = await Promise.race([
      (async () => {
        while (true) {
          const { value, done } = await reader.read();
          if (done) return undefined;
          seen += value;
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(seen);
          if (m) return Number(m[1]);
        }
      })().catch(() => undefined),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (port === undefined) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      throw new Error(
        `kubectl port-forward to ${pod} did not start: ${errors.trim() || seen.trim()}`,
      );
    }
    // Keep draining stdout so kubectl never blocks on a full pipe.
    void (async () => {
      try {
        while (!(await reader.read()).done) { /* drain */ }
      } catch { /* closed */ }
    })();
    return new PortForward(child, port);
  }

  /** Stops kubectl (SIGKILL: nothing of it is worth waiting for). */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#child.status;
  }
}

/** The Secret's `uri`, pointed at 127.0.0.1:`port` instead of the in-cluster host. */
export function localUri(uri: string, port: number): string {
  const url = new URL(uri);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return url.toString();
}

/** Runs SQL with psql against `uri`; the output is unaligned tuples only. */
export async function psql(uri: string, sql: string): Promise<Output> {
  const out = await new Deno.Command("psql", {
    args: ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
    env: { PGCONNECT_TIMEOUT: "5" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/**
 * psql through a fresh port-forward to `pod` (or `svc/<name>`: one of its ready pods), retried while
 * the server is starting.
 */
export async function sqlVia(
  kube: Kube,
  pod: string,
  uri: string,
  sql: string,
  namespace = "default",
): Promise<string> {
  return await waitFor(`psql on ${namespace}/${pod}: ${sql}`, async () => {
    const forward = await PortForward.open(kube, pod, { namespace });
    try {
      const out = await psql(localUri(uri, forward.localPort), sql);
      if (out.code !== 0) throw new Error(out.stderr.trim());
      return out.stdout.trim();
    } finally {
      await forward.close();
    }
  }, 60_000);
}

/**
 * What a failed wait on the real node prints to explain itself: the PostgresDB's status, its pods,
 * its primary Lease, the last lines of every instance's log, and the given operator log lines.
 */
export async function diagnose(
  kube: Kube,
  name: string,
  pods: readonly string[],
  operatorLines: readonly unknown[] = [],
  namespace = "default",
): Promise<string> {
  const parts: string[] = [];
  const section = async (title: string, args: string[]) => {
    const out = await kube.run(args);
    parts.push(`--- ${title}\n${(out.stdout || out.stderr).trimEnd()}`);
  };
  await section("pods", ["get", "pods", "-n", namespace, "-o", "wide"]);
  await section(`postgresdb ${name} status`, [
    "get",
    "postgresdb",
    name,
    "-n",
    namespace,
    "-o",
    "jsonpath={.status}",
  ]);
  await section(`lease ${name}-primary`, [
    "get",
    "lease",
    `${name}-primary`,
    "-n",
    namespace,
    "-o",
    "jsonpath={.spec}",
  ]);
  await section("events", ["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"]);
  for (const pod of pods) {
    await section(`log of ${pod}`, ["logs", "-n", namespace, pod, "--tail=60", "--all-containers"]);
    await section(`previous log of ${pod}`, [
      "logs",
      "-n",
      namespace,
      pod,
      "--tail=30",
      "--previous",
      "--all-containers",
    ]);
  }
  parts.push(
    `--- operator log (last ${Math.min(80, operatorLines.length)} lines)\n` +
      operatorLines.slice(-80).map((l) => JSON.stringify(l)).join("\n"),
  );
  return parts.join("\n");
}
