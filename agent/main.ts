/**
 * The instance agent's process, run in each PostgreSQL pod:
 *
 * ```sh
 * DENO_DIR=/pgop/deno-dir /pgop/deno run --no-npm --allow-read --allow-write --allow-env \
 *   --allow-run --allow-net --allow-sys /pgop/app/agent/main.ts
 * ```
 *
 * Configuration from the environment: `POD_NAME`, `POD_NAMESPACE`, `PGOP_DATABASE`, `PGDATA`,
 * `PGOP_MAJOR`, `POSTGRES_USER` (default `postgres`), `POSTGRES_PASSWORD`, `POSTGRES_DB`
 * (default the user), `PGOP_REPLICATION_PASSWORD`, `PGOP_AGENT_PORT` (default 8008), and
 * optionally `PGOP_PG_BIN` (default `/usr/lib/postgresql/<major>/bin`), `PGOP_AGENT_INTERVAL_MS`
 * (default 2000). It reaches the API server with the pod's service account (no client-node), runs
 * PostgreSQL as its child, holds the primary Lease while it is the target primary (a watchdog
 * stops PostgreSQL at once when a primary loses it), serves `/healthz`, `/readyz` and `/status`,
 * and on SIGTERM or SIGINT stops PostgreSQL fast, releases the Lease if it holds it, and exits 0. A bad configuration exits 2 with one line.
 *
 * @module
 */

import { inClusterConnection } from "../adapters/in_cluster.ts";
import { KubeClusterClient } from "../adapters/kube_client.ts";
import { KubeConfigError } from "../adapters/kubeconfig.ts";
import { InstanceAgent } from "./agent_loop.ts";
import { serveAgentHttp } from "./http.ts";
import { ClusterIntentSource, replicationSecret } from "./intent_source.ts";
import { Fence, runsAsPrimary } from "./fence.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { PostgresPort } from "./postgres_port.ts";
import { ReportWriter } from "./report_writer.ts";

/** The agent's configuration, from the environment. */
export interface AgentConfig {
  /** This pod. */
  pod: string;
  /** Its namespace. */
  namespace: string;
  /** The PostgresDB. */
  database: string;
  /** PGDATA. */
  pgdata: string;
  /** The major of the binaries. */
  major: number;
  /** The binaries. */
  bin: string;
  /** The superuser. */
  superuser: string;
  /** Its password. */
  superuserPassword: string;
  /** The application database. */
  appDatabase: string;
  /** The replication password. */
  replicationPassword: string;
  /** The HTTP port. */
  httpPort: number;
  /** The loop's period. */
  intervalMs: number;
}

/** A configuration mistake: one line, exit code 2. */
export class AgentConfigError extends Error {
  /** A one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "AgentConfigError";
  }
}

/**
 * Reads the configuration from `env`.
 *
 * @throws {AgentConfigError} naming the first missing or invalid variable
 */
export function agentConfig(env: (name: string) => string | undefined): AgentConfig {
  const need = (name: string): string => {
    const value = env(name);
    if (value === undefined || value === "") {
      throw new AgentConfigError(`Missing environment variable ${name}`);
    }
    return value;
  };
  const int = (name: string, fallback: string | undefined, min: number): number => {
    const text = fallback === undefined ? need(name) : env(name) || fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new AgentConfigError(`Invalid ${name} "${text}": expected an integer >= ${min}`);
    }
    return value;
  };
  const major = int("PGOP_MAJOR", undefined, 10);
  const superuser = env("POSTGRES_USER") || "postgres";
  return {
    pod: need("POD_NAME"),
    namespace: need("POD_NAMESPACE"),
    database: need("PGOP_DATABASE"),
    pgdata: need("PGDATA"),
    major,
    bin: env("PGOP_PG_BIN") || `/usr/lib/postgresql/${major}/bin`,
    superuser,
    superuserPassword: need("POSTGRES_PASSWORD"),
    appDatabase: env("POSTGRES_DB") || superuser,
    replicationPassword: need("PGOP_REPLICATION_PASSWORD"),
    httpPort: int("PGOP_AGENT_PORT", "8008", 1),
    intervalMs: int("PGOP_AGENT_INTERVAL_MS", "2000", 100),
  };
}

/**
 * Where the server's Unix socket goes: `/var/run/postgresql` (where `psql` in the image looks by
 * default, so `kubectl exec ... psql` works) when it is writable, else `/tmp`.
 */
export function socketDirectory(candidates: readonly string[] = ["/var/run/postgresql"]): string {
  for (const dir of candidates) {
    try {
      const probe = Deno.makeTempFileSync({ dir, prefix: ".pgop-" });
      Deno.removeSync(probe);
      return dir;
    } catch {
      // Not there, or not ours: the next one.
    }
  }
  return "/tmp";
}

function socketDirectories(first: string) {
  return { socketDirectory: first, moreSocketDirectories: first === "/tmp" ? [] : ["/tmp"] };
}

/** Runs the agent until SIGTERM; returns the exit code. */
export async function runAgent(env: (name: string) => string | undefined): Promise<number> {
  let config: AgentConfig;
  let client: KubeClusterClient;
  try {
    config = agentConfig(env);
    client = new KubeClusterClient(inClusterConnection({ env }), { userAgent: "pgop-agent/0.1.0" });
  } catch (error) {
    if (error instanceof AgentConfigError || error instanceof KubeConfigError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const port = new PostgresPort({
    pgdata: config.pgdata,
    bin: config.bin,
    major: config.major,
    superuser: config.superuser,
    superuserPassword: config.superuserPassword,
    database: config.appDatabase,
    replicationPassword: config.replicationPassword,
    replicationPasswordSecret: replicationSecret(config.database),
    // The clients of the project's images look in /tmp, the official image's in
    // /var/run/postgresql: a socket in both lets `kubectl exec ... psql` work in either.
    ...socketDirectories(socketDirectory()),
    log,
  });
  await port.refresh();
  port.run();
  const keeper = new LeaseKeeper(client, {
    self: config.pod,
    database: config.database,
    namespace: config.namespace,
    log,
  });
  const fence = new Fence({ port, standing: () => keeper.standing(), log });
  fence.start();
  const agent = new InstanceAgent({
    port,
    intents: new ClusterIntentSource(client, {
      self: config.pod,
      database: config.database,
      namespace: config.namespace,
      major: config.major,
    }, { keeper, runsAsPrimary: () => runsAsPrimary(port.observe()) }),
    reports: new ReportWriter(client, { pod: config.pod, namespace: config.namespace }),
    intervalMs: config.intervalMs,
    log,
  });
  const staleMs = config.intervalMs * 3 + 60_000;
  const http = serveAgentHttp({
    report: () => agent.lastReport,
    loopAlive: () =>
      agent.running &&
      (agent.lastRoundAtMs === undefined || Date.now() - agent.lastRoundAtMs < staleMs),
  }, { port: config.httpPort });
  log(`agent of "${config.pod}" started: PGDATA "${config.pgdata}", major ${config.major}`);
  agent.start();
  const stopped = Promise.withResolvers<string>();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve(signal));
  }
  const signal = await stopped.promise;
  log(`${signal}: stopping PostgreSQL (fast)`);
  await agent.stop();
  await port.shutdown();
  fence.stop();
  // PostgreSQL is down (a fast stop flushed its WAL): a successor need not wait for expiry.
  if (!runsAsPrimary(port.observe()) && await keeper.release()) log("released the primary Lease");
  await http.shutdown();
  client.close();
  log("agent stopped");
  return 0;
}

if (import.meta.main) {
  Deno.exit(await runAgent((name) => Deno.env.get(name)));
}
